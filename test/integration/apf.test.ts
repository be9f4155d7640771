// Priority and Fairness paces the operator's client: the API server answers 429 with Retry-After
// when a flow exceeds its priority level, and the client waits as asked and succeeds. The
// manager's default policy sees APF's response headers and drops its client-side bucket.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '../../src/runtime/client/client.ts';
import { ServerPacedLimit } from '../../src/runtime/client/ratelimit.ts';
import { ConfigMaps, defineResource, Namespaces, ServiceAccounts } from '../../src/runtime/resource.ts';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { serviceAccountKubeConfig } from '../support/service-account.ts';

const NS = 'apf';
const FLOWCONTROL = { group: 'flowcontrol.apiserver.k8s.io', version: 'v1beta1', namespaced: false };
const PriorityLevels = defineResource({ ...FLOWCONTROL, kind: 'PriorityLevelConfiguration', plural: 'prioritylevelconfigurations' });
const FlowSchemas = defineResource({ ...FLOWCONTROL, kind: 'FlowSchema', plural: 'flowschemas' });
const Roles = defineResource({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'Role', plural: 'roles', namespaced: true });
const RoleBindings = defineResource({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true });

let cp: ControlPlane;
let admin: Client;
let limited: Client;

before(async () => {
  cp = await ControlPlane.start({ scheduler: false });
  admin = new Client(cp.kubeConfig());
  await admin.create(Namespaces, { metadata: { name: NS } });
  await admin.create(ServiceAccounts, { metadata: { name: 'busy', namespace: NS } });
  await admin.create(Roles, { metadata: { name: 'list-configmaps', namespace: NS }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }] });
  await admin.create(RoleBindings, {
    metadata: { name: 'busy-list', namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'list-configmaps' },
    subjects: [{ kind: 'ServiceAccount', name: 'busy', namespace: NS }],
  });
  // A priority level of one share (a few seats) that rejects at once what does not fit, for this
  // ServiceAccount only (system:masters, the admin, is exempt from APF).
  await admin.create(PriorityLevels, {
    metadata: { name: 'tiny' },
    spec: { type: 'Limited', limited: { assuredConcurrencyShares: 1, limitResponse: { type: 'Reject' } } },
  });
  await admin.create(FlowSchemas, {
    metadata: { name: 'busy' },
    spec: {
      priorityLevelConfiguration: { name: 'tiny' }, matchingPrecedence: 100, distinguisherMethod: { type: 'ByUser' },
      rules: [{ subjects: [{ kind: 'ServiceAccount', serviceAccount: { name: 'busy', namespace: NS } }], resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'] }] }],
    },
  });
  await Promise.all(Array.from({ length: 100 }, (_, i) => admin.create(ConfigMaps, { metadata: { name: `cm-${i}`, namespace: NS }, data: { payload: 'x'.repeat(2000) } })));
  limited = new Client(await serviceAccountKubeConfig(admin, cp.kubeConfig(), NS, 'busy'), { rateLimit: 'server', maxRetries: 20 });
});
after(async () => { await cp?.stop(); });

describe('API Priority and Fairness', () => {
  it('answers a flow over its share with 429 + Retry-After, which the client waits out until every request succeeds', async () => {
    const lists = await Promise.all(Array.from({ length: 40 }, () => limited.list(ConfigMaps, { namespace: NS })));
    assert.ok(lists.every((l) => l.items.length >= 100));
    const counts = limited.requests.snapshot();
    assert.equal(counts['LIST 200'], 40);
    assert.ok((counts['LIST 429'] ?? 0) > 0, `the server paced the burst: ${JSON.stringify(counts)}`);
  });

  it('makes the default policy drop its client-side bucket once a response carries APF headers', async () => {
    const client = new Client(cp.kubeConfig(), { rateLimit: 'server' });
    const limiter = client.limiter;
    assert.ok(limiter instanceof ServerPacedLimit);
    assert.equal(limiter.serverPaces, false);
    await client.list(Namespaces);
    assert.equal(limiter.serverPaces, true);
  });
});
