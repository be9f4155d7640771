import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { Manager } from '../manager/manager.ts';
import { permissionKeys } from '../rbac.ts';
import { CertSource } from '../tls/cert-source.ts';
import { generateSelfSigned } from '../tls/selfsigned.ts';
import { addCaBundleInjector, caBundlePatch, encodeCaBundle, servingCa } from './ca-bundle.ts';
import type { ValidatingWebhookConfiguration } from './configuration.ts';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function configuration(...bundles: (string | undefined)[]): ValidatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'cfg', resourceVersion: '42' },
    webhooks: bundles.map((caBundle, i) => ({
      name: `w${i}.example.com`,
      clientConfig: { url: `https://127.0.0.1:9443/w${i}`, ...(caBundle === undefined ? {} : { caBundle }) },
      sideEffects: 'None' as const,
      admissionReviewVersions: ['v1'],
    })),
  };
}

describe('caBundle', () => {
  it('is the base64 of the PEM', () => {
    assert.equal(Buffer.from(encodeCaBundle(CA), 'base64').toString('utf8'), CA);
  });

  it('patches only the webhooks whose caBundle differs, merged by name and guarded by resourceVersion', () => {
    const want = encodeCaBundle(CA);
    assert.deepEqual(caBundlePatch(configuration(undefined, want, 'c3RhbGU='), CA), {
      metadata: { resourceVersion: '42' },
      webhooks: [
        { name: 'w0.example.com', clientConfig: { caBundle: want } },
        { name: 'w2.example.com', clientConfig: { caBundle: want } },
      ],
    });
  });

  it('sends nothing when every caBundle is already right, or the configuration has no webhooks', () => {
    assert.equal(caBundlePatch(configuration(encodeCaBundle(CA), encodeCaBundle(CA)), CA), undefined);
    assert.equal(caBundlePatch(configuration(), CA), undefined);
  });

  it('leaves webhooks alone that it was not asked to manage', () => {
    const patch = caBundlePatch(configuration(undefined, undefined), CA, ['w1.example.com']);
    assert.deepEqual((patch?.webhooks as { name: string }[]).map((w) => w.name), ['w1.example.com']);
    assert.equal(caBundlePatch(configuration(undefined), CA, ['other.example.com']), undefined);
  });
});

describe('servingCa', () => {
  it('is the CA a self-signed source generated', () => {
    const source = CertSource.selfSigned({ commonName: '127.0.0.1' });
    assert.equal(servingCa(source), source.caPem);
  });

  it('is the mounted certificate itself when that is a self-issued CA', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ca-bundle-'));
    try {
      const pair = generateSelfSigned({ commonName: 'webhook.ns.svc' });
      await writeFile(join(dir, 'tls.crt'), pair.certPem);
      await writeFile(join(dir, 'tls.key'), pair.keyPem);
      const source = await CertSource.fromDirectory(dir, { pollIntervalMs: 0 });
      try {
        assert.equal(source.caPem, undefined);
        assert.equal(servingCa(source), pair.certPem);
      } finally {
        source.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is unknown when the certificate cannot be shown to be its own CA (its issuer distributes the CA)', () => {
    assert.equal(servingCa({ caPem: undefined, current: () => ({ certPem: 'not a certificate', keyPem: '' }) }), undefined);
  });
});

describe('addCaBundleInjector', () => {
  it('declares watching and patching ValidatingWebhookConfigurations, and runs on the leader only', () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }], users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
    });
    const manager = new Manager({ kubeConfig });
    const injector = addCaBundleInjector(manager, { configurationName: 'cfg', certSource: CertSource.selfSigned({ commonName: 'localhost' }) });
    assert.deepEqual([...permissionKeys(manager.permissions())].sort(), [
      'list admissionregistration.k8s.io/validatingwebhookconfigurations',
      'patch admissionregistration.k8s.io/validatingwebhookconfigurations',
      'watch admissionregistration.k8s.io/validatingwebhookconfigurations',
    ]);
    assert.equal(injector.needLeaderElection, true);
  });
});
