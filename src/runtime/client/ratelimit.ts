// Client-side request rate limits. client-go's token bucket spreads a burst of work over time; but
// an API server with Priority and Fairness (on by default since Kubernetes 1.20) already paces each
// client itself, answering 429 with Retry-After (which the client honours), and then a client-side
// bucket only turns a burst of work into minutes of waiting. `ServerPacedLimit` therefore drops
// its bucket as soon as a response carries APF's `X-Kubernetes-PF-*` headers.
import { delay } from '../abort.ts';

/** What the client asks before each request (watches excluded) and tells after each response. */
export interface RequestLimiter {
  acquire(signal?: AbortSignal): Promise<void>;
  /** Sees the headers of every response (lower-cased names). */
  observe?(headers: Readonly<Record<string, string>>): void;
}

export class TokenBucket implements RequestLimiter {
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

/** Response headers by which an API server with Priority and Fairness names the flow schema and priority level of a request. */
export const APF_HEADERS = ['x-kubernetes-pf-flowschema-uid', 'x-kubernetes-pf-prioritylevel-uid'] as const;

/**
 * A fallback token bucket that stays in force only until a response shows that the server paces
 * requests itself (APF). Servers without APF (disabled by a flag, or very old) keep the bucket.
 */
export class ServerPacedLimit implements RequestLimiter {
  readonly #fallback: TokenBucket;
  #serverPaces = false;

  constructor(fallback: { qps: number; burst: number }, now?: () => number) {
    this.#fallback = new TokenBucket(fallback.qps, fallback.burst, now);
  }

  /** True once a response carried APF's headers. */
  get serverPaces(): boolean {
    return this.#serverPaces;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    return this.#serverPaces ? Promise.resolve() : this.#fallback.acquire(signal);
  }

  observe(headers: Readonly<Record<string, string>>): void {
    if (!this.#serverPaces && APF_HEADERS.some((h) => headers[h])) this.#serverPaces = true;
  }
}

/**
 * How a client limits its request rate:
 * - `'server'`: let the API server pace us (APF), with `fallback` while a response has not yet
 *   shown APF's headers and for servers without APF;
 * - `{ qps, burst }`: a fixed token bucket, whatever the server does;
 * - `'none'`: no client-side limit at all.
 */
export type RateLimitPolicy = 'none' | 'server' | { qps: number; burst: number };

/** The fallback bucket of the `'server'` policy: generous, for API servers without APF. */
export const SERVER_PACED_FALLBACK = Object.freeze({ qps: 100, burst: 200 });

export function requestLimiter(policy: RateLimitPolicy | undefined): RequestLimiter | undefined {
  if (policy === undefined || policy === 'none') return undefined;
  if (policy === 'server') return new ServerPacedLimit(SERVER_PACED_FALLBACK);
  return new TokenBucket(policy.qps, policy.burst);
}
