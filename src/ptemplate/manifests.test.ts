import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { leaderElectionPermissions } from '../runtime/leaderelection/leader-election.ts';
import { delegatedAuthPermissions } from '../runtime/manager/auth.ts';
import { caBundlePermissions } from '../runtime/webhook/ca-bundle.ts';
import type { KubeObject } from '../runtime/object.ts';
import { permissionKeys, policyRules, type PolicyRule } from '../runtime/rbac.ts';
import { validatePtemplate } from './api/validate.ts';
import { withDefaults } from './api/defaults.ts';
import type { Ptemplate } from './api/schema.ts';
import {
  allManifests, DEFAULT_IMAGE, DEFAULT_NAMESPACE, DEPLOYMENT_FEATURES, generateManifests, LEADER_ELECTION_ID, LEADER_ELECTION_ROLE_NAME, MANAGER_ROLE_NAME,
  METRICS_CERT_DIR, METRICS_CERT_SECRET, METRICS_READER_ROLE_NAME, METRICS_SERVICE_NAME, operatorPermissions, renderFile, renderYaml,
  samplePtemplate, splitLeaderElection, WEBHOOK_CERT_DIR, WEBHOOK_CERT_SECRET, WEBHOOK_SERVICE_NAME, writeConfig, writeGenerated,
} from './manifests.ts';
import { PTEMPLATE_WEBHOOK_PATH, ptemplateWebhookConfiguration } from './webhook.ts';

const configDir = fileURLToPath(new URL('../../config', import.meta.url));
const repoDir = fileURLToPath(new URL('../..', import.meta.url));

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
  name: string; image: string; command?: string[]; args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: number } };
  readinessProbe: { httpGet: { path: string; port: number } };
  resources: unknown;
  securityContext: unknown;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  serviceAccountName: string; terminationGracePeriodSeconds: number; securityContext: unknown; containers: Container[];
  affinity?: { podAntiAffinity?: { preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; podAffinityTerm: { labelSelector: unknown; topologyKey: string } }[] } };
  volumes: { name: string; secret?: { secretName: string; optional?: boolean } }[];
}
interface ServiceSpec { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string | number; protocol: string }[] }

function podSpec(deployment: KubeObject): PodSpec {
  return (deployment.spec as { template: { spec: PodSpec } }).template.spec;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/')).sort();
}

