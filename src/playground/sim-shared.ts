// Shapes and helpers shared by the simulators in this folder (simulated nodes, simulated KMM,
// simulated kubelet). Development and tests only: nothing here runs against a real cluster's nodes.
import type { KubeObject } from '../runtime/object.ts';

/** Marks a Node created by createSimulatedNodes; the simulators only ever touch such nodes. */
export const SIMULATED_NODE_LABEL = 'playground.pt.example.com/simulated';

/** The extended resource the simulated device plugin advertises (one unit per /dev/ptemplate-N). */
export const SIM_DEVICE_RESOURCE = 'example.com/ptemplate';

/** Cache index of Pods by `spec.nodeName`, shared (same function object) by the simulators. */
export const SIM_POD_NODE_INDEX = 'playground.pt.example.com/pod-node';

export interface SimCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
}

export interface SimTaint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

/** The part of a core/v1 Node the simulators read and write. */
export interface SimNode extends KubeObject {
  spec?: { taints?: SimTaint[]; unschedulable?: boolean; [field: string]: unknown };
  status?: {
    capacity?: Record<string, string>;
    allocatable?: Record<string, string>;
    conditions?: SimCondition[];
    addresses?: { type: string; address: string }[];
    nodeInfo?: Record<string, string>;
    [field: string]: unknown;
  };
}

export interface SimContainer {
  name: string;
  image?: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  [field: string]: unknown;
}

/** The part of a core/v1 Pod the simulators read and write. */
export interface SimPod extends KubeObject {
  spec?: { nodeName?: string; containers?: SimContainer[]; initContainers?: SimContainer[]; [field: string]: unknown };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: SimCondition[];
    podIP?: string;
    hostIP?: string;
    startTime?: string;
    [field: string]: unknown;
  };
}

export function isSimulatedNode(node: KubeObject | undefined): node is SimNode {
  return node?.metadata.labels?.[SIMULATED_NODE_LABEL] === 'true';
}

/** Index function for SIM_POD_NODE_INDEX. Always pass this same function so that several simulators can share the index. */
export function simPodNodeIndex(pod: KubeObject): readonly string[] {
  const nodeName = (pod as SimPod).spec?.nodeName;
  return nodeName ? [nodeName] : [];
}

/** Pods that finished (Succeeded/Failed) hold no devices any more. */
export function isPodTerminated(pod: SimPod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/**
 * An integer quantity as extended resources use them ("5", "2k"); anything else counts as 0.
 * Extended resources must be whole numbers, so fractions and milli-units are not handled.
 */
export function simQuantity(value: string | undefined): number {
  if (!value) return 0;
  const match = /^(\d+)(k|M|G|Ki|Mi|Gi)?$/.exec(value.trim());
  if (!match) return 0;
  const factors: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
  return Number(match[1]) * (match[2] ? factors[match[2]]! : 1);
}

/**
 * What a pod asks of `resource`, computed like the scheduler does: the larger of the sum over its
 * containers and the largest init container. A limit without a request counts as the request
 * (the API server defaults requests to limits for extended resources).
 */
export function podResourceRequest(pod: SimPod, resource: string = SIM_DEVICE_RESOURCE): number {
  const of = (c: SimContainer) => simQuantity(c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource]);
  const sum = (pod.spec?.containers ?? []).reduce((total, c) => total + of(c), 0);
  const init = Math.max(0, ...(pod.spec?.initContainers ?? []).map(of));
  return Math.max(sum, init);
}

/** metav1.Time: RFC 3339 in whole seconds, as the API server stores it. */
export function simNow(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** A stable pseudo-random 32-bit number for a string (FNV-1a), for made-up IP addresses. */
export function simHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** A made-up address `<prefix>.a.b` with a in 0..255 and b in 1..254, stable for `seed`. */
export function simAddress(prefix: string, seed: string): string {
  const hash = simHash(seed);
  return `${prefix}.${(hash >>> 8) & 0xff}.${(hash % 254) + 1}`;
}

/**
 * Keeps `lastTransitionTime` of an existing condition whose status did not change, as a kubelet does.
 */
export function simConditions(previous: readonly SimCondition[] | undefined, wanted: readonly SimCondition[], now: string): SimCondition[] {
  return wanted.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    return { ...c, lastTransitionTime: old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now };
  });
}

/** True when every wanted condition is present with the same status and reason. */
export function simConditionsHold(current: readonly SimCondition[] | undefined, wanted: readonly Pick<SimCondition, 'type' | 'status' | 'reason'>[]): boolean {
  return wanted.every((w) => current?.some((c) => c.type === w.type && c.status === w.status && (w.reason === undefined || c.reason === w.reason)));
}
