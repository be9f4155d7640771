// Shared by the simulators' integration tests (tests only): a real control plane with the Module
// CRD, the simulators, and helpers that read what KMM would show. Label names are written out as
// KMM v2.6.0 spells them (not taken from src/kmm or the simulator), so a misspelling on either side
// fails here.
import assert from 'node:assert/strict';
import { ControlPlane } from '../testenv/control-plane.ts';
import { Client } from '../runtime/client/client.ts';
import { ignoreNotFound, isNotFound } from '../runtime/client/errors.ts';
import { Informer } from '../runtime/cache/informer.ts';
import { createLogger, silentLogger } from '../runtime/log.ts';
import type { KubeObject } from '../runtime/object.ts';
import { CustomResourceDefinitions, Nodes, Pods } from '../runtime/resource.ts';
import { moduleCrd } from '../kmm/crd.ts';
import { Modules } from '../kmm/resource.ts';
import { waitFor } from '../../test/support/wait.ts';
import { createSimulatedNodes, startSimulators, type RunningSimulators, type SimNode, type SimPod, type SimulatedNodeSpec, type SimulatorOptions } from './index.ts';
import type { SimModule } from './kmm-api.ts';

export const EL9 = '5.14.0-284.el9.x86_64';

/** KMM's node labels, spelled out. */
export const L = {
  ready: (ns: string, name: string) => `kmm.node.kubernetes.io/${ns}.${name}.ready`,
  versionReady: (ns: string, name: string) => `kmm.node.kubernetes.io/${ns}.${name}.version.ready`,
  devicePlugin: (ns: string, name: string) => `kmm.node.kubernetes.io/${ns}.${name}.device-plugin-ready`,
  versionModule: (ns: string, name: string) => `kmm.node.kubernetes.io/version-module.${ns}.${name}`,
  workerPodVersion: (ns: string, name: string) => `beta.kmm.node.kubernetes.io/version-worker-pod.${ns}.${name}`,
  devicePluginVersion: (ns: string, name: string) => `beta.kmm.node.kubernetes.io/version-device-plugin.${ns}.${name}`,
};

export interface SimEnv {
  cp: ControlPlane;
  admin: Client;
  sims: RunningSimulators;
  stop(): Promise<void>;
}

const testLog = () => (process.env.TEST_LOG_LEVEL ? createLogger({ level: process.env.TEST_LOG_LEVEL as 'debug', format: 'text' }) : silentLogger);

/** A control plane with the Module CRD, the simulators (fast: 200 ms per worker attempt, short back-offs) and the given nodes. */
export async function startSimEnv(nodes: readonly SimulatedNodeSpec[], options: Partial<SimulatorOptions> = {}): Promise<SimEnv> {
  const cp = await ControlPlane.start();
  let sims: RunningSimulators | undefined;
  try {
    const admin = new Client(cp.kubeConfig());
    await admin.create(CustomResourceDefinitions, moduleCrd());
    await waitFor(async () => (await admin.list(Modules)).items !== undefined, { what: 'Module CRD served' });
    sims = await startSimulators({
      kubeConfig: cp.kubeConfig(), loadDelayMs: 200, restartBackoffMs: 100, maxRestartBackoffMs: 400, log: testLog(), ...options,
    });
    await createSimulatedNodes(admin, nodes);
    const running = sims;
    return { cp, admin, sims: running, stop: async () => { await running.stop(); await cp.stop(); } };
  } catch (err) {
    await sims?.stop().catch(() => {});
    await cp.stop();
    throw err;
  }
}

export const labelsOf = (node: SimNode) => node.metadata.labels ?? {};

export async function getNode(admin: Client, name: string): Promise<SimNode> {
  return admin.get(Nodes, { name });
}

export async function patchNodeLabels(admin: Client, name: string, labels: Record<string, string | null>): Promise<void> {
  await admin.patch(Nodes, { name }, { metadata: { labels } }, 'merge');
}

/** The worker pod KMM names `kmm-worker-<node>-<module>`, or undefined. */
export async function workerPod(admin: Client, namespace: string, nodeName: string, moduleName: string): Promise<SimPod | undefined> {
  return ignoreNotFound(admin.get<SimPod>(Pods, { namespace, name: `kmm-worker-${nodeName}-${moduleName}` }));
}

export interface WorkerContainerStatus {
  name: string;
  restartCount: number;
  state?: { waiting?: { reason?: string }; terminated?: { exitCode: number; reason?: string; message?: string } };
  lastState?: { terminated?: { exitCode: number; reason?: string; message?: string } };
}

export function workerStatus(pod: SimPod): WorkerContainerStatus | undefined {
  return (pod.status?.containerStatuses as WorkerContainerStatus[] | undefined)?.find((c) => c.name === 'worker');
}

