import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crd, type CrdOptions } from './crd.ts';
import { structuralErrors } from './openapi.ts';
import { s } from './schema.ts';

const widgetSchema = s.object({
  spec: s.object({ size: s.integer({ minimum: 1, default: 1 }) }, { description: 'What the widget should be.' }),
  status: s.object({ ready: s.boolean().optional() }).optional(),
}, { description: 'A widget.' });

function options(overrides: Partial<CrdOptions> = {}): CrdOptions {
  return {
    group: 'example.com',
    kind: 'Widget',
    plural: 'widgets',
    singular: 'widget',
    shortNames: ['wd'],
    scope: 'Namespaced',
    versions: [{
      name: 'v1',
      served: true,
      storage: true,
      schema: widgetSchema,
      subresources: { status: true },
      printerColumns: [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
    }],
    ...overrides,
  };
}

void describe('crd', () => {
  void it('builds a v1 CRD with names, scope, subresources and printer columns', () => {
    const out = crd(options());
    assert.equal(out.apiVersion, 'apiextensions.k8s.io/v1');
    assert.equal(out.kind, 'CustomResourceDefinition');
    assert.equal(out.metadata.name, 'widgets.example.com');
    assert.deepEqual(out.spec.names, { kind: 'Widget', listKind: 'WidgetList', plural: 'widgets', singular: 'widget', shortNames: ['wd'] });
    assert.equal(out.spec.scope, 'Namespaced');
    const [v] = out.spec.versions;
    assert.ok(v);
    assert.deepEqual(v.subresources, { status: {} });
    assert.deepEqual(v.additionalPrinterColumns, [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }]);
  });

  void it('adds apiVersion, kind and metadata to the schema and keeps the rest', () => {
    const root = crd(options()).spec.versions[0]?.schema.openAPIV3Schema;
    assert.ok(root);
    assert.equal(root.type, 'object');
    assert.equal(root.description, 'A widget.');
    assert.deepEqual(Object.keys(root.properties ?? {}), ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    assert.deepEqual(root.required, ['spec']);
    assert.deepEqual(root.properties?.spec?.properties?.size, { type: 'integer', minimum: 1, default: 1 });
    // Only metadata is left to the API server (it has no properties of its own here).
    assert.deepEqual(structuralErrors(root).map((e) => e.field), ['openAPIV3Schema.properties.metadata']);
  });

  void it('leaves out subresources and printer columns when none are given', () => {
    const [v] = crd(options({ versions: [{ name: 'v1', served: true, storage: true, schema: widgetSchema }] })).spec.versions;
    assert.equal(v?.subresources, undefined);
    assert.equal(v?.additionalPrinterColumns, undefined);
  });

  void it('refuses bad names, versions and storage settings', () => {
    assert.throws(() => crd(options({ group: 'example' })), /group example/);
    assert.throws(() => crd(options({ kind: 'widget' })), /CamelCase/);
    assert.throws(() => crd(options({ plural: 'Widgets' })), /lower-case DNS label/);
    assert.throws(() => crd(options({ versions: [] })), /at least one version/);
    const v = { name: 'v1', served: true, storage: false, schema: widgetSchema };
    assert.throws(() => crd(options({ versions: [v] })), /storage version/);
    assert.throws(() => crd(options({ versions: [{ ...v, storage: true, name: 'version1' }] })), /must look like v1/);
  });

  void it('refuses schemas that are not objects, define metadata, or lack status for the status subresource', () => {
    const version = { name: 'v1', served: true, storage: true };
    assert.throws(() => crd(options({ versions: [{ ...version, schema: s.string() }] })), /object with properties/);
    assert.throws(() => crd(options({ versions: [{ ...version, schema: s.object({ metadata: s.object({}) }) }] })), /metadata is added by crd/);
    assert.throws(
      () => crd(options({ versions: [{ ...version, schema: s.object({ spec: s.object({}) }), subresources: { status: true } }] })),
      /needs a status property/,
    );
  });
});
