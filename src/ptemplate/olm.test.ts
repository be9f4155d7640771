import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../runtime/object.ts';
import { withDefaults } from './api/defaults.ts';
import type { Ptemplate } from './api/schema.ts';
import { validatePtemplate } from './api/validate.ts';
import {
  DEFAULT_IMAGE, DEPLOYMENT_NAME, generateManifests, LEADER_ELECTION_ROLE_NAME, MANAGER_ROLE_NAME, samplePtemplate,
  WEBHOOK_CERT_DIR, WEBHOOK_PORT,
} from './manifests.ts';
import {
  bundleAnnotations, bundleFiles, clusterServiceVersion, CSV_NAME, MIN_KUBE_VERSION, OPERATOR_VERSION, schemaAt, SUPPORTED_KMM_VERSIONS_ANNOTATION,
  supportedKmmVersions,
} from './olm.ts';

const repoDir = fileURLToPath(new URL('../..', import.meta.url));

interface Descriptor { path: string; displayName: string; description: string; 'x-descriptors': string[] }
interface CsvSpec {
  version: string;
  minKubeVersion: string;
  maturity: string;
  keywords: string[];
  maintainers: { name: string; email: string }[];
  provider: { name: string };
  installModes: { type: string; supported: boolean }[];
  install: {
    strategy: string;
    spec: {
      deployments: { name: string; spec: unknown }[];
      clusterPermissions: { serviceAccountName: string; rules: unknown[] }[];
      permissions?: { serviceAccountName: string; rules: unknown[] }[];
    };
  };
  customresourcedefinitions: {
    required: { name: string; version: string; kind: string; displayName: string; description: string }[];
    owned: { name: string; version: string; kind: string; displayName: string; description: string; resources: { kind: string; version: string }[]; specDescriptors: Descriptor[]; statusDescriptors: Descriptor[] }[];
  };
  webhookdefinitions?: {
    type: string; generateName: string; deploymentName: string; containerPort: number; targetPort: number; webhookPath: string;
    rules: unknown; failurePolicy: string; sideEffects: string; admissionReviewVersions: string[];
  }[];
}

