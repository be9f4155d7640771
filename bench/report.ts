// Shared helpers of the benchmarks: timing, garbage collection, memory figures and plain-text
// tables. Benchmarks print what they measured; nothing here compares against a threshold.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** One printed table: a title, column headers and rows of already formatted cells. */
export interface Table {
  title: string;
  headers: string[];
  rows: string[][];
  /** Lines printed under the table (how to read it, what was simulated). */
  notes?: string[];
}

/** Progress for anything that takes more than a moment: stderr, so stdout stays the report. */
export function progress(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

const NUMERIC = /^[-+]?[\d.,]+(\s?[a-zµ%/]+)?$|^-$/i;

/** Renders a table with aligned columns; numeric-looking cells are right-aligned. */
export function renderTable(table: Table): string {
  const widths = table.headers.map((h, i) => Math.max(h.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i > 0 && NUMERIC.test(cell) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [`## ${table.title}`, '', line(table.headers), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const row of table.rows) out.push(line(row));
  for (const note of table.notes ?? []) out.push(`  ${note}`);
  return `${out.join('\n')}\n`;
}

export function printTable(table: Table): void {
  process.stdout.write(`\n${renderTable(table)}`);
}

// ---- numbers ------------------------------------------------------------------------------

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A duration given in milliseconds, with a unit that keeps 3 significant digits or so. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 1) return `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
  if (ms >= 0.001) return `${(ms * 1000).toFixed(ms >= 0.1 ? 0 : 2)} µs`;
  return `${(ms * 1e6).toFixed(0)} ns`;
}

export function fmtRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '-';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(1)} /s`;
}

export function fmtBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  const b = Math.abs(bytes);
  if (b >= 1024 ** 3) return `${sign}${(b / 1024 ** 3).toFixed(2)} GiB`;
  if (b >= 1024 ** 2) return `${sign}${(b / 1024 ** 2).toFixed(1)} MiB`;
  if (b >= 1024) return `${sign}${(b / 1024).toFixed(1)} KiB`;
  return `${sign}${b.toFixed(0)} B`;
}

export function fmtPct(fraction: number): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)} %` : '-';
}

// ---- timing -------------------------------------------------------------------------------

export interface Measurement {
  name: string;
  ops: number;
  /** Wall-clock time. */
  ms: number;
  /** CPU time (user + system, all threads) of this process over the same span. */
  cpuMs?: number;
  /** Heap growth attributed to the operation (only where it is meaningful). */
  heapBytes?: number;
}

/** The standard row: name, operations, total (wall) time, CPU time, time per operation, operations per second, memory. */
export const MEASUREMENT_HEADERS = ['benchmark', 'ops', 'total', 'cpu', 'per op', 'ops/s', 'heap'];

/** Printed under tables that have a cpu column. */
export const CPU_NOTE = 'cpu = CPU time of the process over the same span; far below total means the machine was busy with other work.';

export function measurementRow(m: Measurement): string[] {
  return [
    m.name, fmtInt(m.ops), fmtMs(m.ms), m.cpuMs === undefined ? '-' : fmtMs(m.cpuMs), fmtMs(m.ms / m.ops), fmtRate(m.ops / (m.ms / 1000)),
    m.heapBytes === undefined ? '-' : fmtBytes(m.heapBytes),
  ];
}

/** Starts measuring wall and CPU time; `elapsed()` reads both since the start. */
export function stopwatch(): { elapsed(): { ms: number; cpuMs: number } } {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return {
    elapsed() {
      const used = process.cpuUsage(cpu);
      return { ms: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 };
    },
  };
}

/** Times one synchronous run of `fn` that performs `ops` operations. */
export function timeOnce(name: string, ops: number, fn: () => unknown): Measurement {
  const watch = stopwatch();
  consume(fn());
  return { name, ops, ...watch.elapsed() };
}

/** Keeps results reachable so that the optimiser cannot drop the work that made them. */
const sink: { value: unknown } = { value: undefined };
export function consume(value: unknown): void {
  sink.value = value;
}

/**
 * Runs `fn` (one operation per call) for at least `minMs` after a short warm-up and reports the
 * whole timed span. Iterations are batched so that the clock is read rarely.
 */
export function timeLoop(name: string, fn: () => unknown, minMs = 400): Measurement {
  const warmUpEnd = performance.now() + Math.min(100, minMs / 4);
  while (performance.now() < warmUpEnd) for (let i = 0; i < 100; i++) sink.value = fn();
  let ops = 0;
  let batch = 64;
  const watch = stopwatch();
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < batch; i++) sink.value = fn();
    ops += batch;
    elapsed = performance.now() - start;
    if (elapsed < minMs / 10) batch *= 2;
  }
  return { name, ops, ...watch.elapsed() };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A deadline to race against: its timer does not keep the process alive once the race is won. */
export const deadline = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(resolve, ms, value).unref());

// ---- memory -------------------------------------------------------------------------------

type Gc = () => void;

function findGc(): Gc | undefined {
  const global = globalThis as { gc?: Gc };
  if (typeof global.gc === 'function') return global.gc;
  // Without --expose-gc on the command line, V8 still accepts the flag at run time; it takes
  // effect in contexts created afterwards, which then see a `gc` global.
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc === 'function') return gc as Gc;
  } catch {
    // fall through: figures are then taken without a collection
  }
  return undefined;
}

let gcFunction: Gc | undefined | null = null;
const gc = (): Gc | undefined => (gcFunction === null ? (gcFunction = findGc()) : gcFunction);

/** Whether heap figures are taken after a full collection (otherwise they include garbage). */
export function gcAvailable(): boolean {
  return gc() !== undefined;
}

/** Collects garbage (twice, so that weak references and finalisers settle), when possible. */
export function collect(): void {
  const run = gc();
  if (!run) return;
  run();
  run();
}

/** Heap used after a collection (or as is, when no collection is possible). */
export function heapUsed(): number {
  collect();
  return process.memoryUsage().heapUsed;
}
