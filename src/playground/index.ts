// The playground's simulators (development and tests only): simulated nodes, a simulated KMM and a
// simulated kubelet, run together in one Manager (no leader election) against a test control plane.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Client } from '../runtime/client/client.ts';
import { Manager } from '../runtime/manager/manager.ts';
import { silentLogger } from '../runtime/log.ts';
import { SimulatedKmm } from './kmm.ts';
import { SIM_DEFAULT_DEVICE, type SimDeviceKind } from './kmm-rules.ts';
import { SimulatedKubelet } from './kubelet.ts';
import { SimulatedNodeAgent } from './nodes.ts';
import { SimulatedWorker } from './worker.ts';

export {
  createSimulatedNodes, DEFAULT_SIM_KERNEL_VERSION, SIM_REMOVED_TAINTS, SimulatedNodeAgent, simulatedNode, simulatedNodeIP,
  type SimulatedNodeSpec,
} from './nodes.ts';
export { SimulatedKmm, type SimulatedKmmOptions } from './kmm.ts';
export {
  SIM_DEFAULT_DEVICE, simCountFromParameter, simModuleConfig, simSelectorMatches, simToleratesNode, type SimDeviceKind, type SimModuleConfig,
} from './kmm-rules.ts';
export {
  KMM_MODULE_NAME_LABEL, KMM_WORKER_ACTION_LABEL, kmmDevicePluginReadyLabel, kmmModuleVersionLabel, kmmReadyLabel, kmmVersionReadyLabel,
  kmmWorkerPodName, type SimModule,
} from './kmm-api.ts';
export { SIM_FAIL_LOAD_ANNOTATION, simFailLoadAnnotation, simLoadError, SimulatedWorker, type SimulatedWorkerOptions } from './worker.ts';
export { SIM_OUT_OF_DEVICES_REASON, SimulatedKubelet, simOutOfDevicesReason, simulatedPodIP } from './kubelet.ts';
export {
  isSimulatedNode, podResourceRequest, SIM_DEVICE_RESOURCE, SIMULATED_NODE_LABEL, type SimNode, type SimPod,
} from './sim-shared.ts';

export interface SimulatorOptions {
  kubeConfig: KubeConfig;
  log?: Logger;
  /** How long one worker pod attempt (a load or an unload on one node) takes. Default 1000 ms. */
  loadDelayMs?: number;
  /** Back-off before a failed worker pod's first restart, doubling per restart. Default 1000 ms. */
  restartBackoffMs?: number;
  /** Largest restart back-off. Default 30 s. */
  maxRestartBackoffMs?: number;
  /**
   * The devices a loaded module gives a node: for each kind, the extended resource, how the count
   * derives from the modprobe parameters the module was loaded with (e.g. `simCountFromParameter('max_dev', 5)`) and, optionally, which
   * kernel module (`modprobe.moduleName`) it belongs to (first match wins). Default
   * `[SIM_DEFAULT_DEVICE]`: `example.com/ptemplate`, `max_dev` devices (5 when unset), any Module.
   */
  devices?: readonly SimDeviceKind[];
  /** Client-side rate limit of the simulators' one client. Default 500 qps, burst 1000. */
  rateLimit?: { qps: number; burst: number };
  /**
   * A client of its own for the simulated KMM, with this rate limit, so that it writes (worker
   * pods, node labels) at KMM's pace rather than every kubelet's. KMM's manager runs on
   * controller-runtime's default client, 20 qps with a burst of 30. Default: none, the shared client.
   */
  kmmRateLimit?: { qps: number; burst: number } | undefined;
  /** How long to wait for the caches to fill (the Module CRD must be served). Default 60 s. */
  syncTimeoutMs?: number;
}

export interface RunningSimulators {
  /** The simulated KMM (e.g. to ask what it believes is loaded on a node). */
  readonly kmm: SimulatedKmm;
  /** Stops the simulators and waits until their controllers have stopped. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts the simulated node agent, KMM and kubelet in one Manager and resolves once its caches are
 * filled, so the simulators react to everything created after this resolves. Rejects (with nothing
 * left running) when the caches do not fill in time, e.g. because no Module CRD is installed.
 */
export async function startSimulators(options: SimulatorOptions): Promise<RunningSimulators> {
  const log = (options.log ?? silentLogger).child({ component: 'playground-simulators' });
  const devices = options.devices ?? [SIM_DEFAULT_DEVICE];
  if (devices.length === 0) throw new Error('startSimulators: devices must name at least one device kind');
  for (const [i, kind] of devices.entries()) {
    if (!/^[a-z0-9.-]+\/[A-Za-z0-9._-]+$/.test(kind.resource)) throw new Error(`startSimulators: devices[${i}].resource ${JSON.stringify(kind.resource)} is not an extended resource name (domain/name)`);
    if (typeof kind.count !== 'function') throw new Error(`startSimulators: devices[${i}].count must be a function of the modprobe parameters`);
  }
  // The simulators stand for every node's kubelet and for KMM: a production controller's 20 qps
  // would make a 1000-node playground take minutes to load a module.
  const manager = new Manager({
    kubeConfig: options.kubeConfig, log, fieldManager: 'ptemplate-playground-simulators', rateLimit: options.rateLimit ?? { qps: 500, burst: 1000 },
  });
  const kmmClient = options.kmmRateLimit
    ? new Client(options.kubeConfig, { fieldManager: 'ptemplate-playground-simulators', userAgent: 'ptemplate-playground-kmm', rateLimit: options.kmmRateLimit })
    : undefined;
  const kmm = new SimulatedKmm({ devices, client: kmmClient });
  new SimulatedNodeAgent().setupWithManager(manager);
  kmm.setupWithManager(manager);
  new SimulatedWorker({
    devices,
    ...(options.loadDelayMs !== undefined ? { workDelayMs: options.loadDelayMs } : {}),
    ...(options.restartBackoffMs !== undefined ? { restartBackoffMs: options.restartBackoffMs } : {}),
    ...(options.maxRestartBackoffMs !== undefined ? { maxRestartBackoffMs: options.maxRestartBackoffMs } : {}),
  }).setupWithManager(manager);
  new SimulatedKubelet({ resources: devices.map((d) => d.resource) }).setupWithManager(manager);

  const abort = new AbortController();
  const done = manager.start(abort.signal);
  const syncTimeoutMs = options.syncTimeoutMs ?? 60_000;
  const syncSignal = AbortSignal.any([abort.signal, AbortSignal.timeout(syncTimeoutMs)]);
  const synced = await Promise.race([manager.cache.waitForSync(syncSignal), done.then(() => false, () => false)]);
  const stop = async () => {
    abort.abort();
    await done;
  };
  if (!synced) {
    await stop().catch(() => {});
    throw new Error(`playground simulators: caches did not sync within ${syncTimeoutMs} ms (is the Module CRD installed? see moduleCrd())`);
  }
  return { kmm, stop };
}
