// A simulated KMM (Kernel Module Management v2.x) for the test control plane (development and tests
// only), on simulated nodes only. It follows KMM v2.6.0's controllers (module_reconciler.go,
// nmc_reconciler.go, node_label_module_version_reconciler.go, device_plugin_*), with KMM's
// NodeModulesConfig kept in memory: per node and Module a desired config ("spec") and the config a
// worker pod last loaded ("status").
// - Targeted nodes: `spec.selector` matches and every NoSchedule/NoExecute taint (cordoning included)
//   is tolerated. A targeted node with a kernel mapping gets the Module's config as desired, except
//   with `moduleLoader.container.version` set: then only when the node's (KMM-internal) worker-pod
//   version label equals the version; a different value keeps what the node has (the previous
//   version keeps running); no label: nothing desired.
// - Ordered upgrade, as KMM's label controller does it, one step per node update: the administrator's
//   `kmm.node.kubernetes.io/version-module.<ns>.<name>=<v>` is copied to
//   `beta.kmm.node.kubernetes.io/version-worker-pod.<ns>.<name>` (only once the module is unloaded)
//   and `beta.kmm.node.kubernetes.io/version-device-plugin.<ns>.<name>`; on a change the device
//   plugin label goes first (the device plugin stops), then the worker-pod label (only once the
//   device plugin is gone), which unloads the old version, then both come back with the new value.
// - Worker pods `kmm-worker-<node>-<name>` (labels `kmm.node.kubernetes.io/module.name`,
//   `kmm.node.kubernetes.io/worker-action=Load|Unload`) do the loading and unloading; the simulated
//   worker (worker.ts) runs them, so failures show only there, as with KMM. A Succeeded worker pod is
//   recorded and deleted, so worker pods exist only while work is pending or failing.
// - Node labels: `kmm.node.kubernetes.io/<ns>.<name>.ready=""` and, for a versioned Module,
//   `...<ns>.<name>.version.ready=<version>` when the loaded config equals the desired one;
//   both removed once the node has neither (the module unloaded and not wanted). A Module changed
//   without `version` is reloaded in place on every node at once (unload, refused while in use,
//   then load); the ready label stays meanwhile.
// - Device plugin (no pods are simulated): with `spec.devicePlugin`, while the ready label is there
//   (and, with a version, a device-plugin version label: KMM keeps an older version's DaemonSet
//   while nodes still select it) the node advertises its device kind's resource (option, default
//   `example.com/ptemplate` = `max_dev`) and gets `...<ns>.<name>.device-plugin-ready=""`. A
//   terminating Module loses its device plugin at once (KMM deletes its DaemonSets).
// - `Module.status` counts (moduleLoader: nodes targeted, desired, loaded as desired; devicePlugin:
//   targeted, targeted, running); KMM's finalizer, released once no node has the module loaded or
//   a worker pod for it. A terminating Module's status is left as it was (KMM does not update it).
// Not simulated: KMM's webhook (name length, version empty <-> set), image builds and pulls,
// reloading after a node reboot. The NodeModulesConfigs live in memory: a restarted simulator
// forgets what is loaded and loads again where the Module is wanted.
// The device resource is per device kind: two device-plugin Modules of one kind on a node overwrite each other.
import type { Cache } from '../runtime/cache/cache.ts';
import type { Client } from '../runtime/client/client.ts';
import { ignoreNotFound, isAlreadyExists, isConflict, isNotFound } from '../runtime/client/errors.ts';
import type { Controller, ReconcileContext, ReconcileResult, Request } from '../runtime/controller/controller.ts';
import { addFinalizer, hasFinalizer, removeFinalizer } from '../runtime/finalizers.ts';
import type { Manager } from '../runtime/manager/manager.ts';
import { keyOf } from '../runtime/object.ts';
import { Nodes, Pods } from '../runtime/resource.ts';
import {
  KMM_MODULE_FINALIZER, KMM_MODULE_NAME_LABEL, KMM_WORKER_ACTION_LABEL, KMM_WORKER_HASH_ANNOTATION, KMM_WORKER_VERSION_ANNOTATION, kmmDevicePluginReadyLabel,
  kmmDevicePluginVersionLabel, kmmModuleOfNodeLabel, kmmModuleOfVersionLabel, kmmModuleVersionLabel, kmmReadyLabel,
  kmmVersionReadyLabel, kmmWorkerPodName, kmmWorkerPodVersionLabel, SimModules, type SimCounts, type SimModule,
} from './kmm-api.ts';
import { simWorkerAction, simWorkerConfig, simWorkerHash, simWorkerPod, simWorkerRestarts, type SimWorkerAction } from './kmm-pods.ts';
import {
  sameConfig, SIM_DEFAULT_DEVICE, simDesiredConfig, simDeviceKindOf, simModuleConfig, simTargets, simVersionLabelChange,
  type SimDeviceKind, type SimModuleConfig,
} from './kmm-rules.ts';
import { isSimulatedNode, SIMULATED_NODE_LABEL, type SimNode, type SimPod } from './sim-shared.ts';

