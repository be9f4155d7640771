// The node-by-node driver upgrade, decided from the cluster alone so that it survives a restart:
// each selected node's KMM version-module label (the version it should run), KMM's version.ready
// label (the version it runs), and the layer's step label on the node (`<group>/upgrade.<ns>.<name>`)
// with the step's start time in an annotation of the same name. Per node:
//   (no label)   a node that never ran this module gets the target at once;
//   Stopping     this object's consumers are kept off the node (their DaemonSet's node affinity
//                excludes Stopping and Upgrading); once its consumer pods there are gone, the
//                version label switches -> Upgrading;
//   Upgrading    KMM unloads the old module and loads the new one; once version.ready (and the
//                ready labels the consumers need) show the target -> Starting;
//   Starting     consumers come back; once one is ready there -> done (step label removed);
//   Failed       a step took longer than nodeTimeout: left as it is until a person sets the step
//                label to Retry (`kubectl label node <n> <label>=Retry --overwrite`).
// Never more than maxUnavailable nodes are Stopping/Upgrading/Starting; paused or maxFailedNodes
// reached: no new node starts. Pure functions: the reconciler reads, patches and reports.
import type { KubeObject } from '../../runtime/object.ts';
import { isoTime } from '../../runtime/time.ts';
import { devicePluginReadyLabel, moduleReadyLabel, moduleVersionLabel, versionReadyLabel } from '../labels.ts';
import type { Condition } from './status.ts';
import { MAX_LISTED_NODES, type NodeFailure, type UpgradeStatus } from './status-schema.ts';
import { maxUnavailableOf, type UpgradePolicy } from './upgrade-schema.ts';

export const NodeStep = { Stopping: 'Stopping', Upgrading: 'Upgrading', Starting: 'Starting', Failed: 'Failed', Retry: 'Retry' } as const;
export type NodeStep = (typeof NodeStep)[keyof typeof NodeStep];
/** Steps during which this object's consumers must not run on the node. */
export const CONSUMERS_OFF_STEPS: readonly string[] = [NodeStep.Stopping, NodeStep.Upgrading];

export interface NodeEvent { type: 'Normal' | 'Warning'; reason: string; message: string }

/** Labels and annotations to merge-patch on one node (null removes). */
export interface NodeChange {
  node: string;
  labels: Record<string, string | null>;
  annotations: Record<string, string | null>;
  event?: NodeEvent | undefined;
  /** Delete KMM's worker pod there first (a retry restarts KMM's back-off). */
  restartWorker?: boolean | undefined;
}

export interface UpgradeInput {
  namespace: string;
  name: string;
  target: string;
  policy: UpgradePolicy;
  /** The selected nodes. */
  nodes: readonly KubeObject[];
  /** The layer's step label (also the annotation holding the step's start and failure). */
  stepKey: string;
  devicePlugin: boolean;
  hasConsumers: boolean;
  consumersOn(node: string): { total: number; ready: number };
  /** A failing KMM worker pod there, if any. */
  workerFailureOn(node: string): NodeFailure | undefined;
  now: number;
}

interface StepNote { since?: string; reason?: string; message?: string }

export function readNote(node: KubeObject, key: string): StepNote {
  try {
    return JSON.parse(node.metadata.annotations?.[key] ?? '{}') as StepNote;
  } catch {
    return {};
  }
}

export interface UpgradePlan {
  changes: NodeChange[];
  /** Pending nodes (old version, no step), in start order; start at most `budget` of them (skip cordoned ones). */
  candidates: string[];
  budget: number;
  /** When the next timeout falls due. */
  requeueAfterMs?: number | undefined;
}

