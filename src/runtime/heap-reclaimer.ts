// Hands the memory of a burst back once the work is done. V8 grows its heap to absorb a burst of
// reconciles (a start with thousands of objects, a fleet-wide change) and keeps it: its own memory
// reducer waits for an idle mutator that a watch-driven process seldom looks like, and a plain
// major GC frees objects but keeps their pages. An operator's work comes in bursts with long quiet
// gaps, so after a quiet period, and only when the heap has grown since the last time, one
// memory-reducing full GC (V8's "last resort" flavour: compacts and releases free pages) returns
// the difference. Go's runtime does the same with its background scavenger.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from 'pino';
import { silentLogger } from './log.ts';
import { delay } from './abort.ts';

/** V8's gc() with options (the `--expose-gc` extension). */
export type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;

export interface HeapReclaimerOptions {
  /** Whether work is in hand (queued or running reconciles). Required. */
  busy: () => boolean;
  /** How long nothing must be in hand before a compaction. Default 5 s. */
  quietMs?: number;
  /** Compact only when the heap (V8's total) grew this much since the last compaction. Default 8 MiB. */
  minGrowthBytes?: number;
  /**
   * The first quiet period compacts whatever the growth: start-up (loading code, filling the caches)
   * is a burst too, and its garbage would otherwise stay until the heap grows by minGrowthBytes.
   * Default true.
   */
  compactAfterStart?: boolean;
  /** How often to look. Default 1 s. */
  checkEveryMs?: number;
  /** Default: V8's gc, exposed without a command-line flag. */
  gc?: GcFunction | undefined;
  /** Default: v8.getHeapStatistics().total_heap_size. */
  heapSize?: () => number;
  /** Milliseconds, monotonic. Default performance.now. */
  now?: () => number;
  log?: Logger;
}

export class HeapReclaimer {
  /** Standby replicas fill their caches too. */
  readonly needLeaderElection = false;
  readonly #o: HeapReclaimerOptions;
  readonly #gc: GcFunction | undefined;
  readonly #heapSize: () => number;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #quietMs: number;
  readonly #minGrowth: number;
  #baseline: number;
  #quietSince: number;
  #compactions = 0;

  constructor(options: HeapReclaimerOptions) {
    this.#o = options;
    this.#gc = 'gc' in options ? options.gc : exposedGc();
    this.#heapSize = options.heapSize ?? (() => getHeapStatistics().total_heap_size);
    this.#now = options.now ?? (() => performance.now());
    this.#log = (options.log ?? silentLogger).child({ component: 'heap-reclaimer' });
    this.#quietMs = options.quietMs ?? 5_000;
    this.#minGrowth = options.minGrowthBytes ?? 8 * 1024 * 1024;
    if (!(this.#quietMs >= 0) || !(this.#minGrowth >= 0)) throw new Error('HeapReclaimer: quietMs and minGrowthBytes must be non-negative');
    this.#baseline = options.compactAfterStart === false ? this.#heapSize() : -Infinity;
    this.#quietSince = this.#now();
  }

  /** How many compactions ran. */
  get compactions(): number {
    return this.#compactions;
  }

  async start(signal: AbortSignal): Promise<void> {
    if (!this.#gc) {
      this.#log.info('V8 gc() is not available: the heap is left to V8');
      return;
    }
    const every = this.#o.checkEveryMs ?? 1_000;
    for (;;) {
      await delay(every, signal);
      if (signal.aborted) return;
      this.check();
    }
  }

  /** One look: compacts when the work has been quiet long enough and the heap grew. Returns whether it compacted. */
  check(): boolean {
    const now = this.#now();
    if (this.#o.busy()) {
      this.#quietSince = now;
      return false;
    }
    if (now - this.#quietSince < this.#quietMs) return false;
    const before = this.#heapSize();
    // Below the baseline: V8 shrank on its own; follow it down.
    if (before < this.#baseline) this.#baseline = before;
    if (!this.#gc || before - this.#baseline < this.#minGrowth) return false;
    const start = performance.now();
    this.#gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    this.#baseline = this.#heapSize();
    this.#compactions++;
    this.#log.debug({ heapBefore: before, heapAfter: this.#baseline, ms: Math.round(performance.now() - start) }, 'heap compacted after a burst');
    return true;
  }
}

/**
 * V8's gc() without `--expose-gc` on the command line: the flag makes every context created after
 * it get the function, here a throwaway one; the process's own global stays without `gc`.
 */
export function exposedGc(): GcFunction | undefined {
  const global = (globalThis as { gc?: GcFunction }).gc;
  if (typeof global === 'function') return global;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? gc as GcFunction : undefined;
  } catch {
    return undefined;
  }
}
