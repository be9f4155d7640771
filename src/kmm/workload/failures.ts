// How the workload layer reads a failed request: the API server's own message, and whether it
// refused a change of an immutable field.
import { InvalidError } from '../../runtime/client/errors.ts';

/** The API server's own words for a failed request (its Status message), else the error's message. */
export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object' && 'status' in err) {
    const message = (err as { status?: { message?: string } }).status?.message;
    if (message) return message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** A 422 naming an immutable field ("field is immutable"). */
export function isImmutableFieldError(err: unknown): boolean {
  return err instanceof InvalidError && (err.causes.some((c) => /immutable/i.test(c.message ?? '')) || /field is immutable/i.test(err.status.message ?? ''));
}
