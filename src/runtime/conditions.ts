// metav1.Condition helpers with apimachinery's semantics (meta.SetStatusCondition):
// lastTransitionTime moves only when status flips. Every function returns new values and
// never mutates its input, so it is safe on frozen objects from the cache.
import { DNS_SUBDOMAIN_SOURCE, QUALIFIED_NAME_SOURCE } from './names.ts';
import { rfc3339 } from './time.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  /** CamelCase or `domain/CamelCase`, e.g. `Ready`, `ModuleLoaded`. */
  type: string;
  status: ConditionStatus;
  /** The `.metadata.generation` the condition was computed from. */
  observedGeneration?: number;
  /** RFC3339 with seconds precision, e.g. `2026-01-02T03:04:05Z`. */
  lastTransitionTime: string;
  /** CamelCase machine-readable reason. */
  reason: string;
  message: string;
}

/** What a caller supplies: setCondition decides lastTransitionTime. */
export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

// The limits and patterns of metav1.Condition's OpenAPI validation.
const typePattern = new RegExp(`^(${DNS_SUBDOMAIN_SOURCE}/)?(${QUALIFIED_NAME_SOURCE})$`);
const typeMaxLength = 316;
const reasonPattern = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const reasonMaxLength = 1024;
const messageMaxBytes = 32768;
const statuses: ReadonlySet<string> = new Set(['True', 'False', 'Unknown']);

export { rfc3339 };

/**
 * Throws when a condition would be rejected by the API server. A violation is a bug in the
 * controller (reasons and types are constants), so it must fail loudly rather than be retried.
 */
export function validateCondition(condition: ConditionInput): void {
  const { type, status, reason, message, observedGeneration } = condition;
  if (typeof type !== 'string' || type.length > typeMaxLength || !typePattern.test(type)) {
    throw new Error(`invalid condition type ${JSON.stringify(type)}: must be CamelCase (optionally prefixed by a DNS subdomain and '/'), at most ${typeMaxLength} characters`);
  }
  if (!statuses.has(status)) {
    throw new Error(`invalid status ${JSON.stringify(status)} of condition ${type}: must be True, False or Unknown`);
  }
  if (typeof reason !== 'string' || reason.length > reasonMaxLength || !reasonPattern.test(reason)) {
    throw new Error(`invalid reason ${JSON.stringify(reason)} of condition ${type}: must be CamelCase (${reasonPattern.source}), 1..${reasonMaxLength} characters`);
  }
  if (typeof message !== 'string' || Buffer.byteLength(message, 'utf8') > messageMaxBytes) {
    throw new Error(`message of condition ${type} is longer than ${messageMaxBytes} bytes`);
  }
  if (observedGeneration !== undefined && (!Number.isSafeInteger(observedGeneration) || observedGeneration < 0)) {
    throw new Error(`invalid observedGeneration ${observedGeneration} of condition ${type}: must be a non-negative integer`);
  }
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

export function isFalse(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'False';
}

/**
 * Returns a new list with `next` set. A new condition gets `now` as lastTransitionTime; an
 * existing one keeps its lastTransitionTime unless its status changes, even when reason,
 * message or observedGeneration change. Order of the other conditions is preserved.
 */
export function setCondition(conditions: readonly Condition[] | undefined, next: ConditionInput, now: Date | string | number): Condition[] {
  validateCondition(next);
  const list = conditions ?? [];
  const index = list.findIndex((c) => c.type === next.type);
  const existing = index >= 0 ? list[index] : undefined;
  const lastTransitionTime = existing && existing.status === next.status ? existing.lastTransitionTime : rfc3339(now);
  const updated: Condition = {
    type: next.type,
    status: next.status,
    ...(next.observedGeneration !== undefined ? { observedGeneration: next.observedGeneration } : {}),
    lastTransitionTime,
    reason: next.reason,
    message: next.message,
  };
  const result = list.map((c) => ({ ...c }));
  if (index >= 0) result[index] = updated;
  else result.push(updated);
  return result;
}

/** Returns a new list without the condition of that type. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type).map((c) => ({ ...c }));
}

function sameCondition(a: Condition, b: Condition): boolean {
  return a.type === b.type && a.status === b.status && a.reason === b.reason && a.message === b.message
    && a.lastTransitionTime === b.lastTransitionTime && (a.observedGeneration ?? undefined) === (b.observedGeneration ?? undefined);
}

/**
 * True when both lists hold the same conditions (by type, in any order) with the same fields.
 * Use it to skip a status write: setCondition keeps lastTransitionTime when nothing flipped,
 * so an unchanged state compares equal.
 */
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const left = a ?? [];
  const right = b ?? [];
  if (left.length !== right.length) return false;
  const byType = new Map(right.map((c) => [c.type, c]));
  if (byType.size !== right.length) return false;
  for (const c of left) {
    const other = byType.get(c.type);
    if (!other || !sameCondition(c, other)) return false;
    byType.delete(c.type);
  }
  return true;
}