const csv = clusterServiceVersion();
const spec = csv.spec as CsvSpec;
const config = generateManifests().flatMap((f) => f.objects);
const configObject = (kind: string, name?: string) => {
  const found = config.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind} ${name ?? ''}`);
  return found[0]!;
};

void describe('ClusterServiceVersion', () => {
  void it('is ptemplate-operator.v0.1.0, the version of package.json and of the default image', async () => {
    const pkg = JSON.parse(await readFile(join(repoDir, 'package.json'), 'utf8')) as { version: string };
    assert.equal(OPERATOR_VERSION, pkg.version);
    assert.equal(csv.metadata.name, 'ptemplate-operator.v0.1.0');
    assert.equal(CSV_NAME, `ptemplate-operator.v${pkg.version}`);
    assert.equal(spec.version, pkg.version);
    assert.ok(DEFAULT_IMAGE.endsWith(`:${pkg.version}`));
    assert.equal(csv.metadata.annotations?.containerImage, DEFAULT_IMAGE);
  });

  void it('installs the config/ Deployment spec', () => {
    const deployment = configObject('Deployment', DEPLOYMENT_NAME);
    assert.equal(spec.install.strategy, 'deployment');
    assert.deepEqual(spec.install.spec.deployments, [{ name: DEPLOYMENT_NAME, label: deployment.metadata.labels, spec: deployment.spec }]);
  });

  void it('asks for the config/ ClusterRole rules cluster-wide and the leader-election Role rules in its namespace', () => {
    assert.deepEqual(spec.install.spec.clusterPermissions, [{ serviceAccountName: 'ptemplate-operator', rules: configObject('ClusterRole', MANAGER_ROLE_NAME).rules }]);
    assert.deepEqual(spec.install.spec.permissions, [{ serviceAccountName: 'ptemplate-operator', rules: configObject('Role', LEADER_ELECTION_ROLE_NAME).rules }]);
  });

  void it('owns the Ptemplate CRD that the bundle and config/crd ship, made of KMM Modules and DaemonSets', () => {
    const crd = configObject('CustomResourceDefinition', 'ptemplates.pt.example.com');
    const bundleCrd = bundleFiles().find((f) => f.path === 'bundle/manifests/pt.example.com_ptemplates.yaml');
    assert.ok(bundleCrd, 'the CRD is in the bundle');
    assert.deepEqual(parseAllDocuments(bundleCrd.text).map((d) => d.toJS() as unknown), [crd]);
    const owned = spec.customresourcedefinitions.owned;
    assert.deepEqual(owned.map((o) => [o.name, o.version, o.kind]), [[crd.metadata.name, 'v1alpha1', 'Ptemplate']]);
    assert.deepEqual(owned[0]!.resources.map((r) => `${r.kind}/${r.version}`), ['Module/v1beta1', 'DaemonSet/v1']);
    assert.ok(owned[0]!.displayName && owned[0]!.description);
  });

  void it('requires KMM\'s Module CRD and says which KMM releases it supports, with that release\'s name length', () => {
    const required = spec.customresourcedefinitions.required;
    assert.deepEqual(required.map((r) => [r.name, r.version, r.kind]), [['modules.kmm.sigs.x-k8s.io', 'v1beta1', 'Module']]);
    assert.equal(csv.metadata.annotations?.[SUPPORTED_KMM_VERSIONS_ANNOTATION], '>=2.0.0 <2.7.0');
    assert.match(String((csv.spec as { description: string }).description), /Supported KMM releases:\*\* >=2\.0\.0 <2\.7\.0.*at most 40 characters/s);
    const newer = clusterServiceVersion({ kmmVersion: '2.7.0' });
    assert.equal(newer.metadata.annotations?.[SUPPORTED_KMM_VERSIONS_ANNOTATION], '>=2.0.0 <2.8.0');
    assert.match(String((newer.spec as { description: string }).description), /at most 41 characters/);
    assert.equal(supportedKmmVersions('v2.6.0'), '>=2.0.0 <2.7.0');
  });

  void it('describes the main spec and status fields with paths that exist in the CRD schema', () => {
    const owned = spec.customresourcedefinitions.owned[0]!;
    for (const [root, descriptors] of [['spec', owned.specDescriptors], ['status', owned.statusDescriptors]] as const) {
      for (const d of descriptors) {
        const node = schemaAt(root, d.path);
        assert.ok(node, `${root}.${d.path} is in the CRD schema`);
        assert.equal(d.description, node.description, `${root}.${d.path} is described as in the CRD`);
        assert.ok(d.displayName, d.path);
      }
    }
    assert.deepEqual(owned.specDescriptors.map((d) => d.path).slice(0, 5), ['selector', 'maxdev', 'defaultmsg', 'requiredDevices', 'moduleState']);
    assert.ok(owned.statusDescriptors.some((d) => d.path === 'conditions' && d['x-descriptors'].includes('urn:alm:descriptor:io.kubernetes.conditions')));
    assert.equal(schemaAt('spec', 'noSuchField'), undefined);
  });

  void it('has an alm-examples annotation whose Ptemplate passes the operator validation', () => {
    const examples = JSON.parse(csv.metadata.annotations!['alm-examples']!) as KubeObject[];
    assert.equal(examples.length, 1);
    const example = examples[0]!;
    assert.equal(example.metadata.namespace, undefined, 'the console creates it in the namespace it shows');
    assert.deepEqual(example.spec, samplePtemplate().spec);
    // The API server sets the namespace of the request; the operator validates the defaulted object.
    const created = { ...example, metadata: { ...example.metadata, namespace: 'default' }, spec: withDefaults(example.spec) } as Ptemplate;
    assert.deepEqual(validatePtemplate(created), []);
  });

  void it('supports own, single and all namespaces (not multi), from Kubernetes 1.20, as an alpha', () => {
    assert.deepEqual(spec.installModes, [
      { type: 'OwnNamespace', supported: true },
      { type: 'SingleNamespace', supported: true },
      { type: 'MultiNamespace', supported: false },
      { type: 'AllNamespaces', supported: true },
    ]);
    assert.equal(spec.minKubeVersion, '1.20.0');
    assert.equal(MIN_KUBE_VERSION, '1.20.0');
    assert.equal(spec.maturity, 'alpha');
    assert.ok(spec.keywords.length > 0);
    assert.ok(spec.maintainers.every((m) => m.name && m.email.includes('@')));
    assert.ok(spec.provider.name);
  });

  void it('declares the config/ validating webhook for OLM to serve, on the pods\' webhook port, where the Deployment mounts its certificate', () => {
    const configured = configObject('ValidatingWebhookConfiguration') as KubeObject & {
      webhooks: { name: string; rules: unknown; failurePolicy: string; sideEffects: string; admissionReviewVersions: string[]; clientConfig: { service: { path: string } } }[];
    };
    const [expected] = configured.webhooks;
    assert.equal(spec.webhookdefinitions?.length, 1);
    const [definition] = spec.webhookdefinitions;
    assert.deepEqual(
      [definition!.type, definition!.generateName, definition!.deploymentName, definition!.webhookPath, definition!.targetPort],
      ['ValidatingAdmissionWebhook', expected!.name, DEPLOYMENT_NAME, expected!.clientConfig.service.path, WEBHOOK_PORT],
    );
    assert.deepEqual(definition!.rules, expected!.rules);
    assert.equal(definition!.failurePolicy, expected!.failurePolicy);
    assert.equal(definition!.sideEffects, expected!.sideEffects);
    assert.deepEqual(definition!.admissionReviewVersions, expected!.admissionReviewVersions);
    // OLM mounts its certificate as volume "webhook-cert" at this path, replacing ours.
    const pod = (configObject('Deployment', DEPLOYMENT_NAME).spec as { template: { spec: { containers: { volumeMounts: { name: string; mountPath: string }[] }[] } } }).template.spec;
    assert.ok(pod.containers[0]!.volumeMounts.some((m) => m.name === 'webhook-cert' && m.mountPath === WEBHOOK_CERT_DIR));
  });
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/')).sort();
}

void describe('bundle', () => {
  const files = bundleFiles();

  void it('has the standard registry+v1 annotations: package, channel alpha, manifests/ and metadata/', () => {
    const file = files.find((f) => f.path === 'bundle/metadata/annotations.yaml')!;
    assert.deepEqual(parseAllDocuments(file.text).map((d) => d.toJS() as unknown), [{ annotations: bundleAnnotations() }]);
    assert.deepEqual(bundleAnnotations(), {
      'operators.operatorframework.io.bundle.mediatype.v1': 'registry+v1',
      'operators.operatorframework.io.bundle.manifests.v1': 'manifests/',
      'operators.operatorframework.io.bundle.metadata.v1': 'metadata/',
      'operators.operatorframework.io.bundle.package.v1': 'ptemplate-operator',
      'operators.operatorframework.io.bundle.channels.v1': 'alpha',
      'operators.operatorframework.io.bundle.channel.default.v1': 'alpha',
    });
  });

  void it('builds an image labelled with the same annotations, holding manifests/ and metadata/', () => {
    const dockerfile = files.find((f) => f.path === 'bundle.Dockerfile')!.text;
    const labels = Object.fromEntries([...dockerfile.matchAll(/^LABEL (\S+)=(\S+)$/gm)].map((m): [string, string] => [m[1]!, m[2]!]));
    assert.deepEqual(labels, bundleAnnotations());
    assert.match(dockerfile, /^FROM scratch$/m);
    assert.match(dockerfile, /^COPY bundle\/manifests \/manifests\/$/m);
    assert.match(dockerfile, /^COPY bundle\/metadata \/metadata\/$/m);
  });

  void it('ships namespace-free objects only (OLM installs them in the operator namespace)', () => {
    for (const file of files.filter((f) => f.path.startsWith('bundle/manifests/'))) {
      for (const doc of parseAllDocuments(file.text).map((d) => d.toJS() as KubeObject)) {
        assert.equal(doc.metadata.namespace, undefined, file.path);
      }
    }
  });

  void it('holds exactly what bundleFiles renders (run `npm run manifests` after changing the code)', async () => {
    const inBundle = files.filter((f) => f.path.startsWith('bundle/')).map((f) => f.path.slice('bundle/'.length)).sort();
    assert.deepEqual(await filesUnder(join(repoDir, 'bundle')), inBundle, 'bundle/ has missing or extra files');
    for (const file of files) {
      const committed = await readFile(join(repoDir, file.path), 'utf8');
      assert.ok(committed === file.text, `${file.path} differs from what the code generates: run \`npm run manifests\``);
    }
  });
});
