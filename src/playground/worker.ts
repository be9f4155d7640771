// The simulated KMM worker (development and tests only): plays the kubelet and the worker container
// (`kmod load|unload`, i.e. modprobe) for KMM's worker pods on simulated nodes. Each attempt takes
// `workDelayMs`; then the pod Succeeds, or its container fails (exit code 1) and is restarted after
// a back-off (restartPolicy OnFailure) with `restartCount` growing, like a kubelet's CrashLoopBackOff.
// - A load fails while the node carries the annotation `sim.kmm.example.com/fail-load.<ns>.<name>`
//   (this Module) or `sim.kmm.example.com/fail-load` (every Module); its value is the error the
//   simulated modprobe prints (logged; a default is used when empty). Remove it and the next retry
//   succeeds.
// - An unload fails ("Module ... is in use", as `modprobe -r` on a busy device) while a pod on the
//   node that has not terminated requests the device resource of the Module's kind.
// As with KMM v2.6.0, the error text is not in the pod's status: the worker container sets no
// terminationMessagePolicy and writes no termination log, so `lastState.terminated` holds only
// `exitCode: 1` and `reason: Error`; the text is in the container's log (not simulated).
import type { Cache } from '../runtime/cache/cache.ts';
import type { Client } from '../runtime/client/client.ts';
import { isNotFound } from '../runtime/client/errors.ts';
import type { Controller, ReconcileContext, ReconcileResult, Request } from '../runtime/controller/controller.ts';
import type { Manager } from '../runtime/manager/manager.ts';
import { Nodes, Pods } from '../runtime/resource.ts';
import { KMM_MODULE_NAME_LABEL, KMM_WORKER_ACTION_LABEL, KMM_WORKER_CONTAINER } from './kmm-api.ts';
import { simWorkerAction, simWorkerConfig, simWorkerRestarts } from './kmm-pods.ts';
import { SIM_DEFAULT_DEVICE, simDeviceKindOf, type SimDeviceKind } from './kmm-rules.ts';
import {
  isPodTerminated, isSimulatedNode, podResourceRequest, SIM_POD_NODE_INDEX, simNow, simPodNodeIndex, type SimNode, type SimPod,
} from './sim-shared.ts';

/** Node annotation: fail every load of every Module on this node with the annotation's value as the error. */
export const SIM_FAIL_LOAD_ANNOTATION = 'sim.kmm.example.com/fail-load';
/** Node annotation: fail the loads of one Module on this node. */
export const simFailLoadAnnotation = (namespace: string, name: string) => `${SIM_FAIL_LOAD_ANNOTATION}.${namespace}.${name}`;

export interface SimulatedWorkerOptions {
  /** How long one load or unload attempt takes. Default 1000 ms. */
  workDelayMs?: number;
  /** Back-off before the first restart of a failed worker; doubles per restart. Default 1000 ms (a kubelet: 10 s). */
  restartBackoffMs?: number;
  /** Largest back-off. Default 30 s (a kubelet: 5 min). */
  maxRestartBackoffMs?: number;
  /** The device kinds (which resource a Module's devices are); an unload is refused while a pod requests it. Default `[SIM_DEFAULT_DEVICE]`. */
  devices?: readonly SimDeviceKind[];
}

/** The modprobe error a failed load reports when the annotation's value is empty. */
export function simLoadError(moduleName: string): string {
  return `modprobe: ERROR: could not insert '${moduleName}': Invalid argument`;
}

export class SimulatedWorker {
  readonly #workDelayMs: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #devices: readonly SimDeviceKind[];
  /** When the current attempt of a worker pod (by uid) completes. */
  readonly #due = new Map<string, number>();
  #cache: Cache | undefined;
  #client: Client | undefined;

  constructor(options: SimulatedWorkerOptions = {}) {
    this.#workDelayMs = options.workDelayMs ?? 1000;
    this.#backoffMs = options.restartBackoffMs ?? 1000;
    this.#maxBackoffMs = options.maxRestartBackoffMs ?? 30_000;
    this.#devices = options.devices ?? [SIM_DEFAULT_DEVICE];
  }

  setupWithManager(manager: Manager): Controller {
    this.#cache = manager.cache;
    this.#client = manager.client;
    manager.cache.informer(Pods).addIndex(SIM_POD_NODE_INDEX, simPodNodeIndex);
    const isWorker = (pod: SimPod) => !!pod.metadata.labels?.[KMM_WORKER_ACTION_LABEL] && !!pod.spec?.nodeName;
    return manager.controller('simulated-kmm-worker')
      .withOptions({ maxConcurrentReconciles: 8 }) // one key per pod: pods are independent
      .for(Pods, { predicates: [{ create: isWorker, update: (_o, pod) => isWorker(pod), delete: isWorker }] })
      .complete((request, context) => this.reconcile(request, context));
  }