/** The next changes of the rollout. */
export function planUpgrade(input: UpgradeInput): UpgradePlan {
  const { namespace: ns, name, target, policy, stepKey, now } = input;
  const versionKey = moduleVersionLabel(ns, name);
  const changes: NodeChange[] = [];
  const candidates: string[] = [];
  let inFlight = 0, failed = 0;
  let nextDue: number | undefined;
  const note = (since: number, extra: Omit<StepNote, 'since'> = {}) => JSON.stringify({ since: isoTime(since), ...extra });
  for (const node of [...input.nodes].sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1))) {
    const nodeName = node.metadata.name!;
    const labels = node.metadata.labels ?? {};
    const version = labels[versionKey];
    const step = labels[stepKey];
    const since = Date.parse(readNote(node, stepKey).since ?? '') || now;
    const timedOut = now - since >= policy.nodeTimeoutMs;
    const due = () => { nextDue = Math.min(nextDue ?? Infinity, since + policy.nodeTimeoutMs - now); };
    const set = (labelChanges: Record<string, string | null>, annotation: string | null, event?: NodeEvent, restartWorker?: boolean) =>
      changes.push({ node: nodeName, labels: labelChanges, annotations: { [stepKey]: annotation }, event, restartWorker });
    const fail = (reason: string, message: string) => {
      failed++;
      const full = `${message}. Retry: kubectl label node ${nodeName} ${stepKey}=Retry --overwrite`;
      set({ [stepKey]: NodeStep.Failed }, note(since, { reason, message: full }), { type: 'Warning', reason: 'NodeUpgradeFailed', message: `node ${nodeName}: ${full}` });
    };
    const moduleUp = labels[versionReadyLabel(ns, name)] === target && labels[moduleReadyLabel(ns, name)] === '' &&
      (!input.devicePlugin || labels[devicePluginReadyLabel(ns, name)] === '');
    switch (step) {
      case NodeStep.Retry:
        if (version === target) {
          inFlight++;
          set({ [stepKey]: NodeStep.Upgrading }, note(now), { type: 'Normal', reason: 'NodeUpgradeRetried', message: `node ${nodeName}: retrying the load of version ${target}` }, true);
        } else {
          set({ [stepKey]: null }, null, { type: 'Normal', reason: 'NodeUpgradeRetried', message: `node ${nodeName}: back in the queue for version ${target}` });
          candidates.push(nodeName);
        }
        continue;
      case NodeStep.Failed:
        // Fixed by other means (KMM's own retries succeeded): done.
        if (version === target && moduleUp && (!input.hasConsumers || input.consumersOn(nodeName).ready > 0)) {
          set({ [stepKey]: null }, null, { type: 'Normal', reason: 'NodeUpgraded', message: `node ${nodeName} runs version ${target} (it had failed before)` });
        } else {
          failed++;
        }
        continue;
      case NodeStep.Stopping: {
        inFlight++;
        const left = input.consumersOn(nodeName).total;
        if (left === 0) {
          set({ [stepKey]: NodeStep.Upgrading, [versionKey]: target }, note(now), { type: 'Normal', reason: 'NodeModuleSwitching', message: `node ${nodeName}: consumers stopped; KMM replaces version ${version ?? '(none)'} by ${target}` });
        } else if (timedOut) {
          inFlight--;
          fail('ConsumersDidNotStop', `${left} consumer pod(s) still on the node after ${Math.round(policy.nodeTimeoutMs / 1000)}s`);
        } else due();
        continue;
      }
      case NodeStep.Upgrading:
        inFlight++;
        if (version !== target) {
          // The target moved on while this node upgraded: its consumers are off, switch again.
          set({ [versionKey]: target }, note(now));
        } else if (moduleUp) {
          if (input.hasConsumers) set({ [stepKey]: NodeStep.Starting }, note(now), { type: 'Normal', reason: 'NodeModuleReady', message: `node ${nodeName}: version ${target} loaded; consumers starting` });
          else set({ [stepKey]: null }, null, { type: 'Normal', reason: 'NodeUpgraded', message: `node ${nodeName} runs version ${target}` });
        } else if (timedOut) {
          inFlight--;
          const worker = input.workerFailureOn(nodeName);
          fail(worker?.reason ?? 'Timeout', worker?.message ?? `version ${target} not loaded after ${Math.round(policy.nodeTimeoutMs / 1000)}s (KMM's version.ready label did not show it)`);
        } else due();
        continue;
      case NodeStep.Starting:
        inFlight++;
        if (input.consumersOn(nodeName).ready > 0) {
          set({ [stepKey]: null }, null, { type: 'Normal', reason: 'NodeUpgraded', message: `node ${nodeName} runs version ${target} with its consumers ready` });
        } else if (timedOut) {
          inFlight--;
          fail('ConsumersNotReady', `no consumer pod ready after ${Math.round(policy.nodeTimeoutMs / 1000)}s with version ${target}`);
        } else due();
        continue;
      default:
        if (version === undefined) {
          // Never ran this module: nothing to stop, load the target at once.
          set({ [versionKey]: target }, null, { type: 'Normal', reason: 'NodeVersionSet', message: `node ${nodeName} gets version ${target}` });
        } else if (version !== target) {
          candidates.push(nodeName);
        }
    }
  }
  const halted = policy.paused || (policy.maxFailedNodes > 0 && failed >= policy.maxFailedNodes);
  const budget = halted ? 0 : Math.max(0, maxUnavailableOf(policy.maxUnavailable, input.nodes.length) - inFlight);
  return { changes, candidates, budget, requeueAfterMs: nextDue === undefined ? undefined : Math.max(nextDue, 1000) };
}

