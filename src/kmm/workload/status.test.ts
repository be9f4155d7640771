import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../runtime/object.ts';
import { moduleReadyLabel } from '../labels.ts';
import type { Module } from '../types.ts';
import type { DaemonSet } from './children.ts';
import type { DeviceObject } from './driver.ts';
import { consumersReadyCondition, moduleLoadedCondition, nextStatus, readyCondition, statusEqual, statusUrgent, type Pod } from './status.ts';

const selector = { gpu: 'yes' };
const pt: DeviceObject = {
  metadata: { name: 'pt', namespace: 'ns', uid: 'u1', generation: 3 },
  spec: { selector },
};
const node = (name: string, labels: Record<string, string>): KubeObject => ({ metadata: { name, labels } });
const module = (status?: Module['status'], deleting = false): Module =>
  ({ metadata: { name: 'pt', namespace: 'ns', ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) }, spec: { selector: {} }, ...(status ? { status } : {}) });
const pod = (name: string, ready: boolean): Pod =>
  ({ metadata: { name }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });
const ds = (desired: number, generation = 1, observed = 1): DaemonSet =>
  ({ metadata: { name: 'pt-consumer', generation }, status: { desiredNumberScheduled: desired, observedGeneration: observed } });

describe('ModuleLoaded', () => {
  const ready = moduleReadyLabel('ns', 'pt');
  it('is True only when every node that needs the module has KMM\'s ready label', () => {
    const nodes = [node('a', { gpu: 'yes', [ready]: '' }), node('b', { gpu: 'yes' }), node('c', {})];
    const loading = moduleLoadedCondition(pt, selector, module(), nodes);
    assert.equal(loading.status, 'False');
    assert.equal(loading.reason, 'Loading');
    assert.match(loading.message, /1 of 2 nodes/);
    const loaded = moduleLoadedCondition(pt, selector, module(), [node('a', { gpu: 'yes', [ready]: '' }), node('b', { gpu: 'yes', [ready]: '' })]);
    assert.equal(loaded.status, 'True');
  });

  it('counts only the nodes KMM wants when it has reported (nodes without a kernel mapping drop out)', () => {
    const nodes = [node('a', { gpu: 'yes', [ready]: '' }), node('b', { gpu: 'yes' })];
    assert.equal(moduleLoadedCondition(pt, selector, module({ moduleLoader: { desiredNumber: 1 } }), nodes).status, 'True');
  });

  it('says why when nothing can load: no matching node, no Module yet, or an old one still terminating', () => {
    assert.equal(moduleLoadedCondition(pt, selector, module(), [node('c', {})]).reason, 'NoMatchingNodes');
    assert.match(moduleLoadedCondition(pt, selector, module(), [node('c', {})]).message, /spec\.selector/);
    assert.equal(moduleLoadedCondition(pt, selector, undefined, []).reason, 'ModuleCreating');
    assert.equal(moduleLoadedCondition(pt, selector, module(undefined, true), []).reason, 'WaitingForPreviousUnload');
  });
});

describe('ConsumersReady', () => {
  it('compares ready pods with the DaemonSet\'s desired count and names the pods it waits for', () => {
    const waiting = consumersReadyCondition(ds(2), [pod('c-1', true), pod('c-2', false)]);
    assert.equal(waiting.status, 'False');
    assert.match(waiting.message, /1 of 2 .*c-2/);
    assert.equal(consumersReadyCondition(ds(2), [pod('c-1', true), pod('c-2', true)]).status, 'True');
    // A node just labelled by KMM counts before the DaemonSet controller has caught up.
    assert.equal(consumersReadyCondition(ds(1), [pod('c-1', true)], 2).status, 'False');
  });

  it('is not ready while nothing may run, while creating, or while a change rolls out', () => {
    assert.equal(consumersReadyCondition(ds(0), []).reason, 'NoEligibleNodes');
    assert.equal(consumersReadyCondition(undefined, []).reason, 'ConsumersCreating');
    assert.equal(consumersReadyCondition(ds(2, 2, 1), []).reason, 'RollingOut');
  });

  it('says NoEligibleNodes for a DaemonSet just created where no node is eligible, not a RollingOut its controller replaces at once', () => {
    assert.equal(consumersReadyCondition(ds(0, 1, 0), [], 0).reason, 'NoEligibleNodes');
    assert.equal(consumersReadyCondition(ds(0, 1, 0), [], 1).reason, 'RollingOut', 'with an eligible node the rollout is real');
  });
});

