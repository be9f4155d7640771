// The Ptemplate validating webhook on a real kube-apiserver: the API server calls our HTTPS server
// (over loopback, trusting the caBundle) and refuses what validatePtemplate refuses, naming the field.
// Without the webhook configuration the same bad spec is stored, and the reconciler reports it as
// Ready=False/InvalidSpec: test/integration/ptemplate.test.ts ('sets Ready=False naming the field ...')
// covers that side.
// The suites run in order and share one control plane: 'caBundle injection' uses the invalid
// Ptemplate that 'without the webhook configuration' stored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ptemplateCrd } from '../../src/ptemplate/api/crd.ts';
import { Ptemplates, type Ptemplate } from '../../src/ptemplate/api/schema.ts';
import {
  PTEMPLATE_WEBHOOK_CONFIGURATION_NAME, PTEMPLATE_WEBHOOK_PATH, ptemplateWebhookConfiguration, ptemplateWebhookHandlers,
} from '../../src/ptemplate/webhook.ts';
import { Client } from '../../src/runtime/client/client.ts';
import { InvalidError, NotFoundError } from '../../src/runtime/client/errors.ts';
import { Manager } from '../../src/runtime/manager/manager.ts';
import { CustomResourceDefinitions, Namespaces } from '../../src/runtime/resource.ts';
import { CertSource } from '../../src/runtime/tls/cert-source.ts';
import { addCaBundleInjector, encodeCaBundle } from '../../src/runtime/webhook/ca-bundle.ts';
import { ValidatingWebhookConfigurations, type ValidatingWebhookConfiguration } from '../../src/runtime/webhook/configuration.ts';
import { startWebhookServer, type WebhookServer } from '../../src/runtime/webhook/server.ts';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { waitFor } from '../support/wait.ts';

const NS = 'webhook';
const selector = { 'kubernetes.io/hostname': 'worker-0' };

let cp: ControlPlane;
let admin: Client;
let server: WebhookServer;
let certSource: CertSource;
let url: string;

function ptemplate(name: string, spec: Record<string, unknown> = {}): Ptemplate {
  return { metadata: { name, namespace: NS }, spec: { selector, ...spec } } as unknown as Ptemplate;
}

// Each case: a spec the CRD schema accepts but validatePtemplate refuses, and the field it names.
const badCases: { name: string; spec: Record<string, unknown>; field: string; says: RegExp }[] = [
  { name: 'a-name-that-is-much-too-long-for-kmm', spec: {}, field: 'metadata.name', says: /40/ },
  { name: 'regexp', spec: { kernelMappings: [{ regexp: '(?=x)', containerImage: 'quay.io/a/b:1' }] }, field: 'spec.kernelMappings[0].regexp', says: /lookahead/ },
  { name: 'untagged', spec: { driverImage: 'quay.io/a/b' }, field: 'spec.driverImage', says: /tag/ },
  { name: 'devices', spec: { maxdev: 2, requiredDevices: 3 }, field: 'spec.requiredDevices', says: /at most spec\.maxdev \(2\), not 3/ },
];
const probe = badCases[3]!;

/** True once a dry-run create of a bad Ptemplate is refused by the webhook (the API server has loaded the configuration). */
async function webhookActive(): Promise<boolean> {
  try {
    await admin.create(Ptemplates, ptemplate('probe', probe.spec), { dryRun: true });
    return false;
  } catch (err) {
    if (err instanceof InvalidError && err.message.includes('admission webhook')) return true;
    throw err;
  }
}

/** True once the same dry-run create is accepted (no webhook is called any more). */
async function webhookInactive(): Promise<boolean> {
  try {
    await admin.create(Ptemplates, ptemplate('probe', probe.spec), { dryRun: true });
    return true;
  } catch (err) {
    if (err instanceof InvalidError && err.message.includes('admission webhook')) return false;
    throw err;
  }
}

async function deleteConfiguration(name: string): Promise<void> {
  await admin.delete(ValidatingWebhookConfigurations, { name }).catch((err: unknown) => {
    if (!(err instanceof NotFoundError)) throw err;
  });
}

before(async () => {
  cp = await ControlPlane.start({ controllerManager: false, scheduler: false });
  admin = new Client(cp.kubeConfig());
  await admin.create(CustomResourceDefinitions, ptemplateCrd());
  await waitFor(async () => (await admin.list(Ptemplates)).items, { what: 'Ptemplate CRD served' });
  await admin.create(Namespaces, { metadata: { name: NS } });
  certSource = CertSource.selfSigned({ commonName: 'ptemplate-webhook', ipAddresses: ['127.0.0.1'] });
  server = await startWebhookServer({ address: '127.0.0.1:0', certSource, handlers: ptemplateWebhookHandlers() });
  url = `${server.url}${PTEMPLATE_WEBHOOK_PATH}`;
});

after(async () => {
  await server?.close();
  await cp?.stop();
});

