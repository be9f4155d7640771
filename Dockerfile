# syntax=docker/dockerfile:1
# The ptemplate-operator image. A build stage installs the dependencies from the lock file and
# bundles the operator (scripts/build.ts, esbuild); the final stage holds the Node 24 runtime and
# that bundle only — no node_modules, no TypeScript sources — and runs as a numeric non-root
# user. Nothing is written at run time: the pod runs with a read-only root file system.
# Pin the base images by digest (node:24-slim@sha256:...) for reproducible release builds.
#
#   docker build -t quay.io/example/ptemplate-operator:0.1.0 .

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` package would download a second Node binary; the image has Node 24.
# The bundler is a development dependency, so this stage installs those too; none reach the image.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/build.ts ./scripts/
COPY scripts/lazy/ ./scripts/lazy/
COPY src/ ./src/
RUN node scripts/build.ts

FROM node:24-slim
ENV NODE_ENV=production
# Memory settings, explained in bin/ptemplate-operator.js (the bin adds Node's flags for the architecture).
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=32768 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_TOP_PAD_=0
WORKDIR /app
# package.json: "type": "module" for bin/ and dist/.
COPY package.json ./
COPY bin/ ./bin/
# Everything `run` and `manifests` need is in the bundle. `start` and `playground` are not in the
# image (they need the development sources and a local control plane anyway).
COPY --from=build /app/dist/ ./dist/
# 65532: the conventional "nonroot" id; numeric so that runAsNonRoot can verify it. It owns nothing in the image.
USER 65532:65532
ENTRYPOINT ["node", "bin/ptemplate-operator.js"]
CMD ["run"]
