// The generated manifests against a real kube-apiserver: everything `ptemplate-operator manifests`
// prints (Deployment, Services, PodDisruptionBudget and webhook configuration included), the sample
// and the development Module CRD are accepted as rendered (YAML, parsed back), and the generated
// RBAC lets the operator's ServiceAccount do exactly what its code declares. The test control plane
// is Kubernetes 1.20, so the manifests are generated for it (`kubeVersion: '1.20'`); the default ones,
// for current Kubernetes, are checked offline against its OpenAPI schema (src/ptemplate/manifests-schema.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { moduleCrd } from '../../src/kmm/crd.ts';
import { withDefaults } from '../../src/ptemplate/api/defaults.ts';
import { Ptemplates, type Ptemplate, type PtemplateSpecInput } from '../../src/ptemplate/api/schema.ts';
import {
  allManifests, generateManifests, METRICS_READER_ROLE_NAME, operatorPermissions, renderYaml, samplePtemplate, SERVICE_ACCOUNT_NAME,
  splitByScope, splitLeaderElection,
} from '../../src/ptemplate/manifests.ts';
import { Client } from '../../src/runtime/client/client.ts';
import { InvalidError } from '../../src/runtime/client/errors.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { permissionKeys } from '../../src/runtime/rbac.ts';
import {
  apiVersionOf, CustomResourceDefinitions, defineResource, Namespaces, ServiceAccounts, type ResourceType,
} from '../../src/runtime/resource.ts';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { waitFor } from '../support/wait.ts';

/** What the test control plane runs. */
const KUBE = { kubeVersion: '1.20' };

const rbac = (kind: string, plural: string, namespaced: boolean) =>
  defineResource({ group: 'rbac.authorization.k8s.io', version: 'v1', kind, plural, namespaced });
const ClusterRoles = rbac('ClusterRole', 'clusterroles', false);
const ClusterRoleBindings = rbac('ClusterRoleBinding', 'clusterrolebindings', false);
const Roles = rbac('Role', 'roles', true);
const RoleBindings = rbac('RoleBinding', 'rolebindings', true);
const Deployments = defineResource({ group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true });
const Services = defineResource({ group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true });
const pdbs = (version: string) => defineResource({ group: 'policy', version, kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true });
const ValidatingWebhookConfigurations = defineResource({
  group: 'admissionregistration.k8s.io', version: 'v1', kind: 'ValidatingWebhookConfiguration', plural: 'validatingwebhookconfigurations', namespaced: false,
});
const SubjectAccessReviews = defineResource({
  group: 'authorization.k8s.io', version: 'v1', kind: 'SubjectAccessReview', plural: 'subjectaccessreviews', namespaced: false,
});

const types: ResourceType[] = [
  Namespaces, ServiceAccounts, CustomResourceDefinitions, ClusterRoles, ClusterRoleBindings, Roles, RoleBindings, Deployments, Ptemplates,
  Services, pdbs('v1beta1'), pdbs('v1'), ValidatingWebhookConfigurations,
];

function typeOf(obj: KubeObject): ResourceType {
  const rt = types.find((t) => apiVersionOf(t) === obj.apiVersion && t.kind === obj.kind);
  if (!rt) throw new Error(`no resource type for ${obj.apiVersion} ${obj.kind}`);
  return rt;
}

const describeObject = (o: KubeObject) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** What a file of config/ holds, parsed back from its YAML: the objects are sent as a user would send them. */
function roundTrip(objects: KubeObject[]): KubeObject[] {
  const parsed = parseAllDocuments(renderYaml(objects)).map((d) => d.toJS() as KubeObject);
  assert.deepEqual(parsed, objects, 'YAML round-trips');
  return parsed;
}

let cp: ControlPlane;
let admin: Client;

