import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../runtime/object.ts';
import { devicePluginReadyLabel, moduleReadyLabel, moduleVersionLabel, versionReadyLabel } from '../labels.ts';
import { NodeStep, planUpgrade, startNode, upgradeSummary, withChange, type UpgradeInput } from './upgrade.ts';
import { maxUnavailableOf, resolvePolicy, validateUpgradePolicy } from './upgrade-schema.ts';
import { workerFailure } from './worker-pods.ts';

const NS = 'ns', NAME = 'dev', STEP = 'example.com/upgrade.ns.dev';
const NOW = Date.parse('2026-12-02T02:00:00Z');
const V = moduleVersionLabel(NS, NAME);
const running = (v: string) => ({ [V]: v, [versionReadyLabel(NS, NAME)]: v, [moduleReadyLabel(NS, NAME)]: '', [devicePluginReadyLabel(NS, NAME)]: '' });
const node = (name: string, labels: Record<string, string> = {}, sinceMsAgo?: number): KubeObject => ({
  metadata: { name, labels, annotations: sinceMsAgo === undefined ? {} : { [STEP]: JSON.stringify({ since: new Date(NOW - sinceMsAgo).toISOString() }) } },
});

function input(nodes: KubeObject[], over: Partial<UpgradeInput> = {}): UpgradeInput {
  return {
    namespace: NS, name: NAME, target: 'v2', policy: resolvePolicy(undefined), nodes, stepKey: STEP, devicePlugin: true, hasConsumers: true,
    consumersOn: () => ({ total: 0, ready: 0 }), workerFailureOn: () => undefined, now: NOW, ...over,
  };
}

