import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FieldError } from '../../runtime/field-error.ts';
import { deepFreeze } from '../../runtime/object.ts';
import { withDefaults } from './defaults.ts';
import type { Ptemplate, PtemplateSpecInput } from './schema.ts';
import { validatePtemplate } from './validate.ts';

// The Go operator's sample, as a user writes it.
const sample = {
  apiVersion: 'pt.example.com/v1alpha1',
  kind: 'Ptemplate',
  metadata: { name: 'ptemplate-sample', namespace: 'default' },
  spec: { selector: { 'kubernetes.io/hostname': 'worker-0' } },
};

/** The sample with `changes` merged into its spec, defaulted as the API server would. */
function withSpec(changes: Record<string, unknown>, metadata: Ptemplate['metadata'] = sample.metadata): Ptemplate {
  const spec = { ...sample.spec, ...changes } as PtemplateSpecInput;
  return { ...sample, metadata, spec: withDefaults(spec) };
}

function errorsOf(changes: Record<string, unknown>): FieldError[] {
  return validatePtemplate(withSpec(changes));
}

/** Asserts exactly one error, on `field`, whose message matches `message`. */
function assertOneError(errors: FieldError[], field: string, message: RegExp): void {
  assert.equal(errors.length, 1, `expected one error on ${field}, got ${JSON.stringify(errors)}`);
  assert.equal(errors[0]?.field, field);
  assert.match(errors[0]?.message ?? '', message);
}

void describe('validatePtemplate: valid objects', () => {
  void it('accepts the Go sample after defaults', () => {
    assert.deepEqual(validatePtemplate(withSpec({})), []);
  });

  void it('accepts an object that missed the defaults (older CRD) the same way, without changing it', () => {
    const raw: Ptemplate = deepFreeze({ ...sample, spec: sample.spec as unknown as Ptemplate['spec'] });
    assert.deepEqual(validatePtemplate(raw), []);
    assert.deepEqual(raw.spec, { selector: { 'kubernetes.io/hostname': 'worker-0' } });
  });

  void it('accepts a spec using every field', () => {
    const errors = errorsOf({
      selector: { 'node-role.kubernetes.io/worker': '', feature: 'ptemplate.v1' },
      maxdev: 3,
      defaultmsg: 'hello, world! #1 ~',
      deviceplugin: 'registry.local:5000/pt/plugin:v1.2',
      consumer: 'quay.io/pt/consumer@sha256:' + 'a'.repeat(64),
      requiredDevices: 3,
      imagePullSecret: { name: 'regcred' },
      moduleState: 'Unloaded',
      moduleName: 'ptemplate-char_dev2',
      driverImage: 'quay.io/pt/driver:${KERNEL_XYZ}',
      kernelMappings: [{ regexp: '^6\\.1\\..*$', containerImage: 'quay.io/pt/driver:6.1' }, { literal: '5.14.0-1', containerImage: 'quay.io/pt/driver:${KERNEL_FULL_VERSION}' }],
      tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }, { key: 'k', value: 'v', effect: 'NoExecute', tolerationSeconds: 30 }],
    });
    assert.deepEqual(errors, []);
  });

  void it('never throws, whatever the shape', () => {
    assert.doesNotThrow(() => validatePtemplate({ metadata: null, spec: 'x' } as unknown as Ptemplate));
    const errors = validatePtemplate({ metadata: {}, spec: null } as unknown as Ptemplate);
    assert.deepEqual(errors.map((e) => e.field), ['metadata.name', 'metadata.namespace', 'spec']);
  });
});

