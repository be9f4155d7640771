// The Ptemplate CRD's schema on a real kube-apiserver (1.20): what the schema can say is refused at
// the API with the field named, and embedded Kubernetes types are pruned, so nothing the schema stores
// is refused later when the operator writes it into a Module or a DaemonSet.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { moduleCrd } from '../../src/kmm/crd.ts';
import { Modules } from '../../src/kmm/resource.ts';
import { ptemplateCrd } from '../../src/ptemplate/api/crd.ts';
import { Ptemplates, type Ptemplate } from '../../src/ptemplate/api/schema.ts';
import { Client } from '../../src/runtime/client/client.ts';
import { InvalidError } from '../../src/runtime/client/errors.ts';
import { CustomResourceDefinitions, Namespaces } from '../../src/runtime/resource.ts';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { waitFor } from '../support/wait.ts';

const NS = 'crd-schema';
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
  await admin.create(Namespaces, { metadata: { name: NS } });
});

after(async () => {
  await cp?.stop();
});

describe('Ptemplate CRD schema on the API server', () => {
  it('prunes fields a Toleration does not have, in the Ptemplate and in the Module', async () => {
    const created = await admin.create(Ptemplates, ptemplate('pruned', { tolerations: [{ operator: 'Exists', foo: 1 }] }));
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
