#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-scheduler (v1.20.2) from
# Debian bookworm's `kubernetes` source package and installs them, with etcd, into
# the cache folder given as $1. Used by the test control plane when neither
# KUBEBUILDER_ASSETS nor the cache provide the binaries. See shared DESIGN.md §4.
set -euo pipefail

dest=${1:?usage: build-control-plane.sh <cache-dir>}
step() { printf '[control-plane build] %s\n' "$*" >&2; }
need() { step "cannot build: $*"; exit 3; }

[ "$(uname -s)" = Linux ] || need "this build needs Linux (Debian bookworm). Set KUBEBUILDER_ASSETS to a folder holding etcd, kube-apiserver, kube-controller-manager and kube-scheduler instead."
command -v apt-get >/dev/null || need "apt-get not found: this build needs Debian bookworm. Set KUBEBUILDER_ASSETS to a folder with the binaries instead."
grep -q bookworm /etc/os-release 2>/dev/null || step "warning: not Debian bookworm; trying anyway"
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null && sudo -n true 2>/dev/null || need "installing build packages needs root (or passwordless sudo). Run as root once, or set KUBEBUILDER_ASSETS."
  sudo="sudo -n"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kube-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

src_list=/etc/apt/sources.list.d/ptemplate-operator-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  step "1/7 adding a deb-src entry for bookworm main ($src_list)"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb-src\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' | $sudo tee "$src_list" >/dev/null
fi
step "2/7 apt-get update"
$sudo apt-get update -qq || need "apt-get update failed (is the network or a Debian mirror reachable?)"
step "3/7 installing golang-go etcd-server rsync dpkg-dev golang-github-modern-go-reflect2-dev"
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  golang-go etcd-server rsync dpkg-dev golang-github-modern-go-reflect2-dev >/dev/null \
  || need "apt-get install of the build packages failed (see apt's message above)"

step "4/7 fetching the kubernetes source package (about 34 MB)"
cd "$work"
apt-get source --download-only kubernetes >/dev/null 2>&1 || need "apt-get source kubernetes failed (is a deb-src entry for bookworm main reachable?)"
dsc=$(ls kubernetes_*.dsc | head -n1)
dpkg-source --no-check -x "$dsc" src >/dev/null
srcdir="$work/src"

step "5/7 patching vendored reflect2 (v1.0.1 crashes kube-apiserver under Go >= 1.18)"
r2=/usr/share/gocode/src/github.com/modern-go/reflect2
rm -f "$srcdir"/vendor/github.com/modern-go/reflect2/*.go "$srcdir"/vendor/github.com/modern-go/reflect2/*.s
cp "$r2"/*.go "$srcdir"/vendor/github.com/modern-go/reflect2/
cp "$r2"/*.s "$srcdir"/vendor/github.com/modern-go/reflect2/ 2>/dev/null || true
rm -f "$srcdir"/vendor/github.com/modern-go/reflect2/*_test.go

# Under Go >= 1.16 the OpenAPI type validator takes every zero value ("", 0, false) for
# null, so a custom resource with an empty string is rejected with `must be of type
# string: "null"` (kubernetes/kubernetes#99804; fixed upstream by kubernetes/kube-openapi#230,
# which keeps only the nil check). The kube-openapi copy is the one kube-apiserver uses;
# go-openapi's copy has the same line and is patched too. Fail if the line is not there
# exactly once, so the patch can never be silently skipped.
step "6/7 patching the vendored OpenAPI type validator (zero values are not null; kubernetes#99804)"
zero_check='if data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {'
for f in vendor/k8s.io/kube-openapi/pkg/validation/validate/type.go vendor/github.com/go-openapi/validate/type.go; do
  [ -f "$srcdir/$f" ] || { step "cannot build: cannot patch $f: file not found in the source package"; exit 1; }
  count=$(grep -cF -- "$zero_check" "$srcdir/$f" || true)
  [ "$count" = 1 ] || { step "cannot build: cannot patch $f: expected the zero-value null check exactly once, found it $count times"; exit 1; }
  ZERO_CHECK="$zero_check" perl -0pi -e 's/\Q$ENV{ZERO_CHECK}\E/if data == nil {/' "$srcdir/$f"
  if grep -qF -- 'reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data))' "$srcdir/$f"; then
    step "cannot build: cannot patch $f: the zero-value null check is still there after patching"; exit 1
  fi
done

step "7/7 compiling kube-apiserver, kube-controller-manager, kube-scheduler (about 10 minutes on 2 cores)"
mkdir -p "$srcdir/.go/src/k8s.io"
ln -sfn "$srcdir" "$srcdir/.go/src/k8s.io/kubernetes"
cd "$srcdir/.go/src/k8s.io/kubernetes"
export GOPATH="$srcdir/.go" GO111MODULE=off GOFLAGS=-mod=vendor CGO_ENABLED=0 \
  KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean KUBE_GIT_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56 \
  GOCACHE="$work/gocache"
unset GOFLAGS
( while sleep 30; do step "   still compiling ($(date +%H:%M:%S))"; done ) &
ticker=$!
# `|| true`: under set -e a failing command in the trap would replace the exit status
# (the ticker is usually gone by then, and a successful build then exited 1).
trap 'kill $ticker 2>/dev/null || true; rm -rf "$work" || true' EXIT
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" >"$work/make.log" 2>&1 || { tail -40 "$work/make.log" >&2; need "make failed (log above)"; }
kill $ticker 2>/dev/null || true

out=$(find "$srcdir/_output" -type f -name kube-apiserver -path '*bin*' | head -n1)
bindir=$(dirname "$out")
mkdir -p "$dest.tmp"
cp "$bindir/kube-apiserver" "$bindir/kube-controller-manager" "$bindir/kube-scheduler" "$dest.tmp/"
cp /usr/bin/etcd "$dest.tmp/etcd"
# Install only binaries that run: a broken build must not poison the cache.
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  case "$("$dest.tmp/$b" --version 2>&1 || true)" in
    *v1.20.2*) ;;
    *) rm -rf "$dest.tmp"; step "built $b does not run or is not v1.20.2"; exit 1 ;;
  esac
done
"$dest.tmp/etcd" --version >/dev/null 2>&1 || { rm -rf "$dest.tmp"; step "etcd does not run"; exit 1; }
rm -rf "$dest"; mv "$dest.tmp" "$dest"
step "done: binaries in $dest"