void describe('planUpgrade', () => {
  void it('gives a node that never ran the module the target at once, and queues old-version nodes in name order', () => {
    const plan = planUpgrade(input([node('c', running('v1')), node('new'), node('a', running('v1')), node('done', running('v2'))]));
    assert.deepEqual(plan.changes.map((c) => [c.node, c.labels]), [['new', { [V]: 'v2' }]]);
    assert.deepEqual(plan.candidates, ['a', 'c']);
    assert.equal(plan.budget, 1);
  });

  void it('counts nodes in flight against maxUnavailable, a percentage of the selected nodes rounded up', () => {
    const nodes = [node('a', { ...running('v1'), [STEP]: NodeStep.Upgrading }, 0), node('b', running('v1')), node('c', running('v1')), node('d', running('v1'))];
    assert.equal(planUpgrade(input(nodes)).budget, 0);
    assert.equal(planUpgrade(input(nodes, { policy: resolvePolicy({ maxUnavailable: '50%' }) })).budget, 1);
    assert.equal(maxUnavailableOf('25%', 5), 2);
    assert.equal(maxUnavailableOf('1%', 5), 1);
    assert.equal(maxUnavailableOf('3', 5), 3);
  });

  void it('switches the version label only once no consumer pod is left on a stopping node', () => {
    const stopping = node('a', { ...running('v1'), [STEP]: NodeStep.Stopping }, 1000);
    assert.deepEqual(planUpgrade(input([stopping], { consumersOn: () => ({ total: 1, ready: 1 }) })).changes, []);
    const [change] = planUpgrade(input([stopping])).changes;
    assert.deepEqual(change?.labels, { [STEP]: NodeStep.Upgrading, [V]: 'v2' });
    assert.equal(change?.event?.reason, 'NodeModuleSwitching');
  });

  void it('moves an upgrading node on once KMM reports the version ready, and marks it done once a consumer is ready there', () => {
    const loaded = node('a', { ...running('v2'), [STEP]: NodeStep.Upgrading }, 1000);
    assert.deepEqual(planUpgrade(input([loaded])).changes[0]?.labels, { [STEP]: NodeStep.Starting });
    const starting = node('a', { ...running('v2'), [STEP]: NodeStep.Starting }, 1000);
    assert.deepEqual(planUpgrade(input([starting])).changes, [], 'waits for a ready consumer');
    const done = planUpgrade(input([starting], { consumersOn: () => ({ total: 1, ready: 1 }) })).changes[0];
    assert.deepEqual([done?.labels, done?.annotations, done?.event?.reason], [{ [STEP]: null }, { [STEP]: null }, 'NodeUpgraded']);
  });

  void it('marks a node failed after nodeTimeout with the worker pod error and the retry command, and halts at maxFailedNodes', () => {
    const stuck = node('a', { [V]: 'v2', [STEP]: NodeStep.Upgrading }, 11 * 60_000);
    const failure = { node: 'a', reason: 'LoadFailed', message: 'KMM could not load the kernel module on a: exit code 1' };
    const plan = planUpgrade(input([stuck, node('b', running('v1'))], { workerFailureOn: () => failure }));
    const change = plan.changes[0]!;
    assert.equal(change.labels[STEP], NodeStep.Failed);
    const note = JSON.parse(change.annotations[STEP]!) as { reason: string; message: string };
    assert.equal(note.reason, 'LoadFailed');
    assert.match(note.message, /exit code 1\. Retry: kubectl label node a example\.com\/upgrade\.ns\.dev=Retry --overwrite/);
    assert.equal(plan.budget, 0, 'one failed node is the default limit');
    assert.equal(planUpgrade(input([stuck, node('b', running('v1'))], { policy: resolvePolicy({ maxFailedNodes: 0 }) })).budget, 1, '0: never halt');
    assert.ok(planUpgrade(input([node('a', { [V]: 'v2', [STEP]: NodeStep.Upgrading }, 60_000)])).requeueAfterMs! <= 9 * 60_000, 'comes back when the timeout falls due');
  });

  void it('switches an upgrading node again when the target moves on (its consumers are already off), and queues done nodes anew', () => {
    const plan = planUpgrade(input([node('a', { [V]: 'v2', [STEP]: NodeStep.Upgrading }, 1000), node('b', running('v2'))], { target: 'v3' }));
    assert.deepEqual(plan.changes.map((c) => [c.node, c.labels]), [['a', { [V]: 'v3' }]]);
    assert.deepEqual(plan.candidates, ['b']);
    assert.equal(plan.budget, 0, 'a is still in flight');
  });

  void it('starts nothing while paused, and lets the nodes in flight go on', () => {
    const plan = planUpgrade(input([node('a', { ...running('v2'), [STEP]: NodeStep.Upgrading }, 0), node('b', running('v1'))], { policy: resolvePolicy({ paused: true, maxUnavailable: 5 }) }));
    assert.equal(plan.budget, 0);
    assert.equal(plan.changes[0]?.labels[STEP], NodeStep.Starting);
  });

  void it('retries a failed node when its step label is set to Retry: the load again (restarting KMM\'s worker), or back in the queue', () => {
    const plan = planUpgrade(input([node('a', { [V]: 'v2', [STEP]: NodeStep.Retry }), node('b', { ...running('v1'), [STEP]: NodeStep.Retry })]));
    assert.deepEqual(plan.changes.map((c) => [c.node, c.labels[STEP], !!c.restartWorker]), [['a', NodeStep.Upgrading, true], ['b', null, false]]);
    assert.deepEqual(plan.candidates, ['b']);
    assert.equal(plan.budget, 0, 'the retried load is in flight');
  });

  void it('starts a node by stopping its consumers, or, without consumers, by switching its label', () => {
    assert.deepEqual(startNode(input([]), 'a', 'v1').labels, { [STEP]: NodeStep.Stopping });
    assert.deepEqual(startNode(input([], { hasConsumers: false }), 'a', 'v1').labels, { [STEP]: NodeStep.Upgrading, [V]: 'v2' });
  });
});

