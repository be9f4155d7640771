// Workqueue benchmarks: deduplicating adds with concurrent async workers, and the delayed
// (addAfter) min-heap, both with a manual clock (pure data-structure cost) and with real timers
// (how late items come out).
import { Registry } from 'prom-client';
import { WorkQueue, WorkQueueMetricsProvider, type Clock } from '../src/runtime/workqueue/index.ts';
import {
  CPU_NOTE, fmtBytes, fmtInt, fmtMs, fmtPct, fmtRate, heapUsed, MEASUREMENT_HEADERS, measurementRow, printTable, progress,
  stopwatch, type Measurement,
} from './report.ts';

/** A small deterministic PRNG (mulberry32), so every run uses the same key sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

interface ThroughputResult {
  name: string;
  adds: number;
  processed: number;
  ms: number;
  cpuMs: number;
}

interface ThroughputOptions {
  name: string;
  keys: readonly string[];
  workers: number;
  /** Adds per event-loop turn of the producer; 0 adds everything before the workers start. */
  batch: number;
  metrics?: boolean;
}

/**
 * One producer adds `keys` in order (yielding to the event loop every `batch` adds), while
 * `workers` async workers take items, spend one event-loop turn "reconciling" each and call
 * done(). Ends when the queue is shut down and drained.
 */
/** The run with the median time of `runs` runs (short scenarios are sensitive to a busy machine). */
async function medianThroughput(options: ThroughputOptions, runs = 3): Promise<ThroughputResult> {
  const results: ThroughputResult[] = [];
  for (let i = 0; i < runs; i++) results.push(await throughputOnce(options));
  results.sort((a, b) => a.ms - b.ms);
  return results[Math.floor(runs / 2)]!;
}

async function throughputOnce(options: ThroughputOptions): Promise<ThroughputResult> {
  const queue = new WorkQueue<string>({
    name: 'bench',
    ...(options.metrics ? { metrics: new WorkQueueMetricsProvider(new Registry()) } : {}),
  });
  let processed = 0;
  const worker = async () => {
    for (let item = await queue.get(); item !== undefined; item = await queue.get()) {
      processed++;
      await nextTick();
      queue.done(item);
      queue.forget(item);
    }
  };
  const { keys, batch } = options;
  const watch = stopwatch();
  const workers: Promise<void>[] = [];
  if (batch > 0) for (let i = 0; i < options.workers; i++) workers.push(worker());
  for (let i = 0; i < keys.length; i++) {
    queue.add(keys[i]!);
    if (batch > 0 && (i + 1) % batch === 0) await nextTick();
  }
  if (batch === 0) for (let i = 0; i < options.workers; i++) workers.push(worker());
  queue.shutDown();
  await Promise.all(workers);
  return { name: options.name, adds: keys.length, processed, ...watch.elapsed() };
}

/** A clock the benchmark advances by hand: timers fire only in advance(). */
class ManualClock implements Clock {
  #now = 0;
  #timers: { fn: () => void; at: number; live: boolean }[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    const timer = { fn, at: this.#now + ms, live: true };
    this.#timers.push(timer);
    return { cancel: () => { timer.live = false; } };
  }

  advance(to: number): void {
    this.#now = to;
    for (;;) {
      const due = this.#timers.filter((t) => t.live && t.at <= to);
      this.#timers = this.#timers.filter((t) => t.live && t.at > to);
      if (due.length === 0) return;
      for (const t of due) t.fn();
    }
  }
}

async function delayedManual(count: number): Promise<{ rows: Measurement[]; heapPerItem: number }> {
  const random = prng(7);
  const items = Array.from({ length: count }, (_, i) => `ns-${i % 97}/delayed-${i}`);
  const delays = items.map(() => 1 + Math.floor(random() * 60_000));
  const clock = new ManualClock();
  const rows: Measurement[] = [];

  const before = heapUsed();
  const queue = new WorkQueue<string>({ name: 'bench-delayed', clock });
  let watch = stopwatch();
  for (let i = 0; i < count; i++) queue.addAfter(items[i]!, delays[i]!);
  rows.push({ name: `addAfter, ${fmtInt(count)} new items, random delay 1 ms..60 s`, ops: count, ...watch.elapsed() });
  const heapPerItem = (heapUsed() - before) / count;

  watch = stopwatch();
  for (let i = 0; i < count; i++) queue.addAfter(items[i]!, delays[i]! * 2);
  rows.push({ name: 'addAfter again, later (keeps the earliest: no-op)', ops: count, ...watch.elapsed() });

  watch = stopwatch();
  for (let i = 0; i < count; i++) queue.addAfter(items[i]!, delays[i]! / 2);
  rows.push({ name: 'addAfter again, earlier (decrease-key, sift up)', ops: count, ...watch.elapsed() });

  watch = stopwatch();
  clock.advance(60_001);
  rows.push({ name: 'timer fires: pop every item into the FIFO', ops: count, ...watch.elapsed() });

  watch = stopwatch();
  for (let i = 0; i < count; i++) {
    const item = await queue.get();
    queue.done(item!);
  }
  rows.push({ name: 'get + done of the released items', ops: count, ...watch.elapsed() });
  queue.shutDown();
  return { rows, heapPerItem };
}

