import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deepFreeze } from '../../runtime/object.ts';
import { withDefaults } from './defaults.ts';

void describe('withDefaults', () => {
  void it('fills in every default of the Go operator for a minimal spec', () => {
    assert.deepEqual(withDefaults({ selector: { 'kubernetes.io/hostname': 'worker-0' } }), {
      selector: { 'kubernetes.io/hostname': 'worker-0' },
      maxdev: 5,
      defaultmsg: 'ptemplate',
      deviceplugin: 'quay.io/chrisp262/pt-device-plugin:plugin-latest',
      consumer: 'quay.io/chrisp262/pt-device-plugin:consumer-latest',
      requiredDevices: 1,
      moduleState: 'Loaded',
      moduleName: 'ptemplate_char_dev',
      driverImage: 'quay.io/chrisp262/pt-char-dev:${KERNEL_FULL_VERSION}-sb',
    });
  });

  void it('keeps values that are set, including an empty message', () => {
    const spec = withDefaults({ selector: {}, maxdev: 2, defaultmsg: '', moduleState: 'Unloaded', tolerations: [{ operator: 'Exists' }] });
    assert.equal(spec.maxdev, 2);
    assert.equal(spec.defaultmsg, '');
    assert.equal(spec.moduleState, 'Unloaded');
    assert.deepEqual(spec.tolerations, [{ operator: 'Exists' }]);
    assert.equal(spec.imagePullSecret, undefined);
    assert.equal(spec.kernelMappings, undefined);
  });

  void it('leaves a frozen input unchanged and is idempotent', () => {
    const input = deepFreeze({ selector: { a: 'b' }, kernelMappings: [{ literal: '6.1.0', containerImage: 'r/i:t' }] });
    const once = withDefaults(input);
    assert.deepEqual(input, { selector: { a: 'b' }, kernelMappings: [{ literal: '6.1.0', containerImage: 'r/i:t' }] });
    assert.deepEqual(withDefaults(once), once);
    assert.notEqual(once.selector, input.selector);
  });
});
