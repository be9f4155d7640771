import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { devicePluginReadyLabel, moduleReadyLabel } from '../kmm/labels.ts';
import { validateModule } from '../kmm/validation.ts';
import { immutableConsumersChange, immutableModuleChange } from '../kmm/workload/children.ts';
import type { Module } from '../kmm/types.ts';
import { withDefaults } from './api/defaults.ts';
import type { Ptemplate } from './api/schema.ts';
import { desiredConsumers, desiredModule, type DaemonSet } from './driver.ts';
import { APPLIED_HASH_ANNOTATION } from './names.ts';

const pt = (spec: Record<string, unknown> = {}): Ptemplate => ({
  metadata: { name: 'pt', namespace: 'ns', uid: 'u1', generation: 1 },
  spec: withDefaults({ selector: { gpu: 'yes' }, ...spec }),
});

describe('desired children', () => {
  it('gates consumers on KMM\'s loaded and device-plugin labels and requests the devices as strings', () => {
    const ds = desiredConsumers(pt({ requiredDevices: 2 }), pt({ requiredDevices: 2 }).spec);
    const podSpec = (ds.spec as { template: { spec: { nodeSelector: Record<string, string>; containers: { resources: unknown; securityContext: { allowPrivilegeEscalation: boolean } }[] } } }).template.spec;
    assert.deepEqual(podSpec.nodeSelector, { gpu: 'yes', [moduleReadyLabel('ns', 'pt')]: '', [devicePluginReadyLabel('ns', 'pt')]: '' });
    assert.deepEqual(podSpec.containers[0]!.resources, { requests: { 'example.com/ptemplate': '2' }, limits: { 'example.com/ptemplate': '2' } });
    assert.equal(podSpec.containers[0]!.securityContext.allowPrivilegeEscalation, false);
  });

  it('passes the pull secret to the consumers and to KMM, and only when given', () => {
    const withSecret = pt({ imagePullSecret: { name: 'reg' } });
    const ds = desiredConsumers(withSecret, withSecret.spec);
    assert.deepEqual((ds.spec as { template: { spec: { imagePullSecrets: unknown } } }).template.spec.imagePullSecrets, [{ name: 'reg' }]);
    assert.equal(desiredModule(withSecret, withSecret.spec).spec.imageRepoSecret?.name, 'reg');
    assert.equal(desiredModule(pt(), pt().spec).spec.imageRepoSecret, undefined, 'no pull secret: no crash, no field');
  });

  it('builds a Module KMM accepts, with quoted parameters and a hash that changes with the spec', () => {
    const a = desiredModule(pt({ defaultmsg: 'hello world' }), pt({ defaultmsg: 'hello world' }).spec);
    assert.deepEqual(validateModule(a), []);
    assert.deepEqual(a.spec.moduleLoader!.container.modprobe.parameters, ['max_dev=5', 'default_msg="hello world"']);
    const b = desiredModule(pt({ maxdev: 3 }), pt({ maxdev: 3 }).spec);
    assert.notEqual(a.metadata.annotations?.[APPLIED_HASH_ANNOTATION], b.metadata.annotations?.[APPLIED_HASH_ANNOTATION]);
  });
});

describe('immutable changes', () => {
  it('calls for replacing consumers only when the selector differs, whatever the key order', () => {
    const want = desiredConsumers(pt(), pt().spec);
    const selector = (want.spec as { selector: { matchLabels: Record<string, string> } }).selector;
    const reordered = { ...want, spec: { ...want.spec, selector: { matchLabels: Object.fromEntries(Object.entries(selector.matchLabels).reverse()) } } };
    assert.equal(immutableConsumersChange(want, reordered), undefined);
    assert.match(immutableConsumersChange(want, { ...want, spec: { ...want.spec, selector: { matchLabels: { app: 'old' } } } }) ?? '', /spec\.selector is immutable/);
  });
  it('calls for replacing the Module only when version goes between empty and set', () => {
    const want = desiredModule(pt(), pt().spec);
    const versioned = structuredClone(want);
    versioned.spec.moduleLoader!.container.version = 'v2';
    assert.equal(immutableModuleChange(want, want), undefined);
    assert.match(immutableModuleChange(versioned, want) ?? '', /set spec\.moduleLoader\.container\.version/);
    assert.match(immutableModuleChange(want, versioned) ?? '', /clear/);
    const other = structuredClone(versioned);
    other.spec.moduleLoader!.container.version = 'v3';
    assert.equal(immutableModuleChange(other, versioned), undefined, 'one version to another is an update (KMM\'s ordered upgrade)');
  });
  it('adopts children none of whose fields are ours (cached without a spec): the apply, not a guess, decides', () => {
    const foreignModule = { ...desiredModule(pt(), pt().spec), spec: undefined } as unknown as Module;
    const foreignConsumers = { ...desiredConsumers(pt(), pt().spec), spec: undefined } as unknown as DaemonSet;
    assert.equal(immutableModuleChange(desiredModule(pt(), { ...pt().spec, version: 'v2' }), foreignModule), undefined);
    assert.equal(immutableConsumersChange(desiredConsumers(pt(), pt().spec), foreignConsumers), undefined);
    assert.equal(immutableConsumersChange(desiredConsumers(pt(), pt().spec), { ...foreignConsumers, spec: { template: {} } }), undefined, 'a spec without our selector');
  });
});