describe('Ptemplate webhook', () => {
  before(async () => {
    await admin.create(ValidatingWebhookConfigurations, ptemplateWebhookConfiguration({ url, caBundle: certSource.caPem! }));
    await waitFor(webhookActive, { what: 'the API server calling the webhook' });
  });

  it('refuses bad Ptemplates with a message naming the field, and stores nothing', async () => {
    for (const { name, spec, field, says } of badCases) {
      await assert.rejects(admin.create(Ptemplates, ptemplate(name, spec)), (err: unknown) => {
        assert.ok(err instanceof InvalidError, `${name}: ${String(err)}`);
        assert.match(err.message, /admission webhook "vptemplate\.pt\.example\.com" denied the request: Ptemplate ".*" is invalid: /);
        assert.ok(err.message.includes(`${field}: `), `${name}: the message names ${field}: ${err.message}`);
        assert.match(err.message, says);
        assert.ok(err.causes.some((c) => c.field === field), `${name}: a cause for ${field}: ${JSON.stringify(err.causes)}`);
        return true;
      }, `${name} must be refused`);
      await assert.rejects(admin.get(Ptemplates, { namespace: NS, name }), NotFoundError);
    }
  });

  it('admits a good Ptemplate, and refuses an update that breaks it', async () => {
    const created = await admin.create(Ptemplates, ptemplate('good', { maxdev: 2, requiredDevices: 2 }));
    assert.equal(created.spec.requiredDevices, 2);
    await assert.rejects(
      admin.patch(Ptemplates, { namespace: NS, name: 'good' }, { spec: { requiredDevices: 3 } }, 'merge'),
      (err: unknown) => err instanceof InvalidError && err.message.includes('spec.requiredDevices'));
    const patched = await admin.patch(Ptemplates, { namespace: NS, name: 'good' }, { spec: { maxdev: 3, requiredDevices: 3 } }, 'merge');
    assert.equal(patched.spec.requiredDevices, 3);
  });

});

describe('without the webhook configuration', () => {
  it('the API server stores the same bad spec (the reconciler reports it, see ptemplate.test.ts)', async () => {
    await deleteConfiguration(PTEMPLATE_WEBHOOK_CONFIGURATION_NAME);
    await waitFor(webhookInactive, { what: 'the API server no longer calling the webhook' });
    const stored = await admin.create(Ptemplates, ptemplate('stored-bad', probe.spec));
    assert.equal(stored.spec.requiredDevices, 3);
  });
});

describe('caBundle injection', () => {
  const name = 'injected-ptemplate-webhook';
  const abort = new AbortController();
  let running: Promise<void> | undefined;

  const bundleOf = async () => {
    const cfg = await admin.get(ValidatingWebhookConfigurations, { name }).catch(() => undefined);
    return cfg?.webhooks?.[0]?.clientConfig.caBundle;
  };

  before(async () => {
    // The injector starts before its configuration exists: that is fine, it waits for it.
    const manager = new Manager({ kubeConfig: cp.kubeConfig() });
    addCaBundleInjector(manager, { configurationName: name, certSource });
    running = manager.start(abort.signal);
  });
  after(async () => {
    abort.abort();
    await running;
    await deleteConfiguration(name);
  });

  it('patches the serving CA into a configuration created without one, and the webhook then works', async () => {
    const cfg = ptemplateWebhookConfiguration({ url, name });
    assert.equal(cfg.webhooks![0]!.clientConfig.caBundle, undefined);
    await admin.create(ValidatingWebhookConfigurations, cfg);
    const want = encodeCaBundle(certSource.caPem!);
    await waitFor(async () => (await bundleOf()) === want, { what: 'caBundle patched in' });
    await waitFor(webhookActive, { what: 'the API server calling the webhook through the injected configuration' });
  });

  it('puts the CA back when the configuration is replaced without it or with another one', async () => {
    const want = encodeCaBundle(certSource.caPem!);
    const current = await admin.get(ValidatingWebhookConfigurations, { name });
    const replaced: ValidatingWebhookConfiguration = {
      ...current,
      webhooks: current.webhooks!.map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle: encodeCaBundle('not the CA') } })),
    };
    await admin.update(ValidatingWebhookConfigurations, replaced);
    await waitFor(async () => (await bundleOf()) === want, { what: 'caBundle restored' });
  });

  it('lets a stored invalid Ptemplate change its status and metadata (finalizers, labels), but not its spec unless fixed', async () => {
    await waitFor(webhookActive, { what: 'the webhook active' });
    const key = { namespace: NS, name: 'stored-bad' };
    // What the operator writes to an invalid Ptemplate: its status, its finalizer.
    const status = { apiVersion: 'pt.example.com/v1alpha1', kind: 'Ptemplate', metadata: key, status: { consumersReady: 0 } };
    assert.equal((await admin.applyStatus(Ptemplates, status as unknown as Ptemplate)).status?.consumersReady, 0);
    const relabeled = await admin.patch(Ptemplates, key, { metadata: { labels: { touched: 'yes' }, finalizers: ['example.com/test'] } }, 'merge');
    assert.equal(relabeled.metadata.labels?.touched, 'yes');
    await assert.rejects(admin.patch(Ptemplates, key, { spec: { requiredDevices: 4 } }, 'merge'), InvalidError);
    await admin.patch(Ptemplates, key, { spec: { requiredDevices: 2 } }, 'merge');
    await admin.patch(Ptemplates, key, { metadata: { finalizers: null } }, 'merge');
    await admin.delete(Ptemplates, key);
  });
});
