// Per-item rate limiting for requeues, as client-go's workqueue.RateLimiter.

export interface RateLimiter<T> {
  /** How long (ms) to wait before the item may be processed again; counts one failure. */
  when(item: T): number;
  /** The item succeeded: reset its failure count. */
  forget(item: T): void;
  /** Failures counted for the item since the last forget(). */
  numRequeues(item: T): number;
}

/**
 * client-go's ItemExponentialFailureRateLimiter: delay = base * 2^failures, capped at max.
 * Items are compared with SameValueZero (Map keys), so use strings or stable references.
 */
export class ExponentialFailureRateLimiter<T> implements RateLimiter<T> {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly #failures = new Map<T, number>();

  constructor(baseDelayMs = 5, maxDelayMs = 1_000_000) {
    if (!(baseDelayMs >= 0) || !(maxDelayMs >= 0)) throw new RangeError('rate limiter delays must be >= 0');
    this.baseDelayMs = baseDelayMs;
    this.maxDelayMs = maxDelayMs;
  }

  when(item: T): number {
    const failures = this.#failures.get(item) ?? 0;
    this.#failures.set(item, failures + 1);
    // 2 ** n reaches Infinity after ~1024 failures; min() turns that into the cap
    // (a zero base is special-cased because 0 * Infinity is NaN).
    if (this.baseDelayMs === 0) return 0;
    return Math.min(this.baseDelayMs * 2 ** failures, this.maxDelayMs);
  }

  forget(item: T): void {
    this.#failures.delete(item);
  }

  numRequeues(item: T): number {
    return this.#failures.get(item) ?? 0;
  }
}