export async function waitModuleGone(admin: Client, namespace: string, name: string): Promise<void> {
  await waitFor(async () => {
    try {
      await admin.get(Modules, { namespace, name });
      return false;
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
  }, { what: `Module ${namespace}/${name} gone` });
}

export async function runningPods(admin: Client, namespace: string, labels?: Record<string, string>): Promise<SimPod[]> {
  return ((await admin.list(Pods, { namespace, ...(labels ? { labels } : {}) })).items as SimPod[])
    .filter((p) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

/** A consumer DaemonSet requesting one unit of `resource`, on nodes with the given labels. */
export function consumerDaemonSet(namespace: string, name: string, nodeSelector: Record<string, string>, resource: string): KubeObject {
  return {
    apiVersion: 'apps/v1', kind: 'DaemonSet',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector,
          terminationGracePeriodSeconds: 30,
          containers: [{
            name: 'consumer', image: 'registry.example.com/consumer:1.0',
            // Kubernetes 1.20: quantities as strings.
            resources: { requests: { [resource]: '1' }, limits: { [resource]: '1' } },
          }],
        },
      },
    },
  };
}

/** Asserts exactly these KMM labels of the Module (others of it absent). */
export function assertKmmLabels(node: SimNode, namespace: string, name: string, expected: Partial<Record<keyof typeof L, string>>): void {
  const labels = labelsOf(node);
  for (const [which, label] of Object.entries(L) as [keyof typeof L, (ns: string, n: string) => string][]) {
    assert.equal(labels[label(namespace, name)], expected[which], `${node.metadata.name}: ${label(namespace, name)}`);
  }
}


/** One observed version of a node or a created worker pod, in etcd revision order (one etcd: revisions compare). */
export interface Observed { rv: number; kind: 'node' | 'worker'; labels: Record<string, string>; capacity?: Record<string, string> }

/** Records every version of one node and every worker pod created, from watches, until `stop()`. */
export async function recordHistory(env: SimEnv, nodeName: string): Promise<{ seen: Observed[]; stop(): void }> {
  const seen: Observed[] = [];
  const abort = new AbortController();
  const client = new Client(env.cp.kubeConfig());
  const nodes = new Informer<SimNode>(client, Nodes, {}, silentLogger);
  const pods = new Informer<SimPod>(client, Pods, {}, silentLogger);
  const onNode = (node: SimNode) => {
    if (node.metadata.name === nodeName) seen.push({ rv: Number(node.metadata.resourceVersion), kind: 'node', labels: labelsOf(node), capacity: node.status?.capacity ?? {} });
  };
  nodes.addHandler({ add: onNode, update: (_old, node) => onNode(node) });
  pods.addHandler({ add: (pod) => {
    if (pod.spec?.nodeName === nodeName && pod.metadata.labels?.['kmm.node.kubernetes.io/worker-action']) {
      seen.push({ rv: Number(pod.metadata.resourceVersion), kind: 'worker', labels: pod.metadata.labels });
    }
  } });
  nodes.start(abort.signal);
  pods.start(abort.signal);
  await nodes.waitForSync(abort.signal);
  await pods.waitForSync(abort.signal);
  return { seen, stop: () => abort.abort() };
}

/** The revision of the first observation after `after` that satisfies `test` (throws naming `what` when none). */
export function firstRv(seen: readonly Observed[], what: string, test: (o: Observed) => boolean, after = 0): number {
  const found = [...seen].sort((a, b) => a.rv - b.rv).find((o) => o.rv > after && test(o));
  assert.ok(found, `never observed: ${what}`);
  return found.rv;
}

export interface HandModuleInput {
  namespace: string;
  name: string;
  selector: Record<string, string>;
  moduleName: string;
  parameters?: string[];
  version?: string;
  image: string;
  devicePlugin?: boolean;
}

/** A Module written by hand, as a user would write its YAML (not by src/kmm's builder). */
export function handModule(input: HandModuleInput): SimModule {
  return {
    apiVersion: 'kmm.sigs.x-k8s.io/v1beta1', kind: 'Module',
    metadata: { namespace: input.namespace, name: input.name },
    spec: {
      selector: input.selector,
      moduleLoader: {
        container: {
          ...(input.version ? { version: input.version } : {}),
          modprobe: { moduleName: input.moduleName, dirName: '/opt', ...(input.parameters ? { parameters: input.parameters } : {}) },
          kernelMappings: [{ regexp: '^.+$', containerImage: input.image }],
        },
      },
      ...(input.devicePlugin ? { devicePlugin: { container: { image: 'registry.example.com/device-plugin:1.0' } } } : {}),
    },
  };
}
