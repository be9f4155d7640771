// A simulated kubelet for the test control plane (development and tests only). For pods bound
// (spec.nodeName) to simulated nodes it does what an operator can observe of a kubelet:
// - admission: a pod whose request of a device resource (option `resources`, default
//   `example.com/ptemplate`), added to what the Running pods on the node already use, exceeds the
//   node's allocatable stays Pending with reason `OutOf<resource>` (a real kubelet would fail it;
//   staying Pending lets it start once the device shows up, which is what a test wants to see);
// - an admitted pod is Running at once: all conditions True, every container running and ready,
//   a made-up pod IP;
// - a pod with a deletionTimestamp is deleted for good (grace period 0, uid precondition), as a
//   kubelet does once the containers stopped.
// Nothing is ever run, and containers never exit. KMM's worker pods are left to the simulated worker
// (worker.ts), which plays their containers; their deletion is completed here like any other.
import type { Cache } from '../runtime/cache/cache.ts';
import type { Client } from '../runtime/client/client.ts';
import { isConflict, isNotFound } from '../runtime/client/errors.ts';
import type { Controller, ReconcileContext, Request } from '../runtime/controller/controller.ts';
import type { Manager } from '../runtime/manager/manager.ts';
import { keyOf, type KubeObject } from '../runtime/object.ts';
import { Nodes, Pods } from '../runtime/resource.ts';
import { KMM_WORKER_ACTION_LABEL } from './kmm-api.ts';
import { simulatedNodeIP } from './nodes.ts';
import {
  isPodTerminated, isSimulatedNode, podResourceRequest, SIM_DEVICE_RESOURCE, SIM_POD_NODE_INDEX, simAddress, simConditions,
  simConditionsHold, simNow, simPodNodeIndex, simQuantity, type SimCondition, type SimNode, type SimPod,
} from './sim-shared.ts';

/** `status.reason` of a pod the simulated kubelet refused for lack of `resource` (the kubelet's `OutOf<resource>`). */
export const simOutOfDevicesReason = (resource: string) => `OutOf${resource}`;
/** The reason for the default device resource. */
export const SIM_OUT_OF_DEVICES_REASON = simOutOfDevicesReason(SIM_DEVICE_RESOURCE);

export interface SimulatedKubeletOptions {
  /** Extended resources the kubelet admits pods against (the simulated device plugins' resources). Default `[example.com/ptemplate]`. */
  resources?: readonly string[];
}

const RUNNING_CONDITIONS: readonly SimCondition[] = [
  { type: 'Initialized', status: 'True' },
  { type: 'Ready', status: 'True' },
  { type: 'ContainersReady', status: 'True' },
  { type: 'PodScheduled', status: 'True' },
];

const asPod = (obj: KubeObject) => obj as SimPod;

function isRunning(pod: SimPod): boolean {
  return pod.status?.phase === 'Running' && simConditionsHold(pod.status.conditions, RUNNING_CONDITIONS);
}

/** The pod IP the simulated kubelet gives a pod (made up, stable for its uid). */
export function simulatedPodIP(pod: SimPod): string {
  return simAddress('10.244', pod.metadata.uid ?? keyOf(pod));
}

export class SimulatedKubelet {
  readonly #resources: readonly string[];
  /** Pods admitted (uid -> node) whose Running status the cache may not show yet: counted as using their devices. */
  readonly #admitted = new Map<string, string>();
  #cache: Cache | undefined;
  #client: Client | undefined;

  constructor(options: SimulatedKubeletOptions = {}) {
    this.#resources = options.resources ?? [SIM_DEVICE_RESOURCE];
  }

