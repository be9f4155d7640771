// Finds the control-plane binaries (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) for the test control plane, building them once into a per-user cache
// when allowed. Order: KUBEBUILDER_ASSETS (the envtest convention), the cache, a build.
// See shared DESIGN.md section 4.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename, rm, stat, symlink, unlink } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isAlive } from './cleanup.ts';

export const KUBE_VERSION = 'v1.20.2';
/**
 * Name of the cache folder. The suffix is the revision of scripts/build-control-plane.sh's
 * patches: bump it when the build changes, so machines with an older cache rebuild.
 * -2: the OpenAPI type validator no longer takes "" (or any zero value) for null (kubernetes#99804).
 */
export const BINARIES_CACHE_NAME = `kube-${KUBE_VERSION}-2`;
export const CONTROL_PLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type ControlPlaneBinary = (typeof CONTROL_PLANE_BINARIES)[number];

/** Exit code of scripts/build-control-plane.sh when a prerequisite (Linux, apt, root, a deb-src entry) is missing. */
export const MISSING_PREREQUISITE_EXIT = 3;

export interface ResolveBinariesOptions {
  /** Receives progress lines (lookups, waits, the build's output). */
  log?: (line: string) => void;
  /** Build into the cache when no binaries are found (about 10-15 minutes). Default false. */
  build?: boolean;
  /** Environment to read KUBEBUILDER_ASSETS, XDG_CACHE_HOME and HOME from. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Build script to run. Default scripts/build-control-plane.sh of this repository. */
  buildScript?: string;
  /** How often to look at a lock held by another build. Default 1000 ms. */
  lockPollMs?: number;
}

export class BinariesUnavailableError extends Error {
  /** Exit code of the build script when a build was attempted and failed. */
  readonly exitCode: number | undefined;
  constructor(message: string, exitCode?: number) {
    super(message);
    this.name = 'BinariesUnavailableError';
    this.exitCode = exitCode;
  }
  /** True when the build could not run because a prerequisite is missing (exit 3). */
  get missingPrerequisite(): boolean {
    return this.exitCode === MISSING_PREREQUISITE_EXIT;
  }
}

export const defaultBuildScript = fileURLToPath(new URL('../../scripts/build-control-plane.sh', import.meta.url));

/** `${XDG_CACHE_HOME:-~/.cache}/ptemplate-operator/${BINARIES_CACHE_NAME}`. */
export function binariesCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(base, 'ptemplate-operator', BINARIES_CACHE_NAME);
}

