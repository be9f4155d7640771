import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BINARIES_CACHE_NAME, BinariesUnavailableError, binariesCacheDir, CONTROL_PLANE_BINARIES, resolveBinaries } from './binaries.ts';

let root: string;
before(async () => { root = await mkdtemp(join(tmpdir(), 'binaries-test-')); });
after(async () => { await rm(root, { recursive: true, force: true }); });

let n = 0;
async function scratch(): Promise<string> {
  const dir = join(root, `case-${++n}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function fakeBinaries(dir: string, names: readonly string[] = CONTROL_PLANE_BINARIES): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of names) {
    await writeFile(join(dir, name), '#!/bin/sh\n');
    await chmod(join(dir, name), 0o755);
  }
}

async function script(dir: string, body: string): Promise<string> {
  const path = join(dir, 'build.sh');
  await writeFile(path, `set -eu\n${body}\n`);
  return path;
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

void describe('resolveBinaries', () => {
  void it('uses KUBEBUILDER_ASSETS when it holds all four binaries', async () => {
    const dir = await scratch();
    await fakeBinaries(join(dir, 'assets'));
    const env = { KUBEBUILDER_ASSETS: join(dir, 'assets'), XDG_CACHE_HOME: join(dir, 'cache') };
    assert.equal(await resolveBinaries({ env }), join(dir, 'assets'));
  });

  void it('takes controller-manager and scheduler from the cache when KUBEBUILDER_ASSETS lacks them', async () => {
    const dir = await scratch();
    const env = { KUBEBUILDER_ASSETS: join(dir, 'assets'), XDG_CACHE_HOME: join(dir, 'cache') };
    await fakeBinaries(env.KUBEBUILDER_ASSETS, ['etcd', 'kube-apiserver']);
    await fakeBinaries(binariesCacheDir(env));
    const merged = await resolveBinaries({ env });
    assert.equal(await readlink(join(merged, 'kube-apiserver')), join(env.KUBEBUILDER_ASSETS, 'kube-apiserver'));
    assert.equal(await readlink(join(merged, 'etcd')), join(env.KUBEBUILDER_ASSETS, 'etcd'));
    assert.equal(await readlink(join(merged, 'kube-scheduler')), join(binariesCacheDir(env), 'kube-scheduler'));
    assert.equal(await readlink(join(merged, 'kube-controller-manager')), join(binariesCacheDir(env), 'kube-controller-manager'));
  });

  void it('names what is missing when neither KUBEBUILDER_ASSETS nor the cache has controller-manager and scheduler', async () => {
    const dir = await scratch();
    const env = { KUBEBUILDER_ASSETS: join(dir, 'assets'), XDG_CACHE_HOME: join(dir, 'cache') };
    await fakeBinaries(env.KUBEBUILDER_ASSETS, ['etcd', 'kube-apiserver']);
    await assert.rejects(resolveBinaries({ env }), (err: Error) =>
      err instanceof BinariesUnavailableError && /kube-controller-manager or kube-scheduler/.test(err.message));
  });

  void it('falls back to the per-user cache under XDG_CACHE_HOME', async () => {
    const dir = await scratch();
    const env = { KUBEBUILDER_ASSETS: join(dir, 'empty'), XDG_CACHE_HOME: join(dir, 'cache') };
    await fakeBinaries(join(dir, 'cache', 'ptemplate-operator', BINARIES_CACHE_NAME));
    assert.equal(await resolveBinaries({ env }), join(dir, 'cache', 'ptemplate-operator', BINARIES_CACHE_NAME));
  });

  void it('uses ~/.cache when XDG_CACHE_HOME is unset', () => {
    assert.equal(binariesCacheDir({ HOME: '/home/someone' }), '/home/someone/.cache/ptemplate-operator/kube-v1.20.2-2');
  });

  void it('ignores a cache folder of an older build revision (kube-v1.20.2 without the patch suffix)', async () => {
    const dir = await scratch();
    const env = { XDG_CACHE_HOME: join(dir, 'cache') };
    await fakeBinaries(join(dir, 'cache', 'ptemplate-operator', 'kube-v1.20.2'));
    assert.notEqual(BINARIES_CACHE_NAME, 'kube-v1.20.2');
    await assert.rejects(resolveBinaries({ env }), (err: Error) =>
      err instanceof BinariesUnavailableError && err.message.includes(binariesCacheDir(env)));
  });

  void it('without build permission, fails with what is missing and how to get it', async () => {
    const dir = await scratch();
    const env = { XDG_CACHE_HOME: join(dir, 'cache') };
    await fakeBinaries(binariesCacheDir(env), ['etcd']);
    await assert.rejects(resolveBinaries({ env }), (err: Error) =>
      err instanceof BinariesUnavailableError && /lacks kube-apiserver, kube-controller-manager, kube-scheduler/.test(err.message) &&
      /ensure-binaries/.test(err.message) && /KUBEBUILDER_ASSETS/.test(err.message));
  });

  void it('builds into the cache, streaming the script output to log', async () => {
    const dir = await scratch();
    const env = { XDG_CACHE_HOME: join(dir, 'cache') };
    const buildScript = await script(dir, `
echo "[control-plane build] 1/1 compiling" >&2
echo "on stdout"
mkdir -p "$1"
for b in ${CONTROL_PLANE_BINARIES.join(' ')}; do printf '#!/bin/sh\\n' > "$1/$b"; chmod +x "$1/$b"; done`);
    const lines: string[] = [];
    assert.equal(await resolveBinaries({ env, build: true, buildScript, log: (l) => lines.push(l) }), binariesCacheDir(env));
    assert.ok(lines.includes('[control-plane build] 1/1 compiling'), lines.join('\n'));
    assert.ok(lines.includes('on stdout'), lines.join('\n'));
  });

  void it("reports the script's reason when a prerequisite is missing (exit 3)", async () => {
    const dir = await scratch();
    const env = { XDG_CACHE_HOME: join(dir, 'cache') };
    const buildScript = await script(dir, `echo "[control-plane build] cannot build: apt-get not found, set KUBEBUILDER_ASSETS" >&2; exit 3`);
    await assert.rejects(resolveBinaries({ env, build: true, buildScript }), (err: Error) =>
      err instanceof BinariesUnavailableError && err.missingPrerequisite &&
      /prerequisite is missing: apt-get not found, set KUBEBUILDER_ASSETS/.test(err.message));
  });

  void it('reports a failed build with its exit code and the tail of its output', async () => {
    const dir = await scratch();
    const env = { XDG_CACHE_HOME: join(dir, 'cache') };
    const buildScript = await script(dir, 'echo "compiler exploded" >&2; exit 2');
    await assert.rejects(resolveBinaries({ env, build: true, buildScript }), (err: Error) =>
      err instanceof BinariesUnavailableError && !err.missingPrerequisite && err.exitCode === 2 &&
      /exited with 2/.test(err.message) && /compiler exploded/.test(err.message));
  });

  void it('runs one build when two callers need the binaries at once; the second waits on the lock', async () => {
    const dir = await scratch();
    const env = { XDG_CACHE_HOME: join(dir, 'cache') };
    const release = join(dir, 'release');
    const runs = join(dir, 'runs');
    const buildScript = await script(dir, `
echo run >> "${runs}"
while [ ! -e "${release}" ]; do sleep 0.02; done
mkdir -p "$1"
for b in ${CONTROL_PLANE_BINARIES.join(' ')}; do printf '#!/bin/sh\\n' > "$1/$b"; chmod +x "$1/$b"; done`);
    const logs: string[] = [];
    const first = resolveBinaries({ env, build: true, buildScript, lockPollMs: 10, log: (l) => logs.push(`1 ${l}`) });
    await waitUntil('the first build to start', () => readFile(runs, 'utf8').then(() => true, () => false));
    const second = resolveBinaries({ env, build: true, buildScript, lockPollMs: 10, log: (l) => logs.push(`2 ${l}`) });
    await waitUntil('the second caller to wait', () => logs.some((l) => l.startsWith('2 ') && /waiting for another build/.test(l)));
    await writeFile(release, '');
    assert.deepEqual(await Promise.all([first, second]), [binariesCacheDir(env), binariesCacheDir(env)]);
    assert.equal(await readFile(runs, 'utf8'), 'run\n');
  });

  void it('takes over a lock left by a dead process', async () => {
    const dir = await scratch();
    const env = { XDG_CACHE_HOME: join(dir, 'cache') };
    const dead = spawn('true');
    const deadPid = await new Promise<number>((resolve) => dead.once('exit', () => resolve(dead.pid!)));
    await mkdir(join(dir, 'cache', 'ptemplate-operator'), { recursive: true });
    await writeFile(`${binariesCacheDir(env)}.lock`, JSON.stringify({ pid: deadPid, host: hostname(), since: new Date().toISOString() }));
    const buildScript = await script(dir, `
mkdir -p "$1"
for b in ${CONTROL_PLANE_BINARIES.join(' ')}; do printf '#!/bin/sh\\n' > "$1/$b"; chmod +x "$1/$b"; done`);
    const logs: string[] = [];
    assert.equal(await resolveBinaries({ env, build: true, buildScript, lockPollMs: 10, log: (l) => logs.push(l) }), binariesCacheDir(env));
    assert.ok(logs.some((l) => /stale build lock/.test(l)), logs.join('\n'));
    await assert.rejects(readFile(`${binariesCacheDir(env)}.lock`), { code: 'ENOENT' });
  });
});
