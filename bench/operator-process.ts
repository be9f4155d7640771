// The operator as a user runs it: a separate OS process, `ptemplate-operator run --kubeconfig FILE`
// on its default flags (only the metrics and probe ports are chosen, so that two replicas fit on one
// machine). The command is BENCH_OPERATOR_CMD (default `node bin/ptemplate-operator.js run`, from
// the repository root). Figures come from outside: /readyz, /metrics, /proc/<pid>.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/testenv/process.ts';
import { DEFAULT_NAMESPACE } from '../src/ptemplate/manifests/constants.ts';
import { progress, sleep } from './report.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_COMMAND = 'node bin/ptemplate-operator.js run';

/**
 * With the default command, builds the bundle first: bin/ runs the sources (type-stripped, much
 * more memory) whenever one is newer than dist/, and the figures are for what users run.
 */
export function buildBundleIfDefault(): void {
  if (operatorCommandText() !== DEFAULT_COMMAND) return;
  progress('building the bundle (dist/) the default command runs');
  execFileSync(process.execPath, ['scripts/build.ts'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

export const operatorCommandText = () => (process.env.BENCH_OPERATOR_CMD || DEFAULT_COMMAND).trim();

/** The command words; a leading `node` is this Node (24), whatever `node` is first on PATH. */
export function operatorCommand(): string[] {
  const words = operatorCommandText().split(/\s+/);
  if (words[0] === 'node') words[0] = process.execPath;
  return words;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface OperatorProcessOptions {
  name: string;
  kubeconfigPath: string;
  /** Where stdout/stderr (its JSON logs) go. */
  logDir: string;
  /** Flags after the command's own, e.g. `--leader-elect`. */
  args?: string[];
}

/** Live children, killed when the benchmark exits however it exits. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
});

export class OperatorProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly startedAt: number;
  readonly probeUrl: string;
  readonly metricsUrl: string;
  readonly logPath: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(name: string, child: ChildProcess, probePort: number, metricsPort: number, logPath: string) {
    this.name = name;
    this.child = child;
    this.startedAt = performance.now();
    this.probeUrl = `http://127.0.0.1:${probePort}`;
    this.metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    this.logPath = logPath;
    running.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(child);
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  static async start(options: OperatorProcessOptions): Promise<OperatorProcess> {
    const [probePort, metricsPort] = [await freePort(), await freePort()];
    const [command, ...words] = operatorCommand();
    const args = [
      ...words, '--kubeconfig', options.kubeconfigPath,
      `--health-probe-bind-address=127.0.0.1:${probePort}`, `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      ...(options.args ?? []),
    ];
    const logPath = join(options.logDir, `${options.name}.log`);
    const fd = openSync(logPath, 'a');
    // As the Deployment sets them (the Lease's namespace, the replica's name); nothing that looks like a cluster.
    const env: NodeJS.ProcessEnv = { ...process.env, POD_NAMESPACE: DEFAULT_NAMESPACE, POD_NAME: options.name };
    delete env.KUBERNETES_SERVICE_HOST;
    delete env.KUBECONFIG;
    const child = spawn(command!, args, { cwd: REPO_ROOT, stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new Error(`could not start ${command} ${args.join(' ')}: ${err.message}`)));
    });
    progress(`operator ${options.name}: pid ${child.pid}, log ${logPath}`);
    return new OperatorProcess(options.name, child, probePort, metricsPort, logPath);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Polls /readyz every 20 ms; resolves with the time from the spawn to the first 200. */
  async waitReady(timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.#exit) throw new Error(`operator ${this.name} exited (${JSON.stringify(this.#exit)}) before it was ready; see ${this.logPath}`);
      const ok = await fetch(`${this.probeUrl}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
      if (ok) return performance.now() - this.startedAt;
      if (performance.now() > deadline) throw new Error(`operator ${this.name} not ready within ${timeoutMs} ms; see ${this.logPath}`);
      await sleep(20);
    }
  }

  /** VmRSS from /proc/<pid>/status, in bytes. */
  rss(): number {
    return this.#status('VmRSS');
  }

  /** VmHWM, the highest RSS since the process started (what a memory limit must leave room for), in bytes. */
  peakRss(): number {
    return this.#status('VmHWM');
  }

  #status(field: string): number {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  }

  /** User + system CPU time so far (ms), from /proc/<pid>/stat. */
  cpuMs(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1000;
  }

  async metrics(): Promise<string> {
    const res = await fetch(this.metricsUrl, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`${this.metricsUrl}: HTTP ${res.status}`);
    return res.text();
  }

  /** Sum of a metric's samples whose labels include `labels` (Prometheus text format). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return sumSamples(await this.metrics(), name, labels);
  }

  /** The V8 heap as the operator's own default metrics report it (used and total, bytes), and external memory. */
  async heap(): Promise<{ used: number; total: number; external: number }> {
    const text = await this.metrics();
    return {
      used: sumSamples(text, 'nodejs_heap_size_used_bytes', {}),
      total: sumSamples(text, 'nodejs_heap_size_total_bytes', {}),
      external: sumSamples(text, 'nodejs_external_memory_bytes', {}),
    };
  }

  /** Whether this replica holds the Lease (`leader_election_master_status`). */
  async isLeader(): Promise<boolean> {
    return (await this.metric('leader_election_master_status').catch(() => 0)) > 0;
  }

  /**
   * Sends `signal` and waits for the exit; SIGKILL after `graceMs` (default 30 s, Kubernetes'
   * default terminationGracePeriodSeconds). Resolves with how long it took and whether it was killed.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 30_000): Promise<{ ms: number; killed: boolean }> {
    if (this.#exit) return { ms: 0, killed: false };
    const start = performance.now();
    let killed = false;
    this.child.kill(signal);
    const timer = setTimeout(() => {
      progress(`operator ${this.name}: no exit ${graceMs} ms after ${signal}, killing it`);
      killed = true;
      this.child.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
    return { ms: performance.now() - start, killed };
  }
}

export function sumSamples(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    const brace = line.indexOf('{');
    const labelText = brace === name.length ? line.slice(brace + 1, line.indexOf('}')) : '';
    if (!Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
