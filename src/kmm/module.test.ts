import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildModule, moduleParameter, moduleStatusSummary, type ModuleInput } from './module.ts';
import type { Module } from './types.ts';
import { validateModule } from './validation.ts';

const minimal = (): ModuleInput => ({
  name: 'ptemplate',
  namespace: 'ops',
  selector: {},
  moduleName: 'ptemplate_char_dev',
  kernelMappings: [{ regexp: '^.+$', containerImage: 'quay.io/acme/kmod:${KERNEL_FULL_VERSION}' }],
});

const full = (): ModuleInput => ({
  ...minimal(),
  labels: { 'app.kubernetes.io/managed-by': 'ptemplate-operator' },
  ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'Ptemplate', name: 'p', uid: 'u-1', controller: true, blockOwnerDeletion: true }],
  selector: { 'feature.node.kubernetes.io/kernel-module.ptemplate': 'true' },
  parameters: ['max_dev=2', 'default_msg="hello world"'],
  dirName: '/usr',
  kernelMappings: [
    { literal: '5.14.0-1.el9.x86_64', containerImage: 'quay.io/acme/kmod:el9' },
    { regexp: '^6\\.', inTreeModulesToRemove: ['old_ptemplate'] },
  ],
  containerImage: 'quay.io/acme/kmod:${KERNEL_FULL_VERSION}',
  imagePullPolicy: 'IfNotPresent',
  devicePlugin: {
    image: 'quay.io/acme/plugin:v1',
    args: ['--resource=example.com/ptemplate'],
    env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
    volumeMounts: [{ name: 'dev', mountPath: '/dev' }],
    volumes: [{ name: 'dev', hostPath: { path: '/dev' } }],
    serviceAccountName: 'plugin',
    imagePullPolicy: 'Always',
  },
  imageRepoSecret: 'pull',
  tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }],
  serviceAccountName: 'loader',
});

function nullishPaths(value: unknown, path = ''): string[] {
  if (value === null || value === undefined) return [path];
  if (typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => nullishPaths(v, `${path}.${k}`));
}

void test('a minimal Module has exactly the required fields, dirName explicit and the selector present', () => {
  assert.deepEqual(buildModule(minimal()), {
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
  });
});

void test('every input field lands where KMM expects it', () => {
  assert.deepEqual(buildModule(full()), {
    apiVersion: 'kmm.sigs.x-k8s.io/v1beta1',
    kind: 'Module',
    metadata: {
      name: 'ptemplate',
      namespace: 'ops',
      labels: { 'app.kubernetes.io/managed-by': 'ptemplate-operator' },
      ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'Ptemplate', name: 'p', uid: 'u-1', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      selector: { 'feature.node.kubernetes.io/kernel-module.ptemplate': 'true' },
      moduleLoader: {
        container: {
          modprobe: { moduleName: 'ptemplate_char_dev', dirName: '/usr', parameters: ['max_dev=2', 'default_msg="hello world"'] },
          kernelMappings: [
            { literal: '5.14.0-1.el9.x86_64', containerImage: 'quay.io/acme/kmod:el9' },
            { regexp: '^6\\.', containerImage: '', inTreeModulesToRemove: ['old_ptemplate'] },
          ],
          containerImage: 'quay.io/acme/kmod:${KERNEL_FULL_VERSION}',
          imagePullPolicy: 'IfNotPresent',
        },
        serviceAccountName: 'loader',
      },
      devicePlugin: {
        container: {
          image: 'quay.io/acme/plugin:v1',
          args: ['--resource=example.com/ptemplate'],
          env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
          volumeMounts: [{ name: 'dev', mountPath: '/dev' }],
          imagePullPolicy: 'Always',
        },
        volumes: [{ name: 'dev', hostPath: { path: '/dev' } }],
        serviceAccountName: 'plugin',
      },
      imageRepoSecret: { name: 'pull' },
      tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }],
    },
  });
});

void test('the built Module passes KMM\'s rules', () => {
  assert.deepEqual(validateModule(buildModule(minimal())), []);
  assert.deepEqual(validateModule(buildModule(full())), []);
});

