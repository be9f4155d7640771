import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MODULE_CRD_NAME, moduleCrd } from './crd.ts';
import { buildModule } from './module.ts';
import { Modules } from './resource.ts';

type Schema = Record<string, unknown>;

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: Schema };
  subresources?: { status?: object };
}
interface CrdSpec {
  group: string;
  names: { kind: string; listKind: string; plural: string; singular: string; shortNames?: string[] };
  scope: string;
  versions: CrdVersion[];
}

function crdParts(): { spec: CrdSpec; version: CrdVersion; schema: Schema } {
  const spec = moduleCrd().spec as CrdSpec;
  const version = spec.versions[0]!;
  return { spec, version, schema: version.schema.openAPIV3Schema };
}

// Schema keywords this CRD may use: all of them understood by Kubernetes 1.20's apiextensions/v1.
const ALLOWED_KEYWORDS = new Set([
  'type', 'format', 'description', 'properties', 'required', 'items', 'additionalProperties', 'minItems',
  'x-kubernetes-preserve-unknown-fields', 'maxLength', 'enum', 'minimum', 'maximum',
]);

/** Structural-schema problems, as Kubernetes would see them, plus the keywords 1.20 cannot take. */
function structuralProblems(schema: Schema, path: string, isRootMetadata = false): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(schema)) if (!ALLOWED_KEYWORDS.has(key)) problems.push(`${path}: keyword ${key}`);
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (typeof schema.type !== 'string' || schema.type === '') {
    if (!preserve) problems.push(`${path}: no type`);
  }
  const properties = schema.properties as Record<string, Schema> | undefined;
  const additional = schema.additionalProperties as Schema | undefined;
  if (properties && additional) problems.push(`${path}: both properties and additionalProperties`);
  if (schema.type === 'object' && !properties && !additional && !preserve && !isRootMetadata) {
    problems.push(`${path}: object with neither properties, additionalProperties nor preserve-unknown-fields`);
  }
  if (schema.type === 'array') {
    if (!schema.items || typeof schema.items !== 'object' || Array.isArray(schema.items)) problems.push(`${path}: array without one items schema`);
  } else if (schema.items) {
    problems.push(`${path}: items on a ${String(schema.type)}`);
  }
  for (const name of (schema.required as string[] | undefined) ?? []) {
    if (!properties?.[name]) problems.push(`${path}: required ${name} is not a property`);
  }
  for (const [name, child] of Object.entries(properties ?? {})) {
    problems.push(...structuralProblems(child, `${path}.${name}`, path === '' && name === 'metadata'));
  }
  if (additional) problems.push(...structuralProblems(additional, `${path}{}`));
  if (schema.items && typeof schema.items === 'object') problems.push(...structuralProblems(schema.items as Schema, `${path}[]`));
  return problems;
}

/** What the API server would prune from `value`, or refuse in it (missing required keys, short arrays, wrong types). */
function schemaMismatches(schema: Schema, value: unknown, path: string): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields'] === true) return [];
  switch (schema.type) {
    case 'string': return typeof value === 'string' ? [] : [`${path}: not a string`];
    case 'integer': return Number.isInteger(value) ? [] : [`${path}: not an integer`];
    case 'boolean': return typeof value === 'boolean' ? [] : [`${path}: not a boolean`];
    case 'array': {
      if (!Array.isArray(value)) return [`${path}: not an array`];
      const out: string[] = [];
      if (typeof schema.minItems === 'number' && value.length < schema.minItems) out.push(`${path}: fewer than ${schema.minItems} items`);
      value.forEach((item, i) => out.push(...schemaMismatches(schema.items as Schema, item, `${path}[${i}]`)));
      return out;
    }
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return [`${path}: not an object`];
      const out: string[] = [];
      const properties = schema.properties as Record<string, Schema> | undefined;
      const additional = schema.additionalProperties as Schema | undefined;
      for (const name of (schema.required as string[] | undefined) ?? []) if (!(name in value)) out.push(`${path}.${name}: required`);
      for (const [name, child] of Object.entries(value)) {
        const childSchema = properties?.[name] ?? additional;
        if (!childSchema) {
          if (properties || additional) out.push(`${path}.${name}: would be pruned`);
          continue;
        }
        out.push(...schemaMismatches(childSchema, child, `${path}.${name}`));
      }
      return out;
    }
    default: return [`${path}: schema without a known type`];
  }
}

function findKey(value: unknown, key: string, path = ''): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [...(k === key ? [`${path}.${k}`] : []), ...findKey(v, key, `${path}.${k}`)]);
}

