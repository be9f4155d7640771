// A throwaway Kubernetes control plane for integration tests and the local playground:
// etcd, kube-apiserver and (optionally) kube-controller-manager and kube-scheduler as child
// processes, in a temp dir of their own. See shared DESIGN.md section 4 for the flags.
//
// Cleanup is layered so that no run leaks processes: stop(); a synchronous kill on process
// 'exit'; SIGINT/SIGTERM/SIGHUP handlers; a detached watchdog that kills the children when
// this process dies without running any handler (SIGKILL); and reaping of leftovers of
// interrupted runs (temp dirs whose owner process is gone) at every start. The layers other
// than stop() are in cleanup.ts; launching and stopping the processes is in process.ts.
import { constants, rmSync } from 'node:fs';
import { access, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { resolveBinaries, type ControlPlaneBinary } from './binaries.ts';
import { addExitCleanup, createStateFile, PidRecorder, reapLeftovers, removeExitCleanup, TEMP_DIR_PREFIX, Watchdog } from './cleanup.ts';
import { credentialPaths, newAdminToken, readApiServerCa, writeCredentials, writeKubeconfig } from './credentials.ts';
import { freePort, KILL_WAIT_MS, newProc, START_DEADLINE_MS, Supervisor, waitFor, withLogTail, type Proc } from './process.ts';
import { request } from './request.ts';

// Re-exported so that importers of this module keep finding them here.
export { reapLeftovers, TEMP_DIR_PREFIX };

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
  /**
   * kube-apiserver's audit policy (YAML or JSON text of an `audit.k8s.io/v1` Policy). When given,
   * the API server writes the events it selects as JSON lines to `auditLogPath`, so a test or
   * benchmark can count a client's requests from outside the client. Default: no audit log.
   */
  auditPolicy?: string;
}

/**
 * How long stopApiServer() lets kube-apiserver shut down after SIGTERM. It stops listening at
 * once and finishes short requests within milliseconds, but would hold long-running watches
 * (of the controller-manager, the scheduler, the code under test) for up to a minute.
 */
const TERM_GRACE_MS = 2_000;

export class ControlPlane implements AsyncDisposable {
  readonly dir: string;
  readonly kubeconfigPath: string;
  /** Where kube-apiserver writes audit events (JSON lines); undefined without `auditPolicy`. */
  readonly auditLogPath: string | undefined;
  readonly #log: (line: string) => void;
  /** Unexpected exits: to the log when given, else to stderr (they explain later failures). */
  readonly #report: (line: string) => void;
  readonly #token = newAdminToken();
  readonly #procs: Record<ControlPlaneBinary, Proc>;
  readonly #supervisor: Supervisor;
  readonly #pids: PidRecorder;
  readonly #withControllerManager: boolean;
  readonly #withScheduler: boolean;
  readonly #watchCache: boolean;
  readonly #auditPolicy: string | undefined;
  #etcdClientPort = 0;
  #etcdPeerPort = 0;
  #apiPort = 0;
  #ca = '';
  #watchdog: Watchdog | undefined;
  #stopped: Promise<void> | undefined;
  #controllerManagerReady: Promise<void> | undefined;
  #running = false;
  readonly #cleanupSync = () => this.#killAllSync();

