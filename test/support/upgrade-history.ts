// Records, by etcd revision, every change of the nodes' labels and of one object's consumer pods,
// from the API server (its own informers, not the operator's), so that an upgrade test can replay
// the rollout and check its invariants afterwards.
import { Informer } from '../../src/runtime/cache/informer.ts';
import type { Client } from '../../src/runtime/client/client.ts';
import { silentLogger } from '../../src/runtime/log.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { Nodes, Pods } from '../../src/runtime/resource.ts';

export type Seen =
  | { rv: number; kind: 'node'; node: string; labels: Record<string, string> }
  | { rv: number; kind: 'pod'; node: string; pod: string; alive: boolean };

export interface History {
  readonly seen: Seen[];
  stop(): void;
}

/** Starts recording; resolves once both informers have listed. `podLabel`: `key=value` of the consumer pods to follow. */
export async function recordUpgrade(client: Client, podLabel: [string, string]): Promise<History> {
  const seen: Seen[] = [];
  const abort = new AbortController();
  const nodes = new Informer<KubeObject>(client, Nodes, { metadataOnly: true }, silentLogger);
  const pods = new Informer<KubeObject & { spec?: { nodeName?: string } }>(client, Pods, { labelSelector: `${podLabel[0]}=${podLabel[1]}` }, silentLogger);
  const onNode = (n: KubeObject) => seen.push({ rv: Number(n.metadata.resourceVersion), kind: 'node', node: n.metadata.name!, labels: { ...n.metadata.labels } });
  nodes.addHandler({ add: onNode, update: (_o, n) => onNode(n) });
  const onPod = (alive: boolean) => (p: KubeObject & { spec?: { nodeName?: string } }) => {
    if (p.spec?.nodeName) seen.push({ rv: Number(p.metadata.resourceVersion), kind: 'pod', node: p.spec.nodeName, pod: p.metadata.name!, alive });
  };
  pods.addHandler({ add: onPod(true), update: (_o, p) => onPod(true)(p), delete: onPod(false) });
  nodes.start(abort.signal);
  pods.start(abort.signal);
  await nodes.waitForSync(abort.signal);
  await pods.waitForSync(abort.signal);
  return { seen, stop: () => abort.abort() };
}

export interface Replay {
  /** Most nodes whose step label was in `inFlight` at once. */
  maxInFlight: number;
  /** Version-label changes made while a consumer pod of the object existed on that node. */
  violations: string[];
  /** Per node, the values its version label took, in order. */
  versions: Map<string, string[]>;
  /** Nodes that ever entered one of the in-flight steps, with the revision they first did. */
  started: Map<string, number>;
}

/** Replays the history in revision order. */
export function replay(history: History, versionLabel: string, stepLabel: string, inFlight: readonly string[]): Replay {
  const pods = new Map<string, Set<string>>();
  const steps = new Map<string, string | undefined>();
  const versions = new Map<string, string[]>();
  const started = new Map<string, number>();
  const violations: string[] = [];
  let maxInFlight = 0;
  for (const o of [...history.seen].sort((a, b) => a.rv - b.rv)) {
    if (o.kind === 'pod') {
      const set = pods.get(o.node) ?? new Set<string>();
      if (o.alive) set.add(o.pod); else set.delete(o.pod);
      pods.set(o.node, set);
      continue;
    }
    const list = versions.get(o.node) ?? [];
    const version = o.labels[versionLabel];
    if (version !== undefined && list[list.length - 1] !== version) {
      if (list.length > 0 && (pods.get(o.node)?.size ?? 0) > 0) violations.push(`${o.node}: ${list[list.length - 1]} -> ${version} at rv ${o.rv} with ${[...pods.get(o.node)!].join(', ')}`);
      list.push(version);
      versions.set(o.node, list);
    }
    const step = o.labels[stepLabel];
    steps.set(o.node, step);
    if (step && inFlight.includes(step) && !started.has(o.node)) started.set(o.node, o.rv);
    maxInFlight = Math.max(maxInFlight, [...steps.values()].filter((s) => s !== undefined && inFlight.includes(s)).length);
  }
  return { maxInFlight, violations, versions, started };
}
