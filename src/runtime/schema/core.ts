// Structural schemas of the Kubernetes core types a custom resource embeds, written from the core/v1
// API, so that a CRD types and prunes them like the API server does for its own objects (a schema that
// preserves unknown fields would store what every later write of a pod template then refuses).
import { s } from './schema.ts';

/** The int32 range, for fields Kubernetes declares as int32. */
export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;
/**
 * The part of the int64 range that survives JSON in JavaScript and the API server's schema checks
 * (both compare as doubles) exactly: +-(2^53 - 1). 2^63, just above the int64 maximum, parses to the
 * same double as the maximum, so a check at the real int64 bounds could not refuse it.
 */
export const INT64_EXACT_MIN = -Number.MAX_SAFE_INTEGER;
export const INT64_EXACT_MAX = Number.MAX_SAFE_INTEGER;

/** core/v1 Toleration. */
export const tolerationSchema = s.object({
  key: s.string({
    maxLength: 316,
    description: 'The taint key the toleration applies to; empty with operator Exists matches every taint.',
  }).optional(),
  operator: s.string({
    enum: ['', 'Equal', 'Exists'],
    description: 'Equal (the default) or Exists (a wildcard for value).',
  }).optional(),
  value: s.string({ maxLength: 63, description: 'The taint value to match; empty with operator Exists.' }).optional(),
  effect: s.string({
    enum: ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'],
    description: 'The taint effect to match; empty matches every effect.',
  }).optional(),
  tolerationSeconds: s.integer({
    format: 'int64',
    minimum: INT64_EXACT_MIN,
    maximum: INT64_EXACT_MAX,
    description: 'For effect NoExecute: how long the pod stays bound after the taint appears (seconds; 0 or less evicts at once). At most 2^53 - 1.',
  }).optional(),
}, { description: 'A core/v1 Toleration: the pod tolerates taints matching key, operator, value and effect.' });
