// A throwaway Kubernetes control plane for integration tests and the local playground:
// etcd, kube-apiserver and (optionally) kube-controller-manager and kube-scheduler as child
// processes, in a temp dir of their own. See shared DESIGN.md section 4 for the flags.
//
// Cleanup is layered so that no run leaks processes: stop(); a synchronous kill on process
// 'exit'; SIGINT/SIGTERM/SIGHUP handlers; a detached watchdog that kills the children when
// this process dies without running any handler (SIGKILL); and reaping of leftovers of
// interrupted runs (temp dirs whose owner process is gone) at every start.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { access, mkdtemp, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { resolveBinaries, type ControlPlaneBinary } from './binaries.ts';

export interface ControlPlaneOptions {
  /** Run kube-controller-manager (garbage collection, namespaces, service accounts, DaemonSets...). Default true. */
  controllerManager?: boolean;
  /** Run kube-scheduler. Default true. */
  scheduler?: boolean;
  /** Receives progress lines and unexpected process exits. */
  log?: (line: string) => void;
  /** Folder holding the binaries. Default: resolveBinaries() without building. */
  binDir?: string;
  /**
   * kube-apiserver's watch cache (`--watch-cache`). Default true, as in real clusters (it is what
   * sends bookmarks). With false every watch goes to etcd, so compactEtcd() makes watches from
   * older resourceVersions fail with 410 Gone at once.
   */
  watchCache?: boolean;
}

/** Prefix of every control plane's temp dir under os.tmpdir(); leftovers are found by it. */
export const TEMP_DIR_PREFIX = 'ptemplate-testenv-';
const STATE_FILE = 'testenv.json';
const START_DEADLINE_MS = 60_000;
/**
 * How long stopApiServer() lets kube-apiserver shut down after SIGTERM. It stops listening at
 * once and finishes short requests within milliseconds, but would hold long-running watches
 * (of the controller-manager, the scheduler, the code under test) for up to a minute.
 */
const TERM_GRACE_MS = 2_000;
const KILL_WAIT_MS = 10_000;
const POLL_MS = 100;
const LOG_TAIL_LINES = 30;
const BIND_RETRIES = 3;

interface StateFile {
  ownerPid: number;
  pids: number[];
}

interface Proc {
  readonly name: ControlPlaneBinary;
  readonly logPath: string;
  child?: ChildProcess | undefined;
  exited?: Promise<void> | undefined;
  /** Set while we stop it on purpose, so that its exit is not reported as a crash. */
  stopping: boolean;
  /** Size of the log when the current run started: the failure tail is read from here. */
  logOffset: number;
  /** Arguments of the current (or last) run, for a relaunch. */
  args: string[];
}