/** Returns the folder holding all four binaries, building them when allowed and needed. */
export async function resolveBinaries(opts: ResolveBinariesOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const cache = binariesCacheDir(env);

  const assets = env.KUBEBUILDER_ASSETS;
  if (assets) {
    const present = await presentIn(assets);
    if (present.has('kube-apiserver') && present.has('etcd')) {
      const missing = CONTROL_PLANE_BINARIES.filter((b) => !present.has(b));
      if (missing.length === 0) {
        log(`control plane: using KUBEBUILDER_ASSETS=${assets}`);
        return assets;
      }
      const cached = await presentIn(cache);
      if (missing.every((b) => cached.has(b))) {
        log(`control plane: using KUBEBUILDER_ASSETS=${assets}, with ${missing.join(' and ')} from ${cache}`);
        return mergedFolder(assets, cache, missing, cache);
      }
      throw new BinariesUnavailableError(
        `KUBEBUILDER_ASSETS=${assets} has kube-apiserver and etcd but not ${missing.join(' or ')}, and ${cache} does not provide them either. ` +
        `Add them to KUBEBUILDER_ASSETS, or unset it and run \`node_modules/.bin/node src/testenv/ensure-binaries.ts\` to build all four into ${cache}.`);
    }
    log(`control plane: KUBEBUILDER_ASSETS=${assets} lacks ${['kube-apiserver', 'etcd'].filter((b) => !present.has(b as ControlPlaneBinary)).join(' and ')}; ignoring it`);
  }

  let missing = await missingIn(cache);
  if (missing.length === 0) return cache;
  if (!opts.build) {
    throw new BinariesUnavailableError(
      `control-plane binaries not found: ${cache} lacks ${missing.join(', ')}` +
      `${assets ? ` and KUBEBUILDER_ASSETS=${assets} lacks kube-apiserver or etcd` : ' and KUBEBUILDER_ASSETS is not set'}. ` +
      'Run `node_modules/.bin/node src/testenv/ensure-binaries.ts` once (builds them, about 10-15 minutes), or set KUBEBUILDER_ASSETS to a folder holding ' +
      `${CONTROL_PLANE_BINARIES.join(', ')}.`);
  }

  const lockPath = `${cache}.lock`;
  await mkdir(dirname(cache), { recursive: true });
  await withLock(lockPath, log, opts.lockPollMs ?? 1000, async () => {
    // Another process may have finished the build while we waited for the lock.
    missing = await missingIn(cache);
    if (missing.length === 0) return;
    log(`control plane: building ${KUBE_VERSION} into ${cache} (about 10-15 minutes, once per machine)`);
    await runBuild(opts.buildScript ?? defaultBuildScript, cache, log);
  });
  missing = await missingIn(cache);
  if (missing.length > 0) {
    throw new BinariesUnavailableError(`the build finished but ${cache} still lacks ${missing.join(', ')}`);
  }
  return cache;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function presentIn(dir: string): Promise<Set<ControlPlaneBinary>> {
  const found = new Set<ControlPlaneBinary>();
  for (const b of CONTROL_PLANE_BINARIES) if (await isExecutable(join(dir, b))) found.add(b);
  return found;
}

async function missingIn(dir: string): Promise<ControlPlaneBinary[]> {
  const present = await presentIn(dir);
  return CONTROL_PLANE_BINARIES.filter((b) => !present.has(b));
}

/** A folder of symlinks: the binaries of `primary`, plus `fromSecondary` taken from `secondary`. */
async function mergedFolder(primary: string, secondary: string, fromSecondary: readonly ControlPlaneBinary[], cache: string): Promise<string> {
  const id = createHash('sha256').update(`${primary}\0${secondary}`).digest('hex').slice(0, 12);
  const dir = join(dirname(cache), `assets-merged-${id}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  for (const b of CONTROL_PLANE_BINARIES) {
    await symlink(join(fromSecondary.includes(b) ? secondary : primary, b), join(tmp, b));
  }
  await rm(dir, { recursive: true, force: true });
  try {
    await rename(tmp, dir);
  } catch (err) {
    // A concurrent caller produced the same folder first; it has the same content.
    await rm(tmp, { recursive: true, force: true });
    if (!(await missingIn(dir)).length) return dir;
    throw err;
  }
  return dir;
}

interface LockHolder {
  pid: number;
  host: string;
  since: string;
}


const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` holding an exclusive lock file (created with O_EXCL, holding our pid and host).
 * A lock whose holder is a dead process on this host is stale and taken over.
 */
async function withLock(lockPath: string, log: (line: string) => void, pollMs: number, fn: () => Promise<void>): Promise<void> {
  let reported = '';
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      try {
        const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
        await handle.writeFile(JSON.stringify(me));
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: LockHolder | undefined;
    let ino: number | undefined;
    try {
      ino = (await stat(lockPath)).ino;
      holder = JSON.parse(await readFile(lockPath, 'utf8')) as LockHolder;
    } catch {
      // Gone already, or not written yet by its creator: look again shortly.
    }
    if (holder && holder.host === hostname() && !isAlive(holder.pid)) {
      log(`control plane: removing the stale build lock ${lockPath} (pid ${holder.pid} is gone)`);
      try {
        if ((await stat(lockPath)).ino === ino) await unlink(lockPath);
      } catch { /* someone else removed it */ }
      continue;
    }
    const who = holder ? `pid ${holder.pid} on ${holder.host}, since ${holder.since}` : 'another process';
    if (who !== reported) {
      log(`control plane: waiting for another build to finish (${who}; lock ${lockPath})`);
      reported = who;
    }
    await delay(pollMs);
  }
  try {
    await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function runBuild(script: string, dest: string, log: (line: string) => void): Promise<void> {
  const child = spawn('bash', [script, dest], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const onLine = (line: string) => {
    log(line);
    tail.push(line);
    if (tail.length > 40) tail.shift();
  };
  const streams = [child.stdout, child.stderr].map((s) => {
    const lines = createInterface({ input: s, crlfDelay: Infinity });
    lines.on('line', onLine);
    return new Promise<void>((resolve) => lines.once('close', resolve));
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  });
  await Promise.all(streams);
  if (code === 0) return;
  const reason = [...tail].reverse().find((l) => /cannot build:/.test(l))?.replace(/^.*cannot build:\s*/, '');
  if (code === MISSING_PREREQUISITE_EXIT) {
    throw new BinariesUnavailableError(
      `cannot build the control-plane binaries, a prerequisite is missing: ${reason ?? tail.slice(-5).join('\n')}`, code);
  }
  throw new BinariesUnavailableError(
    `building the control-plane binaries failed (${script} ${signal ? `killed by ${signal}` : `exited with ${code}`})` +
    `${reason ? `: ${reason}` : ''}\n${tail.slice(-20).join('\n')}`, code ?? undefined);
}
