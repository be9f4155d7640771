// The names the workload layer writes on what it creates: finalizer, labels, annotations, field
// manager. Each derives from the device resource (its group and kind) unless the driver sets it,
// so two device operators never collide and a driver can keep the names an older version used.
import { createHash } from 'node:crypto';
import type { ResourceType } from '../../runtime/resource.ts';

// The recommended labels are the runtime's; these names are kept for the layer's importers.
export {
  APP_COMPONENT_LABEL as LABEL_COMPONENT, APP_INSTANCE_LABEL as LABEL_INSTANCE, APP_MANAGED_BY_LABEL as LABEL_MANAGED_BY, APP_NAME_LABEL as LABEL_NAME,
} from '../../runtime/labels.ts';
import { APP_COMPONENT_LABEL, APP_MANAGED_BY_LABEL } from '../../runtime/labels.ts';
export const CONSUMER_COMPONENT = 'consumer';
export const MODULE_COMPONENT = 'kernel-module';

export interface WorkloadNames {
  /** Field manager of every write, and the value of app.kubernetes.io/managed-by. Default `<kind>-operator`. */
  fieldManager: string;
  /** Controller name in logs and metrics, and the value of app.kubernetes.io/name. Default `<kind>` (lower case). */
  controller: string;
  /** Held on every live device object so that deletion unloads in order. Default `<group>/unload`. */
  finalizer: string;
  /** On children and consumer pods: the owner's UID (always a valid label value). Default `<group>/<kind>-uid`. */
  ownerUidLabel: string;
  /** On consumer pods: the owner's name (annotations have no 63-character limit). Default `<group>/<kind>`. */
  ownerNameAnnotation: string;
  /** Hash of what was last applied to a child: lets a no-op reconcile decide without a request. Default `<group>/applied-hash`. */
  appliedHashAnnotation: string;
  /** Prefix of the per-object metrics (`<prefix>_consumers_ready`...). Default `<kind>`. */
  metricsPrefix: string;
  /** Prefix of the node label (and annotation) holding a node's upgrade step: `<prefix>.<ns>.<name>`. Default `<group>/upgrade`. */
  upgradeLabelPrefix: string;
}

export function workloadNames(resource: ResourceType, overrides: Partial<WorkloadNames> = {}): WorkloadNames {
  const kind = resource.kind.toLowerCase();
  return {
    fieldManager: `${kind}-operator`,
    controller: kind,
    finalizer: `${resource.group}/unload`,
    ownerUidLabel: `${resource.group}/${kind}-uid`,
    ownerNameAnnotation: `${resource.group}/${kind}`,
    appliedHashAnnotation: `${resource.group}/applied-hash`,
    metricsPrefix: kind.replace(/[^a-z0-9_]/g, '_'),
    upgradeLabelPrefix: `${resource.group}/upgrade`,
    ...overrides,
  };
}

/** Selects the consumer pods of every object of one operator: what the pod informer watches. */
export function consumerPodSelector(names: WorkloadNames): string {
  return `${APP_MANAGED_BY_LABEL}=${names.fieldManager},${APP_COMPONENT_LABEL}=${CONSUMER_COMPONENT}`;
}

/**
 * A label value for any legal object name: names may have 253 characters, label values 63.
 * Long names keep a readable prefix and a hash that keeps them distinct.
 */
export function labelValueFor(name: string): string {
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  const prefix = name.slice(0, 63 - hash.length - 1).replace(/[^A-Za-z0-9]+$/, '');
  return `${prefix}-${hash}`;
}

/**
 * The node label (and annotation) of one object's upgrade step: `<prefix>.<ns>.<name>`, or, when
 * that name part would pass the 63 characters of a label name, `<prefix>.<hash>`.
 */
export function upgradeStepKey(names: WorkloadNames, namespace: string, name: string): string {
  const slash = names.upgradeLabelPrefix.indexOf('/');
  const [domain, base] = slash >= 0 ? [names.upgradeLabelPrefix.slice(0, slash + 1), names.upgradeLabelPrefix.slice(slash + 1)] : ['', names.upgradeLabelPrefix];
  const full = `${base}.${namespace}.${name}`;
  if (full.length <= 63) return `${domain}${full}`;
  return `${domain}${base}.${createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 16)}`;
}
