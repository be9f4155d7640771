// Bad input against the real API server (Kubernetes 1.20), in two parts:
// 1. The Ptemplate CRD's schema: what a schema can say is refused at the API with the field named,
//    and embedded Kubernetes types are typed and pruned, so nothing it stores is refused later when the
//    operator writes it into a Module or a DaemonSet.
// 2. A property test of validation against everything downstream of it, on generated hostile and
//    valid Ptemplates (test/support/ptemplate-arbitraries.ts): validatePtemplate never throws and every
//    error names a field; every Ptemplate it accepts is accepted by the API server (the CRD), and
//    yields a Module and a consumer DaemonSet (desired.ts, after defaults) that KMM's webhook rules
//    accept and that the API server accepts by server-side apply (dry run), with the Module CRD installed.
//    Fixed seed (CI); PROPERTY_RUNS / PROPERTY_SEED for longer or other local runs. fast-check prints
//    the (shrunk) failing Ptemplate and the seed to replay it.
// One control plane serves both.
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
import { desiredConsumers, desiredModule } from '../../src/ptemplate/driver.ts';
import { Client } from '../../src/runtime/client/client.ts';
import { ApiError, InvalidError } from '../../src/runtime/client/errors.ts';
import { CustomResourceDefinitions, DaemonSets, Namespaces } from '../../src/runtime/resource.ts';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { PROPERTY_NAMESPACES, propertyParameters, ptemplateArbitrary } from '../support/ptemplate-arbitraries.ts';
import { waitFor } from '../support/wait.ts';

const NS = PROPERTY_NAMESPACES[0];
let cp: ControlPlane;
let admin: Client;

function ptemplate(name: string, spec: Record<string, unknown>): Ptemplate {
  return { metadata: { name, namespace: NS }, spec: { selector: {}, ...spec } } as unknown as Ptemplate;
}

/**
 * Asserts that creating `spec` is refused with 422 and a cause on `field`. Kubernetes 1.20's schema
 * validation names list items without their index (`spec.tolerations.tolerationSeconds`).
 */
async function refused(name: string, spec: Record<string, unknown>, field: string): Promise<void> {
  const unindexed = field.replace(/\[\d+\]/g, '');
  await assert.rejects(admin.create(Ptemplates, ptemplate(name, spec), { dryRun: true }), (err: unknown) => {
    assert.ok(err instanceof InvalidError, `${name}: ${String(err).slice(0, 300)}`);
    assert.ok(err.causes.some((c) => c.field === field || c.field === unindexed),
      `${name}: expected a cause on ${field}, got ${JSON.stringify(err.causes.map((c) => c.field))}`);
    return true;
  });
}

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

describe('Ptemplate CRD schema on the API server', () => {
  it('prunes fields a Toleration does not have, in the Ptemplate and in the Module', async () => {
    const created = await admin.create(Ptemplates, ptemplate('pruned', { tolerations: [{ operator: 'Exists', foo: 1 }] }), { dryRun: true });
    assert.deepEqual(created.spec.tolerations, [{ operator: 'Exists' }]);
    const module = await admin.create(Modules, {
      metadata: { name: 'pruned', namespace: NS },
      spec: { selector: {}, tolerations: [{ operator: 'Exists', foo: 1 }] as never },
    }, { dryRun: true });
    assert.deepEqual(module.spec.tolerations, [{ operator: 'Exists' }]);
  });

  it('refuses a toleration field of the wrong type, naming it', async () => {
    await refused('seconds-type', { tolerations: [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 'soon' }] }, 'spec.tolerations[0].tolerationSeconds');
    await refused('operator', { tolerations: [{ operator: 'Maybe' }] }, 'spec.tolerations[0].operator');
  });

  it('refuses tolerationSeconds beyond what stays exact (2^63 arrives as the same double as the int64 maximum)', async () => {
    await refused('seconds-range', { tolerations: [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 ** 63 }] }, 'spec.tolerations[0].tolerationSeconds');
    await refused('seconds-huge', { tolerations: [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 1e30 }] }, 'spec.tolerations[0].tolerationSeconds');
    await admin.create(Ptemplates, ptemplate('seconds-max', { tolerations: [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 ** 53 - 1 }] }), { dryRun: true });
  });

  it('refuses a 5,000-character image, naming the field', async () => {
    await refused('long-image', { driverImage: `quay.io/${'a'.repeat(5000)}:v1` }, 'spec.driverImage');
    await refused('long-mapping-image', { kernelMappings: [{ regexp: '^.+$', containerImage: `q.io/${'a'.repeat(5000)}:1` }] }, 'spec.kernelMappings[0].containerImage');
  });

  it('refuses module names that modprobe would read as options', async () => {
    await refused('option', { moduleName: '-r' }, 'spec.moduleName');
  });
});

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
