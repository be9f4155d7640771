// The playground's simulators (development and tests only): simulated nodes, a simulated KMM and a
// simulated kubelet, run together in one Manager (no leader election) against a test control plane.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Manager } from '../runtime/manager/manager.ts';
import { silentLogger } from '../runtime/log.ts';
import { SimulatedKmm } from './kmm.ts';
import { SimulatedKubelet } from './kubelet.ts';
import { SimulatedNodeAgent } from './nodes.ts';

export {
  createSimulatedNodes, DEFAULT_SIM_KERNEL_VERSION, SIM_REMOVED_TAINTS, SimulatedNodeAgent, simulatedNode, simulatedNodeIP,
  type SimulatedNodeSpec,
} from './nodes.ts';
export {
  SIM_DEFAULT_MAX_DEV, SimulatedKmm, simKernelMapping, simMaxDev, simModuleOfLabel, simSelectorMatches, simToleratesNode,
  type SimulatedKmmOptions,
} from './kmm.ts';
export { SIM_OUT_OF_DEVICES_REASON, SimulatedKubelet, simulatedPodIP } from './kubelet.ts';
export {
  isSimulatedNode, podResourceRequest, SIM_DEVICE_RESOURCE, SIMULATED_NODE_LABEL, type SimNode, type SimPod,
} from './sim-shared.ts';

export interface SimulatorOptions {
  kubeConfig: KubeConfig;
  log?: Logger;
  /** How long the simulated KMM takes to load a module on a node. Default 1000 ms. */
  loadDelayMs?: number;
  /** How long to wait for the caches to fill (the Module CRD must be served). Default 60 s. */
  syncTimeoutMs?: number;
}

export interface RunningSimulators {
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
  const manager = new Manager({ kubeConfig: options.kubeConfig, log, fieldManager: 'ptemplate-playground-simulators' });
  new SimulatedNodeAgent().setupWithManager(manager);
  new SimulatedKmm({ ...(options.loadDelayMs !== undefined ? { loadDelayMs: options.loadDelayMs } : {}) }).setupWithManager(manager);
  new SimulatedKubelet().setupWithManager(manager);

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
  return { stop };
}