void test('the CRD defines Module where the Modules resource type looks for it', () => {
  const crd = moduleCrd();
  const { spec, version } = crdParts();
  assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
  assert.equal(crd.kind, 'CustomResourceDefinition');
  assert.equal(crd.metadata.name, 'modules.kmm.sigs.x-k8s.io');
  assert.equal(MODULE_CRD_NAME, crd.metadata.name);
  assert.equal(spec.group, Modules.group);
  assert.equal(spec.scope, 'Namespaced');
  assert.deepEqual(spec.names, { kind: 'Module', listKind: 'ModuleList', plural: 'modules', singular: 'module' });
  assert.equal(spec.versions.length, 1);
  assert.equal(version.name, Modules.version);
  assert.equal(version.served, true);
  assert.equal(version.storage, true);
  assert.deepEqual(version.subresources, { status: {} });
});

void test('the CRD is marked as a development-only stand-in', () => {
  const { metadata } = moduleCrd();
  assert.equal(metadata.labels?.['app.kubernetes.io/part-of'], 'ptemplate-operator-dev');
  assert.match(metadata.annotations?.['kubernetes.io/description'] ?? '', /development/i);
});

void test('the schema is structural and uses only what Kubernetes 1.20 accepts', () => {
  const { schema } = crdParts();
  assert.equal(schema.type, 'object');
  assert.deepEqual(structuralProblems(schema, ''), []);
});

void test('the structural check catches an untyped field, an empty object and a stray keyword', () => {
  const broken: Schema = {
    type: 'object',
    properties: {
      a: { description: 'no type' },
      b: { type: 'object' },
      c: { type: 'string', default: '' },
      d: { type: 'array' },
    },
  };
  assert.deepEqual(structuralProblems(broken, ''), [
    '.a: no type',
    '.b: object with neither properties, additionalProperties nor preserve-unknown-fields',
    '.c: keyword default',
    '.d: array without one items schema',
  ]);
});

void test('the CRD carries no defaults and no CEL rules', () => {
  const crd = moduleCrd();
  assert.deepEqual(findKey(crd, 'default'), []);
  assert.deepEqual(findKey(crd, 'x-kubernetes-validations'), []);
});

void test('the schema requires what KMM requires', () => {
  const { schema } = crdParts();
  const props = (s: Schema, name: string): Schema => (s.properties as Record<string, Schema>)[name]!;
  const spec = props(schema, 'spec');
  assert.deepEqual(spec.required, ['selector']);
  const loader = props(spec, 'moduleLoader');
  assert.deepEqual(loader.required, ['container']);
  const container = props(loader, 'container');
  assert.deepEqual(container.required, ['kernelMappings', 'modprobe']);
  assert.equal(props(container, 'kernelMappings').minItems, 1);
  assert.deepEqual((props(container, 'kernelMappings').items as Schema).required, ['containerImage']);
  assert.deepEqual(props(spec, 'devicePlugin').required, ['container']);
  assert.deepEqual(props(props(spec, 'devicePlugin'), 'container').required, ['image']);
});

void test('a Module from buildModule fits the schema: nothing pruned, nothing missing', () => {
  const { schema } = crdParts();
  const module = {
    ...buildModule({
      name: 'ptemplate',
      namespace: 'ops',
      labels: { a: 'b' },
      selector: { 'kubernetes.io/os': 'linux' },
      moduleName: 'ptemplate_char_dev',
      parameters: ['max_dev=2'],
      kernelMappings: [{ literal: '5.14.0' }, { regexp: '^6\\.', containerImage: 'quay.io/acme/kmod:v6', inTreeModulesToRemove: ['x'] }],
      containerImage: 'quay.io/acme/kmod:${KERNEL_FULL_VERSION}',
      imagePullPolicy: 'Always',
      devicePlugin: {
        image: 'quay.io/acme/plugin:v1',
        args: ['-v'],
        env: [{ name: 'A', value: 'b' }],
        volumeMounts: [{ name: 'dev', mountPath: '/dev' }],
        volumes: [{ name: 'dev', hostPath: { path: '/dev' } }],
        serviceAccountName: 'sa',
        imagePullPolicy: 'IfNotPresent',
      },
      imageRepoSecret: 'pull',
      tolerations: [{ operator: 'Exists' }],
      serviceAccountName: 'loader',
    }),
    status: {
      moduleLoader: { nodesMatchingSelectorNumber: 1, desiredNumber: 1, availableNumber: 1 },
      devicePlugin: { nodesMatchingSelectorNumber: 1, desiredNumber: 1, availableNumber: 0 },
    },
  };
  assert.deepEqual(schemaMismatches(schema, module, ''), []);
  // The comparison can fail: a field the schema does not know is reported.
  const extra = structuredClone(module) as { spec: { moduleLoader: { container: { build?: unknown } } } };
  extra.spec.moduleLoader.container.build = {};
  assert.deepEqual(schemaMismatches(schema, extra, ''), ['.spec.moduleLoader.container.build: would be pruned']);
});
