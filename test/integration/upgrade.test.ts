// Driver upgrades node by node on the real control plane (API server, scheduler, DaemonSet
// controller, garbage collector) with the simulated KMM, worker and kubelet: the bound on nodes in
// flight, consumers gone before a node's version label changes, pause, a joining node, a failed
// node and its retry, version added and removed, and an operator restart mid-rollout.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { moduleVersionLabel, versionReadyLabel } from '../../src/kmm/labels.ts';
import { Modules } from '../../src/kmm/resource.ts';
import type { Module } from '../../src/kmm/types.ts';
import { upgradeStepKey } from '../../src/kmm/workload/names.ts';
import { CONSUMERS_OFF_STEPS, NodeStep } from '../../src/kmm/workload/upgrade.ts';
import { createSimulatedNodes, simFailLoadAnnotation } from '../../src/playground/index.ts';
import { Ptemplates, type Ptemplate } from '../../src/ptemplate/api/schema.ts';
import { NAMES, PTEMPLATE_UID_LABEL } from '../../src/ptemplate/names.ts';
import { NotFoundError } from '../../src/runtime/client/errors.ts';
import type { KubeObject, ObjectKey } from '../../src/runtime/object.ts';
import { Events, Nodes, Pods } from '../../src/runtime/resource.ts';
import { DEVICE_LABEL, startOperatorEnv, type OperatorEnv } from '../support/operator-env.ts';
import { recordUpgrade, replay, type History } from '../support/upgrade-history.ts';
import { waitFor } from '../support/wait.ts';

let env: OperatorEnv;
// node-a, node-b, node-d, node-e, node-f carry the device label.
const DEVICE_NODES = ['node-a', 'node-b', 'node-d', 'node-e', 'node-f'];
before(async () => { env = await startOperatorEnv({ extraDeviceNodes: 3 }); });
after(async () => { await env?.stop(); });

const created: ObjectKey[] = [];
afterEach(async () => {
  for (const key of created.splice(0)) {
    await env.admin.delete(Ptemplates, key).catch(() => {});
    await waitFor(async () => (await get(key)) === undefined, { what: `cleanup of ${key.namespace}/${key.name}`, timeoutMs: 60_000 });
  }
});

const image = (v: string) => `registry.example.com/pt-char-dev:${v}-\${KERNEL_FULL_VERSION}`;

async function createPt(ns: string, spec: Record<string, unknown>): Promise<ObjectKey> {
  await env.createNamespace(ns).catch(() => {});
  const key = { namespace: ns, name: 'pt' };
  created.push(key);
  await env.admin.create(Ptemplates, { metadata: { ...key }, spec: { selector: { [DEVICE_LABEL]: 'true' }, ...spec } } as unknown as Ptemplate);
  return key;
}

async function get(key: ObjectKey): Promise<Ptemplate | undefined> {
  return env.admin.get(Ptemplates, key).catch((e: unknown) => {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  });
}

const patchSpec = (key: ObjectKey, spec: Record<string, unknown>) => env.admin.patch(Ptemplates, key, { spec }, 'merge');
const cond = (pt: Ptemplate | undefined, type: string) => pt?.status?.conditions?.find((c) => c.type === type);

async function waitUpgrading(key: ObjectKey, reason: string, extra: (pt: Ptemplate) => boolean = () => true, timeoutMs = 90_000): Promise<Ptemplate> {
  let last: Ptemplate | undefined;
  return waitFor(async () => {
    const pt = last = await get(key);
    const c = cond(pt, 'Upgrading');
    return c?.reason === reason && c.observedGeneration === pt!.metadata.generation && extra(pt!) ? pt : undefined;
  }, { what: `Upgrading=${reason}`, timeoutMs }).catch((err: Error) => {
    throw new Error(`${err.message}; last status: ${JSON.stringify(last?.status)}`);
  });
}

/** Loaded and ready everywhere at `version`, consumers ready. */
async function waitAllAt(key: ObjectKey, version: string, nodes = DEVICE_NODES): Promise<Ptemplate> {
  const pt = await waitUpgrading(key, 'Complete', (p) => p.status?.upgrade?.targetVersion === version && p.status.upgrade.done === nodes.length &&
    cond(p, 'Ready')?.status === 'True');
  for (const name of nodes) {
    const node = await env.admin.get(Nodes, { name });
    assert.equal(node.metadata.labels?.[versionReadyLabel(key.namespace!, key.name)], version, `${name} runs ${version}`);
  }
  return pt;
}

const stepKey = (key: ObjectKey) => upgradeStepKey(NAMES, key.namespace!, key.name);

async function history(key: ObjectKey): Promise<History> {
  const pt = (await get(key))!;
  return recordUpgrade(env.admin, [PTEMPLATE_UID_LABEL, pt.metadata.uid!]);
}

