// What the workload reconciler reads of each watched type, and nothing more (controller-runtime's
// cache transforms). The cache holds a consumer Pod per node and device object and every Node of
// the cluster; what is dropped here never takes memory.
//
// Modules and DaemonSets keep of their spec exactly what we applied, because the applied-subset
// check (needsApply) compares the desired object with the cached one: cache-transforms.test.ts
// proves on server-defaulted objects that a converged child needs no apply and a drift does.
import { ownedFieldsTransform } from '../../runtime/cache/owned-fields.ts';
import type { KubeObject } from '../../runtime/object.ts';

/** `true` keeps a value whole; an object keeps only its keys; a shape applies to every element of an array. */
export type Shape = true | { readonly [key: string]: Shape };

/** A copy of `value` with only the paths of `shape`; absent paths stay absent. */
export function pick(value: unknown, shape: Shape): unknown {
  if (shape === true || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => pick(v, shape));
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(shape)) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = pick(v, sub);
  }
  return out;
}

/** The metadata every cached type keeps: identity, the children's owner and applied-hash marks, deletion. */
const METADATA = {
  name: true, namespace: true, uid: true, resourceVersion: true, generation: true,
  labels: true, annotations: true, ownerReferences: true, deletionTimestamp: true,
} as const satisfies Shape;

/**
 * Modules and consumer DaemonSets: of their spec exactly the fields our field manager applied
 * (from managedFields, see ownedFieldsTransform), with metadata and KMM's or the DaemonSet
 * controller's status. Server defaults and other managers' fields are dropped.
 */
export function childTransform(fieldManager: string): (obj: KubeObject) => KubeObject {
  const owned = ownedFieldsTransform(fieldManager);
  // managedFields first (they say what is ours), then the metadata trimmed like every other type's.
  return (obj) => pick(owned(obj), { apiVersion: true, kind: true, metadata: METADATA, spec: true, status: true }) as KubeObject;
}

/** Consumer pods: which node, which phase, whether Ready. */
export function podTransform(pod: KubeObject): KubeObject {
  const out = pick(pod, { apiVersion: true, kind: true, metadata: METADATA, spec: { nodeName: true }, status: { phase: true } }) as KubeObject;
  const ready = (pod.status as { conditions?: { type: string }[] } | undefined)?.conditions?.filter((c) => c.type === 'Ready');
  if (ready?.length) out.status = { ...(out.status as object), conditions: ready };
  return out;
}

const IDENTITY = { name: true, namespace: true, uid: true, resourceVersion: true, deletionTimestamp: true } as const satisfies Shape;

/** Nodes: their labels (the spec's selector and KMM's ready marks); not their (often large) annotations. */
export const nodeTransform = (node: KubeObject): KubeObject =>
  pick(node, { apiVersion: true, kind: true, metadata: { ...IDENTITY, labels: true } }) as KubeObject;

/** nodeTransform, also keeping the annotations whose key starts with `prefix` (our own upgrade notes on the node). */
export function nodeTransformKeeping(prefix: string): (node: KubeObject) => KubeObject {
  return (node) => {
    const out = nodeTransform(node);
    const own = Object.entries(node.metadata.annotations ?? {}).filter(([k]) => k.startsWith(prefix));
    if (own.length) out.metadata = { ...out.metadata, annotations: Object.fromEntries(own) };
    return out;
  };
}

/**
 * Pull secrets: only whether they exist. Their annotations go too, which matters: `kubectl apply`
 * leaves the whole Secret, data included, in its last-applied-configuration annotation.
 */
export const secretTransform = (secret: KubeObject): KubeObject =>
  pick(secret, { apiVersion: true, kind: true, metadata: IDENTITY }) as KubeObject;
