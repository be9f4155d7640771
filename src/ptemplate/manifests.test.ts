import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../runtime/object.ts';
import { permissionKeys, policyRules, type PolicyRule } from '../runtime/rbac.ts';
import { validatePtemplate } from './api/validate.ts';
import { withDefaults } from './api/defaults.ts';
import type { Ptemplate } from './api/schema.ts';
import {
  allManifests, DEFAULT_IMAGE, DEFAULT_NAMESPACE, generateManifests, MANAGER_ROLE_NAME, operatorPermissions,
  renderFile, renderYaml, samplePtemplate, writeConfig,
} from './manifests.ts';

const configDir = fileURLToPath(new URL('../../config', import.meta.url));

function objectsOf(kind: string, objects: KubeObject[] = generateManifests().flatMap((f) => f.objects)): KubeObject[] {
  return objects.filter((o) => o.kind === kind);
}

function one(kind: string, name: string, objects?: KubeObject[]): KubeObject {
  const found = objectsOf(kind, objects).filter((o) => o.metadata.name === name);
  assert.equal(found.length, 1, `exactly one ${kind} ${name}`);
  return found[0]!;
}

const rulesOf = (o: KubeObject) => o.rules as PolicyRule[];

/** `verb group/resource` for every verb and resource a list of rules grants. */
function grants(rules: PolicyRule[]): Set<string> {
  const out = new Set<string>();
  for (const r of rules) for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.add(`${v} ${g}/${res}`);
  return out;
}

interface Container {
  name: string; image: string; command: string[]; args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: number } };
  readinessProbe: { httpGet: { path: string; port: number } };
  resources: unknown;
  securityContext: unknown;
}
interface PodSpec { serviceAccountName: string; terminationGracePeriodSeconds: number; securityContext: unknown; containers: Container[] }

function podSpec(deployment: KubeObject): PodSpec {
  return (deployment.spec as { template: { spec: PodSpec } }).template.spec;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/')).sort();
}

void describe('manager RBAC', () => {
  void it('grants exactly the rules derived from the permissions the operator code declares', () => {
    const role = one('ClusterRole', MANAGER_ROLE_NAME);
    assert.deepEqual(rulesOf(role), policyRules(operatorPermissions()));
    assert.ok(rulesOf(role).length > 0);
  });

  void it('uses no wildcard verbs, resources or API groups', () => {
    for (const r of [...objectsOf('ClusterRole'), ...objectsOf('Role')].flatMap(rulesOf)) {
      for (const field of [r.apiGroups, r.resources, r.verbs]) assert.ok(!field.some((v) => v.includes('*')), JSON.stringify(r));
    }
  });

  void it('never lets the operator get a Secret (it sees their metadata through list and watch only)', () => {
    const granted = grants(rulesOf(one('ClusterRole', MANAGER_ROLE_NAME)));
    assert.ok(!granted.has('get /secrets'));
    assert.ok(granted.has('list /secrets') && granted.has('watch /secrets'));
  });

  void it('binds the manager role to the operator ServiceAccount in the operator namespace', () => {
    const files = generateManifests({ namespace: 'ops' });
    const all = files.flatMap((f) => f.objects);
    const sa = one('ServiceAccount', 'ptemplate-operator', all);
    assert.equal(sa.metadata.namespace, 'ops');
    const crb = one('ClusterRoleBinding', MANAGER_ROLE_NAME, all);
    assert.deepEqual(crb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: MANAGER_ROLE_NAME });
    assert.deepEqual(crb.subjects, [{ kind: 'ServiceAccount', name: 'ptemplate-operator', namespace: 'ops' }]);
  });

  void it('in namespace-scoped mode grants namespaced resources through a Role in the watched namespace and only nodes cluster-wide', () => {
    const all = generateManifests({ namespace: 'ops', watchNamespace: 'team-a' }).flatMap((f) => f.objects);
    const clusterRole = one('ClusterRole', MANAGER_ROLE_NAME, all);
    const role = one('Role', MANAGER_ROLE_NAME, all);
    assert.equal(role.metadata.namespace, 'team-a');
    assert.deepEqual([...grants(rulesOf(clusterRole))].sort(), ['list /nodes', 'watch /nodes']);
    const roleGrants = grants(rulesOf(role));
    assert.ok(![...roleGrants].some((g) => g.endsWith(' /nodes')), 'nodes are cluster-scoped: no Role can grant them');
    assert.deepEqual(new Set([...roleGrants, ...grants(rulesOf(clusterRole))]), permissionKeys(operatorPermissions('team-a')),
      'together they grant exactly what the code declares');
    const rb = one('RoleBinding', MANAGER_ROLE_NAME, all);
    assert.equal(rb.metadata.namespace, 'team-a');
    assert.deepEqual(rb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: MANAGER_ROLE_NAME });
    assert.deepEqual(rb.subjects, [{ kind: 'ServiceAccount', name: 'ptemplate-operator', namespace: 'ops' }]);
    assert.equal(one('ClusterRoleBinding', MANAGER_ROLE_NAME, all).metadata.namespace, undefined);
    const env = podSpec(one('Deployment', 'ptemplate-operator', all)).containers[0]!.env;
    assert.deepEqual(env.find((e) => e.name === 'WATCH_NAMESPACE'), { name: 'WATCH_NAMESPACE', value: 'team-a' });
    const kustomization = generateManifests({ watchNamespace: 'team-a' }).find((f) => f.path === 'default/kustomization.yaml')!;
    assert.equal(kustomization.objects[0]!.namespace, undefined, 'kustomize must not move the Role out of the watched namespace');
  });
});

