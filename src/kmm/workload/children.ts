// What the workload layer adds to the children a driver describes, so that every device operator
// gets them right: the controller owner reference, common labels, the owner's UID label that finds
// consumer pods, the consumers' gating on KMM's node labels, and the applied-content hash that
// makes a converged reconcile free. Also the immutable changes that force a child to be replaced.
import { withAppliedHash } from '../../runtime/apply.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { controllerRef } from '../../runtime/owners.ts';
import type { ResourceType } from '../../runtime/resource.ts';
import { readyNodeSelector } from '../labels.ts';
import type { Module } from '../types.ts';
import {
  CONSUMER_COMPONENT, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, labelValueFor, MODULE_COMPONENT, type WorkloadNames,
} from './names.ts';

/** The DaemonSet fields the layer writes and reads (plain JSON, not client-node's classes). */
export interface DaemonSet extends KubeObject {
  spec?: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    desiredNumberScheduled?: number;
    currentNumberScheduled?: number;
    numberReady?: number;
    numberAvailable?: number;
    updatedNumberScheduled?: number;
  };
}

interface NodeSelectorTerm { matchExpressions?: { key: string; operator: string; values?: string[] }[]; [field: string]: unknown }
interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    nodeSelector?: Record<string, string>;
    affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] }; [f: string]: unknown }; [f: string]: unknown };
  } & Record<string, unknown>;
}

/** A node label whose listed values keep the consumers off a node (the upgrade's per-node stop). */
export interface ConsumerExclusion { key: string; values: readonly string[] }

/** The template's affinity plus a NotIn term on `exclusion`, ANDed into every required node selector term. */
function withExclusion(spec: NonNullable<PodTemplate['spec']>, exclusion: ConsumerExclusion | undefined): PodTemplate['spec'] {
  if (!exclusion) return spec;
  const expression = { key: exclusion.key, operator: 'NotIn', values: [...exclusion.values] };
  const affinity = spec.affinity ?? {};
  const nodeAffinity = affinity.nodeAffinity ?? {};
  const terms = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const merged = (terms.length ? terms : [{}]).map((t) => ({ ...t, matchExpressions: [...(t.matchExpressions ?? []), expression] }));
  return { ...spec, affinity: { ...affinity, nodeAffinity: { ...nodeAffinity, requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: merged } } } };
}

export function commonLabels(owner: KubeObject, names: WorkloadNames, component: string): Record<string, string> {
  return {
    [LABEL_NAME]: names.controller,
    [LABEL_INSTANCE]: labelValueFor(owner.metadata.name!),
    [LABEL_COMPONENT]: component,
    [LABEL_MANAGED_BY]: names.fieldManager,
    [names.ownerUidLabel]: owner.metadata.uid!,
  };
}

/** The driver's Module, owned by `owner`, labelled, with the applied-content hash. */
export function ownedModule(owner: KubeObject, ownerType: ResourceType, module: Module, names: WorkloadNames, version?: string): Module {
  const loader = module.spec.moduleLoader;
  const spec = version && loader ? { ...module.spec, moduleLoader: { ...loader, container: { ...loader.container, version } } } : module.spec;
  const owned: Module = {
    ...module,
    spec,
    metadata: {
      ...module.metadata,
      name: owner.metadata.name!,
      namespace: owner.metadata.namespace!,
      labels: { ...module.metadata.labels, ...commonLabels(owner, names, MODULE_COMPONENT) },
      ownerReferences: [controllerRef(owner, ownerType)],
    },
  };
  return withAppliedHash(owned, names.appliedHashAnnotation);
}

/** KMM's "loaded" (and, with a device plugin, "device plugin ready") labels plus the Module's own selector. */
export function consumerNodeSelector(owner: KubeObject, selector: Record<string, string>, devicePlugin: boolean): Record<string, string> {
  return { ...selector, ...readyNodeSelector(owner.metadata.namespace!, owner.metadata.name!, { devicePlugin }) };
}

/**
 * The driver's consumer DaemonSet, owned by `owner`: its pods carry the owner's UID label (how
 * the layer finds them) and land only where KMM reports the module loaded and the device plugin
 * ready, whatever node selector the driver wrote.
 */
export function ownedConsumers(owner: KubeObject, ownerType: ResourceType, ds: DaemonSet, names: WorkloadNames, gate: Record<string, string>, exclusion?: ConsumerExclusion): DaemonSet {
  const labels = commonLabels(owner, names, CONSUMER_COMPONENT);
  const spec = ds.spec ?? {};
  const template = (spec.template ?? {}) as PodTemplate;
  const owned: DaemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    ...ds,
    metadata: {
      ...ds.metadata,
      namespace: owner.metadata.namespace!,
      labels: { ...ds.metadata.labels, ...labels },
      ownerReferences: [controllerRef(owner, ownerType)],
    },
    spec: {
      ...spec,
      selector: { matchLabels: { [names.ownerUidLabel]: owner.metadata.uid!, [LABEL_COMPONENT]: CONSUMER_COMPONENT } },
      template: {
        ...template,
        metadata: {
          ...template.metadata,
          labels: { ...template.metadata?.labels, ...labels },
          annotations: { ...template.metadata?.annotations, [names.ownerNameAnnotation]: owner.metadata.name! },
        },
        spec: withExclusion({ ...template.spec, nodeSelector: { ...template.spec?.nodeSelector, ...gate } }, exclusion),
      },
    },
  };
  return withAppliedHash(owned, names.appliedHashAnnotation);
}

/**
 * Why the consumers cannot be updated in place, or undefined: a DaemonSet's spec.selector is
 * immutable (an earlier version of the operator, or someone else, may have left another one).
 */
export function immutableConsumersChange(desired: DaemonSet, current: DaemonSet): string | undefined {
  // The cache holds only the fields our field manager applied: when the selector is not among them
  // (children another manager wrote, such as the Go reference operator's), only the server knows
  // it. The apply then says so (an immutable-field error), and the reconciler replaces on its word.
  if (current.spec?.selector === undefined) return undefined;
  const want = JSON.stringify(stableSelector(desired.spec?.selector));
  const have = JSON.stringify(stableSelector(current.spec?.selector));
  return want === have ? undefined : `spec.selector is immutable and differs (${have} -> ${want})`;
}

/**
 * Why the Module cannot be updated in place, or undefined: KMM's webhook refuses changing
 * spec.moduleLoader.container.version between empty and set.
 */
export function immutableModuleChange(desired: Module, current: Module): string | undefined {
  // As for the consumers: no spec in the cache means none of it is ours yet; the apply adopts it.
  if (current.spec === undefined) return undefined;
  const want = desired.spec.moduleLoader?.container.version ?? '';
  const have = current.spec.moduleLoader?.container.version ?? '';
  if (!want === !have) return undefined;
  return want ? `KMM refuses to set spec.moduleLoader.container.version on an existing Module (to "${want}")` : `KMM refuses to clear spec.moduleLoader.container.version (was "${have}")`;
}

function stableSelector(selector: unknown): unknown {
  const s = (selector ?? {}) as { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  const labels = Object.fromEntries(Object.entries(s.matchLabels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { matchLabels: labels, matchExpressions: s.matchExpressions ?? [] };
}
