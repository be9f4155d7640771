// The controller workqueue: client-go's rate-limiting, delaying workqueue in one class.
//
// Guarantees (as client-go):
// - an item being processed is never handed out again before done(); adding it meanwhile
//   marks it dirty and it is queued once more on done() (exactly one follow-up);
// - adding an item that is already queued is a no-op (deduplication); otherwise FIFO;
// - two lanes (controller-runtime's priority queue, in its simplest form): low-priority items are
//   handed out only when no normal item is queued, and adding a queued low item at normal
//   priority moves it to the normal lane;
// - addAfter() keeps the earliest ready time of an item that is already waiting;
// - after shutdown, adds are ignored, waiting (delayed) items are dropped, and getters
//   still receive what is queued, then undefined.
//
// Items are compared with SameValueZero (Set/Map keys): use strings (object keys) or stable
// references. `undefined` is not a valid item: get() uses it to signal shutdown.
import { noopQueueMetrics, type QueueMetrics, type QueueMetricsProvider } from './metrics.ts';
import { ExponentialFailureRateLimiter, type RateLimiter } from './ratelimiter.ts';

export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

/**
 * Monotonic time and ordinary (ref'd) Node timers. The queue holds at most one timer, and only
 * while delayed items are waiting; shutDown() cancels it. So a pending requeue keeps the process
 * alive (an operator wants that) and a shut-down queue never does.
 */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    // Rounding up: a timer must not fire before the item's ready time.
    const timer = setTimeout(fn, Math.ceil(ms));
    return { cancel: () => clearTimeout(timer) };
  },
};

export interface AddOptions {
  /**
   * Wait behind every normal item: for work that is probably a no-op, such as the objects a
   * starting controller replays from its cache. Default false. A normal add of the same item wins.
   */
  lowPriority?: boolean;
}

export interface WorkQueueOptions<T> {
  /** The queue name: the `name` label of its metrics. */
  name: string;
  /** Default: exponential per-item backoff, 5 ms .. 1000 s. */
  rateLimiter?: RateLimiter<T>;
  metrics?: QueueMetricsProvider;
  clock?: Clock;
}

// Node fires longer timeouts immediately; a clamped timer just re-arms when it fires.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** FIFO with O(1) shift (Array#shift is O(n)). */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Callers check length first. */
  shift(): T {
    const item = this.#items[this.#head] as T;
    this.#items[this.#head++] = undefined; // release the reference
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** An item in the low lane; `live` turns false when a normal add moves it to the normal lane. */
interface LowEntry<T> {
  item: T;
  live: boolean;
}

interface WaitingEntry<T> {
  item: T;
  readyAt: number;
  /** Insertion order, to keep FIFO among equal ready times. */
  seq: number;
  index: number;
}

/** Min-heap of delayed items by ready time, at most one entry per item. */
class WaitingHeap<T> {
  readonly #heap: WaitingEntry<T>[] = [];
  readonly #byItem = new Map<T, WaitingEntry<T>>();
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  peek(): WaitingEntry<T> | undefined {
    return this.#heap[0];
  }

  /** Adds the item, or moves an already waiting item earlier (never later). */
  offer(item: T, readyAt: number): void {
    const entry = this.#byItem.get(item);
    if (entry) {
      if (readyAt < entry.readyAt) {
        entry.readyAt = readyAt;
        this.#up(entry.index);
      }
      return;
    }
    const created: WaitingEntry<T> = { item, readyAt, seq: this.#seq++, index: this.#heap.length };
    this.#heap.push(created);
    this.#byItem.set(item, created);
    this.#up(created.index);
  }

  /** Callers check size first. */
  pop(): T {
    const top = this.#heap[0] as WaitingEntry<T>;
    const last = this.#heap.pop() as WaitingEntry<T>;
    if (last !== top) {
      this.#put(last, 0);
      this.#down(0);
    }
    this.#byItem.delete(top.item);
    return top.item;
  }

  clear(): void {
    this.#heap.length = 0;
    this.#byItem.clear();
  }

  #less(a: WaitingEntry<T>, b: WaitingEntry<T>): boolean {
    return a.readyAt < b.readyAt || (a.readyAt === b.readyAt && a.seq < b.seq);
  }

  #put(entry: WaitingEntry<T>, index: number): void {
    this.#heap[index] = entry;
    entry.index = index;
  }

  #up(index: number): void {
    const entry = this.#heap[index] as WaitingEntry<T>;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = this.#heap[parentIndex] as WaitingEntry<T>;
      if (!this.#less(entry, parent)) break;
      this.#put(parent, index);
      index = parentIndex;
    }
    this.#put(entry, index);
  }

  #down(index: number): void {
    const entry = this.#heap[index] as WaitingEntry<T>;
    const n = this.#heap.length;
    while (true) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      const leftEntry = this.#heap[left] as WaitingEntry<T>;
      const rightEntry = this.#heap[right];
      const [child, childIndex] =
        rightEntry && this.#less(rightEntry, leftEntry) ? [rightEntry, right] : [leftEntry, left];
      if (!this.#less(child, entry)) break;
      this.#put(child, index);
      index = childIndex;
    }
    this.#put(entry, index);
  }
}

