import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { silentLogger } from '../runtime/log.ts';
import { admissionResponse, type AdmissionRequest, type AdmissionResult } from '../runtime/webhook/server.ts';
import { validatePtemplate } from './api/validate.ts';
import type { Ptemplate } from './api/schema.ts';
import {
  PTEMPLATE_WEBHOOK_NAME, PTEMPLATE_WEBHOOK_PATH, ptemplateWebhookConfiguration, ptemplateWebhookHandlers, validatePtemplateAdmission,
} from './webhook.ts';

const good = { metadata: { name: 'pt', namespace: 'default' }, spec: { selector: { 'kubernetes.io/hostname': 'worker-0' } } };

function request(operation: AdmissionRequest['operation'], object: unknown, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: 'u-1',
    kind: { group: 'pt.example.com', version: 'v1alpha1', kind: 'Ptemplate' },
    resource: { group: 'pt.example.com', version: 'v1alpha1', resource: 'ptemplates' },
    name: 'pt', namespace: 'default', operation, object, ...extra,
  };
}

function withSpec(spec: Record<string, unknown>, metadata: Record<string, unknown> = good.metadata) {
  return { ...good, metadata, spec: { ...good.spec, ...spec } };
}

function decide(req: AdmissionRequest): AdmissionResult {
  const result = validatePtemplateAdmission(req, { log: silentLogger });
  assert.ok(!(result instanceof Promise), 'the Ptemplate handler decides synchronously');
  return result;
}

describe('Ptemplate admission', () => {
  it('allows a valid Ptemplate on CREATE and UPDATE', () => {
    assert.deepEqual(decide(request('CREATE', good)), { allowed: true });
    assert.deepEqual(decide(request('UPDATE', withSpec({ maxdev: 3 }), { oldObject: good })), { allowed: true });
  });

  it('refuses with every field error validatePtemplate finds, in its words', () => {
    const bad = withSpec({ maxdev: 2, requiredDevices: 3, driverImage: 'quay.io/a/b', kernelMappings: [{ regexp: '(?=x)', containerImage: 'quay.io/a/b:1' }] });
    const result = decide(request('CREATE', bad));
    const expected = validatePtemplate(bad as unknown as Ptemplate);
    assert.equal(result.allowed, false);
    assert.deepEqual(result.fieldErrors, expected);
    assert.deepEqual(expected.map((e) => e.field).sort(), ['spec.driverImage', 'spec.kernelMappings[0].regexp', 'spec.requiredDevices']);
    for (const e of expected) assert.ok(result.message?.includes(`${e.field}: ${e.message}`), `message carries ${e.field}`);
    assert.match(result.message ?? '', /^Ptemplate "pt" is invalid: /);
  });

  it('refuses a name and namespace over KMM\'s limit, naming metadata.name', () => {
    const result = decide(request('CREATE', withSpec({}, { name: 'a-name-that-is-much-too-long', namespace: 'a-namespace-too' })));
    assert.equal(result.allowed, false);
    assert.deepEqual(result.fieldErrors?.map((e) => e.field), ['metadata.name']);
  });

  it('takes the namespace and name from the request when the object leaves them out', () => {
    assert.deepEqual(decide(request('CREATE', { spec: good.spec })), { allowed: true });
  });

  it('refuses an UPDATE that makes a valid Ptemplate invalid', () => {
    const result = decide(request('UPDATE', withSpec({ maxdev: 2, requiredDevices: 3 }), { oldObject: good }));
    assert.deepEqual(result.fieldErrors?.map((e) => e.field), ['spec.requiredDevices']);
  });

  it('refuses an UPDATE that changes the spec of an invalid Ptemplate without fixing it', () => {
    const old = withSpec({ maxdev: 2, requiredDevices: 3 });
    const result = decide(request('UPDATE', withSpec({ maxdev: 2, requiredDevices: 4 }), { oldObject: old }));
    assert.equal(result.allowed, false);
  });

  it('allows, with warnings, an UPDATE of an invalid Ptemplate that leaves its spec alone, so finalizers can be removed', () => {
    const stored = withSpec({ maxdev: 2, requiredDevices: 3 });
    const relabeled = { ...stored, metadata: { ...stored.metadata, labels: { a: 'b' }, finalizers: [] } };
    const result = decide(request('UPDATE', relabeled, { oldObject: stored }));
    assert.equal(result.allowed, true);
    assert.equal(result.warnings?.length, 1);
    assert.match(result.warnings?.[0] ?? '', /^spec\.requiredDevices: .*the operator ignores this Ptemplate until it is fixed/);
  });

  it('allows any UPDATE of a Ptemplate that is being deleted', () => {
    const stored = withSpec({ maxdev: 2, requiredDevices: 3 });
    const deleting = { ...withSpec({ maxdev: 2, requiredDevices: 5 }), metadata: { ...good.metadata, deletionTimestamp: '2024-01-01T00:00:00Z' } };
    assert.equal(decide(request('UPDATE', deleting, { oldObject: stored })).allowed, true);
  });

  it('allows DELETE, even of an invalid Ptemplate', () => {
    assert.deepEqual(decide(request('DELETE', undefined, { oldObject: withSpec({ maxdev: 9 }) })), { allowed: true });
  });

  it('refuses with 400 a review of another kind or without an object', () => {
    const other = decide(request('CREATE', good, { kind: { group: 'apps', version: 'v1', kind: 'DaemonSet' } }));
    assert.equal(other.allowed, false);
    assert.equal(other.code, 400);
    assert.match(other.message ?? '', /Ptemplate .* only, not DaemonSet/);
    const empty = decide(request('CREATE', undefined));
    assert.equal(empty.allowed, false);
    assert.equal(empty.code, 400);
  });

  it('becomes a 422 Invalid AdmissionReview response with one cause per field', () => {
    const req = request('CREATE', withSpec({ maxdev: 2, requiredDevices: 3 }));
    const res = admissionResponse(req, decide(req));
    assert.equal(res.status?.code, 422);
    assert.equal(res.status?.reason, 'Invalid');
    assert.deepEqual(res.status?.details?.causes?.map((c) => c.field), ['spec.requiredDevices']);
    assert.equal(res.status?.details?.kind, 'Ptemplate');
    assert.equal(res.status?.details?.group, 'pt.example.com');
  });

  it('is served at the kubebuilder-style path', () => {
    assert.equal(PTEMPLATE_WEBHOOK_PATH, '/validate-pt-example-com-v1alpha1-ptemplate');
    assert.deepEqual(Object.keys(ptemplateWebhookHandlers()), [PTEMPLATE_WEBHOOK_PATH]);
  });
});

