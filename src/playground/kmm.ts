// A simulated KMM (Kernel Module Management) for the test control plane (development and tests
// only). It does what an operator can observe of KMM, on simulated nodes only:
// - a Module's kernel module is "loaded" (after `loadDelayMs`) on every simulated node that matches
//   `spec.selector`, has a kernel mapping for its `status.nodeInfo.kernelVersion`, and whose
//   NoSchedule/NoExecute taints (cordoning included) the Module tolerates: the node gets
//   `moduleReadyLabel(ns, name)=""`;
// - with `spec.devicePlugin`, the node also advertises `example.com/ptemplate` = the `max_dev`
//   modprobe parameter (default 5) in status capacity/allocatable, and gets
//   `devicePluginReadyLabel(ns, name)=""`;
// - `Module.status` counts, KMM's finalizer on live Modules, and unloading node by node when a Module
//   is deleted or a node stops matching; unloading a node is refused (like `modprobe -r` on a busy
//   device) while a pod bound there that has not terminated requests `example.com/ptemplate`.
// Labels of Modules that no longer exist are removed the same way.
// The device resource is shared: two device-plugin Modules on one node would overwrite each other.
// Regexp kernel mappings run as JavaScript RegExps (Go's leading `(?flags)` is translated).
import type { Cache } from '../runtime/cache/cache.ts';
import type { Client } from '../runtime/client/client.ts';
import { isNotFound } from '../runtime/client/errors.ts';
import type { Controller, ReconcileContext, ReconcileResult, Request } from '../runtime/controller/controller.ts';
import { addFinalizer, hasFinalizer, removeFinalizer } from '../runtime/finalizers.ts';
import type { Manager } from '../runtime/manager/manager.ts';
import { keyOf, type ObjectKey } from '../runtime/object.ts';
import { Nodes, Pods } from '../runtime/resource.ts';
import type { DaemonSetStatusCounts, KernelMapping, Module, ModuleStatus } from '../kmm/types.ts';
import { devicePluginReadyLabel, moduleReadyLabel } from '../kmm/labels.ts';
import { MODULE_FINALIZER, Modules } from '../kmm/resource.ts';
import {
  isPodTerminated, isSimulatedNode, podResourceRequest, SIM_DEVICE_RESOURCE, SIM_POD_NODE_INDEX, SIMULATED_NODE_LABEL,
  simPodNodeIndex, type SimNode, type SimPod, type SimTaint,
} from './sim-shared.ts';

export interface SimulatedKmmOptions {
  /** How long "loading" a module on a node takes. Default 1000 ms. */
  loadDelayMs?: number;
  /** When an unload was refused, try again after this long (pod events also retry it at once). Default 5000 ms. */
  unloadRetryMs?: number;
}

/** `max_dev` when the Module's modprobe parameters do not set it (the driver's default). */
export const SIM_DEFAULT_MAX_DEV = 5;

const LABEL_PREFIX = 'kmm.node.kubernetes.io/';
const DEVICE_PLUGIN_SUFFIX = '.device-plugin-ready';
const READY_SUFFIX = '.ready';

/** The Module a KMM node label belongs to, or undefined for other labels. Namespaces hold no dots; names may. */
export function simModuleOfLabel(label: string): ObjectKey | undefined {
  if (!label.startsWith(LABEL_PREFIX)) return undefined;
  let rest = label.slice(LABEL_PREFIX.length);
  if (rest.endsWith(DEVICE_PLUGIN_SUFFIX)) rest = rest.slice(0, -DEVICE_PLUGIN_SUFFIX.length);
  else if (rest.endsWith(READY_SUFFIX)) rest = rest.slice(0, -READY_SUFFIX.length);
  else return undefined;
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) return undefined;
  return { namespace: rest.slice(0, dot), name: rest.slice(dot + 1) };
}

/** `max_dev` from the modprobe parameters (`max_dev=3`, `max_dev="3"`), or the default. */
export function simMaxDev(module: Module): number {
  for (const parameter of module.spec.moduleLoader?.container.modprobe.parameters ?? []) {
    const match = /^max_dev="?(\d+)"?$/.exec(parameter.trim());
    if (match) return Number(match[1]);
  }
  return SIM_DEFAULT_MAX_DEV;
}

