// A restarted operator, and a new leader after a leader change, find every Ptemplate converged and
// send no request for it: only the informers' LIST and WATCH. Counted, not timed: a regression
// (a child re-applied, an event re-sent, a status rewritten) shows as a request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ptemplates, type Ptemplate } from '../../src/ptemplate/api/schema.ts';
import { LeaderElector } from '../../src/runtime/leaderelection/leader-election.ts';
import type { Client } from '../../src/runtime/client/client.ts';
import { DEVICE_LABEL, reconcileCount, startOperatorEnv, type ExtraOperator, type OperatorEnv } from '../support/operator-env.ts';
import { waitFor } from '../support/wait.ts';

const NS = 'restart';
const NAMES = ['pt-a', 'pt-b', 'pt-c'];
let env: OperatorEnv;

before(async () => {
  env = await startOperatorEnv();
  await env.createNamespace(NS);
  for (const name of NAMES) {
    await env.admin.create(Ptemplates, { metadata: { name, namespace: NS }, spec: { selector: { [DEVICE_LABEL]: 'true' } } } as unknown as Ptemplate);
  }
  await waitFor(async () => {
    const items = (await env.admin.list(Ptemplates, { namespace: NS })).items;
    return items.length === NAMES.length && items.every((pt) => pt.status?.consumersReady === 2 &&
      pt.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === pt.metadata.generation));
  }, { what: 'every Ptemplate Ready with both consumers', timeoutMs: 90_000 });
  await waitFor(() => env.operator.controller.settled, { what: 'the first operator settled' });
  await env.stopOperator();
});
after(async () => { await env?.stop(); });

/** Requests other than the informers' LIST and WATCH: what a converged start must not send. */
function writesAndReads(client: Client): Record<string, number> {
  return Object.fromEntries(Object.entries(client.requests.snapshot()).filter(([key]) => !/^(LIST|WATCH) /.test(key)));
}

/** Waits until the operator reconciled every Ptemplate at least once and has nothing left to do. */
async function settledAfterReconcilingAll(extra: ExtraOperator): Promise<void> {
  await waitFor(async () => (await reconcileCount(extra.registry)) >= NAMES.length && extra.operator.controller.settled,
    { what: 'every Ptemplate reconciled and the queue settled' });
}

const elector = (identity: string) => new LeaderElector({
  kubeConfig: env.cp.kubeConfig(), namespace: 'default', name: 'restart-test', identity,
  leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500,
});

describe('a converged operator', () => {
  it('sends no request but LIST and WATCH after a restart', async () => {
    const restarted = await env.startOperator();
    try {
      await settledAfterReconcilingAll(restarted);
      assert.deepEqual(writesAndReads(restarted.operator.manager.client), {});
    } finally {
      await restarted.stop();
    }
  });

  it('sends no request but LIST and WATCH from the new leader after a leader change, and the new leader does the work', async () => {
    const first = elector('first');
    const leader = await env.startOperator({ leaderGate: first, instance: 'first' });
    await waitFor(() => first.isLeader(), { what: 'the first replica to lead' });
    const second = elector('second');
    const standby = await env.startOperator({ leaderGate: second, instance: 'second' });
    await settledAfterReconcilingAll(leader);
    assert.deepEqual(writesAndReads(leader.operator.manager.client), {}, 'the first leader');
    assert.equal(await reconcileCount(standby.registry), 0, 'a standby does not reconcile');

    await leader.stop(); // releases the lease: the standby takes over at once
    await waitFor(() => second.isLeader(), { what: 'the standby to lead' });
    await settledAfterReconcilingAll(standby);
    assert.deepEqual(writesAndReads(standby.operator.manager.client), {}, 'the new leader');

    // The new leader is live: a new Ptemplate gets its children and its status from it.
    await env.admin.create(Ptemplates, { metadata: { name: 'after-change', namespace: NS }, spec: { selector: { [DEVICE_LABEL]: 'true' } } } as unknown as Ptemplate);
    await waitFor(async () => {
      const pt = await env.admin.get<Ptemplate>(Ptemplates, { namespace: NS, name: 'after-change' });
      return pt.status?.observedGeneration === pt.metadata.generation;
    }, { what: 'the new Ptemplate reconciled by the new leader' });
    assert.ok((writesAndReads(standby.operator.manager.client)['APPLY 201'] ?? 0) >= 2, JSON.stringify(standby.operator.manager.client.requests.snapshot()));
    await standby.stop();
  });
});
