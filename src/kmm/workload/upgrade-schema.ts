// The spec fields of a driver upgrade, for device CRDs to embed (`version`, `upgradePolicy`), the
// policy with its defaults, and its checks. The rollout itself is in upgrade.ts.
import type { FieldError } from '../../runtime/field-error.ts';
import { s, type Infer } from '../../runtime/schema/index.ts';

export const DEFAULT_MAX_UNAVAILABLE = 1;
export const DEFAULT_NODE_TIMEOUT = '10m';
export const DEFAULT_MAX_FAILED_NODES = 1;
const LABEL_VALUE = '^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const PERCENT = /^(100|[1-9][0-9]?)%$/;
const DURATION = /^([0-9]+h)?([0-9]+m)?([0-9]+s)?$/;

export const versionSchema = s.string({
  maxLength: 63,
  pattern: LABEL_VALUE,
  description: 'The driver version. When set, KMM loads the module on a node only where the operator labelled the node with this version, and changing it (together with the images) upgrades the nodes one by one, as upgradePolicy says. A valid label value. Adding or removing it on an existing object unloads the module everywhere and loads it again.',
});

export const upgradePolicySchema = s.object({
  maxUnavailable: s.intOrString({
    description: 'How many nodes may be upgrading at once (consumers stopped, module being replaced): a number, or a percentage of the selected nodes rounded up ("25%"). Default 1.',
  }).optional(),
  paused: s.boolean({ description: 'True: start no further nodes; the nodes already upgrading finish. Default false.' }).optional(),
  nodeTimeout: s.string({
    pattern: '^([0-9]+h)?([0-9]+m)?([0-9]+s)?$',
    description: `How long one node may take (stop consumers, replace the module, consumers ready) before it is marked failed, e.g. "90s", "10m", "1h30m". Default ${DEFAULT_NODE_TIMEOUT}.`,
  }).optional(),
  maxFailedNodes: s.integer({
    minimum: 0,
    description: `The rollout stops starting nodes once this many have failed; 0: never stop. Default ${DEFAULT_MAX_FAILED_NODES}.`,
  }).optional(),
}, { description: 'How a version change rolls out across the nodes.' });

export type UpgradePolicyInput = Infer<typeof upgradePolicySchema>;

export interface UpgradePolicy {
  maxUnavailable: number | string;
  paused: boolean;
  nodeTimeoutMs: number;
  maxFailedNodes: number;
}

function durationMs(value: string): number {
  const m = DURATION.exec(value);
  if (!m || value === '') return NaN;
  const n = (part: string | undefined) => Number(part?.slice(0, -1) ?? 0);
  return ((n(m[1]) * 60 + n(m[2])) * 60 + n(m[3])) * 1000;
}

export function resolvePolicy(input: UpgradePolicyInput | undefined): UpgradePolicy {
  return {
    maxUnavailable: input?.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE,
    paused: input?.paused ?? false,
    nodeTimeoutMs: durationMs(input?.nodeTimeout ?? DEFAULT_NODE_TIMEOUT),
    maxFailedNodes: input?.maxFailedNodes ?? DEFAULT_MAX_FAILED_NODES,
  };
}

/** Nodes that may be in flight: a number, or a percentage of `total` rounded up; at least 1. */
export function maxUnavailableOf(value: number | string, total: number): number {
  if (typeof value === 'number') return Math.max(1, value);
  if (!value.endsWith('%')) return Math.max(1, Number(value) || 1);
  const percent = Number(value.slice(0, -1));
  return Math.max(1, Math.ceil((total * percent) / 100));
}

/** What the CRD schema cannot check (int-or-string has no pattern there). `path`: e.g. `spec.upgradePolicy`. */
export function validateUpgradePolicy(input: UpgradePolicyInput | undefined, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const max = input?.maxUnavailable;
  if (typeof max === 'number' && (!Number.isInteger(max) || max < 1)) errors.push({ field: `${path}.maxUnavailable`, message: `must be at least 1, not ${max}` });
  if (typeof max === 'string' && !PERCENT.test(max) && !/^[1-9][0-9]*$/.test(max)) {
    errors.push({ field: `${path}.maxUnavailable`, message: `must be a number of nodes (1 or more) or a percentage from 1% to 100%, not ${JSON.stringify(max)}` });
  }
  const timeout = input?.nodeTimeout;
  if (timeout !== undefined && !(durationMs(timeout) > 0)) {
    errors.push({ field: `${path}.nodeTimeout`, message: `must be a positive duration such as "90s", "10m" or "1h30m", not ${JSON.stringify(timeout)}` });
  }
  return errors;
}