export interface SimulatedKmmOptions {
  /** The devices a loaded module gives a node, by kernel module. Default: `[SIM_DEFAULT_DEVICE]` (`example.com/ptemplate` = `max_dev`, default 5). */
  devices?: readonly SimDeviceKind[];
  /** The client KMM writes with (its own rate limit, as the real KMM has). Default: the manager's. */
  client?: Client | undefined;
}

/** How many nodes one reconcile works on at once. */
const NODE_CONCURRENCY = 16;

/** A config and the Module version it came with ('' for none). */
interface Versioned { config: SimModuleConfig; version: string }

/** KMM's NodeModulesConfig entry for one Module on one node. */
interface NodeEntry { spec?: Versioned | undefined; status?: Versioned | undefined }

/** KMM omits zero counts. */
function counts(matching: number, desired: number, available: number): SimCounts {
  const out: SimCounts = {};
  if (matching) out.nodesMatchingSelectorNumber = matching;
  if (desired) out.desiredNumber = desired;
  if (available) out.availableNumber = available;
  return out;
}

const sameCounts = (a: SimCounts | undefined, b: SimCounts | undefined) =>
  (a?.nodesMatchingSelectorNumber ?? 0) === (b?.nodesMatchingSelectorNumber ?? 0) &&
  (a?.desiredNumber ?? 0) === (b?.desiredNumber ?? 0) && (a?.availableNumber ?? 0) === (b?.availableNumber ?? 0);

/** A merge patch that makes `status.<part>` exactly `value` (zeros removed, a missing part removed). */
const countsPatch = (value: SimCounts | undefined) => (value ? {
  nodesMatchingSelectorNumber: value.nodesMatchingSelectorNumber ?? null,
  desiredNumber: value.desiredNumber ?? null,
  availableNumber: value.availableNumber ?? null,
} : null);

/** The Modules whose KMM labels a node carries (ready, version-ready, device-plugin-ready, version labels). */
function modulesLabelledOn(node: SimNode): string[] {
  const keys = new Set<string>();
  for (const label of Object.keys(node.metadata.labels ?? {})) {
    const module = kmmModuleOfNodeLabel(label) ?? kmmModuleOfVersionLabel(label);
    if (module) keys.add(keyOf(module));
  }
  return [...keys];
}

export class SimulatedKmm {
  readonly #devices: readonly SimDeviceKind[];
  /** KMM's NodeModulesConfigs: node name -> `ns/name` -> entry. */
  readonly #nodes = new Map<string, Map<string, NodeEntry>>();
  #cache: Cache | undefined;
  #client: Client | undefined;

  constructor(options: SimulatedKmmOptions = {}) {
    this.#devices = options.devices ?? [SIM_DEFAULT_DEVICE];
    this.#client = options.client;
  }

