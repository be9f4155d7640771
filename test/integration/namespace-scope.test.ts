// A namespace-scoped operator, running with the RBAC generated for that mode, manages its own
// namespace only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Modules } from '../../src/kmm/resource.ts';
import { Ptemplates, type Ptemplate } from '../../src/ptemplate/api/schema.ts';
import { NotFoundError } from '../../src/runtime/client/errors.ts';
import { Namespaces } from '../../src/runtime/resource.ts';
import { DEVICE_LABEL, startOperatorEnv, type OperatorEnv } from '../support/operator-env.ts';
import { waitFor } from '../support/wait.ts';

let env: OperatorEnv;

before(async () => {
  env = await startOperatorEnv({
    namespace: 'watched',
    // The Role for namespaced resources lives in the watched namespace: it must exist first.
    beforeIdentity: async (admin) => { await admin.create(Namespaces, { metadata: { name: 'watched' } }); },
  });
});
after(async () => { await env?.stop(); });

describe('namespace-scoped operator', () => {
  it('reconciles Ptemplates in its namespace and leaves the others alone', async () => {
    await env.createNamespace('other');
    const spec = { selector: { [DEVICE_LABEL]: 'true' } };
    await env.admin.create(Ptemplates, { metadata: { name: 'pt', namespace: 'other' }, spec } as unknown as Ptemplate);
    await env.admin.create(Ptemplates, { metadata: { name: 'pt', namespace: 'watched' }, spec } as unknown as Ptemplate);
    await waitFor(async () => (await env.admin.get(Ptemplates, { namespace: 'watched', name: 'pt' })).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
      { what: 'the watched Ptemplate Ready', timeoutMs: 60_000 });
    // By now the other one would have been handled too, had the operator seen it.
    await assert.rejects(env.admin.get(Modules, { namespace: 'other', name: 'pt' }), NotFoundError);
    assert.equal((await env.admin.get(Ptemplates, { namespace: 'other', name: 'pt' })).status, undefined);
    assert.equal(env.operator.manager.client.requests.snapshot()['LIST 403'] ?? 0, 0, 'nothing outside its RBAC was tried');
  });
});
