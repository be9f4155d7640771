import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxNameAndNamespaceLength } from './versions.ts';
import type { FieldError } from '../runtime/field-error.ts';
import type { Module } from './types.ts';
import {
  MAX_NAME_AND_NAMESPACE_LENGTH,
  goRegexpProblem,
  validateImageReference,
  validateKernelMapping,
  validateKernelMappings,
  validateModule,
  validateModuleIdentity,
  validateModuleUpdate,
  validateTolerations,
} from './validation.ts';

function validModule(): Module {
  return {
    apiVersion: 'kmm.sigs.x-k8s.io/v1beta1',
    kind: 'Module',
    metadata: { name: 'ptemplate', namespace: 'ops' },
    spec: {
      selector: {},
      moduleLoader: {
        container: {
          modprobe: { moduleName: 'ptemplate_char_dev', dirName: '/opt' },
          kernelMappings: [{ regexp: '^.+$', containerImage: 'quay.io/acme/kmod:${KERNEL_FULL_VERSION}' }],
        },
      },
    },
  };
}

const fields = (errors: FieldError[]): string[] => errors.map((e) => e.field);

// ---- identity ----

void test('name plus namespace may use up to KMM\'s 40 characters and no more', () => {
  assert.equal(MAX_NAME_AND_NAMESPACE_LENGTH, 40);
  assert.deepEqual(validateModuleIdentity('a'.repeat(20), 'b'.repeat(20), 'metadata.name'), []);
  const errors = validateModuleIdentity('a'.repeat(20), 'b'.repeat(21), 'metadata.name');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.field, 'metadata.name');
  assert.match(errors[0]!.message, /\b41\b/, 'says the actual total');
  assert.match(errors[0]!.message, /\b40\b/, 'says the limit');
});

// ---- images ----

void test('images with a tag or a digest are accepted, including registry ports and KMM variables', () => {
  for (const image of [
    'quay.io/acme/kmod:v1',
    'registry.local:5000/acme/kmod:v1',
    'localhost/kmod:dev',
    'kmod:1.0',
    `quay.io/acme/kmod@sha256:${'a'.repeat(64)}`,
    `quay.io/acme/kmod:v1@sha256:${'0'.repeat(64)}`,
    'quay.io/acme/kmod:${KERNEL_FULL_VERSION}',
    'quay.io/${MOD_NAMESPACE}/${MOD_NAME}:${KERNEL_X}.${KERNEL_Y}.${KERNEL_Z}-${KERNEL_XYZ}',
    'quay.io/acme/kmod:$KERNEL_FULL_VERSION',
  ]) {
    assert.deepEqual(validateImageReference(image, 'img'), [], image);
  }
});

void test('an image without tag or digest is refused, and a registry port is not taken for a tag', () => {
  const plain = validateImageReference('quay.io/acme/kmod', 'img');
  assert.equal(plain.length, 1);
  assert.match(plain[0]!.message, /tag.*digest/);
  const port = validateImageReference('registry.local:5000/acme/kmod', 'img');
  assert.equal(port.length, 1);
  assert.match(port[0]!.message, /port/);
});

void test('empty images, whitespace and malformed tags, digests or repositories are refused with the field path', () => {
  for (const image of ['', '   ', 'quay.io/acme/kmod:v1 ', 'quay.io/acme/kmod:', 'quay.io/acme/kmod:.v1', 'quay.io/acme/kmod@sha256:abc', 'quay.io/Acme/kmod:v1', 'quay.io//kmod:v1']) {
    const errors = validateImageReference(image, 'spec.x.image');
    assert.equal(errors.length, 1, JSON.stringify(image));
    assert.equal(errors[0]!.field, 'spec.x.image');
  }
});

void test('an unknown variable in an image is refused by name', () => {
  const braced = validateImageReference('quay.io/acme/kmod:${KERNEL_VERSION}', 'img');
  assert.equal(braced.length, 1);
  assert.match(braced[0]!.message, /\$\{KERNEL_VERSION\}/);
  assert.match(braced[0]!.message, /KERNEL_FULL_VERSION/, 'lists what is allowed');
  const bare = validateImageReference('quay.io/acme/kmod:$ARCH', 'img');
  assert.match(bare[0]!.message, /\$ARCH/);
  assert.equal(validateImageReference('quay.io/acme/kmod:${KERNEL_FULL_VERSION', 'img').length, 1, 'unterminated');
  assert.equal(validateImageReference('quay.io/acme/kmod:v$', 'img').length, 1, 'stray $');
});

// ---- Go regexps ----

