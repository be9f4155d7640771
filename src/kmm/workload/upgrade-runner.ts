// Carries out the rollout that upgrade.ts decides: patches the nodes' labels (one merge patch per
// node and step), checks a node is not cordoned before starting it, confirms with the API server
// that no consumer pod is left before a version label changes, records an event per node step,
// and reads KMM's worker pods for what failed where. It also removes the layer's node labels once
// the module is unloaded (deletion, an unloaded spec, a version removed).
import type { Logger } from 'pino';
import type { Cache } from '../../runtime/cache/cache.ts';
import type { IndexFunc } from '../../runtime/cache/store.ts';
import type { Client } from '../../runtime/client/client.ts';
import { isNotFound } from '../../runtime/client/errors.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { Nodes, Pods, type ResourceType } from '../../runtime/resource.ts';
import { MODULE_VERSION_LABEL_PREFIX, moduleVersionLabel } from '../labels.ts';
import type { DeviceObject } from './driver.ts';
import { upgradeStepKey, type WorkloadNames } from './names.ts';
import { isPodReady, type Condition, type Pod } from './status.ts';
import type { NodeFailure, UpgradeStatus } from './status-schema.ts';
import { planUpgrade, startNode, upgradeSummary, withChange, type NodeChange, type UpgradeInput } from './upgrade.ts';
import type { UpgradePolicy } from './upgrade-schema.ts';
import { workerFailures, workerPodSelector, type WorkerPod } from './worker-pods.ts';

export interface UpgradeRunnerDeps {
  client: Client;
  cache: Cache;
  recorder: EventRecorder;
  type: ResourceType;
  names: WorkloadNames;
  now?: () => number;
}

export interface UpgradeStepInput {
  target: string;
  policy: UpgradePolicy;
  nodes: readonly KubeObject[];
  pods: readonly Pod[];
  devicePlugin: boolean;
  hasConsumers: boolean;
  failures: readonly NodeFailure[];
}

export interface UpgradeStepResult { status: UpgradeStatus; condition: Condition; requeueAfterMs?: number | undefined }

/**
 * Nodes by each of the layer's marks they carry (a version label, an upgrade step label or
 * annotation): clearing one object's marks reads the nodes that have them, not every node.
 */
export const NODE_MARKS_INDEX = 'kmm.workload/node-marks';

/** The NODE_MARKS_INDEX function for the layer named `names`: the keys of its marks on a node. */
export function nodeMarksIndex(names: WorkloadNames): IndexFunc<KubeObject> {
  const own = (key: string) => key.startsWith(names.upgradeLabelPrefix) || key.startsWith(MODULE_VERSION_LABEL_PREFIX);
  return (node) => [...new Set([...Object.keys(node.metadata.labels ?? {}), ...Object.keys(node.metadata.annotations ?? {})].filter(own))];
}

/** Node names we may not read or patch stay pending; a cordon check reads at most this many nodes beyond the budget per reconcile. */
const MAX_CORDON_READS = 10;
/** How old a worker-pod answer may be before it is asked again. */
const WORKER_LIST_MAX_AGE_MS = 2_000;

export class UpgradeRunner {
  readonly #deps: UpgradeRunnerDeps;
  readonly #now: () => number;
  /**
   * Read your own writes: node patches the cache has not shown yet (by owner uid and node), with
   * the node's resourceVersion they were planned from. While the cached node still has that
   * version, the patch is laid over it, so a reconcile on a lagging cache neither repeats a step
   * nor starts a node twice.
   */
  readonly #written = new Map<string, { baseRv: string | undefined; change: NodeChange }>();
  /** The last worker-pod answer per object (see workerFailures). */
  readonly #failures = new Map<string, { at: number; failures: NodeFailure[] }>();