  /** Adds the simulated kubelet's controller (Pods bound to simulated nodes, and their nodes) to the manager. */
  setupWithManager(manager: Manager): Controller {
    this.#cache = manager.cache;
    this.#client = manager.client;
    manager.cache.informer(Pods).addIndex(SIM_POD_NODE_INDEX, simPodNodeIndex);
    const bound = (obj: KubeObject) => !!asPod(obj).spec?.nodeName;
    return manager.controller('simulated-kubelet')
      .withOptions({ maxConcurrentReconciles: 8 }) // one key per pod: pods are independent
      .for(Pods, { predicates: [{ create: bound, update: (_old, pod) => bound(pod), delete: () => false }] })
      // A refused pod is admitted once its node advertises enough devices.
      .watches(Nodes, (node) => (isSimulatedNode(node) ? this.#waitingPods(node.metadata.name!) : []), { predicates: [{ delete: () => false }] })
      // ... and once a pod that held devices on its node is gone.
      .watches(Pods, (pod) => { const nodeName = asPod(pod).spec?.nodeName; return nodeName ? this.#waitingPods(nodeName) : []; },
        { predicates: [{ create: () => false, update: (_old, pod) => isPodTerminated(asPod(pod)), delete: (pod) => this.#requestsDevices(asPod(pod)) }] })
      .complete((request, context) => this.reconcile(request, context));
  }

  #requestsDevices(pod: SimPod): boolean {
    return this.#resources.some((r) => podResourceRequest(pod, r) > 0);
  }

  #waitingPods(nodeName: string): string[] {
    return this.#podsOn(nodeName)
      .filter((pod) => pod.status?.phase === 'Pending' && !pod.metadata.deletionTimestamp)
      .map((pod) => keyOf(pod));
  }

  #podsOn(nodeName: string): SimPod[] {
    return this.#cache!.list(Pods, { index: { name: SIM_POD_NODE_INDEX, value: nodeName } }).map(asPod);
  }

  async reconcile({ namespace, name }: Request, { log }: ReconcileContext): Promise<void> {
    const cache = this.#cache, client = this.#client;
    if (!cache || !client) throw new Error('SimulatedKubelet: call setupWithManager first');
    const found = cache.get(Pods, { namespace, name });
    if (!found) return;
    const pod = asPod(found);
    const nodeName = pod.spec?.nodeName;
    const node = nodeName ? cache.get(Nodes, { name: nodeName }) : undefined;
    if (!nodeName || !isSimulatedNode(node)) return;

    if (pod.metadata.deletionTimestamp) {
      try {
        await client.delete(Pods, { namespace, name }, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
        log.info({ node: nodeName }, 'simulated kubelet: pod stopped and deleted');
      } catch (err) {
        // Gone already, or the name now belongs to a new pod (whose own events bring it here).
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
      return;
    }
    if (isPodTerminated(pod) || isRunning(pod) || pod.metadata.labels?.[KMM_WORKER_ACTION_LABEL]) return;

    const refusal = this.#admit(pod, node);
    const now = simNow();
    if (refusal) {
      if (pod.status?.reason === refusal.reason && pod.status.message === refusal.message) return;
      await client.patch(Pods, { namespace, name }, { status: refusedStatus(pod, refusal, now) }, 'merge', { subresource: 'status' });
      log.info({ node: nodeName, reason: refusal }, 'simulated kubelet: pod refused');
      return;
    }
    await client.patch(Pods, { namespace, name }, { status: runningStatus(pod, node, now) }, 'merge', { subresource: 'status' });
    log.info({ node: nodeName }, 'simulated kubelet: pod running');
  }

  /**
   * Why the node cannot take the pod (the kubelet's reason and message), or undefined when it can; then
   * the pod counts as admitted at once (synchronously, so concurrent admissions on a node see it).
   */
  #admit(pod: SimPod, node: SimNode): Refusal | undefined {
    const nodeName = node.metadata.name!;
    const others = this.#podsOn(nodeName).filter((other) => other.metadata.uid !== pod.metadata.uid);
    const present = new Set(others.map((o) => o.metadata.uid));
    for (const [uid, on] of this.#admitted) if (on === nodeName && uid !== pod.metadata.uid && !present.has(uid)) this.#admitted.delete(uid);
    const using = others.filter((o) => !isPodTerminated(o) && (o.status?.phase === 'Running' || this.#admitted.has(o.metadata.uid ?? '')));
    for (const resource of this.#resources) {
      const requested = podResourceRequest(pod, resource);
      if (requested === 0) continue;
      const allocatable = simQuantity(node.status?.allocatable?.[resource]);
      const used = using.reduce((sum, other) => sum + podResourceRequest(other, resource), 0);
      if (used + requested <= allocatable) continue;
      return {
        reason: simOutOfDevicesReason(resource),
        message: `Node didn't have enough resource: ${resource}, requested: ${requested}, used: ${used}, capacity: ${allocatable}`,
      };
    }
    if (pod.metadata.uid) this.#admitted.set(pod.metadata.uid, nodeName);
    return undefined;
  }
}

interface Refusal { reason: string; message: string }

function refusedStatus(pod: SimPod, { reason, message }: Refusal, now: string): Record<string, unknown> {
  const conditions = simConditions(pod.status?.conditions, [
    { type: 'PodScheduled', status: 'True' },
    { type: 'Ready', status: 'False', reason, message },
  ], now);
  return { phase: 'Pending', reason, message, conditions };
}

function runningStatus(pod: SimPod, node: SimNode, now: string): Record<string, unknown> {
  const podIP = simulatedPodIP(pod);
  const hostIP = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? simulatedNodeIP(node.metadata.name!);
  const imageOf = (image: string | undefined) => image ?? 'unknown';
  return {
    phase: 'Running',
    reason: null,
    message: null,
    conditions: simConditions(pod.status?.conditions, RUNNING_CONDITIONS, now),
    hostIP,
    podIP,
    podIPs: [{ ip: podIP }],
    startTime: pod.status?.startTime ?? now,
    initContainerStatuses: (pod.spec?.initContainers ?? []).map((c) => ({
      name: c.name, image: imageOf(c.image), imageID: `simulated://${imageOf(c.image)}`,
      containerID: `simulated://${pod.metadata.uid ?? ''}/${c.name}`, ready: true, restartCount: 0,
      state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } },
    })),
    containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
      name: c.name, image: imageOf(c.image), imageID: `simulated://${imageOf(c.image)}`,
      containerID: `simulated://${pod.metadata.uid ?? ''}/${c.name}`, ready: true, started: true, restartCount: 0,
      state: { running: { startedAt: now } },
    })),
  };
}