void test('Go regexps that JavaScript spells differently are accepted', () => {
  for (const pattern of ['^5\\.14\\..*$', '.*', '(?i)^5\\.14', '(?P<major>\\d+)\\.', '(?<major>\\d+)', '[[:digit:]]+', '[]x]', '\\Q5.14+\\E', '\\A5\\z', '(?s:.)', '\\x{2e}', '\\pN', 'a{2,1000}', '\\(?=x', '(?<name>x)']) {
    assert.equal(goRegexpProblem(pattern), undefined, pattern);
  }
});

void test('constructs RE2 lacks are refused even though JavaScript would compile them', () => {
  const cases: [string, RegExp][] = [
    ['^5(?=\\.14)', /lookahead/],
    ['^5(?!\\.14)', /lookahead/],
    ['(?<=5\\.)14', /lookbehind/],
    ['(?<!5\\.)14', /lookbehind/],
    ['(5)\\.\\1', /backreference/],
    ['(?<v>5)\\k<v>', /backreference/],
    ['\\9', /backreference/],
    ['a{1001}', /1000/],
    ['\\e', /escape/],
    ['(?x)a', /flags/],
  ];
  for (const [pattern, reason] of cases) {
    new RegExp(pattern.replace('(?x)', '')); // JavaScript itself is fine with each of these (bar the Go flag syntax)
    assert.match(goRegexpProblem(pattern) ?? 'accepted', reason, pattern);
  }
});

void test('patterns that compile nowhere are refused with Go\'s reason', () => {
  assert.match(goRegexpProblem('*-invalid') ?? '', /missing argument to repetition operator/);
  assert.match(goRegexpProblem('(5.14') ?? '', /missing closing \)/);
  assert.match(goRegexpProblem('[5-') ?? '', /missing closing \]/);
});

void test('code points beyond UTF-16 are single characters, as in Go', () => {
  assert.equal(goRegexpProblem('[🙂-🙃]'), undefined);
  assert.equal(goRegexpProblem('^🙂+$'), undefined);
  assert.match(goRegexpProblem('[🙃-🙂]') ?? '', /invalid character class range/);
});

void test('Go\'s limits are applied: nesting depth, repeat counts, compiled size', () => {
  const nested = (n: number) => `${'('.repeat(n)}a${')'.repeat(n)}`;
  assert.equal(goRegexpProblem(nested(999)), undefined);
  assert.match(goRegexpProblem(nested(1001)) ?? '', /expression nests too deeply/);
  assert.equal(goRegexpProblem(`${'(?:'.repeat(1001)}a${')'.repeat(1001)}`), undefined, 'non-capturing groups add no tree level');
  assert.match(goRegexpProblem('(a{100}){100}') ?? '', /invalid repeat count/);
  assert.equal(goRegexpProblem('(a{10}){100}'), undefined);
  assert.match(goRegexpProblem('[a-z]{1000}'.repeat(3400)) ?? '', /expression too large/);
  assert.equal(goRegexpProblem('[a-z]{1000}'.repeat(3300)), undefined);
});

// ---- kernel mappings ----

void test('a kernel mapping needs exactly one of regexp and literal', () => {
  assert.deepEqual(validateKernelMapping({ literal: '5.14.0-1.el9.x86_64', containerImage: 'q.io/a/b:1' }, 'm'), []);
  assert.deepEqual(validateKernelMapping({ regexp: '^5\\.14', containerImage: 'q.io/a/b:1' }, 'm'), []);
  assert.deepEqual(fields(validateKernelMapping({ regexp: '^5', literal: '5.14', containerImage: 'q.io/a/b:1' }, 'm')), ['m']);
  assert.deepEqual(fields(validateKernelMapping({ containerImage: 'q.io/a/b:1' }, 'm')), ['m']);
  assert.deepEqual(fields(validateKernelMapping({ regexp: '', literal: '', containerImage: 'q.io/a/b:1' }, 'm')), ['m'], 'empty strings are unset');
});

void test('a bad regexp is reported on its field with the unanchored hint, which is never required', () => {
  const errors = validateKernelMappings([
    { literal: '5.14.0', containerImage: 'q.io/a/b:1' },
    { regexp: '5(?=\\.14)', containerImage: 'q.io/a/b:1' },
  ], 'spec.moduleLoader.container.kernelMappings');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.field, 'spec.moduleLoader.container.kernelMappings[1].regexp');
  assert.match(errors[0]!.message, /\^\.\.\.\$/);
  assert.deepEqual(validateKernelMapping({ regexp: '5\\.14', containerImage: 'q.io/a/b:1' }, 'm'), [], 'unanchored is allowed');
});

void test('a kernel mapping\'s image is checked on its own field', () => {
  assert.deepEqual(fields(validateKernelMapping({ literal: '5.14', containerImage: 'q.io/a/b' }, 'm')), ['m.containerImage']);
});

void test('an empty or missing list of kernel mappings is refused', () => {
  assert.deepEqual(fields(validateKernelMappings([], 'k')), ['k']);
  assert.deepEqual(fields(validateKernelMappings(undefined, 'k')), ['k']);
});

