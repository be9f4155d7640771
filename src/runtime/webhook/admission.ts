// The admission.k8s.io/v1 side of a webhook: the AdmissionReview shapes, what a handler returns
// (allow, deny, invalid) and how that becomes the response the API server passes on to the client
// (422 Invalid with one cause per field for field errors). The server is in server.ts.
import type { Logger } from 'pino';
import type { StatusCause } from '../client/errors.ts';
import { formatFieldErrors, type FieldError } from '../field-error.ts';
import type { UserInfo } from '../manager/auth.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_REVIEW_KIND = 'AdmissionReview';
/**
 * Largest request body accepted. An AdmissionReview of an UPDATE holds the object twice, and an
 * object may be 1.5 MiB in etcd; this leaves room for both (controller-runtime uses the same limit).
 */
export const DEFAULT_MAX_BODY_BYTES = 7 * 1024 * 1024;

// ---- AdmissionReview shapes (admission.k8s.io/v1) ----

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** Who sent the request, as the API server authenticated them. */
export type AdmissionUserInfo = UserInfo;

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  /** Empty on a CREATE whose name the server generates. */
  name?: string;
  namespace?: string;
  operation: AdmissionOperation;
  userInfo?: AdmissionUserInfo;
  /** The object after the change; absent on DELETE. */
  object?: unknown;
  /** The object before the change: UPDATE and DELETE only. */
  oldObject?: unknown;
  dryRun?: boolean;
  options?: unknown;
}


/** A metav1.Status, as the API server returns it to the client whose request was refused. */
export interface AdmissionStatus {
  status: 'Success' | 'Failure';
  code?: number;
  reason?: string;
  message?: string;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[] };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: string;
  kind: string;
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

// ---- handlers ----

/** What a handler decides. */
export interface AdmissionResult {
  allowed: boolean;
  /**
   * Why the request is refused, for a person. With field errors it defaults to
   * `<Kind> "<name>" is invalid: <field>: <message>; ...`.
   */
  message?: string;
  /** Refuse with 422 Invalid and one cause per error (the API server's own format for invalid objects). */
  fieldErrors?: readonly FieldError[];
  /** HTTP code of a refusal without field errors (400..599). Default 403. */
  code?: number;
  /** CamelCase reason of a refusal without field errors. Default `Forbidden`. */
  reason?: string;
  /** Shown by kubectl (and client-go) as `Warning: ...`, allowed or not. */
  warnings?: readonly string[];
}

export interface AdmissionContext {
  log: Logger;
}

export type AdmissionHandler = (request: AdmissionRequest, context: AdmissionContext) => AdmissionResult | Promise<AdmissionResult>;

export const allow = (warnings?: readonly string[]): AdmissionResult => (warnings?.length ? { allowed: true, warnings } : { allowed: true });
export const deny = (message: string, code = 403, reason = 'Forbidden'): AdmissionResult => ({ allowed: false, message, code, reason });
export const invalid = (fieldErrors: readonly FieldError[], message?: string): AdmissionResult =>
  (message === undefined ? { allowed: false, fieldErrors } : { allowed: false, fieldErrors, message });

/** The metav1.Status reason the API server uses for each HTTP code we answer with. */
export const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict',
  422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

function objectName(request: AdmissionRequest): string {
  if (request.name) return request.name;
  const meta = (request.object as { metadata?: { name?: unknown; generateName?: unknown } } | undefined)?.metadata;
  if (typeof meta?.name === 'string' && meta.name !== '') return meta.name;
  return typeof meta?.generateName === 'string' ? `${meta.generateName}*` : '';
}

/** The AdmissionReview response for a handler's decision on `request`. */
export function admissionResponse(request: Pick<AdmissionRequest, 'uid' | 'kind' | 'name' | 'object'>, result: AdmissionResult): AdmissionResponse {
  const response: AdmissionResponse = { uid: request.uid, allowed: result.allowed === true };
  const warnings = (result.warnings ?? []).filter((w) => typeof w === 'string' && w !== '');
  if (warnings.length > 0) response.warnings = [...warnings];
  if (response.allowed) return response;

  const errors = result.fieldErrors ?? [];
  const kind = request.kind?.kind || 'object';
  const name = objectName(request as AdmissionRequest);
  if (errors.length > 0) {
    response.status = {
      status: 'Failure',
      code: 422,
      reason: 'Invalid',
      message: result.message ?? `${kind} "${name}" is invalid: ${formatFieldErrors(errors)}`,
      details: {
        name,
        group: request.kind?.group ?? '',
        kind,
        causes: errors.map((e) => ({ reason: 'FieldValueInvalid', field: e.field, message: e.message })),
      },
    };
    return response;
  }
  // The API server turns any code below 400 into 400; keep what we send meaningful.
  const code = result.code !== undefined && Number.isInteger(result.code) && result.code >= 400 && result.code <= 599 ? result.code : 403;
  response.status = {
    status: 'Failure',
    code,
    reason: result.reason ?? REASONS[code] ?? 'Forbidden',
    message: result.message || `${kind} "${name}" is not allowed`,
  };
  return response;
}

/** Why `body` is not an AdmissionReview request this server can answer, or undefined when it is one. */
export function admissionReviewProblem(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body is not a JSON object';
  const review = body as Partial<AdmissionReview>;
  if (review.apiVersion !== ADMISSION_API_VERSION || review.kind !== ADMISSION_REVIEW_KIND) {
    return `expected apiVersion ${ADMISSION_API_VERSION} and kind ${ADMISSION_REVIEW_KIND}, got ${JSON.stringify(review.apiVersion)} ${JSON.stringify(review.kind)} ` +
      '(register the webhook with admissionReviewVersions: [v1])';
  }
  const request = review.request as Partial<AdmissionRequest> | undefined;
  if (typeof request !== 'object' || request === null) return 'the AdmissionReview has no request';
  if (typeof request.uid !== 'string' || request.uid === '') return 'request.uid is missing';
  if (typeof request.operation !== 'string') return 'request.operation is missing';
  if (typeof request.kind !== 'object' || request.kind === null) return 'request.kind is missing';
  return undefined;
}
