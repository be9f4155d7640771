// Secure metrics against a real API server: HTTPS, bearer tokens checked by TokenReview and
// SubjectAccessReview (sent with no more than the permissions the operator declares for them),
// and the operator's ptemplate_* series following a Ptemplate from creation to deletion.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { Ptemplates, type Ptemplate } from '../../src/ptemplate/api/schema.ts';
import { createOperator } from '../../src/ptemplate/operator.ts';
import { Client } from '../../src/runtime/client/client.ts';
import { NotFoundError } from '../../src/runtime/client/errors.ts';
import { SubjectAccessReviews, TokenReviews, type SubjectAccessReview } from '../../src/runtime/manager/auth.ts';
import { startHttpEndpoints, type HttpEndpoints } from '../../src/runtime/manager/http.ts';
import { policyRules } from '../../src/runtime/rbac.ts';
import { defineResource, ServiceAccounts } from '../../src/runtime/resource.ts';
import { CertSource } from '../../src/runtime/tls/cert-source.ts';
import { DEVICE_LABEL, startOperatorEnv, type OperatorEnv } from '../support/operator-env.ts';
import { waitFor } from '../support/wait.ts';

const rbac = (kind: string, plural: string) => defineResource({ group: 'rbac.authorization.k8s.io', version: 'v1', kind, plural, namespaced: false });
const ClusterRoles = rbac('ClusterRole', 'clusterroles');
const ClusterRoleBindings = rbac('ClusterRoleBinding', 'clusterrolebindings');

const NS = 'monitoring';

let env: OperatorEnv;
let certSource: CertSource;
let endpoints: HttpEndpoints;

/** A token for a ServiceAccount, from the TokenRequest API (no token controller needed). */
async function tokenFor(name: string): Promise<string> {
  await env.admin.create(ServiceAccounts, { metadata: { name, namespace: NS } });
  const review = await env.admin.request<{ status: { token: string } }>({
    method: 'POST', verb: 'CREATE', path: `/api/v1/namespaces/${NS}/serviceaccounts/${name}/token`,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  return review.status.token;
}

async function bindClusterRole(name: string, rules: unknown[], serviceAccount: string): Promise<void> {
  await env.admin.create(ClusterRoles, { metadata: { name }, rules });
  await env.admin.create(ClusterRoleBindings, {
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: NS }],
  });
}

/** Waits until the API server's authorizer sees a new binding (RBAC is read from an informer). */
async function waitUntilAllowed(serviceAccount: string, attributes: Pick<SubjectAccessReview['spec'], 'nonResourceAttributes' | 'resourceAttributes'>): Promise<void> {
  await waitFor(async () => {
    const review = await env.admin.create(SubjectAccessReviews, {
      metadata: {}, spec: { user: `system:serviceaccount:${NS}:${serviceAccount}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`], ...attributes },
    });
    return review.status?.allowed === true;
  }, { what: `RBAC allows ${serviceAccount} ${JSON.stringify(attributes)}` });
}

function clientWithToken(token: string): Client {
  const cluster = env.cp.kubeConfig().getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'testenv', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: 'sa', token }],
    contexts: [{ name: 'testenv', cluster: 'testenv', user: 'sa' }],
    currentContext: 'testenv',
  });
  return new Client(kc, { maxRetries: 0 });
}

