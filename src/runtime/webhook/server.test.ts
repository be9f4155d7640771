import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { CertSource } from '../tls/cert-source.ts';
import { generateSelfSigned } from '../tls/selfsigned.ts';
import {
  admissionResponse, allow, deny, invalid, startWebhookServer, type AdmissionHandler, type AdmissionRequest, type AdmissionReview, type WebhookServer,
} from './server.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function post(url: string, ca: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }, method = 'POST'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, ca, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function review(request: Partial<AdmissionRequest> = {}): AdmissionReview {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: 'example.com', version: 'v1', kind: 'Widget' },
      resource: { group: 'example.com', version: 'v1', resource: 'widgets' },
      name: 'w', namespace: 'ns', operation: 'CREATE',
      object: { metadata: { name: 'w', namespace: 'ns' }, spec: { size: 1 } },
      ...request,
    },
  };
}

function parseReview(reply: Reply): AdmissionReview {
  assert.equal(reply.status, 200, reply.body);
  const parsed = JSON.parse(reply.body) as AdmissionReview;
  assert.equal(parsed.apiVersion, 'admission.k8s.io/v1');
  assert.equal(parsed.kind, 'AdmissionReview');
  return parsed;
}

describe('admissionResponse', () => {
  const request = review().request!;

  it('allows with the request uid and no status', () => {
    assert.deepEqual(admissionResponse(request, allow()), { uid: request.uid, allowed: true });
  });

  it('refuses field errors as 422 Invalid with one cause per field, naming kind and object', () => {
    const res = admissionResponse(request, invalid([{ field: 'spec.size', message: 'must be at most 3' }, { field: 'spec.color', message: 'is required' }]));
    assert.equal(res.allowed, false);
    assert.deepEqual(res.status, {
      status: 'Failure', code: 422, reason: 'Invalid',
      message: 'Widget "w" is invalid: spec.size: must be at most 3; spec.color: is required',
      details: {
        name: 'w', group: 'example.com', kind: 'Widget',
        causes: [
          { reason: 'FieldValueInvalid', field: 'spec.size', message: 'must be at most 3' },
          { reason: 'FieldValueInvalid', field: 'spec.color', message: 'is required' },
        ],
      },
    });
  });

  it('refuses without field errors as 403 Forbidden unless told otherwise, and never with a code below 400', () => {
    assert.deepEqual(admissionResponse(request, deny('no')).status, { status: 'Failure', code: 403, reason: 'Forbidden', message: 'no' });
    assert.deepEqual(admissionResponse(request, deny('bad', 400, 'BadRequest')).status, { status: 'Failure', code: 400, reason: 'BadRequest', message: 'bad' });
    assert.equal(admissionResponse(request, { allowed: false, message: 'x', code: 200 }).status?.code, 403);
  });

  it('names an object whose name the server generates by its generateName', () => {
    const res = admissionResponse({ ...request, name: '', object: { metadata: { generateName: 'w-' } } }, invalid([{ field: 'spec', message: 'is required' }]));
    assert.equal(res.status?.details?.name, 'w-*');
  });

  it('passes warnings on, allowed or not', () => {
    assert.deepEqual(admissionResponse(request, allow(['careful'])).warnings, ['careful']);
    assert.deepEqual(admissionResponse(request, { ...deny('no'), warnings: ['also'] }).warnings, ['also']);
  });
});