/** Go's `(?i)`-style leading flags become JavaScript flags; an invalid pattern matches nothing. */
function goRegexp(pattern: string): RegExp | undefined {
  const flags = /^\(\?([imsU]+)\)/.exec(pattern);
  try {
    if (!flags) return new RegExp(pattern);
    return new RegExp(pattern.slice(flags[0].length), flags[1]!.replace('U', ''));
  } catch {
    return undefined;
  }
}

/** The first kernel mapping that matches the kernel (KMM's rule: first match wins). */
export function simKernelMapping(module: Module, kernelVersion: string): KernelMapping | undefined {
  return module.spec.moduleLoader?.container.kernelMappings.find((m) =>
    m.literal !== undefined ? m.literal === kernelVersion : m.regexp !== undefined && !!goRegexp(m.regexp)?.test(kernelVersion));
}

export function simSelectorMatches(module: Module, node: SimNode): boolean {
  return Object.entries(module.spec.selector ?? {}).every(([k, v]) => node.metadata.labels?.[k] === v);
}

/** True when the Module's tolerations cover every NoSchedule/NoExecute taint of the node, cordoning included. */
export function simToleratesNode(module: Module, node: SimNode): boolean {
  const taints: SimTaint[] = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  if (node.spec?.unschedulable) taints.push({ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' });
  return taints.every((taint) => (module.spec.tolerations ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === 'Exists';
    if (t.key !== taint.key) return false;
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
  }));
}

/** KMM omits zero counts. */
function counts(matching: number, desired: number, available: number): DaemonSetStatusCounts {
  const out: DaemonSetStatusCounts = {};
  if (matching) out.nodesMatchingSelectorNumber = matching;
  if (desired) out.desiredNumber = desired;
  if (available) out.availableNumber = available;
  return out;
}

function sameCounts(a: DaemonSetStatusCounts | undefined, b: DaemonSetStatusCounts | undefined): boolean {
  return (a?.nodesMatchingSelectorNumber ?? 0) === (b?.nodesMatchingSelectorNumber ?? 0) &&
    (a?.desiredNumber ?? 0) === (b?.desiredNumber ?? 0) && (a?.availableNumber ?? 0) === (b?.availableNumber ?? 0);
}

/** A merge patch that makes `status.<part>` exactly `value` (zeros removed, a missing part removed). */
function countsPatch(value: DaemonSetStatusCounts | undefined): Record<string, number | null> | null {
  if (!value) return null;
  return {
    nodesMatchingSelectorNumber: value.nodesMatchingSelectorNumber ?? null,
    desiredNumber: value.desiredNumber ?? null,
    availableNumber: value.availableNumber ?? null,
  };
}

export class SimulatedKmm {
  readonly #loadDelayMs: number;
  readonly #unloadRetryMs: number;
  /** When loading started, by `ns/name@node`: the load completes `loadDelayMs` later. */
  readonly #loadingSince = new Map<string, number>();
  /** `ns/name@node` whose unload was refused, so that a refusal is logged once rather than at every retry. */
  readonly #refused = new Set<string>();
  #cache: Cache | undefined;
  #client: Client | undefined;

  constructor(options: SimulatedKmmOptions = {}) {
    this.#loadDelayMs = options.loadDelayMs ?? 1000;
    this.#unloadRetryMs = options.unloadRetryMs ?? 5000;
  }

  /** Adds the simulated KMM controller (Modules, plus Nodes and Pods mapped to Modules) to the manager. */
  setupWithManager(manager: Manager): Controller {
    this.#cache = manager.cache;
    this.#client = manager.client;
    manager.cache.informer(Pods).addIndex(SIM_POD_NODE_INDEX, simPodNodeIndex);
    return manager.controller('simulated-kmm')
      .for(Modules)
      .watches(Nodes, (node) => this.#modulesForNode(node))
      // A consumer that ends (or is deleted) may unblock an unload on its node.
      .watches(Pods, (pod: SimPod) => this.#modulesOnNode(pod.spec?.nodeName),
        { predicates: [{ create: () => false, update: (_o, pod: SimPod) => podResourceRequest(pod) > 0, delete: (pod: SimPod) => podResourceRequest(pod) > 0 }] })
      .complete((request, context) => this.reconcile(request, context));
  }

  #modulesForNode(node: SimNode): string[] {
    if (!isSimulatedNode(node)) return [];
    const keys = new Set(this.#cache!.list(Modules).map((m) => keyOf(m)));
    for (const label of Object.keys(node.metadata.labels ?? {})) {
      const module = simModuleOfLabel(label);
      if (module) keys.add(keyOf(module));
    }
    return [...keys];
  }

  #modulesOnNode(nodeName: string | undefined): string[] {
    const node = nodeName ? this.#cache!.get<SimNode>(Nodes, { name: nodeName }) : undefined;
    if (!node || !isSimulatedNode(node)) return [];
    const keys = new Set<string>();
    for (const label of Object.keys(node.metadata.labels ?? {})) {
      const module = simModuleOfLabel(label);
      if (module) keys.add(keyOf(module));
    }
    return [...keys];
  }

  /** A pod bound to the node that has not terminated still holds a device: `modprobe -r` would fail. */
  #busyPods(nodeName: string): SimPod[] {
    return (this.#cache!.list(Pods, { index: { name: SIM_POD_NODE_INDEX, value: nodeName } }) as SimPod[])
      .filter((pod) => !isPodTerminated(pod) && podResourceRequest(pod) > 0);
  }

  async reconcile({ namespace, name }: Request, { log }: ReconcileContext): Promise<ReconcileResult | void> {
    const cache = this.#cache, client = this.#client;
    if (!cache || !client) throw new Error('SimulatedKmm: call setupWithManager first');
    if (!namespace) return;
    let module = cache.get(Modules, { namespace, name });
    const live = module && !module.metadata.deletionTimestamp ? module : undefined;
    if (live && !hasFinalizer(live, MODULE_FINALIZER)) module = await addFinalizer(client, Modules, live, MODULE_FINALIZER);

    const readyLabel = moduleReadyLabel(namespace, name);
    const pluginLabel = devicePluginReadyLabel(namespace, name);
    const devicePlugin = !!live?.spec.devicePlugin;
    let matching = 0, desired = 0, loaded = 0, pluginReady = 0, stillLoaded = 0;
    let requeueAfter: number | undefined;
    const requeue = (ms: number) => { requeueAfter = Math.min(requeueAfter ?? ms, ms); };

    const nodes = cache.list(Nodes, { labels: { [SIMULATED_NODE_LABEL]: 'true' } }) as SimNode[];
    for (const node of nodes) {
      const nodeName = node.metadata.name!;
      const selected = !!live && simSelectorMatches(live, node);
      const wanted = selected && !!simKernelMapping(live, node.status?.nodeInfo?.kernelVersion ?? '') && simToleratesNode(live, node);
      const labels = node.metadata.labels ?? {};
      const isLoaded = readyLabel in labels;
      const hasPlugin = pluginLabel in labels;
      const loadingKey = `${namespace}/${name}@${nodeName}`;
      if (selected) matching++;

      if (!wanted) {
        this.#loadingSince.delete(loadingKey);
        if (!isLoaded && !hasPlugin) {
          this.#refused.delete(loadingKey);
          continue;
        }
        const busy = this.#busyPods(nodeName);
        if (busy.length > 0) {
          stillLoaded++;
          if (!this.#refused.has(loadingKey)) {
            this.#refused.add(loadingKey);
            log.info({ node: nodeName, pods: busy.map((p) => keyOf(p)) }, 'simulated KMM: module in use, unload refused; will retry');
          }
          requeue(this.#unloadRetryMs);
          continue;
        }
        this.#refused.delete(loadingKey);
        await this.#unload(node, readyLabel, pluginLabel, hasPlugin);
        log.info({ node: nodeName }, 'simulated KMM: module unloaded');
        continue;
      }

      desired++;
      if (!isLoaded) {
        const since = this.#loadingSince.get(loadingKey) ?? Date.now();
        this.#loadingSince.set(loadingKey, since);
        const remaining = since + this.#loadDelayMs - Date.now();
        if (remaining > 0) {
          requeue(remaining);
          continue;
        }
      }
      this.#loadingSince.delete(loadingKey);
      this.#refused.delete(loadingKey);
      await this.#ensureLoaded(node, live, readyLabel, pluginLabel);
      if (!isLoaded) log.info({ node: nodeName, devicePlugin }, 'simulated KMM: module loaded');
      loaded++;
      if (devicePlugin) pluginReady++;
    }

    if (module) {
      // A terminating Module's counts show what is still loaded while unloading is refused.
      const status: ModuleStatus = { moduleLoader: counts(matching, desired, live ? loaded : stillLoaded) };
      if (devicePlugin) status.devicePlugin = counts(matching, loaded, pluginReady);
      try {
        await this.#finish(module, status, !live && stillLoaded === 0, log);
      } catch (err) {
        // The cache still showed a Module that is gone now: its delete event brings us back.
        if (!isNotFound(err)) throw err;
      }
    }
    return requeueAfter !== undefined ? { requeueAfter } : undefined;
  }

  /** Writes the status counts when they changed, then releases the finalizer once nothing is loaded any more. */
  async #finish(module: Module, status: ModuleStatus, release: boolean, log: ReconcileContext['log']): Promise<void> {
    const client = this.#client!;
    const { namespace, name } = module.metadata;
    const current = module.status;
    if (!sameCounts(current?.moduleLoader, status.moduleLoader) || !sameCounts(current?.devicePlugin, status.devicePlugin) ||
        (!!current?.devicePlugin !== !!status.devicePlugin)) {
      module = await client.patch(Modules, { namespace, name: name! }, {
        status: { moduleLoader: countsPatch(status.moduleLoader), devicePlugin: countsPatch(status.devicePlugin) },
      }, 'merge', { subresource: 'status' });
    }
    if (release && hasFinalizer(module, MODULE_FINALIZER)) {
      await removeFinalizer(client, Modules, module, MODULE_FINALIZER);
      log.info('simulated KMM: unloaded everywhere, finalizer removed');
    }
  }

  /** Labels the node and, with a device plugin, advertises the devices; removes a device plugin the Module no longer has. */
  async #ensureLoaded(node: SimNode, module: Module, readyLabel: string, pluginLabel: string): Promise<void> {
    const client = this.#client!;
    const name = node.metadata.name!;
    const labels = node.metadata.labels ?? {};
    if (module.spec.devicePlugin) {
      const devices = String(simMaxDev(module));
      // Capacity first: when the device-plugin-ready label shows, the scheduler can already place consumers.
      if (node.status?.capacity?.[SIM_DEVICE_RESOURCE] !== devices || node.status?.allocatable?.[SIM_DEVICE_RESOURCE] !== devices) {
        await client.patch(Nodes, { name }, {
          status: { capacity: { [SIM_DEVICE_RESOURCE]: devices }, allocatable: { [SIM_DEVICE_RESOURCE]: devices } },
        }, 'merge', { subresource: 'status' });
      }
      if (labels[readyLabel] !== '' || labels[pluginLabel] !== '') {
        await client.patch(Nodes, { name }, { metadata: { labels: { [readyLabel]: '', [pluginLabel]: '' } } }, 'merge');
      }
    } else {
      if (pluginLabel in labels) await this.#unload(node, readyLabel, pluginLabel, true, true);
      if (labels[readyLabel] !== '') await client.patch(Nodes, { name }, { metadata: { labels: { [readyLabel]: '' } } }, 'merge');
    }
  }

  /** Removes the labels (the device-plugin one first) and, when this Module advertised it, the device resource. */
  async #unload(node: SimNode, readyLabel: string, pluginLabel: string, hadPlugin: boolean, devicePluginOnly = false): Promise<void> {
    const client = this.#client!;
    const name = node.metadata.name!;
    const labels: Record<string, null> = { [pluginLabel]: null };
    if (!devicePluginOnly) labels[readyLabel] = null;
    await client.patch(Nodes, { name }, { metadata: { labels } }, 'merge');
    const status = node.status;
    if (hadPlugin && (status?.capacity?.[SIM_DEVICE_RESOURCE] !== undefined || status?.allocatable?.[SIM_DEVICE_RESOURCE] !== undefined)) {
      await client.patch(Nodes, { name }, {
        status: { capacity: { [SIM_DEVICE_RESOURCE]: null }, allocatable: { [SIM_DEVICE_RESOURCE]: null } },
      }, 'merge', { subresource: 'status' });
    }
  }
}
