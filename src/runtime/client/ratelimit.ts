// Client-side request rate limit (client-go's token bucket): a controller that suddenly has much
// to do spreads its requests instead of hammering the API server.
import { delay } from '../abortable.ts';

export class TokenBucket {
  readonly #qps: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;
  #queue: Promise<void> = Promise.resolve();

  constructor(qps: number, burst: number, now: () => number = () => performance.now()) {
    if (!(qps > 0) || !(burst >= 1)) throw new RangeError(`rate limit needs qps > 0 and burst >= 1 (got ${qps}, ${burst})`);
    this.#qps = qps;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#last = now();
  }

  /** Milliseconds until a token is free (0 when one is), taking it. Callers wait that long. */
  reserve(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#qps) * 1000;
  }

  /** Waits for a token; requests leave in the order they asked. */
  async acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.#queue.then(async () => {
      const wait = this.reserve();
      if (wait > 0) await delay(wait, signal);
    });
    this.#queue = turn.catch(() => {});
    return turn;
  }
}