async function established(name: string): Promise<void> {
  await waitFor(async () => {
    const crd = await admin.get(CustomResourceDefinitions, { name });
    const conditions = (crd.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
    return conditions.some((c) => c.type === 'Established' && c.status === 'True');
  }, { what: `CRD ${name} established` });
}

async function ensureNamespace(name: string): Promise<void> {
  await admin.apply(Namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

async function dryRunApply(obj: KubeObject): Promise<KubeObject> {
  try {
    return await admin.apply(typeOf(obj), obj, { dryRun: true });
  } catch (err) {
    throw new Error(`${describeObject(obj)} was refused: ${(err as Error).message}`, { cause: err });
  }
}

/** Whether the operator's ServiceAccount may `verb group/resource[/subresource]` (in `namespace`, if given). */
async function saMay(operatorNamespace: string, key: string, namespace?: string): Promise<boolean> {
  const [verb, groupResource] = key.split(' ') as [string, string];
  const slash = groupResource.indexOf('/');
  const [resource, subresource] = groupResource.slice(slash + 1).split('/');
  return allowed(`system:serviceaccount:${operatorNamespace}:${SERVICE_ACCOUNT_NAME}`, operatorNamespace, {
    resourceAttributes: {
      verb, group: groupResource.slice(0, slash), resource, ...(subresource ? { subresource } : {}), ...(namespace ? { namespace } : {}),
    },
  });
}

/** Whether ServiceAccount `namespace/name` may `verb` the non-resource URL `path`. */
async function saMayUrl(namespace: string, name: string, verb: string, path: string): Promise<boolean> {
  return allowed(`system:serviceaccount:${namespace}:${name}`, namespace, { nonResourceAttributes: { verb, path } });
}

async function allowed(user: string, saNamespace: string, attributes: Record<string, unknown>): Promise<boolean> {
  const review = await admin.create(SubjectAccessReviews, {
    metadata: {},
    spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${saNamespace}`, 'system:authenticated'], ...attributes },
  });
  return (review.status as { allowed?: boolean } | undefined)?.allowed === true;
}

/** Whether the API server serves `group/version` (discovery). */
async function serves(groupVersion: string): Promise<boolean> {
  const [group] = groupVersion.split('/');
  const discovery = await admin.request<{ versions?: { groupVersion: string }[] }>({ method: 'GET', path: `/apis/${group}` });
  return (discovery.versions ?? []).some((v) => v.groupVersion === groupVersion);
}

/**
 * kubernetes#99804: kube-apiserver 1.20 built with Go >= 1.16 (as the test control plane is) takes every
 * empty string in a custom resource for null and refuses it. Fixed upstream in 1.21.
 */
async function refusesEmptyStrings(): Promise<boolean> {
  const probe = { metadata: { name: 'empty-string-probe', namespace: 'default' }, spec: { selector: { probe: '' } } };
  try {
    await admin.create(Ptemplates, probe as unknown as Ptemplate, { dryRun: true });
    return false;
  } catch (err) {
    if (err instanceof InvalidError && err.message.includes('spec.selector.probe in body must be of type string: "null"')) return true;
    throw err;
  }
}

let crdsCreated: Promise<void> | undefined;

/** Creates both CRDs for real (once per run, whichever test needs them first) and waits until they are established. */
function createCrds(): Promise<void> {
  crdsCreated ??= (async () => {
    const crds = [...allManifests(KUBE).filter((o) => o.kind === 'CustomResourceDefinition'), moduleCrd()];
    assert.equal(crds.length, 2);
    for (const crd of roundTrip(crds)) await admin.create(CustomResourceDefinitions, crd);
    for (const crd of crds) await established(crd.metadata.name!);
  })();
  return crdsCreated;
}

/** Applies the RBAC part of an install for real (namespaces first). */
async function installRbac(objects: KubeObject[]): Promise<void> {
  for (const obj of objects) {
    if (obj.kind === 'ServiceAccount' || obj.kind?.endsWith('Role') || obj.kind?.endsWith('RoleBinding')) {
      if (obj.metadata.namespace) await ensureNamespace(obj.metadata.namespace);
      await admin.apply(typeOf(obj), obj);
    }
  }
}

before(async () => {
  cp = await ControlPlane.start({ controllerManager: false, scheduler: false });
  admin = new Client(cp.kubeConfig());
});

after(async () => {
  await cp?.stop();
});

void describe('generated manifests on a real API server', () => {
  void it('creates the Ptemplate CRD and the development Module CRD, and both become established', async () => {
    await createCrds();
  });

  void it('accepts every object of the default install by server-side dry-run apply', async () => {
    await createCrds();
    const objects = roundTrip(allManifests(KUBE));
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'ValidatingWebhookConfiguration', 'Role']) {
      assert.ok(objects.some((o) => o.kind === kind), `${kind} in the default install`);
    }
    const namespaces = objects.filter((o) => o.kind === 'Namespace');
    assert.equal(namespaces.length, 1);
    // Namespaced objects can only be dry-run in a namespace that exists.
    for (const ns of namespaces) {
      await dryRunApply(ns);
      await admin.create(Namespaces, ns);
    }
    for (const obj of objects) {
      if (obj.kind === 'Namespace') continue;
      const accepted = await dryRunApply(obj);
      assert.equal(accepted.metadata.name, obj.metadata.name);
    }
  });

  void it('accepts the namespace-scoped install (Role and RoleBinding in the watched namespace)', async () => {
    const objects = roundTrip(allManifests({ ...KUBE, namespace: 'ops-scoped', watchNamespace: 'team-a' }));
    assert.ok(objects.some((o) => o.kind === 'Role' && o.metadata.namespace === 'team-a'));
    await ensureNamespace('team-a');
    for (const ns of objects.filter((o) => o.kind === 'Namespace')) await admin.create(Namespaces, ns);
    for (const obj of objects.filter((o) => o.kind !== 'Namespace')) await dryRunApply(obj);
  });

  void it('accepts the sample Ptemplate once its CRD is established, and the server defaults it as the operator does', async (t) => {
    const [parsed] = roundTrip([samplePtemplate()]);
    await createCrds();
    let sample = parsed!;
    if (await refusesEmptyStrings()) {
      // The sample's `node-role.kubernetes.io/worker: ""` is a valid string for the schema; only this
      // server's bug refuses it. Everything else is still checked as written.
      t.diagnostic('this kube-apiserver refuses empty strings in custom resources (kubernetes#99804): the selector value "" is sent as "true"');
      const spec = sample.spec as { selector: Record<string, string> };
      sample = { ...sample, spec: { ...spec, selector: Object.fromEntries(Object.entries(spec.selector).map(([k, v]) => [k, v || 'true'])) } };
    }
    const accepted = await dryRunApply(sample);
    assert.deepEqual(accepted.spec, withDefaults(sample.spec as PtemplateSpecInput));
  });

  void it('differs for current Kubernetes only in what 1.20 does not serve (the PodDisruptionBudget\'s policy/v1)', async (t) => {
    const current = allManifests({ namespace: 'ops-pdb' });
    const old = allManifests({ ...KUBE, namespace: 'ops-pdb' });
    const pdbOf = (objects: KubeObject[]) => objects.find((o) => o.kind === 'PodDisruptionBudget')!;
    assert.deepEqual(current.map((o) => o === pdbOf(current) ? { ...o, apiVersion: 'policy/v1beta1' } : o), old);
    assert.equal(pdbOf(current).apiVersion, 'policy/v1');
    if (!(await serves('policy/v1'))) {
      t.diagnostic('this API server does not serve policy/v1 (Kubernetes 1.20): `--kube-version 1.20` is the install for it');
      assert.ok(await serves('policy/v1beta1'));
      return;
    }
    await ensureNamespace('ops-pdb');
    await dryRunApply(roundTrip([pdbOf(current)])[0]!);
  });

  void it('writes every config/ file as YAML that parses back to the objects it was rendered from', () => {
    for (const file of generateManifests()) roundTrip(file.objects);
    for (const file of generateManifests({ watchNamespace: 'team-a' })) roundTrip(file.objects);
  });
});

void describe('generated RBAC, evaluated by the API server', () => {
  void it('lets the operator ServiceAccount do everything its code declares, cluster-wide, and never get a Secret', async () => {
    const namespace = 'ops-cluster';
    await installRbac(allManifests({ ...KUBE, namespace }));
    const { manager, leaderElection } = splitLeaderElection(operatorPermissions());
    const keys = [...permissionKeys(manager)];
    assert.ok(keys.length > 0);
    for (const key of keys) assert.ok(await saMay(namespace, key), `ServiceAccount may ${key}`);
    assert.equal(await saMay(namespace, 'get /secrets', 'default'), false, 'no get on secrets');
    assert.equal(await saMay(namespace, 'delete pt.example.com/ptemplates', 'default'), false, 'nothing beyond what the code declares');
    const leaseKeys = [...permissionKeys(leaderElection)];
    assert.ok(leaseKeys.length > 0);
    for (const key of leaseKeys) {
      assert.ok(await saMay(namespace, key, namespace), `ServiceAccount may ${key} in its own namespace`);
      assert.equal(await saMay(namespace, key, 'kube-system'), false, `ServiceAccount may not ${key} in kube-system`);
    }
  });

  void it('lets a ServiceAccount bound to the metrics-reader role get /metrics, and nothing else', async () => {
    const namespace = 'monitoring-test';
    const [reader] = allManifests(KUBE).filter((o) => o.kind === 'ClusterRole' && o.metadata.name === METRICS_READER_ROLE_NAME);
    await admin.apply(ClusterRoles, reader!);
    await ensureNamespace(namespace);
    await admin.apply(ClusterRoleBindings, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'prometheus-reads-ptemplate-operator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: METRICS_READER_ROLE_NAME },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace }],
    });
    // The API server's RBAC authorizer sees the new binding through its own watch: wait for it.
    await waitFor(() => saMayUrl(namespace, 'prometheus', 'get', '/metrics'), { what: 'the metrics-reader binding in effect' });
    assert.equal(await saMayUrl(namespace, 'prometheus', 'get', '/debug/pprof'), false);
    assert.equal(await allowed(`system:serviceaccount:${namespace}:prometheus`, namespace, {
      resourceAttributes: { verb: 'list', group: 'pt.example.com', resource: 'ptemplates' },
    }), false);
  });

  void it('in namespace-scoped mode allows namespaced resources only in the watched namespace and nodes cluster-wide', async () => {
    const namespace = 'ops-ns';
    await installRbac(allManifests({ ...KUBE, namespace, watchNamespace: 'team-b' }));
    const { namespaced, cluster } = splitByScope(splitLeaderElection(operatorPermissions('team-b')).manager);
    for (const key of permissionKeys(namespaced)) {
      assert.ok(await saMay(namespace, key, 'team-b'), `ServiceAccount may ${key} in team-b`);
      assert.equal(await saMay(namespace, key, 'elsewhere'), false, `ServiceAccount may not ${key} in another namespace`);
    }
    for (const key of permissionKeys(cluster)) assert.ok(await saMay(namespace, key), `ServiceAccount may ${key}`);
  });
});