void describe('validatePtemplate: metadata', () => {
  void it('requires a name and a namespace', () => {
    const errors = validatePtemplate(withSpec({}, {}));
    assert.deepEqual(errors.map((e) => e.field), ['metadata.name', 'metadata.namespace']);
  });

  void it('refuses a name and namespace longer than KMM allows together', () => {
    const errors = validatePtemplate(withSpec({}, { name: 'a'.repeat(30), namespace: 'n'.repeat(11) }));
    assertOneError(errors, 'metadata.name', /41 characters together; KMM 2.6.0 allows at most 40/);
  });

  void it('refuses a name that is not a DNS subdomain', () => {
    assertOneError(validatePtemplate(withSpec({}, { name: 'My_Device', namespace: 'default' })), 'metadata.name', /must be a DNS subdomain/);
  });

  void it('refuses a name whose consumer DaemonSet name would be longer than 253 characters', () => {
    const errors = validatePtemplate(withSpec({}, { name: 'a'.repeat(245), namespace: 'default' }));
    assert.ok(errors.some((e) => e.field === 'metadata.name' && /consumer DaemonSet's name .* 254 characters.*at most 244/.test(e.message)), JSON.stringify(errors));
    const fits = validatePtemplate(withSpec({}, { name: 'a'.repeat(244), namespace: 'default' }));
    assert.ok(!fits.some((e) => /consumer/.test(e.message)));
  });
});

void describe('validatePtemplate: spec rules the schema expresses', () => {
  void it('requires spec and spec.selector', () => {
    assertOneError(validatePtemplate({ ...sample, spec: undefined } as unknown as Ptemplate), 'spec', /is required/);
    assertOneError(validatePtemplate({ ...sample, spec: {} as Ptemplate['spec'] }), 'spec.selector', /is required/);
  });

  void it('requires selector values to be strings', () => {
    assertOneError(errorsOf({ selector: { zone: 1 } }), 'spec.selector.zone', /must be a string/);
  });

  void it('bounds maxdev to 1..5 whole numbers', () => {
    assertOneError(errorsOf({ maxdev: 0, requiredDevices: 1 }), 'spec.maxdev', /at least 1/);
    assertOneError(errorsOf({ maxdev: 6 }), 'spec.maxdev', /at most 5, not 6/);
    assertOneError(errorsOf({ maxdev: 2.5 }), 'spec.maxdev', /whole number/);
    assertOneError(errorsOf({ maxdev: '5' }), 'spec.maxdev', /must be a number/);
  });

  void it('bounds requiredDevices to 1..5', () => {
    assertOneError(errorsOf({ requiredDevices: 0 }), 'spec.requiredDevices', /at least 1/);
    assertOneError(errorsOf({ requiredDevices: 6 }), 'spec.requiredDevices', /at most 5, not 6/);
  });

  void it('allows only Loaded and Unloaded as moduleState', () => {
    assertOneError(errorsOf({ moduleState: 'Running' }), 'spec.moduleState', /one of "Loaded", "Unloaded", not "Running"/);
  });

  void it('requires a module name of letters, digits, "_" and "-", at most 56 characters', () => {
    assertOneError(errorsOf({ moduleName: 'ptemplate char' }), 'spec.moduleName', /regular expression/);
    assertOneError(errorsOf({ moduleName: 'm'.repeat(57) }), 'spec.moduleName', /at most 56 characters/);
    assert.deepEqual(errorsOf({ moduleName: 'm'.repeat(56) }), []);
  });

  void it('requires a pull secret to have a name', () => {
    assertOneError(errorsOf({ imagePullSecret: {} }), 'spec.imagePullSecret.name', /is required/);
  });

  void it('requires kernel mappings to name an image', () => {
    assertOneError(errorsOf({ kernelMappings: [{ literal: '6.1.0' }] }), 'spec.kernelMappings[0].containerImage', /is required/);
  });

  void it('requires tolerations to be objects', () => {
    assertOneError(errorsOf({ tolerations: ['NoSchedule'] }), 'spec.tolerations[0]', /must be an object/);
  });
});

void describe('validatePtemplate: rules the schema cannot express', () => {
  void it('refuses requiredDevices above maxdev, naming maxdev', () => {
    assertOneError(errorsOf({ maxdev: 3, requiredDevices: 4 }), 'spec.requiredDevices', /at most spec\.maxdev \(3\), not 4/);
    assert.deepEqual(errorsOf({ maxdev: 3, requiredDevices: 3 }), []);
  });

  void it('measures defaultmsg in UTF-8 bytes, with one error even when the schema also objects', () => {
    assertOneError(errorsOf({ defaultmsg: 'x'.repeat(101) }), 'spec.defaultmsg', /101 bytes long .* at most 100 bytes/);
    assert.deepEqual(errorsOf({ defaultmsg: 'x'.repeat(100) }), []);
    const errors = errorsOf({ defaultmsg: 'é'.repeat(60) });
    assert.ok(errors.some((e) => e.field === 'spec.defaultmsg' && /120 bytes/.test(e.message)), JSON.stringify(errors));
    assert.ok(errors.every((e) => !/regular expression/.test(e.message)));
  });

  void it('refuses a double quote in defaultmsg', () => {
    assertOneError(errorsOf({ defaultmsg: 'say "hi"' }), 'spec.defaultmsg', /double quote/);
  });

  void it('refuses non-printable and non-ASCII characters in defaultmsg', () => {
    assertOneError(errorsOf({ defaultmsg: 'line\nbreak' }), 'spec.defaultmsg', /character 5 \(U\+000A\) is not printable ASCII/);
    assertOneError(errorsOf({ defaultmsg: 'bell\u0007' }), 'spec.defaultmsg', /U\+0007/);
    assertOneError(errorsOf({ defaultmsg: 'café' }), 'spec.defaultmsg', /U\+00E9/);
    assert.deepEqual(errorsOf({ defaultmsg: '' }), []);
    assert.deepEqual(errorsOf({ defaultmsg: 'with spaces' }), []);
  });

  void it('requires a tag or digest on the driver, device plugin and consumer images', () => {
    assertOneError(errorsOf({ driverImage: 'quay.io/pt/driver' }), 'spec.driverImage', /neither a tag nor a digest/);
    assertOneError(errorsOf({ deviceplugin: 'quay.io/pt/plugin' }), 'spec.deviceplugin', /neither a tag nor a digest/);
    assertOneError(errorsOf({ consumer: 'localhost:5000/consumer' }), 'spec.consumer', /registry port/);
    assertOneError(errorsOf({ driverImage: '' }), 'spec.driverImage', /required|at least 1/);
  });

  void it('allows KMM variables only in the driver images', () => {
    assertOneError(errorsOf({ consumer: 'quay.io/pt/consumer:${KERNEL_FULL_VERSION}' }), 'spec.consumer', /substituted only in driverImage and kernelMappings/);
    assertOneError(errorsOf({ deviceplugin: 'quay.io/pt/plugin:$KERNEL_XYZ' }), 'spec.deviceplugin', /contains "\$"/);
    assertOneError(errorsOf({ driverImage: 'quay.io/pt/driver:${KERNEL}' }), 'spec.driverImage', /unknown variable/);
  });

  void it('requires exactly one of regexp and literal in a kernel mapping', () => {
    const image = 'quay.io/pt/driver:6.1';
    assertOneError(errorsOf({ kernelMappings: [{ regexp: '^6', literal: '6.1.0', containerImage: image }] }), 'spec.kernelMappings[0]', /mutually exclusive/);
    assertOneError(errorsOf({ kernelMappings: [{ containerImage: image }] }), 'spec.kernelMappings[0]', /exactly one of regexp .* or literal/);
  });

  void it('refuses kernel mapping regexps that Go cannot compile', () => {
    const image = 'quay.io/pt/driver:6.1';
    assertOneError(errorsOf({ kernelMappings: [{ containerImage: image, regexp: '^6.1' }, { regexp: '^(6\\.1', containerImage: image }] }), 'spec.kernelMappings[1].regexp', /regexp.Compile refuses it: missing closing \)/);
    assertOneError(errorsOf({ kernelMappings: [{ regexp: '^(?!5).*$', containerImage: image }] }), 'spec.kernelMappings[0].regexp', /lookahead/);
  });

  void it('requires a tag or digest on kernel mapping images', () => {
    assertOneError(errorsOf({ kernelMappings: [{ literal: '6.1.0', containerImage: 'quay.io/pt/driver' }] }), 'spec.kernelMappings[0].containerImage', /neither a tag nor a digest/);
  });

  void it('requires selector keys and values to be valid labels, naming the key in the field', () => {
    assertOneError(errorsOf({ selector: { 'foo bar': 'x' } }), 'spec.selector["foo bar"]', /not a valid label key/);
    assertOneError(errorsOf({ selector: { 'Example.COM/role': 'x' } }), 'spec.selector["Example.COM/role"]', /prefix "Example.COM" must be a DNS subdomain/);
    assertOneError(errorsOf({ selector: { ['k'.repeat(64)]: 'x' } }), `spec.selector.${'k'.repeat(64)}`, /1 to 63/);
    assertOneError(errorsOf({ selector: { role: 'has space' } }), 'spec.selector.role', /not a valid label value/);
    assertOneError(errorsOf({ selector: { role: 'v'.repeat(64) } }), 'spec.selector.role', /at most 63/);
    assertOneError(errorsOf({ selector: { role: '-edge' } }), 'spec.selector.role', /starting and ending with a letter or digit/);
    assert.deepEqual(errorsOf({ selector: {} }), []);
  });

  void it('requires the pull secret name to be a Secret name', () => {
    assertOneError(errorsOf({ imagePullSecret: { name: 'My_Secret' } }), 'spec.imagePullSecret.name', /not a Secret name/);
  });

  void it('applies the API server toleration rules, and checks field types the schema keeps as sent', () => {
    assertOneError(errorsOf({ tolerations: [{ operator: 'Maybe', key: 'k' }] }), 'spec.tolerations[0].operator', /not one of Equal, Exists/);
    assertOneError(errorsOf({ tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] }), 'spec.tolerations[0].value', /must be empty/);
    assertOneError(errorsOf({ tolerations: [{ key: 'k', tolerationSeconds: 5, effect: 'NoSchedule' }] }), 'spec.tolerations[0].effect', /NoExecute/);
    assertOneError(errorsOf({ tolerations: [{ key: 5, operator: 'Exists' }] }), 'spec.tolerations[0].key', /must be a string/);
    assertOneError(errorsOf({ tolerations: [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 1.5 }] }), 'spec.tolerations[0].tolerationSeconds', /whole number/);
  });

  void it('reports every problem at once', () => {
    const errors = errorsOf({ maxdev: 9, defaultmsg: '"', moduleState: 'x', driverImage: 'd', selector: { 'a b': 'c' } });
    assert.deepEqual(errors.map((e) => e.field).sort(), ['spec.defaultmsg', 'spec.driverImage', 'spec.maxdev', 'spec.moduleState', 'spec.selector["a b"]']);
  });
});