  private constructor(dir: string, bin: string, options: ControlPlaneOptions) {
    this.dir = dir;
    this.kubeconfigPath = join(dir, 'kubeconfig');
    this.#log = options.log ?? (() => {});
    this.#report = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.#withControllerManager = options.controllerManager ?? true;
    this.#withScheduler = options.scheduler ?? true;
    this.#watchCache = options.watchCache ?? true;
    this.#auditPolicy = options.auditPolicy;
    this.auditLogPath = options.auditPolicy === undefined ? undefined : join(dir, 'audit.log');
    this.#pids = new PidRecorder(dir);
    this.#supervisor = new Supervisor({
      bin,
      cwd: dir,
      log: (line) => this.#log(line),
      report: (line) => this.#report(line),
      watching: () => this.#running && !this.#stopped,
      spawned: (pid) => {
        this.#watchdog?.track(pid);
        return this.#pids.record(pid);
      },
      exited: (pid) => this.#watchdog?.forget(pid),
    });
    this.#procs = {
      'etcd': newProc(dir, 'etcd'),
      'kube-apiserver': newProc(dir, 'kube-apiserver'),
      'kube-controller-manager': newProc(dir, 'kube-controller-manager'),
      'kube-scheduler': newProc(dir, 'kube-scheduler'),
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
    await createStateFile(dir);
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
    await this.#supervisor.terminate(this.#procs['kube-apiserver'], graceMs > 0 ? 'SIGTERM' : 'SIGKILL', graceMs > 0 ? graceMs : KILL_WAIT_MS);
  }

  /**
   * Starts kube-apiserver again with the same port, certificates and flags and waits for /readyz.
   * A controller-manager or scheduler that exited meanwhile is started again too.
   */
  async startApiServer(): Promise<void> {
    this.#assertRunning();
    const api = this.#procs['kube-apiserver'];
    if (api.child) throw new Error('kube-apiserver is already running');
    await this.#supervisor.launch(api, this.#apiServerArgs(), async (deadline) => {
      await waitFor('kube-apiserver /readyz', api, deadline, () => this.#apiReady());
    });
    for (const [proc, wanted] of [[this.#procs['kube-controller-manager'], this.#withControllerManager], [this.#procs['kube-scheduler'], this.#withScheduler]] as const) {
      if (wanted && !proc.child) {
        this.#log(`control plane: starting ${proc.name} again`);
        this.#controllerManagerReady = undefined;
        await this.#supervisor.launch(proc, proc.args, async () => {});
      }
    }
  }

  /** Resolves once kube-controller-manager runs its controllers: it has created the `default` ServiceAccount. */
  #controllerManagerStarted(): Promise<void> {
    const cm = this.#procs['kube-controller-manager'];
    this.#controllerManagerReady ??= waitFor('kube-controller-manager to create ServiceAccount default/default', cm, Date.now() + START_DEADLINE_MS,
      async () => (await this.#apiGet('/api/v1/namespaces/default/serviceaccounts/default')).status === 200)
      .catch((err: unknown) => {
        this.#controllerManagerReady = undefined;
        throw withLogTail(err, cm);
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
    addExitCleanup(this.#cleanupSync);

    await writeCredentials(this.dir, this.#token);
    if (this.#auditPolicy !== undefined) await writeFile(this.#auditPolicyPath, this.#auditPolicy, { mode: 0o600 });
    await mkdir(join(this.dir, 'etcd'), { recursive: true, mode: 0o700 });

    const started = Date.now();
    const etcd = this.#procs.etcd;
    await this.#supervisor.launchWithFreePorts(etcd, async () => {
      this.#etcdClientPort = await freePort();
      this.#etcdPeerPort = await freePort();
      return this.#etcdArgs();
    }, async (deadline) => {
      await waitFor('etcd /health', etcd, deadline, async () => {
        const res = await request(`http://127.0.0.1:${this.#etcdClientPort}/health`, {});
        return res.status === 200 && /"health":\s*"true"/.test(res.body);
      });
    });
    this.#log(`control plane: etcd ready on 127.0.0.1:${this.#etcdClientPort} (${Date.now() - started} ms)`);

    const api = this.#procs['kube-apiserver'];
    await this.#supervisor.launchWithFreePorts(api, async () => {
      this.#apiPort = await freePort();
      return this.#apiServerArgs();
    }, async (deadline) => {
      await waitFor('kube-apiserver /readyz', api, deadline, () => this.#apiReady());
      await writeKubeconfig(this.kubeconfigPath, this.server, this.#ca, this.#token);
      await waitFor('namespace "default"', api, deadline, async () =>
        (await this.#apiGet('/api/v1/namespaces/default')).status === 200);
    });
    this.#log(`control plane: kube-apiserver ready at ${this.server} (${Date.now() - started} ms)`);

    if (this.#withControllerManager) {
      await this.#supervisor.launch(this.#procs['kube-controller-manager'], [
        `--kubeconfig=${this.kubeconfigPath}`,
        '--controllers=*,-nodelifecycle',
        '--leader-elect=false',
        '--port=0',
        '--secure-port=0',
        `--service-account-private-key-file=${credentialPaths(this.dir).serviceAccountKey}`,
      ], async () => {});
    }
    if (this.#withScheduler) {
      await this.#supervisor.launch(this.#procs['kube-scheduler'], [
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
    const paths = credentialPaths(this.dir);
    return [
      `--etcd-servers=http://127.0.0.1:${this.#etcdClientPort}`,
      `--secure-port=${this.#apiPort}`,
      '--bind-address=127.0.0.1',
      '--insecure-port=0',
      `--cert-dir=${paths.certDir}`,
      `--token-auth-file=${paths.tokenFile}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${paths.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${paths.serviceAccountKey}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      ...(this.#watchCache ? [] : ['--watch-cache=false']),
      // No rotation (maxsize 0): a reader follows one file; the temp dir is thrown away at stop().
      ...(this.auditLogPath ? [`--audit-policy-file=${this.#auditPolicyPath}`, `--audit-log-path=${this.auditLogPath}`, '--audit-log-format=json', '--audit-log-maxsize=0'] : []),
    ];
  }

  get #auditPolicyPath(): string {
    return join(this.dir, 'audit-policy.yaml');
  }

  async #apiReady(): Promise<boolean> {
    // kube-apiserver writes its self-signed certificate (and the CA that signed it) on start.
    this.#ca = await readApiServerCa(this.dir);
    const res = await this.#apiGet('/readyz');
    return res.status === 200;
  }

  #apiGet(path: string): Promise<{ status: number; body: string }> {
    return request(`${this.server}${path}`, { ca: this.#ca, headers: { Authorization: `Bearer ${this.#token}` } });
  }

  async #stop(): Promise<void> {
    const order: ControlPlaneBinary[] = ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
    // The dir is thrown away: nothing needs a graceful shutdown.
    await Promise.all(order.map((name) => this.#supervisor.terminate(this.#procs[name], 'SIGKILL', KILL_WAIT_MS)));
    removeExitCleanup(this.#cleanupSync);
    const watchdog = this.#watchdog;
    this.#watchdog = undefined;
    await watchdog?.stop();
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** For 'exit' and signals: kill everything and remove the dir without awaiting anything. */
  #killAllSync(): void {
    this.#stopped ??= Promise.resolve();
    this.#watchdog?.killSync();
    for (const proc of Object.values(this.#procs)) {
      proc.stopping = true;
      if (proc.child?.pid) {
        try { process.kill(proc.child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    try { rmSync(this.dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }

  #startWatchdog(): void {
    const watchdog = new Watchdog(this.dir, (line) => this.#log(line));
    this.#watchdog = watchdog;
    if (watchdog.pid) void this.#pids.record(watchdog.pid).catch(() => {});
  }

  #assertRunning(): void {
    if (this.#stopped) throw new Error('control plane is stopped');
  }
}
