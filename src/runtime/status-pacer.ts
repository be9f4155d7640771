// Paces status writes per object. A status that only moves a count or a message (a rollout over a
// thousand nodes, pods turning ready one by one) is worth a write now and then, not one per event:
// an intermediate state replaced within the same burst is never written. Writes that change what a
// user or a tool acts on (a condition's status or reason, observedGeneration) are never delayed.
//
// Within a burst the gaps between progress writes double, from `firstDelayMs` up to `maxDelayMs`;
// after `quietMs` without a write the next one goes at once again. With the defaults a rollout over
// a thousand nodes costs about a dozen progress writes, plus one more per 15 s it lasts.

export interface StatusPacerOptions {
  /** Gap after the first write of a burst. Default 250 ms. */
  firstDelayMs?: number;
  /** Largest gap between progress writes. Default 15 s. */
  maxDelayMs?: number;
  /** A write this long after the previous one starts a new burst. Default 30 s (more than maxDelayMs). */
  quietMs?: number;
  /** Milliseconds, monotonic. Default performance.now. */
  now?: () => number;
}

export class StatusPacer {
  readonly #firstDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #quietMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; streak: number }>();

  constructor(options: StatusPacerOptions = {}) {
    this.#firstDelayMs = options.firstDelayMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? 15_000;
    this.#quietMs = options.quietMs ?? 30_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Milliseconds to wait before writing a progress-only status of `key` (0: write now). Urgent writes never wait. */
  delay(key: string, urgent: boolean): number {
    const prev = this.#last.get(key);
    if (urgent || !prev) return 0;
    const now = this.#now();
    if (now - prev.at >= this.#quietMs) return 0;
    const gap = Math.min(this.#maxDelayMs, this.#firstDelayMs * 2 ** prev.streak);
    return Math.max(0, Math.ceil(prev.at + gap - now));
  }

  /** Records a write of `key`'s status. */
  written(key: string, urgent: boolean): void {
    const now = this.#now();
    const prev = this.#last.get(key);
    const newBurst = urgent || !prev || now - prev.at >= this.#quietMs;
    this.#last.set(key, { at: now, streak: newBurst ? 0 : Math.min(prev.streak + 1, 30) });
  }

  /** The object is gone. */
  forget(key: string): void {
    this.#last.delete(key);
  }

  get size(): number {
    return this.#last.size;
  }
}