  /** Adds the simulated KMM controller (Modules, plus Nodes and worker pods mapped to Modules) to the manager. */
  setupWithManager(manager: Manager): Controller {
    this.#cache = manager.cache;
    this.#client ??= manager.client;
    const isWorker = (pod: SimPod) => !!pod.metadata.labels?.[KMM_WORKER_ACTION_LABEL];
    return manager.controller('simulated-kmm')
      .for(SimModules)
      .watches(Nodes, (node: SimNode) => (isSimulatedNode(node)
        ? [...new Set([...this.#cache!.list(SimModules).map((m) => keyOf(m)), ...modulesLabelledOn(node)])]
        : []))
      .watches(Pods, (pod: SimPod) => [`${pod.metadata.namespace}/${pod.metadata.labels?.[KMM_MODULE_NAME_LABEL] ?? ''}`],
        { predicates: [{ create: isWorker, update: (_o, pod) => isWorker(pod), delete: isWorker }] })
      .complete((request, context) => this.reconcile(request, context));
  }

  /** What the simulated KMM believes is loaded for a Module on a node (its NodeModulesConfig status), for tests. */
  loaded(nodeName: string, namespace: string, name: string): { config: SimModuleConfig; version: string } | undefined {
    const status = this.#nodes.get(nodeName)?.get(`${namespace}/${name}`)?.status;
    return status ? { config: { ...status.config, parameters: [...status.config.parameters] }, version: status.version } : undefined;
  }

  async reconcile({ namespace, name }: Request, { log }: ReconcileContext): Promise<ReconcileResult | void> {
    const cache = this.#cache, client = this.#client;
    if (!cache || !client) throw new Error('SimulatedKmm: call setupWithManager first');
    if (!namespace || !name) return;
    let module = cache.get(SimModules, { namespace, name });
    const live = module && !module.metadata.deletionTimestamp ? module : undefined;
    if (live && !hasFinalizer(live, KMM_MODULE_FINALIZER)) module = await addFinalizer(client, SimModules, live, KMM_MODULE_FINALIZER);

    const key = `${namespace}/${name}`;
    const nodes = cache.list(Nodes, { labels: { [SIMULATED_NODE_LABEL]: 'true' } }) as SimNode[];
    const present = new Set(nodes.map((n) => n.metadata.name!));
    for (const nodeName of this.#nodes.keys()) if (!present.has(nodeName)) this.#nodes.delete(nodeName);

    let matching = 0, desired = 0, available = 0, dpReady = 0, busy = 0;
    // Nodes are independent: a few at a time, so that a 1000-node cluster is not one long queue of requests.
    let next = 0;
    const work = async () => {
      while (next < nodes.length) {
        const result = await this.#reconcileNode(nodes[next++]!, namespace, name, key, live, log);
        if (result.targeted) matching++;
        if (result.desired) desired++;
        if (result.available) available++;
        if (result.dpReady) dpReady++;
        if (result.busy) busy++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(NODE_CONCURRENCY, nodes.length) }, work));

    if (live && module) {
      const status = { moduleLoader: counts(matching, desired, available), devicePlugin: live.spec.devicePlugin ? counts(matching, matching, dpReady) : undefined };
      if (!sameCounts(module.status?.moduleLoader, status.moduleLoader) || !sameCounts(module.status?.devicePlugin, status.devicePlugin) ||
          !!module.status?.devicePlugin !== !!status.devicePlugin) {
        await client.patch(SimModules, { namespace, name }, {
          status: { moduleLoader: countsPatch(status.moduleLoader), devicePlugin: countsPatch(status.devicePlugin) },
        }, 'merge', { subresource: 'status' });
      }
    } else if (module && busy === 0 && hasFinalizer(module, KMM_MODULE_FINALIZER)) {
      // Gone already: someone else removed the last finalizer.
      if (await ignoreNotFound(removeFinalizer(client, SimModules, module, KMM_MODULE_FINALIZER))) {
        log.info('simulated KMM: unloaded everywhere, finalizer removed');
      }
    }
  }

  /** One node's part of a Module's reconcile: version labels, desired config, worker pods, node labels, device plugin. */
  async #reconcileNode(node: SimNode, namespace: string, name: string, key: string, live: SimModule | undefined, log: ReconcileContext['log']) {
    const client = this.#client!;
    const nodeName = node.metadata.name!;
    const labels = node.metadata.labels ?? {};
    const patch: Record<string, string | null> = {};
    const readyLabel = kmmReadyLabel(namespace, name), versionReadyLabel = kmmVersionReadyLabel(namespace, name);
    const dpLabel = kmmDevicePluginReadyLabel(namespace, name);
    const workerLabel = kmmWorkerPodVersionLabel(namespace, name), dpVersionLabel = kmmDevicePluginVersionLabel(namespace, name);

    // 1. KMM's version label controller: one step, guarded as KMM guards it.
    let workerVersion = labels[workerLabel] ?? '', dpVersion = labels[dpVersionLabel] ?? '';
    const change = simVersionLabelChange(labels[kmmModuleVersionLabel(namespace, name)] ?? '', workerVersion, dpVersion);
    const moduleVersionLabel = labels[kmmModuleVersionLabel(namespace, name)] ?? '';
    if (change?.label === 'device-plugin') {
      dpVersion = change.action === 'add' ? moduleVersionLabel : '';
      patch[dpVersionLabel] = change.action === 'add' ? dpVersion : null;
    } else if (change?.action === 'delete' && !(dpLabel in labels)) {
      workerVersion = '';
      patch[workerLabel] = null;
    } else if (change?.action === 'add' && !(readyLabel in labels)) {
      workerVersion = moduleVersionLabel;
      patch[workerLabel] = workerVersion;
    }

    // 2. The Module reconciler: the node's desired config.
    const entries = this.#nodes.get(nodeName) ?? new Map<string, NodeEntry>();
    this.#nodes.set(nodeName, entries);
    const entry = entries.get(key) ?? {};
    const targeted = !!live && simTargets(live, node);
    if (!targeted) {
      entry.spec = undefined;
    } else {
      const config = simModuleConfig(live, node.status?.nodeInfo?.kernelVersion ?? '');
      const wanted = simDesiredConfig(live, config, workerVersion);
      if (wanted !== 'keep') entry.spec = wanted ? { config: wanted, version: live.spec.moduleLoader?.container.version ?? '' } : undefined;
    }

    // 3. The NodeModulesConfig reconciler: record and delete finished worker pods, start the next one.
    const podName = kmmWorkerPodName(nodeName, name);
    let pod = this.#cache!.get<SimPod>(Pods, { namespace, name: podName });
    if (pod && pod.metadata.deletionTimestamp) pod = undefined;
    if (pod && (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed')) {
      if (pod.status.phase === 'Succeeded') {
        const done = simWorkerAction(pod), config = simWorkerConfig(pod);
        if (done === 'Unload') entry.status = undefined;
        else if (done === 'Load' && config) entry.status = { config, version: pod.metadata.annotations?.[KMM_WORKER_VERSION_ANNOTATION] ?? '' };
        log.info({ node: nodeName, action: done }, `simulated KMM: worker ${done === 'Unload' ? 'unloaded' : 'loaded'} the module`);
      }
      await this.#deletePod(pod);
      pod = undefined;
    }
    const tolerations = live?.spec.tolerations ?? [];
    const start = async (action: SimWorkerAction, from: Versioned) => {
      try {
        await client.create(Pods, simWorkerPod({ namespace, moduleName: name, node, action, config: from.config, version: from.version, tolerations }));
      } catch (err) {
        if (!isAlreadyExists(err)) throw err; // the old one is still going away; its delete event brings us back
      }
    };
    const outdated = (p: SimPod, action: SimWorkerAction, from: Versioned) =>
      simWorkerRestarts(p) > 0 && p.metadata.annotations?.[KMM_WORKER_HASH_ANNOTATION] !== simWorkerHash({ action, ...from });
    const { spec, status } = entry;
    if (spec) {
      if (!pod) {
        if (!status) await start('Load', spec);
        else if (!sameConfig(spec.config, status.config)) {
          await start(spec.config.kernelVersion === status.config.kernelVersion ? 'Unload' : 'Load', spec.config.kernelVersion === status.config.kernelVersion ? status : spec);
        }
      } else if (simWorkerAction(pod) === 'Load' && outdated(pod, 'Load', spec)) {
        await this.#deletePod(pod);
      }
    } else if (status) {
      if (!pod) await start('Unload', status);
      else if (simWorkerAction(pod) === 'Load') await this.#deletePod(pod);
      else if (outdated(pod, 'Unload', status)) await this.#deletePod(pod);
    } else if (pod) {
      await this.#deletePod(pod); // orphan: neither desired nor loaded
    }
    if (!spec && !status) entries.delete(key);
    else entries.set(key, entry);

    // 4. Node labels: ready (+ version.ready) once loaded as desired; removed once neither desired nor loaded.
    let ready = readyLabel in labels;
    if (ready && !spec && !status) {
      patch[readyLabel] = null;
      patch[versionReadyLabel] = null;
      ready = false;
      log.info({ node: nodeName }, 'simulated KMM: module unloaded');
    } else if (!ready && spec && status && sameConfig(spec.config, status.config)) {
      patch[readyLabel] = '';
      if (status.version) patch[versionReadyLabel] = status.version;
      ready = true;
      log.info({ node: nodeName, version: status.version || undefined }, 'simulated KMM: module loaded');
    }

    // 5. The device plugin DaemonSets: each selects the ready label and, for a versioned Module, its
    // version's device-plugin label; KMM keeps an older version's DaemonSet while a node still selects it.
    const version = live?.spec.moduleLoader?.container.version ?? '';
    // While a non-versioned Module is reloaded in place the ready label (and so the device plugin) stays.
    const loadedConfig = entry.status?.config ?? entry.spec?.config;
    const kind = simDeviceKindOf(this.#devices, loadedConfig?.moduleName);
    const dpWanted = !!kind && !!loadedConfig && !!live?.spec.devicePlugin && ready && (version === '' || dpVersion !== '');
    const dpRunning = dpLabel in labels;
    if (dpWanted) {
      const devices = String(kind.count(loadedConfig.parameters));
      // Capacity first: when the device-plugin-ready label shows, the scheduler can already place consumers.
      if (node.status?.capacity?.[kind.resource] !== devices || node.status?.allocatable?.[kind.resource] !== devices) {
        await client.patch(Nodes, { name: nodeName }, {
          status: { capacity: { [kind.resource]: devices }, allocatable: { [kind.resource]: devices } },
        }, 'merge', { subresource: 'status' });
      }
      if (!dpRunning) patch[dpLabel] = '';
    } else if (dpRunning) {
      patch[dpLabel] = null;
    }
    if (Object.keys(patch).length > 0) await client.patch(Nodes, { name: nodeName }, { metadata: { labels: patch } }, 'merge');
    if (!dpWanted && dpRunning) {
      await this.#withdrawDevices(node, kind);
      log.info({ node: nodeName }, 'simulated KMM: device plugin removed');
    }

    return {
      targeted, desired: !!spec, available: !!spec && !!status && sameConfig(spec.config, status.config),
      dpReady: dpWanted,
      busy: !!spec || !!status || !!pod,
    };
  }

  /** A stopped device plugin no longer advertises its resource (its kind's, or every known kind's when unknown). */
  async #withdrawDevices(node: SimNode, kind: SimDeviceKind | undefined): Promise<void> {
    const resources = (kind ? [kind] : this.#devices).map((k) => k.resource)
      .filter((r) => node.status?.capacity?.[r] !== undefined || node.status?.allocatable?.[r] !== undefined);
    if (resources.length === 0) return;
    const nulls = Object.fromEntries(resources.map((r) => [r, null]));
    await this.#client!.patch(Nodes, { name: node.metadata.name! }, { status: { capacity: nulls, allocatable: nulls } }, 'merge', { subresource: 'status' });
  }

  /** Deleted at once (grace 0), as the simulated kubelet would complete it anyway. */
  async #deletePod(pod: SimPod): Promise<void> {
    try {
      await this.#client!.delete(Pods, { namespace: pod.metadata.namespace, name: pod.metadata.name! },
        { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err; // gone, or the name belongs to a newer pod
    }
  }
}
