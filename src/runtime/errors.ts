// Errors with a meaning for the controller runtime.

// A registered symbol, so two copies of the runtime in one process recognise each other's errors.
const terminalBrand = Symbol.for('operator-runtime.TerminalError');

/**
 * An error the controller must not retry (controller-runtime's reconcile.TerminalError):
 * retrying cannot help until the input changes, e.g. an invalid spec. The reconcile is
 * counted as an error, but the key is not requeued with backoff; a new watch event for the
 * object triggers the next attempt.
 */
export class TerminalError extends Error {
  readonly [terminalBrand] = true;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/**
 * True when `err` is a TerminalError or wraps one in its `cause` chain (like Go's errors.Is),
 * so `new Error('reconcile Foo', { cause: new TerminalError(...) })` is terminal too.
 */
export function isTerminal(err: unknown): boolean {
  const seen = new Set<unknown>();
  let current = err;
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    if ((current as Record<symbol, unknown>)[terminalBrand] === true) return true;
    seen.add(current);
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