export class WorkQueue<T = string> {
  readonly name: string;
  readonly #rateLimiter: RateLimiter<T>;
  readonly #clock: Clock;
  readonly #metrics: QueueMetrics;
  readonly #queue = new Fifo<T>();
  readonly #low = new Fifo<LowEntry<T>>();
  /** The live entries of #low, by item. */
  readonly #lowEntries = new Map<T, LowEntry<T>>();
  /** Items that need processing: queued, or added again while being processed. */
  readonly #dirty = new Set<T>();
  /** The dirty items that were only ever added at low priority. */
  readonly #dirtyLow = new Set<T>();
  readonly #processing = new Set<T>();
  readonly #waiting = new WaitingHeap<T>();
  /** Pending get() calls; only non-empty while the queue is empty and running. */
  #getters: ((item: T | undefined) => void)[] = [];
  #drainers: (() => void)[] = [];
  #timer: { cancel(): void } | undefined;
  #timerAt = Infinity;
  #shuttingDown = false;
  #metricsClosed = false;

  constructor(options: WorkQueueOptions<T>) {
    this.name = options.name;
    this.#rateLimiter = options.rateLimiter ?? new ExponentialFailureRateLimiter<T>();
    this.#clock = options.clock ?? realClock;
    this.#metrics = options.metrics?.forQueue(options.name, () => this.#clock.now()) ?? noopQueueMetrics;
  }

  /** Items queued for a worker, in both lanes (not being processed, not waiting for a delay). */
  get length(): number {
    return this.#queue.length + this.#lowEntries.size;
  }

