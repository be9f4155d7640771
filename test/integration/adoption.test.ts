// Children the operator owns (controller reference to the Ptemplate) but did not write: the Go
// reference operator creates its Module and DaemonSet with plain creates, so after a migration
// none of their fields belong to our field manager, and our cache holds them without a spec. The
// operator must adopt them (apply its fields over them) — not crash on the missing spec, and not
// replace the DaemonSet (restarting every consumer pod) on a selector it cannot see.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Modules } from '../../src/kmm/resource.ts';
import { Ptemplates, type Ptemplate } from '../../src/ptemplate/api/schema.ts';
import { desiredConsumers, desiredModule } from '../../src/ptemplate/driver.ts';
import { FIELD_MANAGER } from '../../src/ptemplate/names.ts';
import { Client } from '../../src/runtime/client/client.ts';
import { DaemonSets } from '../../src/runtime/resource.ts';
import { DEVICE_LABEL, reconcileErrorCount, startOperatorEnv, type OperatorEnv } from '../support/operator-env.ts';
import { waitFor } from '../support/wait.ts';

const NS = 'adoption';
let env: OperatorEnv;

before(async () => {
  env = await startOperatorEnv();
  await env.createNamespace(NS);
  await env.stopOperator();
});
after(async () => { await env?.stop(); });

describe('children written by another field manager', () => {
  it('are adopted in place: no crash, no replacement, our fields applied, the Ptemplate Ready', async () => {
    const pt = await env.admin.create(Ptemplates, { metadata: { name: 'migrated', namespace: NS }, spec: { selector: { [DEVICE_LABEL]: 'true' } } } as unknown as Ptemplate);
    // As the reference operator leaves them: the same objects, created (not applied) by another manager.
    const reference = new Client(env.cp.kubeConfig(), { fieldManager: 'ptemplate-go-operator' });
    const module = await reference.create(Modules, desiredModule(pt));
    const consumers = await reference.create(DaemonSets, desiredConsumers(pt));
    const operator = await env.startOperator();
    try {
      await waitFor(async () => {
        const current = await env.admin.get(Ptemplates, { namespace: NS, name: 'migrated' });
        return current.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === current.metadata.generation);
      }, { what: 'the migrated Ptemplate Ready', timeoutMs: 60_000 });
      assert.equal(await reconcileErrorCount(operator.registry), 0, 'no reconcile failed');
      const [moduleNow, consumersNow] = await Promise.all([
        env.admin.get(Modules, { namespace: NS, name: 'migrated' }),
        env.admin.get(DaemonSets, { namespace: NS, name: consumers.metadata.name! }),
      ]);
      assert.equal(moduleNow.metadata.uid, module.metadata.uid, 'the Module is the one found, not a new one');
      assert.equal(consumersNow.metadata.uid, consumers.metadata.uid, 'the DaemonSet is the one found: its pods were not restarted');
      const managed = (consumersNow.metadata.managedFields ?? []) as { manager?: string; operation?: string }[];
      assert.ok(managed.some((f) => f.manager === FIELD_MANAGER && f.operation === 'Apply'), 'our field manager now owns its fields');
    } finally {
      await operator.stop();
    }
  });
});