describe('ptemplateWebhookConfiguration', () => {
  it('sends Ptemplate creates and updates to the Service, failing closed, without side effects, v1 reviews, 10 s', () => {
    const cfg = ptemplateWebhookConfiguration({ serviceName: 'ptemplate-operator-webhook', namespace: 'ptemplate-operator-system', path: PTEMPLATE_WEBHOOK_PATH });
    assert.equal(cfg.apiVersion, 'admissionregistration.k8s.io/v1');
    assert.equal(cfg.kind, 'ValidatingWebhookConfiguration');
    assert.deepEqual(cfg.webhooks, [{
      name: PTEMPLATE_WEBHOOK_NAME,
      clientConfig: { service: { namespace: 'ptemplate-operator-system', name: 'ptemplate-operator-webhook', path: PTEMPLATE_WEBHOOK_PATH, port: 443 } },
      rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['pt.example.com'], apiVersions: ['v1alpha1'], resources: ['ptemplates'], scope: 'Namespaced' }],
      failurePolicy: 'Fail',
      matchPolicy: 'Equivalent',
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      timeoutSeconds: 10,
    }]);
  });

  it('takes a URL instead of a Service, and a PEM caBundle which it base64-encodes', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const cfg = ptemplateWebhookConfiguration({ url: `https://127.0.0.1:9443${PTEMPLATE_WEBHOOK_PATH}`, caBundle: pem, name: 'test-webhook' });
    assert.equal(cfg.metadata.name, 'test-webhook');
    const clientConfig = cfg.webhooks![0]!.clientConfig;
    assert.equal(clientConfig.url, `https://127.0.0.1:9443${PTEMPLATE_WEBHOOK_PATH}`);
    assert.equal(clientConfig.service, undefined);
    assert.equal(Buffer.from(clientConfig.caBundle!, 'base64').toString('utf8'), pem);
  });

  it('refuses a URL that is not https', () => {
    assert.throws(() => ptemplateWebhookConfiguration({ url: 'http://127.0.0.1:9443/x' }), /https/);
  });
});
