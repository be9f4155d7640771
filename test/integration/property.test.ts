// Property test of validation against everything downstream of it, on generated hostile and valid
// Ptemplates (test/support/ptemplate-arbitraries.ts):
// 1. validatePtemplate never throws, and every error names a field of the object;
// 2. every Ptemplate it accepts is accepted by the API server (the CRD), and yields a Module and a
//    consumer DaemonSet (desired.ts, after defaults) that KMM's webhook rules accept and that the real
//    API server accepts by server-side apply (dry run), with the Module CRD installed.
// Fixed seed (CI); PROPERTY_RUNS / PROPERTY_SEED for longer or other local runs. fast-check prints
// the (shrunk) failing Ptemplate and the seed to replay it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { moduleCrd } from '../../src/kmm/crd.ts';
import { Modules } from '../../src/kmm/resource.ts';
import { validateModule } from '../../src/kmm/validation.ts';
import { ptemplateCrd } from '../../src/ptemplate/api/crd.ts';
import { withDefaults } from '../../src/ptemplate/api/defaults.ts';
import { Ptemplates, type Ptemplate } from '../../src/ptemplate/api/schema.ts';
import { validatePtemplate } from '../../src/ptemplate/api/validate.ts';
import { desiredConsumers, desiredModule } from '../../src/ptemplate/controller/desired.ts';
import { Client } from '../../src/runtime/client/client.ts';
import { ApiError } from '../../src/runtime/client/errors.ts';
import { CustomResourceDefinitions, DaemonSets, Namespaces } from '../../src/runtime/resource.ts';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { PROPERTY_NAMESPACES, propertyParameters, ptemplateArbitrary } from '../support/ptemplate-arbitraries.ts';
import { waitFor } from '../support/wait.ts';

let cp: ControlPlane;
let admin: Client;

before(async () => {
  cp = await ControlPlane.start({ controllerManager: false, scheduler: false });
  admin = new Client(cp.kubeConfig());
  await admin.create(CustomResourceDefinitions, ptemplateCrd());
  await admin.create(CustomResourceDefinitions, moduleCrd());
  await waitFor(async () => (await admin.list(Ptemplates)).items && (await admin.list(Modules)).items, { what: 'CRDs served' });
  for (const name of PROPERTY_NAMESPACES) await admin.create(Namespaces, { metadata: { name } });
});

after(async () => {
  await cp?.stop();
});

/** Why the API server refused `what`, as an assertion message with the server's own words. */
async function acceptedByServer(what: string, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (err instanceof ApiError) assert.fail(`the API server refused ${what} that validation accepted: ${err.message}`);
    throw err;
  }
}

describe('validation, on generated hostile and valid Ptemplates', () => {
  it('never throws, and every error names a field of the object with a message', () => {
    fc.assert(fc.property(ptemplateArbitrary, (pt) => {
      const errors = validatePtemplate(pt);
      for (const e of errors) {
        assert.match(e.field, /^(spec|metadata)(\.|\[|$)/, `field ${JSON.stringify(e.field)}`);
        assert.ok(typeof e.message === 'string' && e.message.length > 0, `message of ${e.field}`);
      }
    }), propertyParameters(600));
  });

  it('accepts only what the API server, KMM\'s rules and server-side apply of the children accept', async (t) => {
    let accepted = 0;
    await fc.assert(fc.asyncProperty(ptemplateArbitrary, async (pt) => {
      if (validatePtemplate(pt).length > 0) return;
      accepted++;
      const spec = withDefaults(pt.spec);
      const defaulted: Ptemplate = { ...pt, spec };
      const { uid: _uid, generation: _generation, ...metadata } = pt.metadata;
      await acceptedByServer('the Ptemplate', () => admin.create(Ptemplates, { ...pt, metadata }, { dryRun: true }));
      const module = desiredModule(defaulted, spec);
      assert.deepEqual(validateModule(module), [], 'KMM\'s webhook rules accept the Module');
      await acceptedByServer('the Module', () => admin.apply(Modules, module, { dryRun: true }));
      await acceptedByServer('the consumer DaemonSet', () => admin.apply(DaemonSets, desiredConsumers(defaulted, spec), { dryRun: true }));
    }), propertyParameters(150));
    t.diagnostic(`${accepted} generated Ptemplates passed validation and were written (dry run)`);
    // Without enough accepted specs the property says little: the generator must keep producing them.
    assert.ok(accepted >= 20, `only ${accepted} generated Ptemplates passed validation`);
  });
});