/** The change that starts a pending node (consumers first, unless there are none). */
export function startNode(input: Pick<UpgradeInput, 'namespace' | 'name' | 'target' | 'stepKey' | 'hasConsumers' | 'now'>, node: string, from: string): NodeChange {
  const since = JSON.stringify({ since: isoTime(input.now) });
  if (!input.hasConsumers) {
    return { node, labels: { [input.stepKey]: NodeStep.Upgrading, [moduleVersionLabel(input.namespace, input.name)]: input.target }, annotations: { [input.stepKey]: since },
      event: { type: 'Normal', reason: 'NodeModuleSwitching', message: `node ${node}: KMM replaces version ${from} by ${input.target}` } };
  }
  return { node, labels: { [input.stepKey]: NodeStep.Stopping }, annotations: { [input.stepKey]: since },
    event: { type: 'Normal', reason: 'NodeUpgradeStarted', message: `node ${node}: upgrade from ${from} to ${input.target} started; stopping its consumers` } };
}

/** Status and condition of the rollout, from the nodes as they are after this reconcile's changes. */
export function upgradeSummary(input: Pick<UpgradeInput, 'namespace' | 'name' | 'target' | 'policy' | 'stepKey' | 'nodes'>, cordoned: readonly string[]): { status: UpgradeStatus; condition: Condition } {
  const { namespace: ns, name, target, stepKey } = input;
  const versions = new Map<string, number>();
  let done = 0, inProgress = 0, pending = 0;
  const failedNodes: NodeFailure[] = [];
  const moving: string[] = [];
  for (const node of input.nodes) {
    const labels = node.metadata.labels ?? {};
    const running = labels[versionReadyLabel(ns, name)];
    if (running) versions.set(running, (versions.get(running) ?? 0) + 1);
    const step = labels[stepKey];
    if (step === NodeStep.Failed) {
      const n = readNote(node, stepKey);
      failedNodes.push({ node: node.metadata.name!, reason: n.reason ?? 'Failed', message: n.message ?? 'the upgrade of this node failed' });
    } else if (step === NodeStep.Stopping || step === NodeStep.Upgrading || step === NodeStep.Starting || step === NodeStep.Retry) {
      inProgress++;
      moving.push(`${node.metadata.name!} (${step})`);
    } else if (labels[moduleVersionLabel(ns, name)] !== target) pending++;
    else if (running === target) done++;
    else inProgress++; // a new node loading
  }
  failedNodes.sort((a, b) => (a.node < b.node ? -1 : 1));
  const failed = failedNodes.length;
  const status: UpgradeStatus = {
    targetVersion: target,
    currentVersions: [...versions].sort(([a], [b]) => (a < b ? -1 : 1)).map(([version, nodes]) => ({ version, nodes })),
    done, inProgress, pending, failed, nodeLabel: stepKey,
    failedNodes: failedNodes.slice(0, MAX_LISTED_NODES),
  };
  const total = input.nodes.length;
  const progress = `${done} of ${total} nodes run version ${target}`;
  const failures = failed ? `; failed: ${failedNodes.slice(0, 3).map((f) => `${f.node}: ${f.message}`).join('; ')}${failed > 3 ? ` (and ${failed - 3} more)` : ''}` : '';
  const { maxFailedNodes, paused } = input.policy;
  let condition: Condition;
  if (failed > 0 && ((maxFailedNodes > 0 && failed >= maxFailedNodes && pending + inProgress > 0) || pending + inProgress === 0)) {
    condition = { status: 'True', reason: 'Stuck', message: `${progress}; ${failed} node(s) failed${maxFailedNodes > 0 && failed >= maxFailedNodes ? `, the limit (maxFailedNodes ${maxFailedNodes}): no further node starts` : ''}${failures}` };
  } else if (pending + inProgress > 0 && paused) {
    condition = { status: 'True', reason: 'Paused', message: `${progress}; paused with ${pending} pending${inProgress ? `, finishing ${moving.join(', ')}` : ''}${failures}` };
  } else if (pending + inProgress > 0) {
    const waiting = cordoned.length ? `; cordoned, left as they are: ${cordoned.slice(0, 5).join(', ')}` : '';
    condition = { status: 'True', reason: 'InProgress', message: `${progress}; ${moving.length ? `upgrading ${moving.slice(0, 5).join(', ')}; ` : ''}${pending} pending${waiting}${failures}` };
  } else {
    condition = { status: 'False', reason: 'Complete', message: `all ${total} nodes run version ${target}` };
  }
  return { status, condition };
}

/** Applies a change to a node's view (for the summary), without touching the cached object. */
export function withChange(node: KubeObject, change: NodeChange | undefined): KubeObject {
  if (!change) return node;
  const merge = (base: Record<string, string> | undefined, patch: Record<string, string | null>) => {
    const out = { ...base };
    for (const [k, v] of Object.entries(patch)) if (v === null) delete out[k]; else out[k] = v;
    return out;
  };
  return { ...node, metadata: { ...node.metadata, labels: merge(node.metadata.labels, change.labels), annotations: merge(node.metadata.annotations, change.annotations) } };
}