// ---- whole Module ----

void test('a complete Module passes', () => {
  assert.deepEqual(validateModule(validModule()), []);
});

void test('a Module missing its selector, module name or mappings is refused at each field', () => {
  const module = validModule();
  delete (module.spec as Partial<Module['spec']>).selector;
  module.spec.moduleLoader!.container.modprobe.moduleName = '';
  module.spec.moduleLoader!.container.kernelMappings = [];
  assert.deepEqual(fields(validateModule(module)).sort(), [
    'spec.moduleLoader.container.kernelMappings',
    'spec.moduleLoader.container.modprobe.moduleName',
    'spec.selector',
  ]);
});

void test('a Module whose name and namespace are too long is refused on metadata.name', () => {
  const module = validModule();
  module.metadata.namespace = 'n'.repeat(30);
  module.metadata.name = 'm'.repeat(11);
  assert.deepEqual(fields(validateModule(module)), ['metadata.name']);
});

void test('a mapping without image is fine only when the container gives a default image', () => {
  const module = validModule();
  module.spec.moduleLoader!.container.kernelMappings = [{ literal: '5.14.0' }, { regexp: '^6\\.', containerImage: '' }];
  assert.deepEqual(fields(validateModule(module)), [
    'spec.moduleLoader.container.kernelMappings[0].containerImage',
    'spec.moduleLoader.container.kernelMappings[1].containerImage',
  ]);
  module.spec.moduleLoader!.container.containerImage = 'quay.io/acme/kmod:${KERNEL_FULL_VERSION}';
  assert.deepEqual(validateModule(module), []);
  module.spec.moduleLoader!.container.containerImage = 'quay.io/acme/kmod';
  assert.deepEqual(fields(validateModule(module)), ['spec.moduleLoader.container.containerImage']);
});

void test('modprobe rules: rawArgs instead of a module name, and a loading order that starts with the module', () => {
  const raw = validModule();
  raw.spec.moduleLoader!.container.modprobe = { rawArgs: { load: ['-v', 'x'], unload: ['-r', 'x'] } };
  assert.deepEqual(validateModule(raw), []);
  raw.spec.moduleLoader!.container.modprobe.moduleName = 'x';
  assert.deepEqual(fields(validateModule(raw)), ['spec.moduleLoader.container.modprobe.rawArgs']);

  const ordered = validModule();
  ordered.spec.moduleLoader!.container.modprobe.modulesLoadingOrder = ['ptemplate_char_dev', 'dep'];
  assert.deepEqual(validateModule(ordered), []);
  ordered.spec.moduleLoader!.container.modprobe.modulesLoadingOrder = ['dep', 'ptemplate_char_dev', 'dep'];
  assert.deepEqual(fields(validateModule(ordered)), [
    'spec.moduleLoader.container.modprobe.modulesLoadingOrder[0]',
    'spec.moduleLoader.container.modprobe.modulesLoadingOrder[2]',
  ]);
});

void test('fields that reach modprobe\'s command line cannot look like options, and paths stay inside the image', () => {
  const at = 'spec.moduleLoader.container';
  const cases: [(m: Module) => void, string][] = [
    [(m) => { m.spec.moduleLoader!.container.modprobe.moduleName = '-r'; }, `${at}.modprobe.moduleName`],
    [(m) => { m.spec.moduleLoader!.container.modprobe.moduleName = 'a b'; }, `${at}.modprobe.moduleName`],
    [(m) => { m.spec.moduleLoader!.container.modprobe.parameters = ['-v']; }, `${at}.modprobe.parameters[0]`],
    [(m) => { m.spec.moduleLoader!.container.modprobe.parameters = ['max_dev=5', 'x="unbalanced']; }, `${at}.modprobe.parameters[1]`],
    [(m) => { m.spec.moduleLoader!.container.modprobe.parameters = ['a=1\nb=2']; }, `${at}.modprobe.parameters[0]`],
    [(m) => { m.spec.moduleLoader!.container.modprobe.dirName = '../../etc'; }, `${at}.modprobe.dirName`],
    [(m) => { m.spec.moduleLoader!.container.modprobe.dirName = '/opt/../..'; }, `${at}.modprobe.dirName`],
    [(m) => { m.spec.moduleLoader!.container.modprobe.firmwarePath = 'firmware'; }, `${at}.modprobe.firmwarePath`],
    [(m) => { m.spec.moduleLoader!.container.modprobe.modulesLoadingOrder = ['ptemplate_char_dev', '-f']; }, `${at}.modprobe.modulesLoadingOrder[1]`],
    [(m) => { m.spec.moduleLoader!.container.inTreeModulesToRemove = ['--all']; }, `${at}.inTreeModulesToRemove[0]`],
    [(m) => { m.spec.moduleLoader!.container.kernelMappings[0]!.inTreeModulesToRemove = ['-a']; }, `${at}.kernelMappings[0].inTreeModulesToRemove[0]`],
  ];
  for (const [change, field] of cases) {
    const m = validModule();
    change(m);
    assert.deepEqual(fields(validateModule(m)), [field], field);
  }
  const ok = validModule();
  ok.spec.moduleLoader!.container.modprobe = {
    moduleName: 'pt-char_dev', dirName: '/opt/lib', firmwarePath: '/firmware', parameters: ['max_dev=5', 'default_msg="hello world"', 'flag'],
  };
  assert.deepEqual(validateModule(ok), []);
});

