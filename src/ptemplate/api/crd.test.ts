import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { structuralErrors, type JsonSchemaProps } from '../../runtime/schema/index.ts';
import { PTEMPLATE_CRD_NAME, ptemplateCrd } from './crd.ts';

function rootSchema(): JsonSchemaProps {
  const version = ptemplateCrd().spec.versions[0];
  assert.ok(version);
  return version.schema.openAPIV3Schema;
}

function prop(node: JsonSchemaProps | undefined, ...path: string[]): JsonSchemaProps {
  let at = node;
  for (const key of path) at = key === '[]' ? at?.items : at?.properties?.[key];
  assert.ok(at, `no schema at ${path.join('.')}`);
  return at;
}

void describe('ptemplateCrd', () => {
  void it('declares pt.example.com/v1alpha1 Ptemplate, namespaced, with short name pt and a status subresource', () => {
    const crd = ptemplateCrd();
    assert.equal(crd.metadata.name, 'ptemplates.pt.example.com');
    assert.equal(PTEMPLATE_CRD_NAME, crd.metadata.name);
    assert.deepEqual(crd.spec.names, { kind: 'Ptemplate', listKind: 'PtemplateList', plural: 'ptemplates', singular: 'ptemplate', shortNames: ['pt'] });
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.deepEqual(crd.spec.versions.map((v) => [v.name, v.served, v.storage, v.subresources]), [['v1alpha1', true, true, { status: {} }]]);
  });

  void it('has the printer columns Ready, Module-Avail, Module-Desired, Consumers-Ready, Consumers-Desired, State, Version, Upgraded (wide) and Age', () => {
    const columns = ptemplateCrd().spec.versions[0]?.additionalPrinterColumns ?? [];
    assert.deepEqual(columns.map((c) => [c.name, c.type, c.jsonPath]), [
      ['Ready', 'string', '.status.conditions[?(@.type=="Ready")].status'],
      ['Module-Avail', 'integer', '.status.module.loader.available'],
      ['Module-Desired', 'integer', '.status.module.loader.desired'],
      ['Consumers-Ready', 'integer', '.status.consumersReady'],
      ['Consumers-Desired', 'integer', '.status.consumersDesired'],
      ['State', 'string', '.spec.moduleState'],
      ['Version', 'string', '.spec.version'],
      ['Upgraded', 'integer', '.status.upgrade.done'],
      ['Age', 'date', '.metadata.creationTimestamp'],
    ]);
  });

  void it('requires spec and spec.selector only, and carries the defaults and bounds', () => {
    const root = rootSchema();
    assert.deepEqual(root.required, ['spec']);
    const spec = prop(root, 'spec');
    assert.deepEqual(spec.required, ['selector']);
    assert.deepEqual(prop(spec, 'selector').additionalProperties, { type: 'string' });
    assert.deepEqual(
      Object.fromEntries(Object.entries(spec.properties ?? {}).filter(([, p]) => p.default !== undefined).map(([k, p]) => [k, p.default])),
      {
        maxdev: 5,
        defaultmsg: 'ptemplate',
        deviceplugin: 'quay.io/chrisp262/pt-device-plugin:plugin-latest',
        consumer: 'quay.io/chrisp262/pt-device-plugin:consumer-latest',
        requiredDevices: 1,
        moduleState: 'Loaded',
        moduleName: 'ptemplate_char_dev',
        driverImage: 'quay.io/chrisp262/pt-char-dev:${KERNEL_FULL_VERSION}-sb',
      },
    );
    assert.deepEqual([prop(spec, 'maxdev').minimum, prop(spec, 'maxdev').maximum], [1, 5]);
    assert.deepEqual([prop(spec, 'requiredDevices').minimum, prop(spec, 'requiredDevices').maximum], [1, 5]);
    assert.deepEqual([prop(spec, 'defaultmsg').maxLength, prop(spec, 'defaultmsg').pattern], [100, '^[ !#-~]*$']);
    assert.deepEqual([prop(spec, 'moduleName').maxLength, prop(spec, 'moduleName').pattern], [56, '^[A-Za-z0-9_][A-Za-z0-9_-]*$']);
    assert.deepEqual(prop(spec, 'moduleState').enum, ['Loaded', 'Unloaded']);
    for (const field of ['driverImage', 'deviceplugin', 'consumer']) assert.equal(prop(spec, field).maxLength, 1024, field);
    assert.equal(prop(spec, 'kernelMappings', '[]', 'regexp').maxLength, 4096);
    assert.deepEqual(prop(spec, 'kernelMappings', '[]').required, ['containerImage']);
  });

  void it('types and prunes tolerations (no preserve-unknown-fields anywhere), tolerationSeconds as an exact int64', () => {
    const toleration = prop(rootSchema(), 'spec', 'tolerations', '[]');
    assert.deepEqual(Object.keys(toleration.properties ?? {}).sort(), ['effect', 'key', 'operator', 'tolerationSeconds', 'value']);
    const seconds = prop(toleration, 'tolerationSeconds');
    assert.deepEqual([seconds.type, seconds.format, seconds.minimum, seconds.maximum], ['integer', 'int64', -(2 ** 53 - 1), 2 ** 53 - 1]);
    assert.deepEqual(prop(toleration, 'operator').enum, ['', 'Equal', 'Exists']);
    assert.doesNotMatch(JSON.stringify(ptemplateCrd()), /preserve-unknown-fields/);
  });

  void it('declares status counts as int32', () => {
    const loader = prop(rootSchema(), 'status', 'module', 'loader');
    assert.deepEqual([prop(loader, 'desired').format, prop(loader, 'desired').maximum], ['int32', 2 ** 31 - 1]);
    assert.equal(prop(rootSchema(), 'status', 'consumersReady').format, 'int32');
  });

  void it('describes conditions as a metav1.Condition list keyed by type', () => {
    const conditions = prop(rootSchema(), 'status', 'conditions');
    assert.equal(conditions['x-kubernetes-list-type'], 'map');
    assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
    const item = prop(conditions, '[]');
    assert.deepEqual(item.required, ['type', 'status', 'lastTransitionTime', 'reason', 'message']);
    assert.deepEqual(prop(item, 'status').enum, ['True', 'False', 'Unknown']);
    assert.equal(prop(item, 'lastTransitionTime').format, 'date-time');
    assert.equal(prop(item, 'observedGeneration').type, 'integer');
  });

  void it('has the module counts and consumer fields in status', () => {
    const status = prop(rootSchema(), 'status');
    assert.equal(status.required, undefined);
    for (const workload of ['loader', 'devicePlugin']) {
      assert.deepEqual(Object.keys(prop(status, 'module', workload).properties ?? {}), ['desired', 'available', 'matching']);
    }
    assert.deepEqual(prop(status, 'consumers').items, { type: 'string' });
    assert.equal(prop(status, 'consumersDesired').type, 'integer');
    assert.equal(prop(status, 'consumersReady').type, 'integer');
    assert.equal(prop(status, 'observedGeneration').type, 'integer');
  });

  void it('describes every field under spec and status for kubectl explain', () => {
    const missing: string[] = [];
    const walk = (node: JsonSchemaProps, path: string): void => {
      if (!node.description) missing.push(path);
      for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${key}`);
      if (node.items?.type === 'object') walk(node.items, `${path}[]`);
    };
    const root = rootSchema();
    walk(prop(root, 'spec'), 'spec');
    walk(prop(root, 'status'), 'status');
    assert.deepEqual(missing, []);
  });

  void it('is a structural schema (metadata is left to the API server)', () => {
    assert.deepEqual(structuralErrors(rootSchema()).map((e) => e.field), ['openAPIV3Schema.properties.metadata']);
  });
});