describe('webhook server', () => {
  const cert = CertSource.selfSigned({ commonName: '127.0.0.1' });
  const ca = cert.caPem!;
  const registry = new Registry();
  let server: WebhookServer;
  let calls = 0;
  const handlers: Record<string, AdmissionHandler> = {
    '/allow': (req) => { calls++; return req.operation === 'DELETE' ? allow() : allow(['looked at it']); },
    '/invalid': () => invalid([{ field: 'spec.size', message: 'must be at most 3' }]),
    '/throws': () => { throw new Error('boom'); },
    '/async': async (req) => (req.name === 'ok' ? allow() : deny(`"${req.name}" is not ok`)),
    '/junk': () => undefined as unknown as ReturnType<AdmissionHandler>,
  };

  before(async () => {
    server = await startWebhookServer({ address: '127.0.0.1:0', certSource: cert, handlers, registry, maxBodyBytes: 4096 });
  });
  after(async () => { await server?.close(); });

  it('answers an AdmissionReview with the request uid and the decision', async () => {
    const res = parseReview(await post(`${server.url}/allow`, ca, JSON.stringify(review())));
    assert.deepEqual(res.response, { uid: review().request!.uid, allowed: true, warnings: ['looked at it'] });
    assert.equal(calls, 1);
  });

  it('routes by path and awaits asynchronous handlers', async () => {
    const ok = parseReview(await post(`${server.url}/async`, ca, JSON.stringify(review({ name: 'ok' }))));
    assert.equal(ok.response?.allowed, true);
    const no = parseReview(await post(`${server.url}/async?timeout=10s`, ca, JSON.stringify(review({ name: 'nope' }))));
    assert.equal(no.response?.allowed, false);
    assert.equal(no.response?.status?.message, '"nope" is not ok');
  });

  it('refuses field errors with 422 Invalid and their causes', async () => {
    const res = parseReview(await post(`${server.url}/invalid`, ca, JSON.stringify(review())));
    assert.equal(res.response?.allowed, false);
    assert.equal(res.response?.status?.code, 422);
    assert.equal(res.response?.status?.reason, 'Invalid');
    assert.deepEqual(res.response?.status?.details?.causes, [{ reason: 'FieldValueInvalid', field: 'spec.size', message: 'must be at most 3' }]);
  });

  it('refuses with 500 when a handler throws or returns no decision, and keeps serving', async () => {
    const thrown = parseReview(await post(`${server.url}/throws`, ca, JSON.stringify(review())));
    assert.equal(thrown.response?.allowed, false);
    assert.equal(thrown.response?.status?.code, 500);
    assert.match(thrown.response?.status?.message ?? '', /boom/);
    const junk = parseReview(await post(`${server.url}/junk`, ca, JSON.stringify(review())));
    assert.equal(junk.response?.allowed, false);
    assert.equal(junk.response?.status?.code, 500);
    assert.equal(parseReview(await post(`${server.url}/allow`, ca, JSON.stringify(review()))).response?.allowed, true);
  });

  it('answers 400 with a Status to a body that is not JSON or not an admission.k8s.io/v1 review', async () => {
    for (const body of ['{"apiVersion":', '[]', JSON.stringify({ ...review(), apiVersion: 'admission.k8s.io/v1beta1' }),
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), JSON.stringify(review({ uid: '' }))]) {
      const reply = await post(`${server.url}/allow`, ca, body);
      assert.equal(reply.status, 400, body);
      const status = JSON.parse(reply.body) as { kind: string; code: number; reason: string; message: string };
      assert.equal(status.kind, 'Status');
      assert.equal(status.code, 400);
      assert.equal(status.reason, 'BadRequest');
      assert.ok(status.message.length > 0);
    }
  });

  it('answers 404 to an unknown path, 405 to another method, 415 to another content type', async () => {
    assert.equal((await post(`${server.url}/nothing`, ca, JSON.stringify(review()))).status, 404);
    const get = await post(`${server.url}/allow`, ca, '', {}, 'GET');
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    assert.equal((await post(`${server.url}/allow`, ca, JSON.stringify(review()), { 'content-type': 'text/plain' })).status, 415);
  });

  it('refuses a body over the limit with 413, whether declared or streamed, and keeps serving', async () => {
    const big = JSON.stringify(review({ object: { data: 'x'.repeat(8192) } }));
    assert.equal((await post(`${server.url}/allow`, ca, big)).status, 413);
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${server.url}/allow`, { method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      req.on('error', reject);
      req.write(big.slice(0, 3000));
      req.end(big.slice(3000));
    });
    assert.equal(streamed, 413);
    assert.equal(parseReview(await post(`${server.url}/allow`, ca, JSON.stringify(review()))).response?.allowed, true);
  });

  it('survives a client that does not trust its certificate', async () => {
    const other = generateSelfSigned({ commonName: '127.0.0.1' }).caPem;
    await assert.rejects(post(`${server.url}/allow`, other, JSON.stringify(review())), /self-signed|certificate/i);
    assert.equal(parseReview(await post(`${server.url}/allow`, ca, JSON.stringify(review()))).response?.allowed, true);
  });

  it('counts requests by webhook and code in controller-runtime metrics', async () => {
    const text = await registry.metrics();
    assert.match(text, /controller_runtime_webhook_requests_total\{webhook="\/allow",code="200"\} \d+/);
    assert.match(text, /controller_runtime_webhook_requests_total\{webhook="\/allow",code="413"\} 2/);
    assert.match(text, /controller_runtime_webhook_requests_total\{webhook="unknown",code="404"\} 1/);
    assert.match(text, /controller_runtime_webhook_requests_in_flight\{webhook="\/allow"\} 0/);
  });

  it('refuses a handler path without a leading slash', async () => {
    await assert.rejects(startWebhookServer({ address: '127.0.0.1:0', certSource: cert, handlers: { validate: handlers['/allow']! } }), /must start with "\/"/);
  });
});

describe('webhook server certificate', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'webhook-cert-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  async function writePair(): Promise<string> {
    const pair = generateSelfSigned({ commonName: '127.0.0.1' });
    await writeFile(join(dir, 'tls.key'), pair.keyPem);
    await writeFile(join(dir, 'tls.crt'), pair.certPem);
    return pair.caPem;
  }

  it('serves a renewed certificate to new connections without a restart', async () => {
    const firstCa = await writePair();
    // Only the explicit reload below: a file-system event could load the pair first and make it return false.
    const source = await CertSource.fromDirectory(dir, { watch: false, pollIntervalMs: 0 });
    const server = await startWebhookServer({ address: '127.0.0.1:0', certSource: source, handlers: { '/allow': () => allow() } });
    try {
      assert.equal(parseReview(await post(`${server.url}/allow`, firstCa, JSON.stringify(review()))).response?.allowed, true);
      const secondCa = await writePair();
      assert.equal(await source.reload(), true);
      assert.equal(parseReview(await post(`${server.url}/allow`, secondCa, JSON.stringify(review()))).response?.allowed, true);
      await assert.rejects(post(`${server.url}/allow`, firstCa, JSON.stringify(review())), /self-signed|certificate/i);
    } finally {
      await server.close();
      source.close();
    }
  });

  it('closes idempotently and frees its port', async () => {
    const source = CertSource.selfSigned({ commonName: '127.0.0.1' });
    const server = await startWebhookServer({ address: '127.0.0.1:0', certSource: source, handlers: {} });
    await Promise.all([server.close(), server.close()]);
    const again = await startWebhookServer({ address: `127.0.0.1:${server.port}`, certSource: source, handlers: {} });
    await again.close();
  });
});