  constructor(deps: UpgradeRunnerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  stepKey(obj: DeviceObject): string {
    return upgradeStepKey(this.#deps.names, obj.metadata.namespace!, obj.metadata.name!);
  }

  /**
   * The failing KMM worker pods of this object's Module. KMM's pods are not in the cache, so this
   * is a list request, made at most once per `maxAgeMs` per object: the reconciles of a rollout
   * over a thousand nodes share one answer instead of listing once each.
   */
  async workerFailures(obj: DeviceObject, maxAgeMs = WORKER_LIST_MAX_AGE_MS): Promise<NodeFailure[]> {
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const known = this.#failures.get(key);
    if (known && this.#now() - known.at < maxAgeMs) return known.failures;
    const pods = await this.#deps.client.list<WorkerPod>(Pods, { namespace: obj.metadata.namespace, labelSelector: workerPodSelector(obj.metadata.name!) });
    const failures = workerFailures(pods.items);
    this.#failures.set(key, { at: this.#now(), failures });
    return failures;
  }

  /** The object is gone. */
  forget(key: { namespace?: string | undefined; name: string }): void {
    this.#failures.delete(`${key.namespace}/${key.name}`);
  }

  async step(obj: DeviceObject, input: UpgradeStepInput, log: Logger): Promise<UpgradeStepResult> {
    const ns = obj.metadata.namespace!, name = obj.metadata.name!;
    const stepKey = this.stepKey(obj);
    const byNode = new Map<string, { total: number; ready: number }>();
    for (const pod of input.pods) {
      const node = pod.spec?.nodeName;
      if (!node) continue;
      const c = byNode.get(node) ?? { total: 0, ready: 0 };
      c.total++;
      if (isPodReady(pod)) c.ready++;
      byNode.set(node, c);
    }
    const failures = new Map(input.failures.map((f) => [f.node, f]));
    const planInput: UpgradeInput = {
      namespace: ns, name, target: input.target, policy: input.policy, nodes: input.nodes, stepKey,
      devicePlugin: input.devicePlugin, hasConsumers: input.hasConsumers, now: this.#now(),
      consumersOn: (node) => byNode.get(node) ?? { total: 0, ready: 0 },
      workerFailureOn: (node) => failures.get(node),
    };
    planInput.nodes = input.nodes.map((n) => this.#withWritten(obj, n));
    const plan = planUpgrade(planInput);
    const applied = new Map<string, NodeChange>();
    for (const change of plan.changes) {
      // The cache may lag behind a consumer pod just created: ask the API server before a version label changes.
      if (change.labels[moduleVersionLabel(ns, name)] !== undefined && input.hasConsumers && (await this.#podsOn(obj, change.node)) > 0) continue;
      if (await this.#apply(obj, change, log)) this.#remember(obj, input.nodes, change, applied);
    }
    const cordoned: string[] = [];
    let budget = plan.budget, reads = 0;
    const current = new Map(planInput.nodes.map((n) => [n.metadata.name!, n]));
    for (const node of plan.candidates) {
      if (budget <= 0 || reads >= plan.budget + MAX_CORDON_READS) break;
      reads++;
      // Metadata-only cache: the cordon (spec.unschedulable) needs the node itself.
      const full = await this.#deps.client.get<KubeObject & { spec?: { unschedulable?: boolean } }>(Nodes, { name: node }).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (!full) continue;
      if (full.spec?.unschedulable) {
        cordoned.push(node);
        continue;
      }
      const from = current.get(node)?.metadata.labels?.[moduleVersionLabel(ns, name)] ?? '(none)';
      const change = startNode(planInput, node, from);
      if (await this.#apply(obj, change, log)) {
        this.#remember(obj, input.nodes, change, applied);
        budget--;
      }
    }
    const after = planInput.nodes.map((n) => withChange(n, applied.get(n.metadata.name!)));
    const { status, condition } = upgradeSummary({ ...planInput, nodes: after }, cordoned);
    return { status, condition, requeueAfterMs: plan.requeueAfterMs };
  }

  /** Removes this object's version and step labels from every node that has them (the module is unloaded). */
  async clearNodes(obj: DeviceObject, log: Logger): Promise<void> {
    const ns = obj.metadata.namespace!, name = obj.metadata.name!;
    const stepKey = this.stepKey(obj), versionKey = moduleVersionLabel(ns, name);
    const marked = new Map<string, KubeObject>();
    for (const key of [versionKey, stepKey]) {
      for (const node of this.#deps.cache.list(Nodes, { index: { name: NODE_MARKS_INDEX, value: key } })) marked.set(node.metadata.name!, node);
    }
    for (const node of marked.values()) {
      await this.#apply(obj, { node: node.metadata.name!, labels: { [versionKey]: null, [stepKey]: null }, annotations: { [stepKey]: null } }, log);
    }
    for (const key of this.#written.keys()) if (key.startsWith(`${obj.metadata.uid}/`)) this.#written.delete(key);
  }

  #withWritten(obj: DeviceObject, node: KubeObject): KubeObject {
    const key = `${obj.metadata.uid}/${node.metadata.name}`;
    const written = this.#written.get(key);
    if (!written) return node;
    if (node.metadata.resourceVersion !== written.baseRv) {
      this.#written.delete(key); // the cache moved on: it holds our patch, or something newer
      return node;
    }
    return withChange(node, written.change);
  }

  #remember(obj: DeviceObject, cached: readonly KubeObject[], change: NodeChange, applied: Map<string, NodeChange>): void {
    applied.set(change.node, change);
    const key = `${obj.metadata.uid}/${change.node}`;
    const before = this.#written.get(key);
    const baseRv = before?.baseRv ?? cached.find((n) => n.metadata.name === change.node)?.metadata.resourceVersion;
    const merged: NodeChange = before
      ? { node: change.node, labels: { ...before.change.labels, ...change.labels }, annotations: { ...before.change.annotations, ...change.annotations } }
      : { node: change.node, labels: change.labels, annotations: change.annotations };
    this.#written.set(key, { baseRv, change: merged });
  }

  async #podsOn(obj: DeviceObject, node: string): Promise<number> {
    const list = await this.#deps.client.list<Pod>(Pods, {
      namespace: obj.metadata.namespace, labelSelector: `${this.#deps.names.ownerUidLabel}=${obj.metadata.uid!}`, fieldSelector: `spec.nodeName=${node}`,
    });
    return list.items.length;
  }

  async #apply(obj: DeviceObject, change: NodeChange, log: Logger): Promise<boolean> {
    const { client, recorder, type } = this.#deps;
    try {
      if (change.restartWorker) {
        await client.delete(Pods, { namespace: obj.metadata.namespace, name: `kmm-worker-${change.node}-${obj.metadata.name}` }).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      }
      await client.patch(Nodes, { name: change.node }, { metadata: { labels: change.labels, annotations: change.annotations } }, 'merge');
    } catch (err) {
      if (isNotFound(err)) return false; // the node is gone
      throw err;
    }
    log.info({ node: change.node, labels: change.labels }, change.event?.message ?? 'node labels updated');
    if (change.event) recorder.event(type, obj, change.event.type, change.event.reason, 'Upgrade', change.event.message);
    return true;
  }
}
