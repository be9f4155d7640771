// The wait between failed attempts of a long-running loop (list/watch, lease renewal, patches).

/** Jittered exponential backoff, as client-go's reflector uses between failed list/watch attempts. */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #jitter: number;
  #next: number;

  constructor(initialMs = 800, maxMs = 30_000, jitter = 0.2) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#jitter = jitter;
    this.#next = initialMs;
  }

  /** The next wait, growing x2 up to the maximum, each with up to +jitter random spread. */
  next(): number {
    const base = this.#next;
    this.#next = Math.min(this.#next * 2, this.#maxMs);
    return Math.min(base * (1 + Math.random() * this.#jitter), this.#maxMs);
  }

  reset(): void {
    this.#next = this.#initialMs;
  }
}