void test('optional parts are omitted, never null, undefined or empty', () => {
  const input: ModuleInput = {
    ...minimal(),
    labels: {},
    ownerReferences: [],
    parameters: [],
    tolerations: [],
    dirName: '',
    devicePlugin: { image: 'quay.io/acme/plugin:v1', args: [], env: [], volumes: [] },
  };
  const module = buildModule(input);
  assert.deepEqual(nullishPaths(module), []);
  assert.deepEqual(Object.keys(module.metadata), ['name', 'namespace']);
  assert.deepEqual(module.spec.devicePlugin, { container: { image: 'quay.io/acme/plugin:v1' } });
  assert.equal(module.spec.moduleLoader?.container.modprobe.dirName, '/opt', 'an empty dirName still defaults');
  assert.deepEqual(Object.keys(module.spec), ['selector', 'moduleLoader', 'devicePlugin']);
  assert.deepEqual(JSON.parse(JSON.stringify(buildModule(full()))), buildModule(full()), 'survives JSON unchanged');
});

void test('the built Module shares no objects with its input', () => {
  const input = full();
  const module = buildModule(input);
  const before = structuredClone(module);
  input.selector.zone = 'changed';
  input.labels!.extra = 'x';
  input.ownerReferences![0]!.name = 'changed';
  input.parameters!.push('x=1');
  input.kernelMappings[1]!.inTreeModulesToRemove!.push('x');
  input.devicePlugin!.env![0]!.name = 'CHANGED';
  input.devicePlugin!.volumes![0]!.hostPath!.path = '/var';
  input.tolerations![0]!.key = 'changed';
  assert.deepEqual(module, before);
});

void test('module parameters: integers and plain strings as is, strings with whitespace double-quoted', () => {
  assert.equal(moduleParameter('max_dev', 2), 'max_dev=2');
  assert.equal(moduleParameter('offset', -3), 'offset=-3');
  assert.equal(moduleParameter('big', 12345678901234567890n), 'big=12345678901234567890');
  assert.equal(moduleParameter('debug', true), 'debug=Y');
  assert.equal(moduleParameter('debug', false), 'debug=N');
  assert.equal(moduleParameter('default_msg', 'hello'), 'default_msg=hello');
  assert.equal(moduleParameter('default_msg', 'hello world'), 'default_msg="hello world"');
  assert.equal(moduleParameter('default_msg', 'tab\there'), 'default_msg="tab\there"');
  assert.equal(moduleParameter('default_msg', ''), 'default_msg=""');
  assert.equal(moduleParameter('default_msg', 'a=b,c'), 'default_msg=a=b,c');
});

void test('module parameters the kernel cannot receive intact are an Error that says why', () => {
  assert.throws(() => moduleParameter('default_msg', 'say "hi"'), /'"'/);
  assert.throws(() => moduleParameter('default_msg', 'two\nlines'), /line break/);
  assert.throws(() => moduleParameter('default_msg', 'cr\r'), /line break/);
  assert.throws(() => moduleParameter('max_dev', 1.5), /integer/);
  assert.throws(() => moduleParameter('max_dev', Number.NaN), /integer/);
  assert.throws(() => moduleParameter('max_dev', Infinity), /integer/);
  assert.throws(() => moduleParameter('', 1), /name/);
  assert.throws(() => moduleParameter('max dev', 1), /name/);
  assert.throws(() => moduleParameter('max=dev', 1), /name/);
});

void test('the status summary fills in zeros KMM left out', () => {
  const module = buildModule(minimal());
  assert.deepEqual(moduleStatusSummary(module), { loader: { desired: 0, available: 0, matching: 0 } });
  const reported: Module = { ...module, status: { moduleLoader: { nodesMatchingSelectorNumber: 3, desiredNumber: 2, availableNumber: 1 } } };
  assert.deepEqual(moduleStatusSummary(reported), { loader: { desired: 2, available: 1, matching: 3 } });
});

void test('the status summary has device plugin counts exactly when the spec has a device plugin', () => {
  const without: Module = { ...buildModule(minimal()), status: { moduleLoader: {}, devicePlugin: {} } };
  assert.equal(moduleStatusSummary(without).devicePlugin, undefined, 'KMM writes an empty devicePlugin status regardless');
  const withPlugin: Module = {
    ...buildModule({ ...minimal(), devicePlugin: { image: 'quay.io/acme/plugin:v1' } }),
    status: { devicePlugin: { desiredNumber: 4, availableNumber: 4 } },
  };
  assert.deepEqual(moduleStatusSummary(withPlugin), {
    loader: { desired: 0, available: 0, matching: 0 },
    devicePlugin: { desired: 4, available: 4, matching: 0 },
  });
});
