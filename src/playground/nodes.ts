// Simulated nodes for the test control plane (development and tests only). There is no kubelet
// on the test control plane: Nodes are plain API objects that we create with a made-up status, and
// SimulatedNodeAgent plays the kubelet's node-status part. It keeps each simulated node Ready and
// removes the `node.kubernetes.io/not-ready` taint that the API server's admission puts on every
// new Node (nothing else removes it there: the node-lifecycle controller is off; DESIGN.md §4).
// There are no heartbeats: without a node-lifecycle controller nobody expects them.
import type { Client } from '../runtime/client/client.ts';
import { isAlreadyExists } from '../runtime/client/errors.ts';
import type { Controller, ReconcileContext, Request } from '../runtime/controller/controller.ts';
import type { Manager } from '../runtime/manager/manager.ts';
import type { Cache } from '../runtime/cache/cache.ts';
import { Nodes } from '../runtime/resource.ts';
import {
  isSimulatedNode, SIMULATED_NODE_LABEL, simAddress, simConditions, simConditionsHold, simNow, type SimCondition, type SimNode,
} from './sim-shared.ts';

export const DEFAULT_SIM_KERNEL_VERSION = '5.14.0-284.el9.x86_64';

/** Taints a kubelet-backed, healthy node does not carry; the agent removes them. */
export const SIM_REMOVED_TAINTS: readonly string[] = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'];

export interface SimulatedNodeSpec {
  name: string;
  /** Extra labels (e.g. what a Module selector asks for). */
  labels?: Record<string, string>;
  /** `status.nodeInfo.kernelVersion`, which KMM's kernel mappings are matched against. */
  kernelVersion?: string;
}

const SIM_CAPACITY: Readonly<Record<string, string>> = { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' };
const SIM_ALLOCATABLE: Readonly<Record<string, string>> = { cpu: '3800m', memory: '7Gi', pods: '110', 'ephemeral-storage': '90Gi' };

/** The conditions of a healthy node, with the reasons a kubelet reports. */
const SIM_HEALTHY: readonly SimCondition[] = [
  { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'simulated node has sufficient memory available' },
  { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'simulated node has no disk pressure' },
  { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'simulated node has sufficient PID available' },
  { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated kubelet is posting ready status' },
];

function simNodeConditions(previous: readonly SimCondition[] | undefined, now: string): SimCondition[] {
  return simConditions(previous, SIM_HEALTHY, now).map((c) => ({ ...c, lastHeartbeatTime: now }));
}

/** The InternalIP a simulated node reports (made up, stable for its name). */
export function simulatedNodeIP(name: string): string {
  return simAddress('192.168', name);
}

function simNodeStatus(spec: SimulatedNodeSpec, now: string): NonNullable<SimNode['status']> {
  const kernelVersion = spec.kernelVersion ?? DEFAULT_SIM_KERNEL_VERSION;
  const arch = /aarch64|arm64/.test(kernelVersion) ? 'arm64' : 'amd64';
  return {
    capacity: { ...SIM_CAPACITY },
    allocatable: { ...SIM_ALLOCATABLE },
    conditions: simNodeConditions(undefined, now),
    addresses: [{ type: 'InternalIP', address: simulatedNodeIP(spec.name) }, { type: 'Hostname', address: spec.name }],
    nodeInfo: {
      kernelVersion,
      osImage: 'Simulated Linux (ptemplate playground)',
      operatingSystem: 'linux',
      architecture: arch,
      containerRuntimeVersion: 'simulated://1.0.0',
      kubeletVersion: 'v1.20.2-simulated',
      kubeProxyVersion: 'v1.20.2-simulated',
      machineID: `sim-${spec.name}`,
      systemUUID: `sim-${spec.name}`,
      bootID: `sim-${spec.name}`,
    },
  };
}

/** The Node object createSimulatedNodes sends, status included. */
export function simulatedNode(spec: SimulatedNodeSpec, now: string = simNow()): SimNode {
  const status = simNodeStatus(spec, now);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: spec.name,
      labels: {
        'kubernetes.io/hostname': spec.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': status.nodeInfo!.architecture!,
        ...spec.labels,
        [SIMULATED_NODE_LABEL]: 'true',
      },
    },
    spec: {},
    status,
  };
}

/**
 * Creates simulated Nodes (or brings existing ones with the same names back to the given labels and
 * kernel) and writes their status through the `status` subresource. Returns the Nodes as stored.
 * The API server taints new Nodes not-ready; a running SimulatedNodeAgent removes that taint.
 */
export async function createSimulatedNodes(client: Client, specs: readonly SimulatedNodeSpec[]): Promise<SimNode[]> {
  const out: SimNode[] = [];
  for (const spec of specs) {
    const node = simulatedNode(spec);
    try {
      await client.create(Nodes, node);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await client.patch(Nodes, { name: spec.name }, { metadata: { labels: node.metadata.labels } }, 'merge');
    }
    // Whatever the create kept of the status, the status subresource is where a kubelet writes it.
    out.push(await client.patch<SimNode>(Nodes, { name: spec.name }, { status: node.status }, 'merge', { subresource: 'status' }));
  }
  return out;
}

/**
 * Plays the kubelet's node-status part for simulated nodes: event-driven (a Node controller), it
 * restores the healthy conditions when they are missing or changed, and removes the not-ready and
 * unreachable taints. Other nodes are never touched.
 */
export class SimulatedNodeAgent {
  #cache: Cache | undefined;
  #client: Client | undefined;

  /** Adds the agent's controller to the manager; it runs when the manager starts. */
  setupWithManager(manager: Manager): Controller {
    this.#cache = manager.cache;
    this.#client = manager.client;
    return manager.controller('simulated-node-agent')
      .for(Nodes, { predicates: [{ create: isSimulatedNode, update: (_old, node) => isSimulatedNode(node), delete: () => false }] })
      .complete((request, context) => this.reconcile(request, context));
  }

  async reconcile({ name }: Request, { log }: ReconcileContext): Promise<void> {
    const cache = this.#cache, client = this.#client;
    if (!cache || !client) throw new Error('SimulatedNodeAgent: call setupWithManager first');
    const node = cache.get<SimNode>(Nodes, { name });
    if (!node || !isSimulatedNode(node) || node.metadata.deletionTimestamp) return;

    const taints = node.spec?.taints ?? [];
    const kept = taints.filter((t) => !SIM_REMOVED_TAINTS.includes(t.key));
    if (kept.length !== taints.length) {
      // The resourceVersion makes this a compare-and-swap: a stale list never drops someone else's taint.
      await client.patch(Nodes, { name }, {
        metadata: { resourceVersion: node.metadata.resourceVersion },
        spec: { taints: kept.length > 0 ? kept : null },
      }, 'merge');
      log.info({ removed: taints.filter((t) => !kept.includes(t)).map((t) => t.key) }, 'simulated node: removed taints');
    }

    if (!simConditionsHold(node.status?.conditions, SIM_HEALTHY)) {
      // A merge patch replaces the whole list: keep conditions that someone else reports.
      const others = (node.status?.conditions ?? []).filter((c) => !SIM_HEALTHY.some((h) => h.type === c.type));
      const conditions = [...others, ...simNodeConditions(node.status?.conditions, simNow())];
      await client.patch(Nodes, { name }, { status: { conditions } }, 'merge', { subresource: 'status' });
      log.info('simulated node: reported Ready');
    }
  }
}
