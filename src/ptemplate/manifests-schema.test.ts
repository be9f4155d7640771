// Every generated Kubernetes object (config/, the OLM bundle and what its CSV embeds) checked offline against the
// OpenAPI schema of current Kubernetes, with two maintained libraries that ship it:
// - kubernetes-models (5.1, generated from Kubernetes 1.34's OpenAPI: it has resource.k8s.io/v1):
//   compiled JSON-schema validators per kind (types, required fields, enums, formats);
// - @kubernetes/client-node (2.0, the client for Kubernetes 1.34): its models list every field of every
//   API version that release serves, which catches unknown (misspelt) fields and removed API versions
//   (kubernetes-models also keeps old versions such as policy/v1beta1, so it cannot tell).
// The dry-run on the 1.20 test control plane (test/integration/manifests.test.ts) covers what 1.20 serves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as clientNode from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../runtime/object.ts';
import { generateManifests } from './manifests.ts';
import { bundleFiles, clusterServiceVersion } from './olm.ts';

// Kinds defined by CRDs, not by Kubernetes: checked by their own tests (olm.test.ts, monitoring.test.ts, the sample by validatePtemplate).
const NOT_KUBERNETES = new Set(['ClusterServiceVersion', 'ServiceMonitor', 'PrometheusRule', 'Kustomization', 'Ptemplate']);

interface Attribute { name: string; baseName: string; type: string }
type ModelClass = { getAttributeTypeMap(): Attribute[] };
const models = clientNode as unknown as Record<string, ModelClass | undefined>;

/** client-node's model name for apiVersion + kind (`apps/v1` Deployment -> V1Deployment; events.k8s.io/v1 Event -> EventsV1Event). */
function modelOf(apiVersion: string, kind: string): ModelClass | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') as [string, string] : ['', apiVersion];
  const v = version.charAt(0).toUpperCase() + version.slice(1);
  const prefix = group.split('.')[0]!.replace(/(^|-)(\w)/g, (_, _dash: string, c: string) => c.toUpperCase());
  return models[`${v}${kind}`] ?? models[`${prefix}${v}${kind}`];
}

/** Fields no model of client-node's Kubernetes release has: misspelt or removed fields. */
function unknownFields(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((item: unknown, i) => unknownFields(item, array[1]!, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === 'object') for (const [k, v] of Object.entries(value)) unknownFields(v, map[1]!, `${path}.${k}`, out);
    return;
  }
  const model = models[type];
  if (!model?.getAttributeTypeMap || typeof value !== 'object') return; // a scalar, `any`, IntOrString, ...
  const attributes = model.getAttributeTypeMap();
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const attribute = attributes.find((a) => a.baseName === key);
    if (!attribute) out.push(`${path}.${key}`);
    else unknownFields(child, attribute.type, `${path}.${key}`, out);
  }
}

type Validating = new (data: unknown) => { validate(): void };

/** kubernetes-models' class for apiVersion + kind. */
async function validatorOf(apiVersion: string, kind: string): Promise<Validating | undefined> {
  try {
    return (await import(`kubernetes-models/${apiVersion}`) as Record<string, Validating | undefined>)[kind];
  } catch {
    return undefined;
  }
}

/** Every problem current Kubernetes' schema finds in `obj`. */
async function schemaProblems(obj: KubeObject): Promise<string[]> {
  const { apiVersion = '', kind = '' } = obj;
  const where = `${kind} ${obj.metadata?.name ?? '?'}`;
  const model = modelOf(apiVersion, kind);
  if (!model) return [`${where}: ${apiVersion} ${kind} is not served by current Kubernetes`];
  const Validator = await validatorOf(apiVersion, kind);
  if (!Validator) return [`${where}: no schema for ${apiVersion} ${kind}`];
  const problems: string[] = [];
  try {
    new Validator(obj).validate();
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
  }
  const unknown: string[] = [];
  unknownFields(obj, Object.entries(models).find(([, m]) => m === model)![0], '', unknown);
  problems.push(...unknown.map((field) => `${where}: unknown field ${field.slice(1)}`));
  return problems;
}

async function problemsOf(objects: KubeObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const obj of objects.filter((o) => !NOT_KUBERNETES.has(o.kind ?? ''))) problems.push(...await schemaProblems(obj));
  return problems;
}

const parsed = (text: string): KubeObject[] => parseAllDocuments(text).map((d) => d.toJS() as KubeObject).filter((o) => o?.kind);

void describe('generated manifests against current Kubernetes\' OpenAPI schema', () => {
  void it('config/: the default install and every optional part, cluster-wide and namespace-scoped', async () => {
    for (const options of [{}, { watchNamespace: 'team-a' }]) {
      const objects = generateManifests(options).flatMap((f) => f.objects);
      assert.ok(objects.some((o) => o.kind === 'PodDisruptionBudget'));
      assert.deepEqual(await problemsOf(objects), []);
    }
  });

  void it('the OLM bundle, and the Deployment and RBAC rules the ClusterServiceVersion embeds', async () => {
    const objects = bundleFiles().filter((f) => f.path.endsWith('.yaml') && f.path.startsWith('bundle/manifests/')).flatMap((f) => parsed(f.text));
    assert.deepEqual(await problemsOf(objects), []);
    const install = (clusterServiceVersion().spec as {
      install: { spec: { deployments: { name: string; spec: unknown }[]; clusterPermissions: { rules: unknown[] }[] } };
    }).install.spec;
    const embedded: KubeObject[] = [
      ...install.deployments.map((d) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: d.name }, spec: d.spec as Record<string, unknown> })),
      ...install.clusterPermissions.map((p, i) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `csv-${i}` }, rules: p.rules })),
    ];
    assert.deepEqual(await problemsOf(embedded), []);
  });

  void it('would catch what current Kubernetes refuses: a removed API version, a wrong type, a misspelt field', async () => {
    const old = generateManifests({ kubeVersion: '1.20' }).flatMap((f) => f.objects).filter((o) => o.kind === 'PodDisruptionBudget');
    assert.match((await problemsOf(old)).join('\n'), /policy\/v1beta1 PodDisruptionBudget is not served by current Kubernetes/);
    const deployment = generateManifests().flatMap((f) => f.objects).find((o) => o.kind === 'Deployment')!;
    const spec = deployment.spec as { replicas: unknown; template: { spec: Record<string, unknown> } };
    const wrongType = { ...deployment, spec: { ...spec, replicas: 'two' } };
    assert.match((await problemsOf([wrongType])).join('\n'), /replicas must be integer/);
    const misspelt = { ...deployment, spec: { ...spec, template: { ...spec.template, spec: { ...spec.template.spec, tolerationz: [] } } } };
    assert.match((await problemsOf([misspelt])).join('\n'), /unknown field spec\.template\.spec\.tolerationz/);
  });
});