describe('status', () => {
  it('Ready follows the first condition that is not True', () => {
    const t = { status: 'True' as const, reason: 'X', message: 'fine' };
    const f = { status: 'False' as const, reason: 'Y', message: 'not yet' };
    assert.equal(readyCondition(f, t).reason, 'ModuleNotLoaded');
    assert.equal(readyCondition(t, f).reason, 'ConsumersNotReady');
    assert.equal(readyCondition(t, t).status, 'True');
  });

  it('moves lastTransitionTime only when a condition flips, and compares equal when nothing changed', () => {
    const c = { status: 'False' as const, reason: 'Loading', message: '1 of 2' };
    const first = nextStatus(pt, { ready: c }, new Date('2026-01-01T00:00:00Z'));
    assert.equal(first.observedGeneration, 3);
    const again = nextStatus({ ...pt, status: first }, { ready: { ...c, message: '1 of 3' } }, new Date('2026-01-02T00:00:00Z'));
    assert.equal(again.conditions![0]!.lastTransitionTime, '2026-01-01T00:00:00Z', 'same status: time kept');
    const flipped = nextStatus({ ...pt, status: again }, { ready: { status: 'True', reason: 'Ready', message: 'ok' } }, new Date('2026-01-03T00:00:00Z'));
    assert.equal(flipped.conditions![0]!.lastTransitionTime, '2026-01-03T00:00:00Z');
    assert.ok(statusEqual(first, nextStatus({ ...pt, status: first }, { ready: c }, new Date('2026-02-01T00:00:00Z'))));
    assert.ok(!statusEqual(first, again));
  });

  it('lists consumer pods sorted and reports zeros for an absent Module rather than dropping the field', () => {
    const status = nextStatus(pt, { module: undefined, consumers: undefined, pods: [pod('b', true), pod('a', false)] }, new Date());
    assert.deepEqual(status.consumers, ['a', 'b']);
    assert.equal(status.consumersReady, 1);
    assert.deepEqual(status.module?.loader, { desired: 0, available: 0, matching: 0 });
  });
});

describe('statusUrgent', () => {
  const cond = (type: string, status: 'True' | 'False', reason: string, message = 'm') =>
    ({ type, status, reason, message, observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' });
  const base = { observedGeneration: 1, conditions: [cond('Ready', 'False', 'ModuleNotLoaded'), cond('ModuleLoaded', 'False', 'Loading', '1 of 9')] };
  it('calls progress (counts, messages, pod names) not urgent', () => {
    assert.equal(statusUrgent(base, { ...base, consumers: ['a'], conditions: [base.conditions[0]!, cond('ModuleLoaded', 'False', 'Loading', '2 of 9')] }), false);
  });
  it('calls a first status, a new observedGeneration, a flip or a new reason urgent', () => {
    assert.equal(statusUrgent(undefined, base), true);
    assert.equal(statusUrgent(base, { ...base, observedGeneration: 2 }), true);
    assert.equal(statusUrgent(base, { ...base, conditions: [cond('Ready', 'True', 'Ready'), base.conditions[1]!] }), true);
    assert.equal(statusUrgent(base, { ...base, conditions: [base.conditions[0]!, cond('ModuleLoaded', 'False', 'NoMatchingNodes')] }), true);
    assert.equal(statusUrgent(base, { ...base, conditions: [base.conditions[0]!] }), true);
  });
  it('calls another condition flipping True/False while Ready stays False progress (a rollout, node after node)', () => {
    const flipped = { ...base, conditions: [base.conditions[0]!, cond('ModuleLoaded', 'True', 'Loaded', '9 of 9')] };
    assert.equal(statusUrgent(base, flipped), false);
    assert.equal(statusUrgent(flipped, base), false);
    const ready = { ...base, conditions: [cond('Ready', 'True', 'Ready'), cond('ModuleLoaded', 'True', 'Loaded', '9 of 9')] };
    assert.equal(statusUrgent(flipped, ready), true, 'Ready turning True is never delayed');
    assert.equal(statusUrgent(ready, flipped), true, 'nor Ready turning False');
  });
});