  /** Items waiting for a delay (addAfter, backoff) to pass. */
  get waiting(): number {
    return this.#waiting.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  add(item: T, options?: AddOptions): void {
    if (this.#shuttingDown) return;
    const low = options?.lowPriority === true;
    if (this.#dirty.has(item)) {
      if (!low) this.#promote(item);
      return;
    }
    this.#metrics.add(item);
    this.#dirty.add(item);
    if (low) this.#dirtyLow.add(item);
    // Being processed: done() queues it, so no worker sees it twice at once.
    if (this.#processing.has(item)) return;
    this.#enqueue(item);
  }

  /** Adds the item once `delayMs` has passed; an item already waiting keeps its earliest time. */
  addAfter(item: T, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (!(delayMs > 0)) {
      this.add(item);
      return;
    }
    this.#waiting.offer(item, this.#clock.now() + delayMs);
    this.#arm();
  }

  /** Adds the item after its rate limiter's backoff (one more failure counted). */
  addRateLimited(item: T): void {
    if (this.#shuttingDown) return;
    this.#metrics.retry();
    this.addAfter(item, this.#rateLimiter.when(item));
  }

  /** Resets the item's backoff; call it when the item was processed successfully. */
  forget(item: T): void {
    this.#rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.#rateLimiter.numRequeues(item);
  }

  /**
   * The next item, which the caller now owns until done(item). Resolves undefined once the
   * queue is shut down and empty. Pending calls are served in call order.
   */
  get(): Promise<T | undefined> {
    if (this.#queue.length > 0) return Promise.resolve(this.#take(this.#queue.shift()));
    if (this.#lowEntries.size > 0) return Promise.resolve(this.#take(this.#shiftLow()));
    if (this.#shuttingDown) {
      this.#closeMetricsIfIdle();
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** Ends processing of the item; it is queued again if it was added meanwhile. */
  done(item: T): void {
    // Unlike client-go, done() on an item not being processed is a no-op rather than a
    // second copy in the queue.
    if (!this.#processing.delete(item)) return;
    this.#metrics.done(item);
    if (this.#dirty.has(item)) this.#enqueue(item);
    if (this.#processing.size === 0) this.#releaseDrainers();
    this.#closeMetricsIfIdle();
  }

  /**
   * Stops accepting adds, drops delayed items, and wakes idle getters (they get undefined;
   * queued items are still handed out first). Also releases a pending shutDownWithDrain(),
   * as client-go's ShutDown does.
   */
  shutDown(): void {
    this.#shutDown();
    this.#releaseDrainers();
  }

  /** shutDown(), resolving once no item is being processed. */
  shutDownWithDrain(): Promise<void> {
    this.#shutDown();
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainers.push(resolve));
  }

  #shutDown(): void {
    if (!this.#shuttingDown) {
      this.#shuttingDown = true;
      this.#waiting.clear();
      this.#timer?.cancel();
      this.#timer = undefined;
      const getters = this.#getters;
      this.#getters = [];
      for (const resolve of getters) resolve(undefined);
    }
    this.#closeMetricsIfIdle();
  }

  #enqueue(item: T): void {
    // A waiting getter implies an empty queue: hand the item straight over.
    const getter = this.#getters.shift();
    if (getter) getter(this.#take(item));
    else if (this.#dirtyLow.has(item)) {
      const entry = { item, live: true };
      this.#low.push(entry);
      this.#lowEntries.set(item, entry);
    } else this.#queue.push(item);
  }

  /** A normal add of a dirty item: it is no longer low, and moves lanes if it is queued. */
  #promote(item: T): void {
    if (!this.#dirtyLow.delete(item)) return;
    const entry = this.#lowEntries.get(item);
    if (!entry) return; // being processed: done() queues it in the normal lane
    entry.live = false;
    this.#lowEntries.delete(item);
    this.#queue.push(item);
  }

  /** Callers check #lowEntries.size first; skips entries that moved to the normal lane. */
  #shiftLow(): T {
    for (;;) {
      const entry = this.#low.shift();
      if (!entry.live) continue;
      this.#lowEntries.delete(entry.item);
      return entry.item;
    }
  }

  /** Marks the item as being processed by the caller. */
  #take(item: T): T {
    this.#dirty.delete(item);
    this.#dirtyLow.delete(item);
    this.#processing.add(item);
    this.#metrics.get(item);
    return item;
  }

  #releaseDrainers(): void {
    const drainers = this.#drainers;
    this.#drainers = [];
    for (const resolve of drainers) resolve();
  }

  #closeMetricsIfIdle(): void {
    if (this.#metricsClosed || !this.#shuttingDown || this.#processing.size > 0 || this.length > 0) return;
    this.#metricsClosed = true;
    this.#metrics.close();
  }

  /** Keeps one timer armed for the earliest waiting item. */
  #arm(): void {
    const next = this.#waiting.peek();
    if (!next) return;
    if (this.#timer && this.#timerAt <= next.readyAt) return;
    this.#timer?.cancel();
    this.#timerAt = next.readyAt;
    const delay = Math.min(Math.max(next.readyAt - this.#clock.now(), 0), MAX_TIMER_MS);
    this.#timer = this.#clock.setTimeout(() => this.#fire(), delay);
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (let next = this.#waiting.peek(); next && next.readyAt <= now; next = this.#waiting.peek()) {
      this.add(this.#waiting.pop());
    }
    this.#arm();
  }
}