void describe('upgradeSummary', () => {
  const base = input([]);
  void it('counts nodes by state, lists versions, and says InProgress, Stuck, Paused or Complete', () => {
    const failed = { ...node('b', { [V]: 'v2', [STEP]: NodeStep.Failed }), metadata: { name: 'b', labels: { [V]: 'v2', [STEP]: NodeStep.Failed }, annotations: { [STEP]: JSON.stringify({ reason: 'Timeout', message: 'slow' }) } } };
    const nodes = [node('a', running('v2')), failed, node('c', running('v1')), node('d', { ...running('v1'), [STEP]: NodeStep.Stopping })];
    const { status, condition } = upgradeSummary({ ...base, nodes }, []);
    assert.deepEqual(status, {
      targetVersion: 'v2', currentVersions: [{ version: 'v1', nodes: 2 }, { version: 'v2', nodes: 1 }], done: 1, inProgress: 1, pending: 1, failed: 1,
      nodeLabel: STEP, failedNodes: [{ node: 'b', reason: 'Timeout', message: 'slow' }],
    });
    assert.equal(condition.reason, 'Stuck');
    assert.match(condition.message, /1 of 4 nodes run version v2.*b: slow/);
    assert.equal(upgradeSummary({ ...base, nodes: nodes.filter((n) => n !== failed) }, ['c']).condition.reason, 'InProgress');
    assert.match(upgradeSummary({ ...base, nodes: [node('c', running('v1'))] }, ['c']).condition.message, /cordoned, left as they are: c/);
    assert.equal(upgradeSummary({ ...base, policy: resolvePolicy({ paused: true }), nodes: [node('c', running('v1'))] }, []).condition.reason, 'Paused');
    assert.deepEqual(upgradeSummary({ ...base, nodes: [node('a', running('v2'))] }, []).condition, { status: 'False', reason: 'Complete', message: 'all 1 nodes run version v2' });
  });

  void it('reads the nodes as changed by this reconcile', () => {
    const after = withChange(node('a', running('v1')), { node: 'a', labels: { [STEP]: NodeStep.Stopping }, annotations: { [STEP]: null } });
    assert.equal(upgradeSummary({ ...base, nodes: [after] }, []).status.inProgress, 1);
  });
});

void describe('upgrade policy and KMM worker pods', () => {
  void it('refuses a bad maxUnavailable or nodeTimeout naming the field', () => {
    assert.deepEqual(validateUpgradePolicy({ maxUnavailable: '150%', nodeTimeout: '0s' }, 'spec.upgradePolicy').map((e) => e.field), ['spec.upgradePolicy.maxUnavailable', 'spec.upgradePolicy.nodeTimeout']);
    assert.deepEqual(validateUpgradePolicy({ maxUnavailable: 0 }, 'spec.upgradePolicy').map((e) => e.field), ['spec.upgradePolicy.maxUnavailable']);
    assert.deepEqual(validateUpgradePolicy({ maxUnavailable: '25%', nodeTimeout: '1h30m' }, 'spec.upgradePolicy'), []);
    assert.equal(resolvePolicy({ nodeTimeout: '1h30m' }).nodeTimeoutMs, 90 * 60_000);
  });

  void it('reads a failing worker pod: its termination message, or its exit code and the logs to read; an image pull error', () => {
    const pod = (statuses: object, action = 'Load') => ({
      metadata: { name: 'kmm-worker-n1-dev', namespace: NS, labels: { 'kmm.node.kubernetes.io/worker-action': action } },
      spec: { nodeName: 'n1' }, status: statuses,
    });
    const crash = workerFailure(pod({ containerStatuses: [{ name: 'worker', restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, reason: 'Error' } } }] }));
    assert.equal(crash?.reason, 'LoadFailed');
    assert.match(crash.message, /load the kernel module on n1: exit code 1 \(Error\) after 2 restart\(s\)\. See `kubectl logs -n ns kmm-worker-n1-dev`/);
    const said = workerFailure(pod({ containerStatuses: [{ restartCount: 1, lastState: { terminated: { exitCode: 1, message: "modprobe: FATAL: Module dev is in use." } } }] }, 'Unload'));
    assert.equal(said?.reason, 'UnloadFailed');
    assert.match(said.message, /unload the kernel module on n1: modprobe: FATAL: Module dev is in use\./);
    const pull = workerFailure(pod({ initContainerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x:1"' } } }] }));
    assert.match(pull!.message, /ImagePullBackOff: Back-off pulling image/);
    assert.equal(workerFailure(pod({ containerStatuses: [{ state: { running: {} } }] })), undefined, 'working');
  });
});