function scrape(token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${endpoints.url}/metrics`, {
      ca: certSource.caPem!, agent: false, headers: token ? { authorization: `Bearer ${token}` } : {},
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let prometheusToken: string;
let nobodyToken: string;

before(async () => {
  env = await startOperatorEnv();
  await env.createNamespace(NS);

  // The reviews are sent with exactly the permissions the operator declares for secure metrics.
  const declared = createOperator({ kubeConfig: env.cp.kubeConfig(), secureMetrics: true }).manager.permissions()
    .filter((p) => p.group === TokenReviews.group || p.group === SubjectAccessReviews.group);
  await bindClusterRole('metrics-reviewer', policyRules(declared), 'reviewer');
  const reviewerToken = await tokenFor('reviewer');
  await waitUntilAllowed('reviewer', { resourceAttributes: { group: 'authorization.k8s.io', resource: 'subjectaccessreviews', verb: 'create' } });

  prometheusToken = await tokenFor('prometheus');
  nobodyToken = await tokenFor('nobody');
  await bindClusterRole('metrics-reader', [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }], 'prometheus');
  await waitUntilAllowed('prometheus', { nonResourceAttributes: { path: '/metrics', verb: 'get' } });

  certSource = CertSource.selfSigned({ commonName: 'metrics', ipAddresses: ['127.0.0.1'] });
  endpoints = await startHttpEndpoints({
    address: '127.0.0.1:0', registry: env.registry, secure: { certSource, client: clientWithToken(reviewerToken) },
  });
});

after(async () => {
  await endpoints?.close();
  certSource?.close();
  await env?.stop();
});

void describe('secure metrics', () => {
  void it('declares create on TokenReviews and SubjectAccessReviews only when secure metrics are on', () => {
    const groups = (secureMetrics: boolean) => createOperator({ kubeConfig: env.cp.kubeConfig(), secureMetrics }).manager.permissions()
      .filter((p) => p.group === TokenReviews.group || p.group === SubjectAccessReviews.group)
      .map((p) => `${p.verbs.join(',')} ${p.group}/${p.resource}`).sort();
    assert.deepEqual(groups(true), ['create authentication.k8s.io/tokenreviews', 'create authorization.k8s.io/subjectaccessreviews']);
    assert.deepEqual(groups(false), []);
  });

  void it('answers 401 without a token and with a token the API server does not know', async () => {
    const none = await scrape();
    assert.equal(none.status, 401);
    assert.doesNotMatch(none.body, /controller_runtime/);
    assert.equal((await scrape('not-a-real-token')).status, 401);
  });

  void it('answers 403 to a ServiceAccount without get on /metrics', async () => {
    const reply = await scrape(nobodyToken);
    assert.equal(reply.status, 403);
    assert.match(reply.body, /system:serviceaccount:monitoring:nobody/);
    assert.doesNotMatch(reply.body, /controller_runtime/);
  });

  void it('serves the reconcile metrics and one Ptemplate\'s series, and drops them when it is deleted', async () => {
    const key = { namespace: 'metrics-pt', name: 'pt' };
    await env.createNamespace(key.namespace);
    await env.admin.create(Ptemplates, { metadata: key, spec: { selector: { [DEVICE_LABEL]: 'true' } } } as unknown as Ptemplate);
    const labels = `namespace="${key.namespace}",name="${key.name}"`;
    // Two nodes carry the device label: the module loads on both and one consumer runs on each.
    const expected = [
      `ptemplate_condition{${labels},type="Ready",status="True"} 1`,
      `ptemplate_condition{${labels},type="Ready",status="False"} 0`,
      `ptemplate_condition{${labels},type="ModuleLoaded",status="True"} 1`,
      `ptemplate_condition{${labels},type="ConsumersReady",status="True"} 1`,
      `ptemplate_module_nodes_desired{${labels}} 2`,
      `ptemplate_module_nodes_available{${labels}} 2`,
      `ptemplate_consumers_desired{${labels}} 2`,
      `ptemplate_consumers_ready{${labels}} 2`,
    ];
    let last = '';
    const body = await waitFor(async () => {
      const reply = await scrape(prometheusToken);
      assert.equal(reply.status, 200, reply.body);
      last = reply.body;
      const lines = new Set(reply.body.split('\n'));
      return expected.every((l) => lines.has(l)) ? reply.body : undefined;
    }, { what: 'the Ptemplate\'s series at Ready', timeoutMs: 60_000 }).catch((err: Error) => {
      throw new Error(`${err.message}; ptemplate series: ${last.split('\n').filter((l) => l.startsWith('ptemplate_')).join('; ')}`);
    });
    assert.match(body, /^controller_runtime_reconcile_total\{controller="ptemplate",result="success"\} [1-9]\d*$/m);

    await env.admin.delete(Ptemplates, key);
    await waitFor(() => env.admin.get(Ptemplates, key).then(() => false, (err: unknown) => err instanceof NotFoundError),
      { what: 'the Ptemplate deleted', timeoutMs: 60_000 });
    await waitFor(async () => {
      const reply = await scrape(prometheusToken);
      return reply.status === 200 && !reply.body.includes(`namespace="${key.namespace}"`);
    }, { what: 'the Ptemplate\'s series removed' });
  });
});