// Synchronous cleanups of every running control plane in this process, for 'exit' and signals.
const liveCleanups = new Set<() => void>();
let hooksInstalled = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function cleanupAllSync(): void {
  for (const cleanup of liveCleanups) {
    try { cleanup(); } catch { /* best effort while exiting */ }
  }
  liveCleanups.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAllSync();
  uninstallHooks();
  // Re-raise so that the default action (terminate with this signal) happens, unless
  // someone else handles the signal and decides what to do.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupAllSync);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.removeListener('exit', cleanupAllSync);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

// The watchdog reads pids (one a line; `-pid` forgets one) until end of input, which means that
// this process died (stop() kills the watchdog first): it kills the pids and removes the dir.
const WATCHDOG_SCRIPT = `
pids=" "
while IFS= read -r line; do
  case "$line" in
    -*) pids=$(printf '%s' "$pids" | sed "s/ \${line#-} / /") ;;
    *) pids="$pids$line " ;;
  esac
done
kill -9 $pids 2>/dev/null
rm -rf "$1"
`;

export class ControlPlane implements AsyncDisposable {
  readonly dir: string;
  readonly kubeconfigPath: string;
  readonly #log: (line: string) => void;
  /** Unexpected exits: to the log when given, else to stderr (they explain later failures). */
  readonly #report: (line: string) => void;
  readonly #bin: string;
  readonly #token = randomBytes(24).toString('hex');
  readonly #procs: Record<ControlPlaneBinary, Proc>;
  readonly #withControllerManager: boolean;
  readonly #withScheduler: boolean;
  readonly #watchCache: boolean;
  #etcdClientPort = 0;
  #etcdPeerPort = 0;
  #apiPort = 0;
  #ca = '';
  #watchdog: ChildProcess | undefined;
  #stopped: Promise<void> | undefined;
  #stateWrites: Promise<void> = Promise.resolve();
  #controllerManagerReady: Promise<void> | undefined;
  #running = false;
  readonly #cleanupSync = () => this.#killAllSync();

  private constructor(dir: string, bin: string, options: ControlPlaneOptions) {
    this.dir = dir;
    this.kubeconfigPath = join(dir, 'kubeconfig');
    this.#bin = bin;
    this.#log = options.log ?? (() => {});
    this.#report = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.#withControllerManager = options.controllerManager ?? true;
    this.#withScheduler = options.scheduler ?? true;
    this.#watchCache = options.watchCache ?? true;
    const proc = (name: ControlPlaneBinary): Proc => ({ name, logPath: join(dir, `${name}.log`), stopping: false, logOffset: 0, args: [] });
    this.#procs = {
      'etcd': proc('etcd'),
      'kube-apiserver': proc('kube-apiserver'),
      'kube-controller-manager': proc('kube-controller-manager'),
      'kube-scheduler': proc('kube-scheduler'),
    };
  }

  /** Starts a fresh control plane; resolves once the API server is ready and namespace `default` exists. */
  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const log = options.log ?? (() => {});
    await reapLeftovers(log);
    const bin = options.binDir ?? await resolveBinaries({ log, build: false });
    const needed: ControlPlaneBinary[] = ['etcd', 'kube-apiserver'];
    if (options.controllerManager ?? true) needed.push('kube-controller-manager');
    if (options.scheduler ?? true) needed.push('kube-scheduler');
    const missing: ControlPlaneBinary[] = [];
    for (const name of needed) {
      if (!await access(join(bin, name), constants.X_OK).then(() => true, () => false)) missing.push(name);
    }
    if (missing.length) throw new Error(`control plane: ${bin} has no executable ${missing.join(', ')}`);
    const dir = await mkdtemp(join(tmpdir(), TEMP_DIR_PREFIX));
    await writeState(dir, { ownerPid: process.pid, pids: [] });
    const cp = new ControlPlane(dir, bin, options);
    try {
      await cp.#start();
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  /** `https://127.0.0.1:<port>` */
  get server(): string {
    return `https://127.0.0.1:${this.#apiPort}`;
  }

  /** The admin kubeconfig (static token in group system:masters). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /**
   * Stops kube-apiserver: SIGTERM, SIGKILL after `graceMs` (default 2 s; 0 kills at once, like a
   * crash), and waits for its exit. etcd keeps the data; the controller-manager and scheduler keep
   * running and reconnect after startApiServer().
   */
  async stopApiServer(options: { graceMs?: number } = {}): Promise<void> {
    this.#assertRunning();
    // kube-controller-manager exits when the API server goes away while it starts its
    // controllers; let it get past that first.
    if (this.#procs['kube-controller-manager'].child) await this.#controllerManagerStarted();
    const graceMs = options.graceMs ?? TERM_GRACE_MS;
    await this.#terminate(this.#procs['kube-apiserver'], graceMs > 0 ? 'SIGTERM' : 'SIGKILL', graceMs > 0 ? graceMs : KILL_WAIT_MS);
  }

  /**
   * Starts kube-apiserver again with the same port, certificates and flags and waits for /readyz.
   * A controller-manager or scheduler that exited meanwhile is started again too.
   */
  async startApiServer(): Promise<void> {
    this.#assertRunning();
    const api = this.#procs['kube-apiserver'];
    if (api.child) throw new Error('kube-apiserver is already running');
    await this.#launch(api, this.#apiServerArgs(), async (deadline) => {
      await this.#waitFor('kube-apiserver /readyz', api, deadline, () => this.#apiReady());
    });
    for (const [proc, wanted] of [[this.#procs['kube-controller-manager'], this.#withControllerManager], [this.#procs['kube-scheduler'], this.#withScheduler]] as const) {
      if (wanted && !proc.child) {
        this.#log(`control plane: starting ${proc.name} again`);
        this.#controllerManagerReady = undefined;
        await this.#launch(proc, proc.args, async () => {});
      }
    }
  }

  /** Resolves once kube-controller-manager runs its controllers: it has created the `default` ServiceAccount. */
  #controllerManagerStarted(): Promise<void> {
    const cm = this.#procs['kube-controller-manager'];
    this.#controllerManagerReady ??= this.#waitFor('kube-controller-manager to create ServiceAccount default/default', cm, Date.now() + START_DEADLINE_MS,
      async () => (await this.#apiGet('/api/v1/namespaces/default/serviceaccounts/default')).status === 200)
      .catch((err: unknown) => {
        this.#controllerManagerReady = undefined;
        throw new Error(`${(err as Error).message}\n--- ${cm.name} log (${cm.logPath}), last lines ---\n${this.#logTail(cm)}`, { cause: err });
      });
    return this.#controllerManagerReady;
  }

  /**
   * Makes every resourceVersion handed out before this call too old: advances etcd's revision
   * (a put and a delete of a marker key outside the API server's `/registry` prefix), then
   * compacts etcd, physically, to that revision, which it returns.
   *
   * A watch that reaches etcd from such a resourceVersion then fails with 410 Gone: with
   * `watchCache: false` that is every watch. With the watch cache on (the default, as in real
   * clusters) the cache keeps serving watches from its own window until kube-apiserver restarts;
   * after stopApiServer() + startApiServer() its window starts at the new revision, so watches
   * from older resourceVersions get 410 Gone too.
   */
  async compactEtcd(): Promise<number> {
    this.#assertRunning();
    const marker = Buffer.from('/ptemplate-testenv/compaction-marker').toString('base64');
    await this.#etcd('/v3/kv/put', { key: marker, value: Buffer.from(String(Date.now())).toString('base64') });
    const { header } = await this.#etcd('/v3/kv/deleterange', { key: marker }) as { header?: { revision?: string } };
    const revision = Number(header?.revision);
    if (!Number.isSafeInteger(revision) || revision <= 0) throw new Error(`etcd deleterange: no revision in ${JSON.stringify(header)}`);
    await this.#etcd('/v3/kv/compaction', { revision: String(revision), physical: true });
    return revision;
  }

  /** A call to etcd's JSON gRPC gateway. */
  async #etcd(path: string, body: unknown): Promise<unknown> {
    const res = await request(`http://127.0.0.1:${this.#etcdClientPort}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (res.status !== 200) throw new Error(`etcd ${path}: HTTP ${res.status}: ${res.body}`);
    return JSON.parse(res.body) as unknown;
  }

  /** Kills every process and removes the temp dir. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #start(): Promise<void> {
    this.#startWatchdog();
    liveCleanups.add(this.#cleanupSync);
    installHooks();

    const certDir = join(this.dir, 'certs');
    await mkdir(certDir, { recursive: true });
    await mkdir(join(this.dir, 'etcd'), { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    await writeFile(join(this.dir, 'sa.key'), privateKey, { mode: 0o600 });
    await writeFile(join(this.dir, 'sa.pub'), publicKey);
    await writeFile(join(this.dir, 'tokens.csv'), `${this.#token},admin,admin,"system:masters"\n`, { mode: 0o600 });

    const started = Date.now();
    const etcd = this.#procs.etcd;
    await this.#launchWithFreePorts(etcd, async () => {
      this.#etcdClientPort = await freePort();
      this.#etcdPeerPort = await freePort();
      return this.#etcdArgs();
    }, async (deadline) => {
      await this.#waitFor('etcd /health', etcd, deadline, async () => {
        const res = await request(`http://127.0.0.1:${this.#etcdClientPort}/health`, {});
        return res.status === 200 && /"health":\s*"true"/.test(res.body);
      });
    });
    this.#log(`control plane: etcd ready on 127.0.0.1:${this.#etcdClientPort} (${Date.now() - started} ms)`);

    const api = this.#procs['kube-apiserver'];
    await this.#launchWithFreePorts(api, async () => {
      this.#apiPort = await freePort();
      return this.#apiServerArgs();
    }, async (deadline) => {
      await this.#waitFor('kube-apiserver /readyz', api, deadline, () => this.#apiReady());
      await this.#writeKubeconfig();
      await this.#waitFor('namespace "default"', api, deadline, async () =>
        (await this.#apiGet('/api/v1/namespaces/default')).status === 200);
    });
    this.#log(`control plane: kube-apiserver ready at ${this.server} (${Date.now() - started} ms)`);

    if (this.#withControllerManager) {
      await this.#launch(this.#procs['kube-controller-manager'], [
        `--kubeconfig=${this.kubeconfigPath}`,
        '--controllers=*,-nodelifecycle',
        '--leader-elect=false',
        '--port=0',
        '--secure-port=0',
        `--service-account-private-key-file=${join(this.dir, 'sa.key')}`,
      ], async () => {});
    }
    if (this.#withScheduler) {
      await this.#launch(this.#procs['kube-scheduler'], [
        `--kubeconfig=${this.kubeconfigPath}`,
        '--leader-elect=false',
        '--port=0',
        '--secure-port=0',
      ], async () => {});
    }
    this.#running = true;
    this.#log(`control plane: ready in ${this.dir} (${Date.now() - started} ms)`);
  }

  #etcdArgs(): string[] {
    const client = `http://127.0.0.1:${this.#etcdClientPort}`;
    const peer = `http://127.0.0.1:${this.#etcdPeerPort}`;
    return [
      '--name=testenv',
      `--data-dir=${join(this.dir, 'etcd')}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=testenv=${peer}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync',
      '--logger=zap',
      '--log-outputs=stderr',
    ];
  }

  #apiServerArgs(): string[] {
    return [
      `--etcd-servers=http://127.0.0.1:${this.#etcdClientPort}`,
      `--secure-port=${this.#apiPort}`,
      '--bind-address=127.0.0.1',
      '--insecure-port=0',
      `--cert-dir=${join(this.dir, 'certs')}`,
      `--token-auth-file=${join(this.dir, 'tokens.csv')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(this.dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(this.dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      ...(this.#watchCache ? [] : ['--watch-cache=false']),
    ];
  }

  /** Launches, retrying with fresh ports when another process took a chosen port first. */
  async #launchWithFreePorts(proc: Proc, args: () => Promise<string[]>, ready: (deadline: number) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#launch(proc, await args(), ready);
        return;
      } catch (err) {
        const taken = /address already in use/i.test(this.#logTail(proc));
        if (!taken || attempt >= BIND_RETRIES) throw err;
        this.#log(`control plane: ${proc.name}: a port was taken meanwhile; retrying with other ports`);
        await this.#terminate(proc, 'SIGKILL', KILL_WAIT_MS);
      }
    }
  }

  async #launch(proc: Proc, args: string[], ready: (deadline: number) => Promise<void>): Promise<void> {
    const deadline = Date.now() + START_DEADLINE_MS;
    let fd: number | undefined;
    try {
      fd = openSync(proc.logPath, 'a');
      proc.logOffset = statSync(proc.logPath).size;
      const child = spawn(join(this.#bin, proc.name), args, { stdio: ['ignore', fd, fd], cwd: this.dir });
      proc.child = child;
      proc.args = args;
      proc.stopping = false;
      // Children must not keep this process alive: a forgotten stop() still ends in 'exit' cleanup.
      child.unref();
      proc.exited = new Promise<void>((resolve) => {
        child.once('error', (err) => {
          this.#appendLog(proc, `failed to start ${proc.name}: ${err.message}`);
          if (this.#running && !this.#stopped) this.#report(`control plane: failed to start ${proc.name}: ${err.message}`);
          if (proc.child === child) proc.child = undefined;
          resolve();
        });
        child.once('exit', (code, signal) => {
          if (proc.child === child) proc.child = undefined;
          if (child.pid) this.#watchdog?.stdin?.write(`-${child.pid}\n`);
          // During start() a failure is reported by the error start() throws.
          if (this.#running && !proc.stopping && !this.#stopped) {
            const line = `control plane: ${proc.name} exited unexpectedly (${signal ?? `code ${code}`}); log ${proc.logPath}:\n${this.#logTail(proc)}`;
            this.#report(line);
          }
          resolve();
        });
      });
      if (child.pid) {
        this.#watchdog?.stdin?.write(`${child.pid}\n`);
        await this.#recordPid(child.pid);
      }
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    try {
      await ready(deadline);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${proc.name} log (${proc.logPath}), last lines ---\n${this.#logTail(proc)}`, { cause: err });
    }
  }

  /** Polls `check` until it returns true, failing when `proc` exits or the deadline passes. */
  async #waitFor(what: string, proc: Proc, deadline: number, check: () => Promise<boolean>): Promise<void> {
    let lastError = '';
    for (;;) {
      if (!proc.child) throw new Error(`control plane: ${proc.name} exited while waiting for ${what}`);
      const ok = await check().then(
        (result) => { lastError = ''; return result; },
        (err: unknown) => { lastError = (err as Error).message; return false; },
      );
      if (ok) return;
      if (Date.now() > deadline) {
        throw new Error(`control plane: timed out after ${START_DEADLINE_MS} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
      }
      await Promise.race([delay(POLL_MS), proc.exited]);
    }
  }

  async #apiReady(): Promise<boolean> {
    // kube-apiserver writes its self-signed certificate (and the CA that signed it) on start.
    this.#ca = await readFile(join(this.dir, 'certs', 'apiserver.crt'), 'utf8');
    const res = await this.#apiGet('/readyz');
    return res.status === 200;
  }

  #apiGet(path: string): Promise<{ status: number; body: string }> {
    return request(`${this.server}${path}`, { ca: this.#ca, headers: { Authorization: `Bearer ${this.#token}` } });
  }

  async #writeKubeconfig(): Promise<void> {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'testenv', cluster: { server: this.server, 'certificate-authority-data': Buffer.from(this.#ca).toString('base64') } }],
      users: [{ name: 'admin', user: { token: this.#token } }],
      contexts: [{ name: 'testenv', context: { cluster: 'testenv', user: 'admin', namespace: 'default' } }],
      'current-context': 'testenv',
    };
    await writeFile(this.kubeconfigPath, stringify(config), { mode: 0o600 });
  }

  /** Signals the process (then SIGKILL after `graceMs`, for a softer signal) and waits for its exit. */
  async #terminate(proc: Proc, signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const child = proc.child;
    if (!child) return;
    proc.stopping = true;
    const exited = proc.exited!;
    child.kill(signal);
    if (await exitsWithin(exited, graceMs)) return;
    if (signal !== 'SIGKILL') {
      this.#log(`control plane: ${proc.name} did not exit ${graceMs} ms after ${signal}; killing it`);
      child.kill('SIGKILL');
      if (await exitsWithin(exited, KILL_WAIT_MS)) return;
    }
    throw new Error(`control plane: ${proc.name} (pid ${child.pid}) did not exit after SIGKILL`);
  }

  async #stop(): Promise<void> {
    const order: ControlPlaneBinary[] = ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
    // The dir is thrown away: nothing needs a graceful shutdown.
    await Promise.all(order.map((name) => this.#terminate(this.#procs[name], 'SIGKILL', KILL_WAIT_MS)));
    liveCleanups.delete(this.#cleanupSync);
    if (liveCleanups.size === 0) uninstallHooks();
    const watchdog = this.#watchdog;
    this.#watchdog = undefined;
    if (watchdog && watchdog.exitCode === null && watchdog.signalCode === null) {
      const exited = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
      watchdog.kill('SIGKILL');
      await exitsWithin(exited, KILL_WAIT_MS);
    }
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** For 'exit' and signals: kill everything and remove the dir without awaiting anything. */
  #killAllSync(): void {
    this.#stopped ??= Promise.resolve();
    if (this.#watchdog?.pid) {
      try { process.kill(this.#watchdog.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const proc of Object.values(this.#procs)) {
      proc.stopping = true;
      if (proc.child?.pid) {
        try { process.kill(proc.child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    try { rmSync(this.dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }

  #startWatchdog(): void {
    const watchdog = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'ptemplate-testenv-watchdog', this.dir], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.on('error', (err) => this.#log(`control plane: watchdog failed: ${err.message}`));
    watchdog.stdin.on('error', () => { /* the watchdog is gone; the other layers still clean up */ });
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
    this.#watchdog = watchdog;
    if (watchdog.pid) void this.#recordPid(watchdog.pid).catch(() => {});
  }

  #recordPid(pid: number): Promise<void> {
    this.#stateWrites = this.#stateWrites.catch(() => {}).then(async () => {
      const state = JSON.parse(await readFile(join(this.dir, STATE_FILE), 'utf8')) as StateFile;
      state.pids.push(pid);
      await writeState(this.dir, state);
    });
    return this.#stateWrites;
  }

  #assertRunning(): void {
    if (this.#stopped) throw new Error('control plane is stopped');
  }

  #logTail(proc: Proc): string {
    try {
      const text = readFileSync(proc.logPath, 'utf8').slice(proc.logOffset);
      return text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
    } catch {
      return '(no log)';
    }
  }

  #appendLog(proc: Proc, line: string): void {
    try { writeFileSync(proc.logPath, `${line}\n`, { flag: 'a' }); } catch { /* dir removed */ }
  }
}

async function writeState(dir: string, state: StateFile): Promise<void> {
  const tmp = join(dir, `${STATE_FILE}.tmp`);
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(JSON.stringify(state));
  } finally {
    await handle.close();
  }
  await rename(tmp, join(dir, STATE_FILE));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a process, to check that a recorded pid is still ours before killing it. */
function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch { /* no procfs (macOS) or gone */ }
  try {
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
}

/**
 * Removes the temp dirs of control planes whose owner process is gone, killing the
 * processes they recorded (only those whose command line still names that dir).
 */
export async function reapLeftovers(log: (line: string) => void = () => {}): Promise<number> {
  const parent = tmpdir();
  let reaped = 0;
  for (const entry of await readdir(parent).catch(() => [] as string[])) {
    if (!entry.startsWith(TEMP_DIR_PREFIX)) continue;
    const dir = join(parent, entry);
    let state: StateFile | undefined;
    try {
      state = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as StateFile;
    } catch {
      // No state file: either being created right now, or left by a crash right after mkdtemp.
      const age = await stat(dir).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age < 10 * 60_000) continue;
    }
    if (state && isAlive(state.ownerPid)) continue;
    for (const pid of state?.pids ?? []) {
      if (isAlive(pid) && commandLine(pid)?.includes(dir)) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    log(`control plane: removed leftovers of an interrupted run (${dir})`);
    reaped++;
  }
  return reaped;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Whether `exited` settles within `ms`. The referenced timer keeps this process alive while we wait for an unreferenced child. */
async function exitsWithin(exited: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([exited.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function request(url: string, opts: { method?: string; body?: string; ca?: string; headers?: Record<string, string> }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    }
    const options = { method: opts.method ?? 'GET', headers, timeout: 5_000 };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    const req = u.protocol === 'https:'
      ? https.request(u, { ...options, ca: opts.ca, agent: false }, onResponse)
      : http.request(u, { ...options, agent: false }, onResponse);
    req.on('timeout', () => req.destroy(new Error(`${url}: no response within 5 s`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
