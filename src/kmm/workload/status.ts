// Status of a device object, computed from what the cache shows: the KMM Module's counts, the
// nodes' KMM labels, the consumer DaemonSet and its pods. Pure functions, so every message is testable.
import { isSubset } from '../../runtime/apply.ts';
import { matchesLabels } from '../../runtime/labels.ts';
import { conditionsEqual, setCondition, type ConditionInput } from '../../runtime/conditions.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { isModuleReadyOn } from '../labels.ts';
import { moduleStatusSummary } from '../module.ts';
import type { Module } from '../types.ts';
import type { DaemonSet } from './children.ts';
import { ConditionType, MAX_LISTED_NODES, type DeviceStatus, type NodeFailure, type UpgradeStatus } from './status-schema.ts';

/** What the status functions read of the device object. */
type Owner = KubeObject & { status?: DeviceStatus | undefined };

export type Condition = Omit<ConditionInput, 'type' | 'observedGeneration'>;

export interface Pod extends KubeObject {
  spec?: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export function nodeMatches(node: KubeObject, selector: Record<string, string>): boolean {
  return matchesLabels(node.metadata.labels, selector);
}

/** ModuleLoaded while the module should be loaded. */
export function moduleLoadedCondition(owner: Owner, selector: Record<string, string>, module: Module | undefined, nodes: readonly KubeObject[]): Condition {
  const ns = owner.metadata.namespace!;
  const name = owner.metadata.name!;
  if (!module) return { status: 'False', reason: 'ModuleCreating', message: `creating KMM Module ${name}` };
  if (module.metadata.deletionTimestamp) {
    return { status: 'False', reason: 'WaitingForPreviousUnload', message: `KMM Module ${name} is still being deleted by an earlier unload; it is recreated once it is gone` };
  }
  const matching = nodes.filter((n) => nodeMatches(n, selector));
  if (matching.length === 0) {
    return { status: 'False', reason: 'NoMatchingNodes', message: `no node has the labels of spec.selector ${JSON.stringify(selector)}: label the nodes that have the device, or change spec.selector` };
  }
  const kmod = module.spec?.moduleLoader?.container.modprobe.moduleName ?? name;
  const loaded = matching.filter((n) => isModuleReadyOn(n, ns, name)).length;
  // KMM's desired count leaves out nodes without a kernel mapping; before it reports, every matching node counts.
  const reported = module.status?.moduleLoader?.desiredNumber;
  const desired = reported !== undefined && reported > 0 ? Math.min(reported, matching.length) : matching.length;
  if (loaded >= desired) return { status: 'True', reason: 'Loaded', message: `kernel module ${kmod} is loaded on ${loaded} of ${desired} nodes` };
  return { status: 'False', reason: 'Loading', message: `kernel module ${kmod} is loaded on ${loaded} of ${desired} nodes; KMM is still loading it (see the Module's status and the module loader pods)` };
}

/**
 * ConsumersReady while the module should be loaded. `eligibleNodes` counts the nodes whose labels
 * the consumers' nodeSelector matches (selector plus KMM's marks): the DaemonSet's own desired
 * count lags behind a node that was just labelled.
 */
export function consumersReadyCondition(ds: DaemonSet | undefined, pods: readonly Pod[], eligibleNodes = 0): Condition {
  if (!ds) return { status: 'False', reason: 'ConsumersCreating', message: 'creating the consumer DaemonSet' };
  const st = ds.status ?? {};
  // Nowhere to run is the answer whatever the DaemonSet still reports: no write for a RollingOut
  // state that the DaemonSet controller replaces a moment later.
  if (eligibleNodes === 0 && (st.desiredNumberScheduled ?? 0) === 0) {
    return { status: 'False', reason: 'NoEligibleNodes', message: 'no node has the kernel module loaded and the device plugin ready yet, so no consumer can run' };
  }
  if ((st.observedGeneration ?? 0) < (ds.metadata.generation ?? 0)) {
    return { status: 'False', reason: 'RollingOut', message: `the consumer DaemonSet ${ds.metadata.name} is rolling out a change` };
  }
  const desired = Math.max(st.desiredNumberScheduled ?? 0, eligibleNodes);
  // Readiness from the pods themselves, so the condition always agrees with status.consumers
  // (the DaemonSet's own count can run ahead of the pod events).
  const ready = pods.filter(isPodReady).length;
  if (desired === 0) {
    return { status: 'False', reason: 'NoEligibleNodes', message: 'no node has the kernel module loaded and the device plugin ready yet, so no consumer can run' };
  }
  if (ready < desired) {
    const waiting = pods.filter((p) => !isPodReady(p)).map((p) => p.metadata.name).sort().slice(0, 5);
    return { status: 'False', reason: 'ConsumersNotReady', message: `${ready} of ${desired} consumer pods are ready${waiting.length ? `; waiting for ${waiting.join(', ')}` : ''}` };
  }
  return { status: 'True', reason: 'ConsumersReady', message: `${ready} of ${desired} consumer pods are ready` };
}

export function readyCondition(module: Condition, consumers: Condition): Condition {
  if (module.status !== 'True') return { status: 'False', reason: 'ModuleNotLoaded', message: module.message };
  if (consumers.status !== 'True') return { status: 'False', reason: 'ConsumersNotReady', message: consumers.message };
  return { status: 'True', reason: 'Ready', message: `${module.message}; ${consumers.message}` };
}

export function isPodReady(pod: Pod): boolean {
  return !pod.metadata.deletionTimestamp && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

const NO_PODS = Object.freeze({ desired: 0, available: 0, matching: 0 });

export interface StatusInput {
  ready?: Condition;
  moduleLoaded?: Condition;
  consumersReady?: Condition;
  module?: Module | undefined;
  consumers?: DaemonSet | undefined;
  pods?: readonly Pod[];
  /** Conditions of the driver's own (DeviceDriver.conditions), set after the layer's. */
  extra?: readonly (Condition & { type: string })[];
  /** The rollout of spec.version (undefined: unversioned, the field is dropped). */
  upgrade?: UpgradeStatus | undefined;
  /** Failing KMM worker pods. */
  loadFailures?: readonly NodeFailure[];
}

/** The next status: conditions merged by metav1 rules (lastTransitionTime moves only on a flip). */
export function nextStatus(owner: Owner, input: StatusInput, now: Date): DeviceStatus {
  const generation = owner.metadata.generation ?? 0;
  let conditions = owner.status?.conditions ? [...owner.status.conditions] : [];
  const set = (type: string, c: Condition | undefined) => {
    if (c) conditions = setCondition(conditions, { type, observedGeneration: generation, ...c }, now);
  };
  set(ConditionType.Ready, input.ready);
  set(ConditionType.ModuleLoaded, input.moduleLoaded);
  set(ConditionType.ConsumersReady, input.consumersReady);
  for (const { type, ...c } of input.extra ?? []) set(type, c);
  const status: DeviceStatus = { ...owner.status, observedGeneration: generation, conditions };
  if (input.module) status.module = { devicePlugin: NO_PODS, ...moduleStatusSummary(input.module) };
  // Zeros rather than removing the field: Kubernetes 1.20's server-side apply leaves nulls behind
  // when a custom resource's nested fields are dropped, which the schema then refuses.
  else if ('module' in input) status.module = { loader: NO_PODS, devicePlugin: NO_PODS };
  if (input.pods) {
    status.consumers = input.pods.map((p) => p.metadata.name!).sort();
    status.consumersReady = input.pods.filter(isPodReady).length;
  }
  if ('upgrade' in input) {
    if (input.upgrade) status.upgrade = input.upgrade;
    else delete status.upgrade;
  }
  if (input.loadFailures) status.loadFailures = input.loadFailures.slice(0, MAX_LISTED_NODES);
  if ('consumers' in input) status.consumersDesired = input.consumers?.status?.desiredNumberScheduled ?? 0;
  return status;
}

export function statusEqual(a: DeviceStatus | undefined, b: DeviceStatus): boolean {
  if (!a) return false;
  const { conditions: ac, ...arest } = a;
  const { conditions: bc, ...brest } = b;
  return conditionsEqual(ac, bc) && isSubset(brest, arest) && isSubset(arest, brest);
}

/**
 * Whether a status change is one a user or a tool acts on — observedGeneration, a condition that
 * appears or goes, Ready's status or reason, another condition's reason at the same status (e.g.
 * Loading -> NoMatchingNodes) — rather than progress that may wait (counts, messages, pod names).
 * While Ready stays False, the other conditions flipping True/False is progress too: a rollout
 * over many nodes flips ModuleLoaded and ConsumersReady at every node (one more node targeted,
 * then loaded; one more consumer wanted, then ready), and Ready, which says when it is done, is
 * what tools wait on.
 */
export function statusUrgent(prev: DeviceStatus | undefined, next: DeviceStatus): boolean {
  if (!prev || prev.observedGeneration !== next.observedGeneration) return true;
  const before = new Map((prev.conditions ?? []).map((c) => [c.type, c]));
  const after = next.conditions ?? [];
  if (after.length !== before.size) return true;
  return after.some((c) => {
    const old = before.get(c.type);
    if (!old) return true;
    if (c.type === ConditionType.Ready) return old.status !== c.status || old.reason !== c.reason;
    return old.status === c.status ? old.reason !== c.reason : false;
  });
}