interface LatenessResult {
  ms: number;
  cpuMs: number;
  processed: number;
  p50: number;
  p99: number;
  max: number;
}

/** Real timers: `count` items with delays spread over `spreadMs`, `workers` workers; how late items are handed out. */
async function delayedReal(count: number, spreadMs: number, workers: number): Promise<LatenessResult> {
  const random = prng(11);
  const queue = new WorkQueue<string>({ name: 'bench-delayed-real' });
  const readyAt = new Map<string, number>();
  const lateness: number[] = [];
  const watch = stopwatch();
  for (let i = 0; i < count; i++) {
    const item = `delayed-${i}`;
    const delay = random() * spreadMs;
    readyAt.set(item, performance.now() + delay);
    queue.addAfter(item, delay);
  }
  const worker = async () => {
    for (let item = await queue.get(); item !== undefined; item = await queue.get()) {
      lateness.push(performance.now() - readyAt.get(item)!);
      await nextTick();
      queue.done(item);
      if (lateness.length === count) queue.shutDown();
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  lateness.sort((a, b) => a - b);
  const at = (q: number) => lateness[Math.min(lateness.length - 1, Math.floor(q * lateness.length))] ?? NaN;
  return { ...watch.elapsed(), processed: lateness.length, p50: at(0.5), p99: at(0.99), max: lateness.at(-1) ?? NaN };
}

export async function benchWorkqueue(): Promise<void> {
  const adds = 100_000;
  const keyCount = 1_000;
  const workers = 4;
  const random = prng(42);
  const pool = Array.from({ length: keyCount }, (_, i) => `namespace-${i % 50}/object-${i}`);
  const keys = Array.from({ length: adds }, () => pool[Math.floor(random() * keyCount)]!);
  const unique = Array.from({ length: adds }, (_, i) => `namespace-${i % 50}/unique-${i}`);

  progress('workqueue: throughput scenarios');
  const results: ThroughputResult[] = [];
  // One unmeasured run first, so that every measured scenario runs optimised code.
  await throughputOnce({ name: 'warm-up', keys: keys.slice(0, 20_000), workers, batch: 100 });
  results.push(await medianThroughput({ name: `${fmtInt(keyCount)} keys, 100 adds per loop turn`, keys, workers, batch: 100 }));
  results.push(await medianThroughput({ name: `${fmtInt(keyCount)} keys, 100 adds per turn, Prometheus metrics`, keys, workers, batch: 100, metrics: true }));
  results.push(await medianThroughput({ name: `${fmtInt(keyCount)} keys, 10 adds per loop turn`, keys, workers, batch: 10 }));
  results.push(await medianThroughput({ name: `${fmtInt(keyCount)} keys, all adds before the workers start`, keys, workers, batch: 0 }));
  results.push(await medianThroughput({ name: `${fmtInt(adds)} distinct keys (no dedup), 100 adds per turn`, keys: unique, workers, batch: 100 }));
  printTable({
    title: `Workqueue: ${fmtInt(adds)} adds, ${workers} async workers (each item = one event-loop turn of work)`,
    headers: ['scenario', 'adds', 'processed', 'dedup', 'total', 'cpu', 'per add', 'adds/s', 'processed/s'],
    rows: results.map((r) => [
      r.name, fmtInt(r.adds), fmtInt(r.processed), fmtPct(1 - r.processed / r.adds), fmtMs(r.ms), fmtMs(r.cpuMs), fmtMs(r.ms / r.adds),
      fmtRate(r.adds / (r.ms / 1000)), fmtRate(r.processed / (r.ms / 1000)),
    ]),
    notes: [
      'dedup = adds that did not cause a separate processing (the key was already queued).',
      'Keys are drawn from a fixed pool with a seeded PRNG; total includes the workers draining the queue (median of 3 runs).',
      CPU_NOTE,
    ],
  });

  const delayedCount = 50_000;
  progress(`workqueue: delayed items (${fmtInt(delayedCount)}, manual clock)`);
  await delayedManual(5_000); // warm-up
  const manual = await delayedManual(delayedCount);
  printTable({
    title: `Workqueue addAfter / min-heap: ${fmtInt(delayedCount)} delayed items, manual clock (data-structure cost only)`,
    headers: MEASUREMENT_HEADERS,
    rows: manual.rows.map((m, i) => measurementRow(i === 0 ? { ...m, heapBytes: manual.heapPerItem * delayedCount } : m)),
    notes: [`heap held while waiting: ${fmtBytes(manual.heapPerItem)} per delayed item (heap entry + index map; item strings excluded).`, CPU_NOTE],
  });

  progress(`workqueue: delayed items (${fmtInt(delayedCount)}, real timers over 1 s)`);
  const real = await delayedReal(delayedCount, 1_000, workers);
  printTable({
    title: `Workqueue addAfter with real timers: ${fmtInt(delayedCount)} items, delays uniform over 0..1 s, ${workers} workers`,
    headers: ['items', 'processed', 'total', 'cpu', 'late p50', 'late p99', 'late max'],
    rows: [[fmtInt(delayedCount), fmtInt(real.processed), fmtMs(real.ms), fmtMs(real.cpuMs), fmtMs(real.p50), fmtMs(real.p99), fmtMs(real.max)]],
    notes: ['late = time from an item\'s ready time until a worker got it (timer granularity + queueing behind other items).'],
  });
}
