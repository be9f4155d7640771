// The toleration rules KMM's webhook applies to a Module (the API server's rules for pod tolerations),
// and the field types, checked here too because a webhook request or an object stored under an older
// schema did not necessarily pass a schema.
import type { V1Toleration } from '@kubernetes/client-node';
import type { FieldError } from '../runtime/field-error.ts';
import { isLabelValue, qualifiedNameProblem } from '../runtime/names.ts';
import { isPlainObject } from '../runtime/object.ts';

/**
 * tolerationSeconds is an int64 in Kubernetes, but a JSON number arrives in JavaScript as a double, exact
 * only up to 2^53 (9223372036854775808, just above the int64 range, parses to the same double as the
 * int64 maximum). Capping at 2^53 - 1 keeps every check exact, here and in the API server's schema (whose
 * minimum and maximum are doubles too); no real toleration needs the 285 million years beyond it.
 */
export const MAX_TOLERATION_SECONDS = Number.MAX_SAFE_INTEGER;
export const MIN_TOLERATION_SECONDS = -Number.MAX_SAFE_INTEGER;

const STRING_FIELDS = ['key', 'operator', 'value', 'effect'] as const;
const KNOWN_FIELDS = new Set<string>([...STRING_FIELDS, 'tolerationSeconds']);

/** Field types and ranges of one toleration; the fields it has that Kubernetes does not know. */
function typeErrors(t: Record<string, unknown>, at: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const key of STRING_FIELDS) {
    const value = t[key];
    if (value !== undefined && value !== null && typeof value !== 'string') errors.push({ field: `${at}.${key}`, message: 'must be a string' });
  }
  const seconds = t.tolerationSeconds;
  if (seconds !== undefined && seconds !== null) {
    if (typeof seconds !== 'number' || !Number.isInteger(seconds)) {
      errors.push({ field: `${at}.tolerationSeconds`, message: 'must be a whole number of seconds' });
    } else if (seconds > MAX_TOLERATION_SECONDS || seconds < MIN_TOLERATION_SECONDS) {
      errors.push({
        field: `${at}.tolerationSeconds`,
        message: `must be between ${MIN_TOLERATION_SECONDS} and ${MAX_TOLERATION_SECONDS} (2^53 - 1: larger numbers are not exact in JSON), not ${seconds}`,
      });
    }
  }
  for (const key of Object.keys(t)) {
    if (!KNOWN_FIELDS.has(key)) errors.push({ field: `${at}.${key}`, message: 'is not a field of a Toleration (key, operator, value, effect, tolerationSeconds)' });
  }
  return errors;
}

/** The toleration rules KMM's webhook applies (the same as the API server's for pods), after the field types. */
export function validateTolerations(tolerations: readonly V1Toleration[] | undefined, field: string): FieldError[] {
  const errors: FieldError[] = [];
  const list: unknown = tolerations;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) return [{ field, message: 'must be a list of tolerations' }];
  list.forEach((item: unknown, i) => {
    const at = `${field}[${i}]`;
    if (!isPlainObject(item)) {
      errors.push({ field: at, message: 'must be an object (a Toleration)' });
      return;
    }
    const types = typeErrors(item, at);
    if (types.length > 0) {
      errors.push(...types);
      return;
    }
    const t = item as V1Toleration;
    const key = t.key ?? '';
    const operator = t.operator || 'Equal'; // "" means Equal, for KMM and the API server alike
    if (key !== '') {
      const problem = qualifiedNameProblem(key);
      if (problem) errors.push({ field: `${at}.key`, message: problem });
    } else if (operator !== 'Exists') {
      errors.push({ field: `${at}.operator`, message: 'must be Exists when key is empty' });
    }
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && t.effect !== 'NoExecute') {
      errors.push({ field: `${at}.effect`, message: 'must be NoExecute when tolerationSeconds is set' });
    }
    if (operator === 'Equal') {
      const value = t.value ?? '';
      if (!isLabelValue(value)) {
        errors.push({ field: `${at}.value`, message: `"${value}" is not a valid label value` });
      }
    } else if (operator === 'Exists') {
      if (t.value) errors.push({ field: `${at}.value`, message: 'must be empty when operator is Exists' });
    } else {
      errors.push({ field: `${at}.operator`, message: `"${operator}" is not one of Equal, Exists` });
    }
    if (t.effect && !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)) {
      errors.push({ field: `${at}.effect`, message: `"${t.effect}" is not one of NoSchedule, PreferNoSchedule, NoExecute` });
    }
  });
  return errors;
}