void describe('user-facing roles', () => {
  void it('aggregates a Ptemplate editor into admin/edit and a viewer into view, without write verbs for viewers', () => {
    const editor = one('ClusterRole', 'ptemplate-editor');
    const viewer = one('ClusterRole', 'ptemplate-viewer');
    assert.equal(editor.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-edit'], 'true');
    assert.equal(viewer.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-view'], 'true');
    assert.ok(grants(rulesOf(editor)).has('create pt.example.com/ptemplates'));
    assert.deepEqual([...grants(rulesOf(viewer))].map((g) => g.split(' ')[0]).filter((v) => !['get', 'list', 'watch'].includes(v!)), []);
  });
});

void describe('manager Deployment', () => {
  const deployment = one('Deployment', 'ptemplate-operator');
  const pod = podSpec(deployment);
  const container = pod.containers[0]!;

  void it('runs one replica of the manager with the default image in the default namespace', () => {
    assert.equal(deployment.metadata.namespace, DEFAULT_NAMESPACE);
    assert.equal((deployment.spec as { replicas: number }).replicas, 1);
    assert.equal(pod.containers.length, 1);
    assert.equal(container.name, 'manager');
    assert.equal(container.image, DEFAULT_IMAGE);
    assert.deepEqual(container.command, ['ptemplate-operator', 'run']);
    assert.deepEqual(container.args, ['--log-format=json']);
    assert.equal(pod.serviceAccountName, 'ptemplate-operator');
    assert.equal(pod.terminationGracePeriodSeconds, 30);
  });

  void it('locks the pod down: non-root, RuntimeDefault seccomp, no privilege escalation, read-only root, no capabilities', () => {
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    assert.deepEqual(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  void it('exposes metrics and health ports, probes /healthz and /readyz, and bounds its resources', () => {
    assert.deepEqual(container.ports.map((p) => [p.name, p.containerPort]), [['metrics', 8080], ['health', 8081]]);
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 8081 });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 8081 });
    assert.deepEqual(container.resources, { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
  });

  void it('tells the manager its pod name and namespace through the downward API', () => {
    assert.deepEqual(container.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]), [['POD_NAME', 'metadata.name'], ['POD_NAMESPACE', 'metadata.namespace']]);
  });

  void it('takes namespace and image from the options', () => {
    const d = one('Deployment', 'ptemplate-operator', allManifests({ namespace: 'ops', image: 'registry.local/op:1.2.3' }));
    assert.equal(d.metadata.namespace, 'ops');
    assert.equal(podSpec(d).containers[0]!.image, 'registry.local/op:1.2.3');
  });
});

void describe('allManifests', () => {
  void it('lists the default install in apply order, without samples or the development CRD', () => {
    assert.deepEqual(allManifests().map((o) => `${o.kind}/${o.metadata.name}`), [
      `Namespace/${DEFAULT_NAMESPACE}`,
      'CustomResourceDefinition/ptemplates.pt.example.com',
      'ServiceAccount/ptemplate-operator',
      `ClusterRole/${MANAGER_ROLE_NAME}`,
      'ClusterRole/ptemplate-editor',
      'ClusterRole/ptemplate-viewer',
      `ClusterRoleBinding/${MANAGER_ROLE_NAME}`,
      'Deployment/ptemplate-operator',
    ]);
  });
});

void describe('sample Ptemplate', () => {
  void it('passes the operator validation and already shows the defaults it spells out', () => {
    const sample = samplePtemplate();
    const defaulted = { ...sample, spec: withDefaults(sample.spec) } as Ptemplate;
    assert.deepEqual(validatePtemplate(defaulted), []);
    for (const [field, value] of Object.entries(sample.spec)) {
      assert.deepEqual(defaulted.spec[field as keyof Ptemplate['spec']], value, field);
    }
  });
});

void describe('renderYaml', () => {
  void it('starts with a do-not-edit header and round-trips every object', () => {
    const objects = allManifests();
    const text = renderYaml(objects);
    assert.match(text.split('\n')[0]!, /^# Generated by `ptemplate-operator manifests`.*DO NOT EDIT/);
    assert.deepEqual(parseAllDocuments(text).map((d) => d.toJS() as unknown), objects);
  });

  void it('quotes strings a YAML 1.1 reader would take for booleans or numbers, and never uses aliases', () => {
    const shared = { a: 'x' };
    const text = renderYaml([{ metadata: { name: 'n', labels: { on: 'yes', v: '0755' } }, one: shared, two: shared }]);
    assert.match(text, /^ {4}"on": "yes"$/m);
    assert.match(text, /^ {4}v: "0755"$/m);
    assert.match(text, /^one:\n {2}a: x\ntwo:\n {2}a: x\n$/m);
  });
});

void describe('config/', () => {
  void it('holds exactly what generateManifests renders (run `npm run manifests` after changing the code)', async () => {
    const files = generateManifests();
    const expected = files.map((f) => f.path).sort();
    assert.deepEqual(await filesUnder(configDir), expected,
      'config/ has missing or extra files: it is generated, run `npm run manifests` instead of editing it');
    for (const file of files) {
      const committed = await readFile(join(configDir, file.path), 'utf8');
      assert.ok(committed === renderFile(file),
        `config/${file.path} differs from what the code generates: it is generated, run \`npm run manifests\` instead of editing it`);
    }
  });

  void it('writeConfig writes every file, rewrites only changed ones and removes stale generated ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ptemplate-manifests-'));
    try {
      const first = await writeConfig(dir);
      assert.deepEqual(first.sort(), generateManifests().map((f) => f.path).sort());
      assert.deepEqual(await writeConfig(dir), [], 'nothing to rewrite');
      const stale = renderYaml([]);
      await writeFile(join(dir, 'rbac', 'old_role.yaml'), stale);
      await writeFile(join(dir, 'rbac', 'handwritten.yaml'), 'kind: Foo\n');
      await writeFile(join(dir, 'manager', 'manager.yaml'), 'edited by hand\n');
      assert.deepEqual(await writeConfig(dir), ['manager/manager.yaml']);
      const left = await filesUnder(dir);
      assert.ok(!left.includes('rbac/old_role.yaml'), 'a stale generated file is removed');
      assert.ok(left.includes('rbac/handwritten.yaml'), 'a file without the generated header is kept');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
