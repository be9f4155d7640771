// Typed API errors built from the server's metav1.Status, so callers can branch on
// `instanceof NotFoundError` instead of comparing numbers and strings.

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface Status {
  kind?: 'Status';
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
}

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status: Status;
  readonly verb: string;
  readonly path: string;

  constructor(code: number, status: Status, verb: string, path: string) {
    super(`${verb} ${path}: ${code} ${status.reason ?? ''}: ${status.message ?? 'no message'}`.replace(/ +/g, ' '));
    this.name = new.target.name;
    this.code = code;
    this.reason = status.reason ?? '';
    this.status = status;
    this.verb = verb;
    this.path = path;
  }
}

export class NotFoundError extends ApiError {}
export class AlreadyExistsError extends ApiError {}
/** 409 other than AlreadyExists: a resourceVersion/uid precondition failed or the object is being deleted. */
export class ConflictError extends ApiError {}
export class GoneError extends ApiError {}
export class ForbiddenError extends ApiError {}
export class UnauthorizedError extends ApiError {}
export class UnsupportedMediaTypeError extends ApiError {}
export class InvalidError extends ApiError {
  /** The server's per-field causes (`spec.foo: Invalid value ...`). */
  get causes(): StatusCause[] {
    return this.status.details?.causes ?? [];
  }
}
export class TooManyRequestsError extends ApiError {
  get retryAfterSeconds(): number | undefined {
    return this.status.details?.retryAfterSeconds;
  }
}
export class ServerError extends ApiError {}

export function apiErrorFrom(code: number, status: Status, verb: string, path: string): ApiError {
  switch (code) {
    case 401: return new UnauthorizedError(code, status, verb, path);
    case 403: return new ForbiddenError(code, status, verb, path);
    case 404: return new NotFoundError(code, status, verb, path);
    case 409: return status.reason === 'AlreadyExists'
      ? new AlreadyExistsError(code, status, verb, path)
      : new ConflictError(code, status, verb, path);
    case 410: return new GoneError(code, status, verb, path);
    case 415: return new UnsupportedMediaTypeError(code, status, verb, path);
    case 422: return new InvalidError(code, status, verb, path);
    case 429: return new TooManyRequestsError(code, status, verb, path);
    default: return code >= 500 ? new ServerError(code, status, verb, path) : new ApiError(code, status, verb, path);
  }
}

export const isNotFound = (err: unknown): err is NotFoundError => err instanceof NotFoundError;
export const isAlreadyExists = (err: unknown): err is AlreadyExistsError => err instanceof AlreadyExistsError;
export const isConflict = (err: unknown): err is ConflictError => err instanceof ConflictError;
export const isGone = (err: unknown): err is GoneError => err instanceof GoneError;

/**
 * The API server could not serve a request at the resourceVersion asked for because it has not
 * reached it yet (client-go's isTooLargeResourceVersionError): a 504 whose cause is
 * ResourceVersionTooLarge, e.g. another API server's watch cache lagging behind. Servers before
 * 1.18.6 said so only in the message.
 */
export function isResourceVersionTooLarge(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  if (err.status.details?.causes?.some((c) => c.reason === 'ResourceVersionTooLarge')) return true;
  const tooLarge = (text: string | undefined) => text?.includes('Too large resource version') ?? false;
  return err.code === 504 && (tooLarge(err.status.message) || (err.status.details?.causes?.some((c) => tooLarge(c.message)) ?? false));
}

/**
 * The request's result, or undefined when it failed with 404 NotFound (controller-runtime's
 * client.IgnoreNotFound): for reads of something that may not exist and deletes of something
 * that may already be gone. Every other error passes through.
 */
export async function ignoreNotFound<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
