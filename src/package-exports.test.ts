// The package's `exports` map, checked through the package's own name (Node resolves a package's
// self-reference through its exports): another package importing `ptemplate-operator/...` gets
// the same modules the operator runs, and nothing that is not exported.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Manager } from './runtime/manager/manager.ts';
import { addDeviceController } from './kmm/workload/controller.ts';

describe('package exports', () => {
  it('serves the runtime at the package root and at ./runtime', async () => {
    const root = await import('ptemplate-operator');
    const runtime = await import('ptemplate-operator/runtime');
    assert.equal(root.Manager, Manager);
    assert.equal(runtime.Manager, Manager);
    for (const name of ['Client', 'Cache', 'ControllerBuilder', 'LeaderElector', 'startWebhookServer', 's', 'crd', 'setCondition', 'addFinalizer']) {
      assert.ok(name in runtime, `runtime exports ${name}`);
    }
  });

  it('serves the KMM layer, workload controller included, at ./kmm', async () => {
    const kmm = await import('ptemplate-operator/kmm');
    assert.equal(kmm.addDeviceController, addDeviceController);
    for (const name of ['Modules', 'buildModule', 'moduleReadyLabel', 'validateModule', 'deviceStatusSchema', 'workloadNames']) {
      assert.ok(name in kmm, `kmm exports ${name}`);
    }
  });

  it('serves the CLI entry at ./cli', async () => {
    const cli = await import('ptemplate-operator/cli');
    assert.equal(typeof cli.main, 'function');
    assert.equal(typeof cli.runCli, 'function');
  });

  it('keeps unexported files private', async () => {
    // A variable, so the type checker does not try (and fail) to resolve it.
    const unexported: string = 'ptemplate-operator/src/runtime/object.ts';
    await assert.rejects(import(unexported), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  });
});