void describe('manager RBAC', () => {
  void it('grants exactly the rules derived from the permissions the operator code declares, leases aside', () => {
    const role = one('ClusterRole', MANAGER_ROLE_NAME);
    assert.deepEqual(rulesOf(role), policyRules(splitLeaderElection(operatorPermissions()).manager));
    assert.ok(rulesOf(role).length > 0);
    assert.ok(![...grants(rulesOf(role))].some((g) => g.includes('/leases')), 'no lease in the cluster-wide role');
  });

  void it('includes what the Deployment turns on: the secure metrics reviews, the leader-election lease, the webhook caBundle', () => {
    assert.deepEqual(DEPLOYMENT_FEATURES, { leaderElection: true, secureMetrics: true, webhook: true });
    const declared = permissionKeys(operatorPermissions());
    for (const key of permissionKeys([...delegatedAuthPermissions(), ...leaderElectionPermissions(), ...caBundlePermissions()])) {
      assert.ok(declared.has(key), key);
    }
    assert.ok(podSpec(one('Deployment', 'ptemplate-operator')).containers[0]!.args.includes('--leader-elect'));
  });

  void it('grants the leader election its Lease through a Role in the operator namespace only', () => {
    const all = generateManifests({ namespace: 'ops' }).flatMap((f) => f.objects);
    const role = one('Role', LEADER_ELECTION_ROLE_NAME, all);
    assert.equal(role.metadata.namespace, 'ops');
    assert.deepEqual(grants(rulesOf(role)), permissionKeys(leaderElectionPermissions()));
    const rb = one('RoleBinding', LEADER_ELECTION_ROLE_NAME, all);
    assert.equal(rb.metadata.namespace, 'ops');
    assert.deepEqual(rb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: LEADER_ELECTION_ROLE_NAME });
    assert.deepEqual(rb.subjects, [{ kind: 'ServiceAccount', name: 'ptemplate-operator', namespace: 'ops' }]);
    const scoped = generateManifests({ namespace: 'ops', watchNamespace: 'team-a' }).flatMap((f) => f.objects);
    assert.equal(one('Role', LEADER_ELECTION_ROLE_NAME, scoped).metadata.namespace, 'ops', 'the lease stays in the operator namespace');
  });

  void it('offers a metrics-reader ClusterRole allowing only `get /metrics`, for whoever scrapes the operator', () => {
    assert.deepEqual(one('ClusterRole', METRICS_READER_ROLE_NAME).rules, [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
  });

  void it('uses no wildcard verbs, resources, API groups or URLs', () => {
    for (const r of [...objectsOf('ClusterRole'), ...objectsOf('Role')].flatMap(rulesOf)) {
      const { nonResourceURLs } = r as PolicyRule & { nonResourceURLs?: string[] };
      for (const field of [r.apiGroups, r.resources, r.verbs, nonResourceURLs]) assert.ok(!field?.some((v) => v.includes('*')), JSON.stringify(r));
      assert.ok(r.verbs.length > 0 && (r.resources?.length ?? nonResourceURLs?.length), JSON.stringify(r));
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

  void it('in namespace-scoped mode grants namespaced resources through a Role in the watched namespace and only cluster-scoped ones cluster-wide', () => {
    const all = generateManifests({ namespace: 'ops', watchNamespace: 'team-a' }).flatMap((f) => f.objects);
    const clusterRole = one('ClusterRole', MANAGER_ROLE_NAME, all);
    const role = one('Role', MANAGER_ROLE_NAME, all);
    assert.equal(role.metadata.namespace, 'team-a');
    assert.deepEqual([...grants(rulesOf(clusterRole))].sort(), [
      'create authentication.k8s.io/tokenreviews', 'create authorization.k8s.io/subjectaccessreviews', 'get /nodes', 'list /nodes',
      'list admissionregistration.k8s.io/validatingwebhookconfigurations', 'patch /nodes', 'patch admissionregistration.k8s.io/validatingwebhookconfigurations',
      'watch /nodes', 'watch admissionregistration.k8s.io/validatingwebhookconfigurations',
    ]);
    const roleGrants = grants(rulesOf(role));
    assert.ok(![...roleGrants].some((g) => g.endsWith(' /nodes')), 'nodes are cluster-scoped: no Role can grant them');
    const leases = grants(rulesOf(one('Role', LEADER_ELECTION_ROLE_NAME, all)));
    assert.deepEqual(new Set([...roleGrants, ...grants(rulesOf(clusterRole)), ...leases]), permissionKeys(operatorPermissions('team-a')),
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

  void it('runs two replicas of the manager with the default image in the default namespace, under leader election', () => {
    assert.equal(deployment.metadata.namespace, DEFAULT_NAMESPACE);
    assert.equal((deployment.spec as { replicas: number }).replicas, 2);
    assert.equal(pod.containers.length, 1);
    assert.equal(container.name, 'manager');
    assert.equal(container.image, DEFAULT_IMAGE);
    assert.equal(container.command, undefined, "the image's entrypoint (node bin/ptemplate-operator.js) runs");
    assert.deepEqual(container.args, [
      'run', '--log-format=json', '--leader-elect', `--leader-election-id=${LEADER_ELECTION_ID}`, '--metrics-bind-address=:8443', '--metrics-secure',
      `--metrics-cert-dir=${METRICS_CERT_DIR}`, '--health-probe-bind-address=:8081', '--webhook-bind-address=:9443',
      `--webhook-cert-dir=${WEBHOOK_CERT_DIR}`, `--webhook-service=${WEBHOOK_SERVICE_NAME}`,
    ]);
    assert.equal(pod.serviceAccountName, 'ptemplate-operator');
    assert.equal(pod.terminationGracePeriodSeconds, 30);
  });

  void it('passes only flags that `ptemplate-operator run` knows (an unknown one would crash-loop the pod)', () => {
    const help = spawnSync(process.execPath, [join(repoDir, 'bin', 'ptemplate-operator.js'), 'help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    for (const arg of container.args.slice(1)) {
      const flag = /^--[a-z-]+/.exec(arg)?.[0];
      assert.ok(flag, `${arg} is a flag`);
      assert.match(help.stdout, new RegExp(`^\\s+${flag}[ =[]`, 'm'), `${flag} in the CLI's usage`);
    }
  });

  void it('prefers to spread the replicas over nodes without requiring it', () => {
    const terms = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.equal(terms.length, 1);
    assert.deepEqual(terms[0]!.podAffinityTerm, {
      labelSelector: (deployment.spec as { selector: unknown }).selector, topologyKey: 'kubernetes.io/hostname',
    });
    assert.equal((pod.affinity?.podAntiAffinity as Record<string, unknown>).requiredDuringSchedulingIgnoredDuringExecution, undefined);
  });

  void it('mounts the optional webhook and metrics certificate Secrets read-only where the flags point', () => {
    assert.deepEqual(pod.volumes, [
      { name: 'webhook-cert', secret: { secretName: WEBHOOK_CERT_SECRET, optional: true } },
      { name: 'metrics-cert', secret: { secretName: METRICS_CERT_SECRET, optional: true } },
    ]);
    assert.deepEqual(container.volumeMounts, [
      { name: 'webhook-cert', mountPath: WEBHOOK_CERT_DIR, readOnly: true },
      { name: 'metrics-cert', mountPath: METRICS_CERT_DIR, readOnly: true },
    ]);
  });

  void it('locks the pod down: non-root, RuntimeDefault seccomp, no privilege escalation, read-only root, no capabilities', () => {
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    assert.deepEqual(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  void it('exposes metrics, health and webhook ports, probes /healthz and /readyz, and bounds its resources', () => {
    assert.deepEqual(container.ports.map((p) => [p.name, p.containerPort]), [['metrics', 8443], ['health', 8081], ['webhook-server', 9443]]);
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 8081 });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 8081 });
    assert.deepEqual(container.resources, { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '512Mi' } });
  });

  void it('tells the manager its pod name and namespace, and the namespaces OLM targets ("" and so all without OLM)', () => {
    assert.deepEqual(container.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]), [
      ['POD_NAME', 'metadata.name'], ['POD_NAMESPACE', 'metadata.namespace'], ['WATCH_NAMESPACE', "metadata.annotations['olm.targetNamespaces']"],
    ]);
  });

  void it('takes namespace and image from the options', () => {
    const d = one('Deployment', 'ptemplate-operator', allManifests({ namespace: 'ops', image: 'registry.local/op:1.2.3' }));
    assert.equal(d.metadata.namespace, 'ops');
    assert.equal(podSpec(d).containers[0]!.image, 'registry.local/op:1.2.3');
  });
});

void describe('PodDisruptionBudget', () => {
  const selectorOf = (o: KubeObject) => (o.spec as { selector: unknown }).selector;

  void it('keeps at least one manager pod through voluntary disruptions, as policy/v1 (current Kubernetes) by default', () => {
    const pdb = one('PodDisruptionBudget', 'ptemplate-operator');
    assert.equal(pdb.apiVersion, 'policy/v1');
    assert.equal((pdb.spec as { minAvailable: number }).minAvailable, 1);
    assert.deepEqual(selectorOf(pdb), selectorOf(one('Deployment', 'ptemplate-operator')));
  });

  void it('is generated as policy/v1beta1 for Kubernetes 1.20, which serves nothing newer', () => {
    for (const kubeVersion of ['1.20', 'v1.20.2']) {
      const all = generateManifests({ kubeVersion }).flatMap((f) => f.objects);
      assert.equal(one('PodDisruptionBudget', 'ptemplate-operator', all).apiVersion, 'policy/v1beta1');
    }
    const newer = generateManifests({ kubeVersion: '1.21' }).flatMap((f) => f.objects);
    assert.equal(one('PodDisruptionBudget', 'ptemplate-operator', newer).apiVersion, 'policy/v1');
  });

  void it('refuses a Kubernetes version it cannot generate for', () => {
    assert.throws(() => generateManifests({ kubeVersion: '1.19' }), /oldest is 1.20/);
    assert.throws(() => generateManifests({ kubeVersion: 'latest' }), /must look like 1.28/);
  });
});

void describe('Services', () => {
  const deployment = one('Deployment', 'ptemplate-operator');
  const pod = podSpec(deployment);
  const podLabels = (deployment.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
  const containerPort = (name: string) => pod.containers[0]!.ports.find((p) => p.name === name)?.containerPort;

  void it('serves metrics on 8443 (https) from the pods\' metrics port', () => {
    const spec = one('Service', METRICS_SERVICE_NAME).spec as ServiceSpec;
    assert.deepEqual(spec.selector, podLabels);
    assert.deepEqual(spec.ports, [{ name: 'https', port: 8443, targetPort: 'metrics', protocol: 'TCP' }]);
    assert.equal(containerPort('metrics'), 8443);
  });

  void it('serves the webhook on 443, forwarded to the pods\' 9443', () => {
    const spec = one('Service', WEBHOOK_SERVICE_NAME).spec as ServiceSpec;
    assert.deepEqual(spec.selector, podLabels);
    assert.deepEqual(spec.ports, [{ name: 'https', port: 443, targetPort: 'webhook-server', protocol: 'TCP' }]);
    assert.equal(containerPort('webhook-server'), 9443);
  });
});

void describe('validating webhook', () => {
  void it('is the configuration the webhook code defines, calling the webhook Service in the operator namespace, without a caBundle', () => {
    const all = generateManifests({ namespace: 'ops' }).flatMap((f) => f.objects);
    const config = objectsOf('ValidatingWebhookConfiguration', all);
    assert.equal(config.length, 1);
    const expected = ptemplateWebhookConfiguration({ serviceName: WEBHOOK_SERVICE_NAME, namespace: 'ops', path: PTEMPLATE_WEBHOOK_PATH });
    const { labels: _labels, ...metadata } = config[0]!.metadata;
    assert.deepEqual({ ...config[0]!, metadata }, expected);
    const [webhook] = (config[0]! as unknown as { webhooks: { clientConfig: { service: { name: string; namespace: string; port: number }; caBundle?: string } }[] }).webhooks;
    assert.equal(webhook!.clientConfig.caBundle, undefined, 'the operator (or cert-manager) fills it in');
    const service = one('Service', webhook!.clientConfig.service.name, all);
    assert.equal(service.metadata.namespace, webhook!.clientConfig.service.namespace);
    assert.ok((service.spec as ServiceSpec).ports.some((p) => p.port === webhook!.clientConfig.service.port));
  });
});

void describe('Prometheus Operator objects (config/prometheus, validated structurally: the test cluster has no such CRDs)', () => {
  const monitor = one('ServiceMonitor', 'ptemplate-operator');

  void it('has a ServiceMonitor that selects the metrics Service and scrapes its https port with a bearer token', () => {
    assert.equal(monitor.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(monitor.metadata.namespace, DEFAULT_NAMESPACE);
    const spec = monitor.spec as {
      selector: { matchLabels: Record<string, string> };
      endpoints: { port: string; scheme: string; path: string; honorLabels: boolean; bearerTokenFile: string; tlsConfig: unknown }[];
    };
    const service = one('Service', METRICS_SERVICE_NAME);
    for (const [k, v] of Object.entries(spec.selector.matchLabels)) assert.equal(service.metadata.labels?.[k], v, `Service label ${k}`);
    const webhookService = one('Service', WEBHOOK_SERVICE_NAME);
    assert.ok(Object.entries(spec.selector.matchLabels).some(([k, v]) => webhookService.metadata.labels?.[k] !== v), 'not the webhook Service');
    assert.equal(spec.endpoints.length, 1);
    const [endpoint] = spec.endpoints;
    assert.ok((service.spec as ServiceSpec).ports.some((p) => p.name === endpoint!.port), 'a named port of the Service');
    assert.equal(endpoint!.scheme, 'https');
    assert.equal(endpoint!.path, '/metrics');
    assert.equal(endpoint!.honorLabels, true, 'keeps the ptemplate_* series\' own namespace label');
    assert.equal(endpoint!.bearerTokenFile, '/var/run/secrets/kubernetes.io/serviceaccount/token');
  });

  void it('keeps the Prometheus Operator and Grafana objects out of the default install', () => {
    const kinds = new Set(allManifests().map((o) => o.kind));
    for (const kind of ['ServiceMonitor', 'PrometheusRule', 'ConfigMap']) assert.ok(!kinds.has(kind), kind);
    const files = generateManifests();
    const resources = (dir: string) => files.find((f) => f.path === `${dir}/kustomization.yaml`)!.objects[0]!.resources as string[];
    assert.deepEqual(resources('prometheus'), ['monitor.yaml', 'rules.yaml']);
    assert.deepEqual(resources('default'), ['../crd', '../rbac', '../manager', '../webhook']);
  });

  void it('alerts when no replica leads, on the Lease the Deployment names', () => {
    const rule = one('PrometheusRule', 'ptemplate-operator');
    const rules = (rule.spec as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    const noLeader = rules.find((r) => r.alert === 'PtemplateOperatorNoLeader')!;
    assert.ok(noLeader.expr.includes(`name="${LEADER_ELECTION_ID}"`), noLeader.expr);
    assert.ok(podSpec(one('Deployment', 'ptemplate-operator')).containers[0]!.args.includes(`--leader-election-id=${LEADER_ELECTION_ID}`));
  });
});

void describe('allManifests', () => {
  void it('lists the default install in apply order, without samples, monitoring or the development CRD', () => {
    assert.deepEqual(allManifests().map((o) => `${o.kind}/${o.metadata.name}`), [
      `Namespace/${DEFAULT_NAMESPACE}`,
      'CustomResourceDefinition/ptemplates.pt.example.com',
      'ServiceAccount/ptemplate-operator',
      `ClusterRole/${MANAGER_ROLE_NAME}`,
      `ClusterRole/${METRICS_READER_ROLE_NAME}`,
      'ClusterRole/ptemplate-editor',
      'ClusterRole/ptemplate-viewer',
      `Role/${LEADER_ELECTION_ROLE_NAME}`,
      `ClusterRoleBinding/${MANAGER_ROLE_NAME}`,
      `RoleBinding/${LEADER_ELECTION_ROLE_NAME}`,
      `Service/${METRICS_SERVICE_NAME}`,
      `Service/${WEBHOOK_SERVICE_NAME}`,
      'Deployment/ptemplate-operator',
      'PodDisruptionBudget/ptemplate-operator',
      'ValidatingWebhookConfiguration/ptemplate-operator-validating-webhook',
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

  void it('writeGenerated removes stale generated files only inside the folders it prunes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ptemplate-generated-'));
    try {
      const stale = renderYaml([]);
      await mkdir(join(dir, 'bundle'), { recursive: true });
      await mkdir(join(dir, 'other'), { recursive: true });
      await writeFile(join(dir, 'bundle', 'old.yaml'), stale);
      await writeFile(join(dir, 'other', 'old.yaml'), stale);
      assert.deepEqual(await writeGenerated(dir, [{ path: 'bundle/new.yaml', text: 'x\n' }], { prune: ['bundle'] }), ['bundle/new.yaml']);
      assert.deepEqual(await filesUnder(dir), ['bundle/new.yaml', 'other/old.yaml']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Dockerfile instructions: comments dropped, continuation lines joined. */
function dockerInstructions(text: string): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (pending && line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = `${pending}${line}`.trim();
    pending = '';
    if (!full) continue;
    const [op, ...rest] = full.split(/\s+/);
    out.push({ op: op!.toUpperCase(), args: rest.join(' ') });
  }
  return out;
}

void describe('Dockerfile', () => {
  const instructions = dockerInstructions(readFileSync(join(repoDir, 'Dockerfile'), 'utf8'));
  const stages: { op: string; args: string }[][] = [];
  for (const i of instructions) {
    if (i.op === 'FROM') stages.push([]);
    stages.at(-1)?.push(i);
  }
  const final = stages.at(-1) ?? [];
  const last = (op: string) => final.filter((i) => i.op === op).at(-1)?.args;

  void it('builds in several stages, each FROM a Node 24 image', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    assert.equal(instructions[0]?.op, 'FROM', 'starts with FROM (no ARG before it)');
    for (const stage of stages) {
      const image = stage[0]!.args.split(/\s+/)[0]!;
      assert.match(image, /^(docker\.io\/(library\/)?)?node:24([.-][\w.-]*)?(@sha256:[0-9a-f]{64})?$|distroless\/nodejs24/, image);
    }
  });

  void it('installs reproducibly from the lock file and builds the bundle in a build stage', () => {
    const runs = instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    assert.ok(runs.some((r) => /\bnpm ci\b/.test(r)), runs.join('\n'));
    assert.ok(!runs.some((r) => /\bnpm (install|i)\b/.test(r)), 'npm ci, never npm install');
    assert.ok(stages.slice(0, -1).flat().some((i) => i.op === 'RUN' && i.args.includes('scripts/build.ts')), 'the bundle is built before the final stage');
  });

  void it('ships the bundle from the build stage, neither dependencies nor sources, and runs as a numeric non-root user', () => {
    const copies = final.filter((i) => i.op === 'COPY').map((i) => i.args);
    assert.ok(copies.some((c) => /--from=\S+/.test(c) && c.includes('dist')), 'dist/ from the build stage');
    for (const path of ['package.json', 'bin']) assert.ok(copies.some((c) => c.split(/\s+/).some((w) => w.replace(/\/$/, '') === path)), path);
    assert.ok(!copies.some((c) => /node_modules|\bsrc\b/.test(c)), `everything runs from the bundle: ${copies.join('; ')}`);
    const user = last('USER');
    assert.ok(user, 'a USER in the final stage');
    const [uid, gid] = user.split(':');
    assert.match(uid!, /^[1-9][0-9]*$/, 'numeric, so runAsNonRoot can verify it');
    if (gid !== undefined) assert.match(gid, /^[0-9]+$/);
  });

  void it('starts node on the bin entry (which adds its V8 flags), with the glibc memory settings, and `run` as the default command', () => {
    assert.deepEqual(JSON.parse(last('ENTRYPOINT') ?? 'null'), ['node', 'bin/ptemplate-operator.js']);
    // The same glibc settings as the bin gives a process it starts (the image sets them because the
    // bin re-executes itself with them only where Node can: keep the two in step).
    const { glibc } = JSON.parse(readFileSync(join(repoDir, 'bin', 'node-settings.json'), 'utf8')) as { glibc: Record<string, string> };
    const expected = Object.entries(glibc).map(([k, v]) => `${k}=${v}`).sort();
    const image = final.filter((i) => i.op === 'ENV').flatMap((i) => i.args.split(/\s+/)).filter((w) => w.startsWith('MALLOC_')).sort();
    assert.deepEqual(image, expected, 'glibc settings of the final stage');
    assert.ok(expected.includes('MALLOC_ARENA_MAX=2'), 'glibc arenas limited');
    assert.deepEqual(JSON.parse(last('CMD') ?? 'null'), ['run']);
  });

  void it('keeps tests, dependencies and local state out of the build context', async () => {
    const ignore = (await readFile(join(repoDir, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const pattern of ['**/*.test.ts', 'node_modules']) {
      const excluded = ignore.includes(pattern) || (ignore[0] === '*' && !ignore.some((l) => l.startsWith('!') && l.slice(1).startsWith(pattern)));
      assert.ok(excluded, `${pattern} excluded`);
    }
    assert.ok(ignore.lastIndexOf('**/*.test.ts') > ignore.lastIndexOf('!src/'), 'tests are excluded after src/ is included');
  });
});
