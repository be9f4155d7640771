// The operator runs with its generated RBAC in every operator test (see test/support/operator-env.ts).
// This suite proves the other direction: a rule missing from the role is noticed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Modules } from '../../src/kmm/resource.ts';
import { Ptemplates, type Ptemplate } from '../../src/ptemplate/api/schema.ts';
import { startOperatorEnv, DEVICE_LABEL, reconcileErrorCount, type OperatorEnv } from '../support/operator-env.ts';
import { waitFor } from '../support/wait.ts';

let env: OperatorEnv;

before(async () => {
  env = await startOperatorEnv({
    editRole: (role) => {
      // Take away the right to delete Modules.
      for (const rule of role.rules) {
        if (rule.resources.includes('modules')) rule.verbs = rule.verbs.filter((v) => v !== 'delete');
      }
    },
  });
});
after(async () => { await env?.stop(); });

describe('a role without a rule the code needs', () => {
  it('makes the step that needs it fail visibly with Forbidden, and nothing else breaks', async () => {
    await env.createNamespace('lp');
    const key = { namespace: 'lp', name: 'pt' };
    await env.admin.create(Ptemplates, { metadata: key, spec: { selector: { [DEVICE_LABEL]: 'true' } } } as unknown as Ptemplate);
    await waitFor(async () => (await env.admin.get(Ptemplates, key)).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
      { what: 'Ready with the reduced role', timeoutMs: 60_000 });
    await env.admin.patch(Ptemplates, key, { spec: { moduleState: 'Unloaded' } }, 'merge');
    await waitFor(() => (env.operator.manager.client.requests.snapshot()['DELETE 403'] ?? 0) > 0, { what: 'a Forbidden delete', timeoutMs: 60_000 });
    const module = await env.admin.get(Modules, key);
    assert.equal(module.metadata.deletionTimestamp, undefined, 'the Module could not be deleted');
    // The reconcile reports the refusal in status first, then ends with the error: wait for its count.
    await waitFor(async () => (await reconcileErrorCount(env.registry)) > 0, { what: 'the failure in controller_runtime_reconcile_errors_total', timeoutMs: 60_000 });
  });
});