void test('an empty toleration operator means Equal, and an empty effect every effect', () => {
  assert.deepEqual(validateTolerations([{ key: 'k', operator: '', value: 'v', effect: '' }], 't'), []);
  assert.deepEqual(fields(validateTolerations([{ operator: '' }], 't')), ['t[0].operator'], 'Equal needs a key');
});

void test('tolerations are type- and range-checked before the rules run', () => {
  const m = validModule();
  m.spec.tolerations = [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 ** 63 }, { key: 'k', foo: 1 } as never, 'x' as never];
  assert.deepEqual(fields(validateModule(m)), ['spec.tolerations[0].tolerationSeconds', 'spec.tolerations[1].foo', 'spec.tolerations[2]']);
});

void test('the name length rule follows the KMM version', () => {
  const m = validModule();
  m.metadata = { name: 'n'.repeat(30), namespace: 'a'.repeat(11) };
  assert.deepEqual(fields(validateModule(m)), ['metadata.name']);
  assert.deepEqual(validateModule(m, { kmmVersion: '2.7.0' }), []);
  assert.equal(maxNameAndNamespaceLength('v2.6.0'), 40);
  assert.equal(maxNameAndNamespaceLength('2.7'), 41);
  assert.throws(() => maxNameAndNamespaceLength('latest'), /must look like 2.6.0/);
});

void test('a device plugin needs a valid image, a known pull policy and host paths KMM permits', () => {
  const module = validModule();
  module.spec.devicePlugin = {
    container: { image: 'quay.io/acme/plugin:v1', imagePullPolicy: 'IfNotPresent' },
    volumes: [{ name: 'dev', hostPath: { path: '/dev' } }, { name: 'cfg', configMap: { name: 'c' } }],
  };
  assert.deepEqual(validateModule(module), []);
  module.spec.devicePlugin = {
    container: { image: 'quay.io/acme/plugin', imagePullPolicy: 'Sometimes' as 'Always' },
    volumes: [{ name: 'etc', hostPath: { path: '/dev/../etc' } }],
  };
  assert.deepEqual(fields(validateModule(module)), [
    'spec.devicePlugin.container.image',
    'spec.devicePlugin.container.imagePullPolicy',
    'spec.devicePlugin.volumes[0].hostPath.path',
  ]);
});

void test('tolerations follow the API server\'s rules', () => {
  assert.deepEqual(validateTolerations([
    { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
    { operator: 'Exists' },
    { key: 'dedicated', value: 'kmod', effect: 'NoExecute', tolerationSeconds: 30 },
  ], 't'), []);
  assert.deepEqual(fields(validateTolerations([
    { operator: 'Equal', value: 'x' },
    { key: 'k', operator: 'Exists', value: 'v' },
    { key: 'k', operator: 'In' },
    { key: 'k', effect: 'NoSchedule', tolerationSeconds: 5 },
    { key: 'bad key', operator: 'Exists', effect: 'Sometimes' },
  ], 't')), ['t[0].operator', 't[1].value', 't[2].operator', 't[3].effect', 't[4].key', 't[4].effect']);
});

// ---- updates ----

void test('an update may not change the version between empty and set', () => {
  const withVersion = (version: string | undefined): Module => {
    const module = validModule();
    if (version !== undefined) module.spec.moduleLoader!.container.version = version;
    return module;
  };
  assert.deepEqual(validateModuleUpdate(withVersion(undefined), withVersion(undefined)), []);
  assert.deepEqual(validateModuleUpdate(withVersion('v1'), withVersion('v2')), []);
  assert.deepEqual(fields(validateModuleUpdate(withVersion(undefined), withVersion('v1'))), ['spec.moduleLoader.container.version']);
  assert.deepEqual(fields(validateModuleUpdate(withVersion('v1'), withVersion(''))), ['spec.moduleLoader.container.version']);
});

void test('an update also reports what is wrong with the new Module', () => {
  const next = validModule();
  next.spec.moduleLoader!.container.kernelMappings = [];
  assert.deepEqual(fields(validateModuleUpdate(validModule(), next)), ['spec.moduleLoader.container.kernelMappings']);
});
