// What the Ptemplate reconciler reads of each watched type, and nothing more (controller-runtime's
// cache transforms). The cache holds a consumer Pod per node and Ptemplate and every Node of the
// cluster; what is dropped here never takes memory.
//
// Modules and DaemonSets keep every path desired.ts sets, because the applied-subset check
// (needsApply) compares the desired object with the cached one: a path dropped here would look
// missing and be re-applied forever. cache-transforms.test.ts proves it on server-defaulted objects.
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

function transformBy(shape: { readonly [key: string]: Shape }) {
  return (obj: KubeObject): KubeObject => pick(obj, { apiVersion: true, kind: true, metadata: METADATA, ...shape }) as KubeObject;
}

/**
 * The Module's spec is almost all ours (desiredModule) plus a few server defaults: kept whole, so
 * no field the desired Module sets can go missing. Status: KMM's counts.
 */
export const moduleTransform = transformBy({ spec: true, status: true });

/**
 * The consumer DaemonSet: the paths desiredConsumers sets (user-given subtrees such as tolerations
 * and the node selector whole), and the status counts. Dropped: the server's pod template defaults
 * (DNS policy, scheduler, termination message path, ...), update strategy, revision limit.
 */
export const daemonSetTransform = transformBy({
  spec: {
    selector: true,
    template: {
      metadata: { labels: true, annotations: true },
      spec: {
        nodeSelector: true,
        containers: { name: true, image: true, resources: true, securityContext: true },
        imagePullSecrets: true,
        tolerations: true,
      },
    },
  },
  status: true,
});

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

/**
 * Pull secrets: only whether they exist. Their annotations go too, which matters: `kubectl apply`
 * leaves the whole Secret, data included, in its last-applied-configuration annotation.
 */
export const secretTransform = (secret: KubeObject): KubeObject =>
  pick(secret, { apiVersion: true, kind: true, metadata: IDENTITY }) as KubeObject;