/** A Ptemplate converged at v1, with its history recorded from there, then patched to v2: a rollout under way. */
async function rolloutToV2(ns: string, spec: Record<string, unknown> = {}): Promise<{ key: ObjectKey; h: History }> {
  const key = await createPt(ns, { version: 'v1', driverImage: image('v1'), ...spec });
  await waitAllAt(key, 'v1');
  const h = await history(key);
  await patchSpec(key, { version: 'v2', driverImage: image('v2') });
  return { key, h };
}

function check(h: History, key: ObjectKey, maxUnavailable: number) {
  const r = replay(h, moduleVersionLabel(key.namespace!, key.name), stepKey(key), CONSUMERS_OFF_STEPS.concat(NodeStep.Starting));
  assert.deepEqual(r.violations, [], 'no version label changed while a consumer pod ran on the node');
  assert.ok(r.maxInFlight <= maxUnavailable, `at most ${maxUnavailable} node(s) in flight, saw ${r.maxInFlight}`);
  return r;
}

describe('driver upgrade node by node', () => {
  it('labels every selected node with the version, then rolls a new version out one node at a time', async () => {
    const key = await createPt('up-one', { version: 'v1', driverImage: image('v1') });
    const first = await waitAllAt(key, 'v1');
    assert.deepEqual(first.status?.upgrade?.currentVersions, [{ version: 'v1', nodes: 5 }]);
    const module = await env.admin.get<Module>(Modules, key);
    assert.equal(module.spec.moduleLoader?.container.version, 'v1');
    assert.equal((await env.admin.get(Nodes, { name: 'node-c' })).metadata.labels?.[moduleVersionLabel('up-one', 'pt')], undefined, 'unselected node untouched');

    const h = await history(key);
    await patchSpec(key, { version: 'v2', driverImage: image('v2') });
    const done = await waitAllAt(key, 'v2');
    h.stop();
    const r = check(h, key, 1);
    assert.equal(r.maxInFlight, 1);
    assert.deepEqual([...r.started.keys()].sort(), DEVICE_NODES, 'every node went through the steps');
    assert.deepEqual(done.status?.upgrade, { targetVersion: 'v2', currentVersions: [{ version: 'v2', nodes: 5 }], done: 5, inProgress: 0, pending: 0, failed: 0, nodeLabel: stepKey(key), failedNodes: [] });
    const series = (await env.registry.getSingleMetric('ptemplate_upgrade_nodes')?.get())?.values.filter((v) => v.labels.namespace === 'up-one') ?? [];
    assert.deepEqual(Object.fromEntries(series.map((v) => [v.labels.state, v.value])), { done: 5, in_progress: 0, pending: 0, failed: 0 });
    const reasons = (await env.admin.list(Events, { namespace: 'up-one' })).items.map((e) => (e as KubeObject & { reason?: string }).reason);
    for (const reason of ['NodeUpgradeStarted', 'NodeModuleSwitching', 'NodeModuleReady', 'NodeUpgraded']) assert.ok(reasons.includes(reason), `event ${reason}`);
  });

  it('keeps at most two nodes in flight with maxUnavailable 2, and a joining node gets the target at once', async () => {
    const { key, h } = await rolloutToV2('up-two', { upgradePolicy: { maxUnavailable: 2 } });
    await waitFor(async () => (await get(key))?.status?.upgrade?.inProgress, { what: 'rollout under way' });
    await createSimulatedNodes(env.admin, [{ name: 'node-x', labels: { [DEVICE_LABEL]: 'true' } }]);
    try {
      await waitAllAt(key, 'v2', [...DEVICE_NODES, 'node-x']);
      h.stop();
      const r = check(h, key, 2);
      assert.equal(r.maxInFlight, 2);
      assert.deepEqual(r.versions.get('node-x'), ['v2'], 'the joining node never ran the old version');
      assert.equal(r.started.has('node-x'), false, 'nothing to stop on a joining node');
    } finally {
      h.stop();
      // Unload before the node goes: a pod bound to a deleted node waits for the pod GC.
      await env.admin.delete(Ptemplates, key);
      await waitFor(async () => (await get(key)) === undefined, { what: 'unloaded', timeoutMs: 60_000 });
      await env.admin.delete(Nodes, { name: 'node-x' });
    }
  });

  it('pauses: no node starts while paused, those in flight finish; resumes to completion', async () => {
    const { key, h } = await rolloutToV2('up-pause');
    await waitFor(async () => (await get(key))?.status?.upgrade?.done, { what: 'a first node done' });
    await patchSpec(key, { upgradePolicy: { paused: true } });
    const paused = await waitUpgrading(key, 'Paused', (p) => p.status?.upgrade?.inProgress === 0);
    const startedWhilePaused = check(h, key, 1).started.size;
    assert.ok(paused.status!.upgrade!.pending > 0, 'nodes left pending');
    assert.equal(paused.status!.upgrade!.done, startedWhilePaused, 'every node that started finished');
    await patchSpec(key, { upgradePolicy: { paused: false } });
    await waitAllAt(key, 'v2');
    h.stop();
    check(h, key, 1);
  });

  it('marks a node that fails to load as failed with its error, halts at maxFailedNodes, and continues after a one-command retry', async () => {
    const key = await createPt('up-fail', { version: 'v1', driverImage: image('v1'), upgradePolicy: { nodeTimeout: '3s', maxFailedNodes: 1 } });
    await waitAllAt(key, 'v1');
    const failAnnotation = simFailLoadAnnotation('up-fail', 'pt');
    await env.admin.patch(Nodes, { name: 'node-b' }, { metadata: { annotations: { [failAnnotation]: "modprobe: ERROR: could not insert 'ptemplate_char_dev': Exec format error" } } }, 'merge');
    try {
      await patchSpec(key, { version: 'v2', driverImage: image('v2') });
      const stuck = await waitUpgrading(key, 'Stuck', (p) => p.status?.upgrade?.failed === 1);
      const up = stuck.status!.upgrade!;
      assert.equal(up.failedNodes?.[0]?.node, 'node-b');
      assert.equal(up.failedNodes?.[0]?.reason, 'LoadFailed');
      assert.match(up.failedNodes?.[0]?.message ?? "", /node-b.*exit code 1.*kubectl logs -n up-fail kmm-worker-node-b-pt.*Retry: kubectl label node node-b/s);
      assert.equal(up.done, 1, 'node-a upgraded before node-b');
      assert.equal(up.pending, 3, 'the rollout halted: no node after node-b started');
      assert.match(cond(stuck, 'Upgrading')!.message, /node-b/);
      const loaded = cond(stuck, 'ModuleLoaded')!;
      assert.equal(loaded.reason, 'LoadFailed');
      assert.match(loaded.message, /on node-b: exit code 1/);
      assert.deepEqual(stuck.status?.loadFailures?.map((f) => f.node), ['node-b']);
      const node = await env.admin.get(Nodes, { name: 'node-b' });
      assert.equal(node.metadata.labels?.[stepKey(key)], NodeStep.Failed, 'visible with kubectl get nodes -L');
    } finally {
      await env.admin.patch(Nodes, { name: 'node-b' }, { metadata: { annotations: { [failAnnotation]: null } } }, 'merge');
    }
    // The documented retry: kubectl label node node-b <label>=Retry --overwrite
    await env.admin.patch(Nodes, { name: 'node-b' }, { metadata: { labels: { [stepKey(key)]: NodeStep.Retry } } }, 'merge');
    const done = await waitAllAt(key, 'v2');
    assert.deepEqual(done.status?.loadFailures, []);
  });

  it('leaves a cordoned node as it is, says so, and upgrades it once uncordoned', async () => {
    const key = await createPt('up-cordon', { version: 'v1', driverImage: image('v1') });
    await waitAllAt(key, 'v1');
    await env.admin.patch(Nodes, { name: 'node-d' }, { spec: { unschedulable: true } }, 'merge');
    try {
      await patchSpec(key, { version: 'v2', driverImage: image('v2') });
      // The cordon is read when a node could start; progress messages are written paced: wait for it.
      const waiting = await waitUpgrading(key, 'InProgress', (p) => p.status?.upgrade?.done === 4 && /cordoned, left as they are: node-d/.test(cond(p, 'Upgrading')!.message));
      assert.equal(waiting.status?.upgrade?.pending, 1);
      const d = await env.admin.get(Nodes, { name: 'node-d' });
      assert.equal(d.metadata.labels?.[moduleVersionLabel('up-cordon', 'pt')], 'v1', 'its version label is untouched');
      assert.equal(d.metadata.labels?.[stepKey(key)], undefined, 'no step started there');
    } finally {
      await env.admin.patch(Nodes, { name: 'node-d' }, { spec: { unschedulable: null } }, 'merge');
    }
    await waitAllAt(key, 'v2');
  });

  it('names the node and the error in ModuleLoaded when KMM fails to load an unversioned module', async () => {
    const failAnnotation = simFailLoadAnnotation('up-plain', 'pt');
    await env.admin.patch(Nodes, { name: 'node-e' }, { metadata: { annotations: { [failAnnotation]: 'Invalid argument' } } }, 'merge');
    try {
      const key = await createPt('up-plain', {});
      const failing = await waitFor(async () => {
        const pt = await get(key);
        return cond(pt, 'ModuleLoaded')?.reason === 'LoadFailed' && pt;
      }, { what: 'ModuleLoaded=LoadFailed', timeoutMs: 60_000 });
      assert.match(cond(failing, 'ModuleLoaded')!.message, /could not load the kernel module on node-e: exit code 1 .*kubectl logs -n up-plain kmm-worker-node-e-pt/);
      assert.deepEqual(failing.status?.loadFailures?.map((f) => [f.node, f.reason]), [['node-e', 'LoadFailed']]);
      assert.equal(cond(failing, 'Upgrading'), undefined, 'no Upgrading condition without a version');
    } finally {
      await env.admin.patch(Nodes, { name: 'node-e' }, { metadata: { annotations: { [failAnnotation]: null } } }, 'merge');
    }
    await waitFor(async () => cond(await get({ namespace: 'up-plain', name: 'pt' }), 'Ready')?.status === 'True', { what: 'Ready once the load succeeds', timeoutMs: 90_000 });
  });

  it('names the node and the error when KMM cannot unload, here because another pod holds the device', async () => {
    const key = await createPt('up-busy', {});
    await waitFor(async () => cond(await get(key), 'Ready')?.status === 'True', { what: 'Ready', timeoutMs: 60_000 });
    // Not a consumer: a pod of someone else's that uses the device, which the unload must not evict.
    await env.admin.create(Pods, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'user', namespace: 'up-busy' },
      spec: { nodeName: 'node-a', containers: [{ name: 'main', image: 'registry.example.com/user:1', resources: { limits: { 'example.com/ptemplate': '1' } } }] },
    });
    await waitFor(async () => (await env.admin.get<KubeObject & { status?: { phase?: string } }>(Pods, { namespace: 'up-busy', name: 'user' })).status?.phase === 'Running', { what: 'user pod running' });
    await env.admin.delete(Ptemplates, key);
    const stuck = await waitFor(async () => {
      const pt = await get(key);
      return cond(pt, 'ModuleLoaded')?.reason === 'UnloadFailed' && pt;
    }, { what: 'ModuleLoaded=UnloadFailed', timeoutMs: 60_000 });
    assert.match(cond(stuck, 'ModuleLoaded')!.message, /could not unload the kernel module on node-a: exit code 1/);
    assert.deepEqual(stuck.status?.loadFailures?.map((f) => [f.node, f.reason]), [['node-a', 'UnloadFailed']]);
    await env.admin.delete(Pods, { namespace: 'up-busy', name: 'user' }, { gracePeriodSeconds: 0 });
    await waitFor(async () => (await get(key)) === undefined, { what: 'unloaded once the device is free', timeoutMs: 90_000 });
  });

  it('adds and removes version by an ordered unload and reload, labels following', async () => {
    const key = await createPt('up-addrm', { driverImage: image('v0') });
    await waitFor(async () => cond(await get(key), 'Ready')?.status === 'True', { what: 'Ready unversioned', timeoutMs: 60_000 });
    await patchSpec(key, { version: 'v1', driverImage: image('v1') });
    await waitAllAt(key, 'v1');
    assert.equal((await env.admin.get<Module>(Modules, key)).spec.moduleLoader?.container.version, 'v1');
    await patchSpec(key, { version: null, driverImage: image('v0') });
    await waitFor(async () => {
      const pt = await get(key);
      const m = await env.admin.get<Module>(Modules, key).catch(() => undefined);
      return cond(pt, 'Ready')?.status === 'True' && cond(pt, 'Upgrading')?.reason === 'NoVersion' && m && !m.metadata.deletionTimestamp && m.spec.moduleLoader?.container.version === undefined;
    }, { what: 'reloaded without a version', timeoutMs: 90_000 });
    for (const name of DEVICE_NODES) {
      const labels = (await env.admin.get(Nodes, { name })).metadata.labels ?? {};
      assert.equal(labels[moduleVersionLabel('up-addrm', 'pt')], undefined, `${name}: version label removed`);
    }
  });

  it('continues a rollout after an operator restart, from the state on the nodes', async () => {
    const { key, h } = await rolloutToV2('up-restart');
    await waitFor(async () => (await get(key))?.status?.upgrade?.done, { what: 'a first node done' });
    await env.stopOperator();
    const mid = (await get(key))!.status!.upgrade!;
    assert.ok(mid.done < 5, 'stopped mid-rollout');
    const restarted = await env.startOperator();
    try {
      await waitAllAt(key, 'v2');
      h.stop();
      check(h, key, 1);
    } finally {
      h.stop();
      // The next cleanup (afterEach) needs an operator: the restarted one stays until env.stop().
      void restarted;
    }
  });
});
