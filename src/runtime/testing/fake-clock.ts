// Manual time for unit tests of timer-driven code: timers fire only from advance(), in due
// order (ties in the order they were set), so no test waits on real time.

/** Lets every pending promise chain run (fakes that answer within microtasks settle). */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};

export class FakeClock {
  readonly #epoch: number;
  #now = 0;
  #seq = 0;
  readonly #timers: { at: number; seq: number; fn: () => void }[] = [];

  /** `epoch`: the wall-clock time (ms since 1970) at which this clock's monotonic time is 0. */
  constructor(epoch = Date.parse('2024-05-01T12:00:00Z')) {
    this.#epoch = epoch;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): Date {
    return new Date(this.#epoch + this.#now);
  }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return { cancel: () => { const i = this.#timers.indexOf(timer); if (i >= 0) this.#timers.splice(i, 1); } };
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward, firing due timers synchronously. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let due = this.#next(target); due; due = this.#next(target)) due.fn();
    this.#now = target;
  }

  /** Like advance(), but lets async work run after each timer, as the real event loop would. */
  async advanceSettling(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (let due = this.#next(target); due; due = this.#next(target)) {
      due.fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  #next(target: number) {
    const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
    if (!due) return undefined;
    this.#timers.splice(this.#timers.indexOf(due), 1);
    this.#now = Math.max(this.#now, due.at);
    return due;
  }
}