// Each class of input that once got through validation and then failed at the API server or in KMM.
void describe('validatePtemplate: inputs that got through before', () => {
  const image = 'quay.io/acme/kmod:v1';

  void it('refuses fields a Toleration does not have (the CRD prunes them; a raw object is refused)', () => {
    assertOneError(errorsOf({ tolerations: [{ operator: 'Exists', foo: 1 }] }), 'spec.tolerations[0].foo', /not a field of a Toleration/);
  });

  void it('range-checks tolerationSeconds exactly, although JSON numbers above 2^53 are not exact in JavaScript', () => {
    // 2^63 (one above int64) parses to the same double as the int64 maximum: a check at 2^63 - 1 could not tell them apart.
    assert.equal(JSON.parse('9223372036854775808'), JSON.parse('9223372036854775807'));
    const seconds = (n: unknown) => errorsOf({ tolerations: [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: n }] });
    assert.match(seconds(JSON.parse('9223372036854775808'))[0]?.message ?? '', /at most 9007199254740991|between/);
    assert.equal(seconds(JSON.parse('9223372036854775808'))[0]?.field, 'spec.tolerations[0].tolerationSeconds');
    assert.equal(seconds(2 ** 53)[0]?.field, 'spec.tolerations[0].tolerationSeconds');
    assert.equal(seconds(-(2 ** 53))[0]?.field, 'spec.tolerations[0].tolerationSeconds');
    assert.deepEqual(seconds(2 ** 53 - 1), []);
    assert.deepEqual(seconds(-5), []);
  });

  void it('checks kernel mapping regexps on code points and with Go\'s limits', () => {
    assert.deepEqual(errorsOf({ kernelMappings: [{ regexp: '[🙂-🙃]', containerImage: image }] }), []);
    const deep = `${'('.repeat(1001)}5${')'.repeat(1001)}`;
    assertOneError(errorsOf({ kernelMappings: [{ regexp: deep, containerImage: image }] }), 'spec.kernelMappings[0].regexp', /expression nests too deeply/);
  });

  void it('refuses image references over the grammar\'s limits, naming the field', () => {
    assertOneError(errorsOf({ driverImage: `quay.io/${'a'.repeat(5000)}:v1` }), 'spec.driverImage', /at most 1024/);
    assertOneError(errorsOf({ consumer: `quay.io/${'a'.repeat(248)}:v1` }), 'spec.consumer', /repository name of 256 characters; .* at most 255/);
    assert.deepEqual(errorsOf({ consumer: `quay.io/${'a'.repeat(247)}:v1` }), []);
    assertOneError(errorsOf({ deviceplugin: `quay.io/a/b:${'t'.repeat(129)}` }), 'spec.deviceplugin', /invalid tag/);
  });

  void it('refuses module names modprobe would read as options', () => {
    for (const moduleName of ['-r', '--remove', '-']) {
      const errors = errorsOf({ moduleName });
      assert.ok(errors.length > 0 && errors.every((e) => e.field === 'spec.moduleName'), `${moduleName}: ${JSON.stringify(errors)}`);
    }
    assert.deepEqual(errorsOf({ moduleName: '_pt-char_dev' }), []);
  });

  void it('follows the declared KMM version for the name length rule', () => {
    const name = 'n'.repeat(30);
    const pt = withSpec({}, { name, namespace: 'a'.repeat(11) });
    assert.equal(validatePtemplate(pt).length, 1, 'KMM 2.6.0 allows 40');
    assert.deepEqual(validatePtemplate(pt, { kmmVersion: 'v2.7.0' }), [], 'KMM after 2.6.0 allows 41');
  });
});

void describe('validatePtemplate: version and upgradePolicy', () => {
  void it('accepts a version with a policy, and refuses a version that is no label value or a bad policy, naming the field', () => {
    assert.deepEqual(errorsOf({ version: 'v2.1', upgradePolicy: { maxUnavailable: '25%', paused: true, nodeTimeout: '15m', maxFailedNodes: 2 } }), []);
    assert.deepEqual(errorsOf({ upgradePolicy: { maxUnavailable: 2 } }), []);
    assert.deepEqual(errorsOf({ version: 'v 2' }).map((e) => e.field), ['spec.version']);
    assertOneError(errorsOf({ upgradePolicy: { maxUnavailable: 'half' } }), 'spec.upgradePolicy.maxUnavailable', /number of nodes .* or a percentage/);
    assertOneError(errorsOf({ upgradePolicy: { nodeTimeout: '0m' } }), 'spec.upgradePolicy.nodeTimeout', /positive duration/);
  });
});
