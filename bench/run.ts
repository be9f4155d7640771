// `npm run bench [-- NAME...]`: runs the benchmarks and prints their figures (tables on stdout,
// progress on stderr). Nothing is asserted: the figures are for reading and comparing runs.
//
//   workqueue   deduplication and worker throughput, the addAfter heap
//   cache       the informer store: upsert, index lookups, relist (replace), heap per object
//   apply       the apply decision: desired DaemonSet/Module, hashing, isSubset
//   operator    end to end on a real control plane (needs the test binaries, see README)
//   scale       issue 7's figures: N Ptemplates against a direct client, the operator as a process
//               counted by the audit log; restart, failover, spec changes, memory; the wide case
//
// Environment: BENCH_PTEMPLATES (operator, default 30), BENCH_STEADY_MS (default 10000),
// BENCH_TIMEOUT_MS (deadline of each operator phase), BENCH_CACHE_OBJECTS (default 20000);
// scale: BENCH_N (default 1000), BENCH_WIDE_NODES (default 1000), BENCH_OPERATOR_CMD and more
// (see bench/scale.ts and bench/wide.ts).
//
// Each benchmark runs in a fresh child process (`run.ts --child NAME`) started with --expose-gc:
// heap figures are taken after a full collection, and one benchmark's heap, RSS and JIT state do
// not leak into the next one's figures. `--child NAME` can be run by hand too; without
// --expose-gc, report.ts enables the flag at run time (the header says whether gc is available).
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gcAvailable, progress } from './report.ts';

const BENCHMARKS: Record<string, () => Promise<void>> = {
  workqueue: async () => (await import('./workqueue.ts')).benchWorkqueue(),
  cache: async () => (await import('./cache.ts')).benchCache(),
  apply: async () => (await import('./apply.ts')).benchApply(),
  operator: async () => (await import('./operator.ts')).benchOperator(),
  scale: async () => (await import('./scale.ts')).benchScale(),
};
const ALIASES: Record<string, string> = { e2e: 'operator', store: 'cache' };
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Runs one benchmark in this process; a failure is printed (the figures so far stay valid) and sets exit code 1. */
async function runChild(name: string): Promise<void> {
  const start = performance.now();
  progress(`${name}: start${gcAvailable() ? '' : ' (no gc: heap figures include garbage)'}`);
  try {
    await BENCHMARKS[name]!();
    progress(`${name}: done in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  } catch (err) {
    process.stdout.write(`\n## ${name}: FAILED\n\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    progress(`${name}: failed`);
    process.exitCode = 1;
  }
}

/** Runs `run.ts --child NAME` with --expose-gc; resolves with its exit code (128 + n when killed by a signal). */
function spawnChild(name: string, onStart: (child: ChildProcess) => void): Promise<number> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--expose-gc', ...process.execArgv, script, '--child', name], { stdio: 'inherit' });
  onStart(child);
  return new Promise((resolve) => {
    child.on('error', (err) => {
      progress(`${name}: could not start: ${err.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1)));
  });
}

const signalNumber = (signal: NodeJS.Signals) => ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[signal];

function header(selected: readonly string[]): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const [load1, load5] = loadavg();
  process.stdout.write([
    '# ptemplate-operator benchmarks',
    '',
    `node ${process.version} on ${process.platform}/${process.arch}, ${availableParallelism()} CPUs (${cpu.trim()}), ` +
      `${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, load average ${load1!.toFixed(2)} / ${load5!.toFixed(2)} (1 / 5 min)`,
    'each benchmark runs in its own process with --expose-gc: heap figures are taken after a full garbage collection',
    `benchmarks: ${selected.join(', ')}`,
    '',
  ].join('\n'));
}

async function main(args: string[]): Promise<void> {
  if (args[0] === '--child') {
    const name = args[1] ?? '';
    if (!(name in BENCHMARKS)) throw new Error(`unknown benchmark ${name}`);
    await runChild(name);
    return;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`usage: npm run bench [-- ${Object.keys(BENCHMARKS).join('|')} ...]   (default: all)\n`);
    return;
  }
  const selected = args.length > 0 ? args.map((a) => ALIASES[a] ?? a) : Object.keys(BENCHMARKS);
  const unknown = selected.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }

  header(selected);
  // A signal goes to the running child (which cleans up its control plane) and stops the sequence;
  // this process exits once the child has.
  let current: ChildProcess | undefined;
  let interrupted: NodeJS.Signals | undefined;
  const forward = (signal: NodeJS.Signals) => {
    interrupted = signal;
    current?.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  const failed: string[] = [];
  try {
    for (const name of selected) {
      if (interrupted) break;
      const code = await spawnChild(name, (child) => { current = child; });
      current = undefined;
      if (code !== 0) failed.push(`${name} (exit ${code})`);
    }
  } finally {
    for (const signal of FORWARDED_SIGNALS) process.removeListener(signal, forward);
  }
  if (interrupted) {
    progress(`interrupted by ${interrupted}`);
    process.exitCode = 128 + (signalNumber(interrupted) ?? 0);
  } else if (failed.length > 0) {
    progress(`failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

await main(process.argv.slice(2));