  async reconcile({ namespace, name }: Request, { log }: ReconcileContext): Promise<ReconcileResult | void> {
    const cache = this.#cache, client = this.#client;
    if (!cache || !client) throw new Error('SimulatedWorker: call setupWithManager first');
    const pod = cache.get<SimPod>(Pods, { namespace, name });
    const uid = pod?.metadata.uid ?? '';
    if (!pod || pod.metadata.deletionTimestamp || isPodTerminated(pod)) {
      if (pod) this.#due.delete(uid);
      else for (const key of this.#due.keys()) if (key.startsWith(`${namespace}/${name}@`)) this.#due.delete(key);
      return;
    }
    const node = cache.get<SimNode>(Nodes, { name: pod.spec!.nodeName! });
    if (!isSimulatedNode(node)) return;
    const attempt = `${namespace}/${name}@${uid}`;
    const due = this.#due.get(attempt);
    if (due === undefined) {
      this.#due.set(attempt, Date.now() + this.#workDelayMs);
      return { requeueAfter: this.#workDelayMs };
    }
    if (Date.now() < due) return { requeueAfter: due - Date.now() };

    const error = this.#outcome(pod, node);
    const now = simNow();
    try {
      if (!error) {
        this.#due.delete(attempt);
        await client.patch(Pods, { namespace, name }, { status: succeeded(pod, now) }, 'merge', { subresource: 'status' });
        log.info({ node: node.metadata.name, action: simWorkerAction(pod) }, 'simulated worker: done');
        return;
      }
      const restarts = simWorkerRestarts(pod) + (pod.status?.containerStatuses ? 1 : 0);
      const backoff = Math.min(this.#backoffMs * 2 ** restarts, this.#maxBackoffMs);
      this.#due.set(attempt, Date.now() + backoff + this.#workDelayMs);
      await client.patch(Pods, { namespace, name }, { status: crashLooping(pod, restarts, backoff, now) }, 'merge', { subresource: 'status' });
      log.info({ node: node.metadata.name, action: simWorkerAction(pod), restarts, error }, 'simulated worker: failed, will restart');
      return { requeueAfter: backoff + this.#workDelayMs };
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  /** The simulated modprobe's error for this attempt, or undefined when it succeeds. */
  #outcome(pod: SimPod, node: SimNode): string | undefined {
    const config = simWorkerConfig(pod);
    const moduleName = config?.moduleName ?? '';
    if (!config) return 'could not read config file /etc/kmm-worker/config.yaml';
    if (simWorkerAction(pod) === 'Load') {
      const annotations = node.metadata.annotations ?? {};
      const module = pod.metadata.labels?.[KMM_MODULE_NAME_LABEL] ?? '';
      const message = annotations[simFailLoadAnnotation(pod.metadata.namespace ?? '', module)] ?? annotations[SIM_FAIL_LOAD_ANNOTATION];
      return message === undefined ? undefined : `could not load module ${moduleName}: ${message || simLoadError(moduleName)}`;
    }
    const kind = simDeviceKindOf(this.#devices, moduleName);
    if (!kind) return undefined;
    const users = (this.#cache!.list(Pods, { index: { name: SIM_POD_NODE_INDEX, value: node.metadata.name! } }) as SimPod[])
      .filter((p) => !isPodTerminated(p) && podResourceRequest(p, kind.resource) > 0);
    return users.length > 0 ? `could not unload module ${moduleName}: modprobe: FATAL: Module ${moduleName} is in use.` : undefined;
  }
}

const initDone = (pod: SimPod, now: string) => (pod.spec?.initContainers ?? []).map((c) => ({
  name: c.name, image: c.image ?? '', imageID: `simulated://${c.image ?? ''}`, ready: true, restartCount: 0,
  state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } },
}));

function succeeded(pod: SimPod, now: string): Record<string, unknown> {
  const restartCount = simWorkerRestarts(pod);
  return {
    phase: 'Succeeded',
    conditions: [
      { type: 'Initialized', status: 'True', reason: 'PodCompleted', lastTransitionTime: now },
      { type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: now },
      { type: 'ContainersReady', status: 'False', reason: 'PodCompleted', lastTransitionTime: now },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
    ],
    startTime: pod.status?.startTime ?? now,
    initContainerStatuses: initDone(pod, now),
    containerStatuses: [{
      name: KMM_WORKER_CONTAINER, image: pod.spec?.containers?.[0]?.image ?? '', imageID: '', ready: false, started: false, restartCount,
      state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } },
    }],
  };
}

function crashLooping(pod: SimPod, restartCount: number, backoffMs: number, now: string): Record<string, unknown> {
  const uid = pod.metadata.uid ?? '';
  return {
    phase: 'Running',
    conditions: [
      { type: 'Initialized', status: 'True', lastTransitionTime: now },
      { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: [${KMM_WORKER_CONTAINER}]`, lastTransitionTime: now },
      { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: [${KMM_WORKER_CONTAINER}]`, lastTransitionTime: now },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
    ],
    startTime: pod.status?.startTime ?? now,
    initContainerStatuses: initDone(pod, now),
    containerStatuses: [{
      name: KMM_WORKER_CONTAINER, image: pod.spec?.containers?.[0]?.image ?? '', imageID: '', ready: false, started: false, restartCount,
      state: { waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${Math.round(backoffMs / 1000)}s restarting failed container=${KMM_WORKER_CONTAINER} pod=${pod.metadata.name}_${pod.metadata.namespace}(${uid})`,
      } },
      lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: now, finishedAt: now, containerID: `simulated://${uid}/${KMM_WORKER_CONTAINER}` } },
    }],
  };
}
