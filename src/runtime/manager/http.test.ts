import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import type { KubeObject } from '../object.ts';
import type { ResourceType } from '../resource.ts';
import { CertSource } from '../tls/cert-source.ts';
import { TokenReviews, type ReviewClient, type SubjectAccessReview, type TokenReview } from './auth.ts';
import { parseAddress, startHttpEndpoints, type HttpEndpoints } from './http.ts';

interface Reply { status: number; body: string; headers: Record<string, string | string[] | undefined> }

function get(url: string, options: { token?: string; ca?: string } = {}): Promise<Reply> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      ...(options.ca ? { ca: options.ca } : {}),
      agent: false,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function registryWithOneCounter(): Registry {
  const registry = new Registry();
  new Counter({ name: 'test_things_total', help: 'things', registers: [registry] }).inc(3);
  return registry;
}

void describe('HTTP endpoints (plain)', () => {
  let endpoints: HttpEndpoints;
  let ready = false;
  before(async () => {
    endpoints = await startHttpEndpoints({ address: '127.0.0.1:0', registry: registryWithOneCounter(), ready: () => ready });
  });
  after(() => endpoints.close());

  void it('serves probes and metrics without authentication', async () => {
    assert.match(endpoints.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await get(`${endpoints.url}/healthz`)).status, 200);
    assert.equal((await get(`${endpoints.url}/readyz`)).status, 503);
    ready = true;
    assert.equal((await get(`${endpoints.url}/readyz`)).status, 200);
    const metrics = await get(`${endpoints.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^test_things_total 3$/m);
    assert.equal((await get(`${endpoints.url}/nothing`)).status, 404);
  });
});

void describe('HTTP endpoints (secure)', () => {
  const tokens: Record<string, string> = { 'reader-token': 'reader', 'other-token': 'other' };
  const reviews: ReviewClient = {
    async create<T extends KubeObject>(rt: ResourceType<T>, obj: T): Promise<T> {
      if (rt === (TokenReviews as ResourceType)) {
        const user = tokens[(obj as unknown as TokenReview).spec.token];
        return { ...obj, status: user ? { authenticated: true, user: { username: user } } : { authenticated: false } };
      }
      const spec = (obj as unknown as SubjectAccessReview).spec;
      return { ...obj, status: { allowed: spec.user === 'reader' && spec.nonResourceAttributes?.path === '/metrics' && spec.nonResourceAttributes.verb === 'get' } };
    },
  };
  let certSource: CertSource;
  let endpoints: HttpEndpoints;
  before(async () => {
    certSource = CertSource.selfSigned({ commonName: 'metrics', ipAddresses: ['127.0.0.1'] });
    endpoints = await startHttpEndpoints({ address: '127.0.0.1:0', registry: registryWithOneCounter(), secure: { certSource, client: reviews } });
  });
  after(async () => { await endpoints.close(); certSource.close(); });

  void it('speaks HTTPS with the source\'s certificate', async () => {
    assert.match(endpoints.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    await assert.rejects(get(`${endpoints.url}/metrics`), /self[- ]signed|unable to verify/i, 'not trusted without the CA');
  });

  void it('answers 401 without a token or with one the API server does not accept', async () => {
    const none = await get(`${endpoints.url}/metrics`, { ca: certSource.caPem! });
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assert.doesNotMatch(none.body, /test_things_total/);
    assert.equal((await get(`${endpoints.url}/metrics`, { ca: certSource.caPem!, token: 'forged' })).status, 401);
  });

  void it('answers 403 to a user who may not get /metrics', async () => {
    const reply = await get(`${endpoints.url}/metrics`, { ca: certSource.caPem!, token: 'other-token' });
    assert.equal(reply.status, 403);
    assert.doesNotMatch(reply.body, /test_things_total/);
  });

  void it('serves the metrics to a user who may get /metrics', async () => {
    const reply = await get(`${endpoints.url}/metrics`, { ca: certSource.caPem!, token: 'reader-token' });
    assert.equal(reply.status, 200);
    assert.match(reply.body, /^test_things_total 3$/m);
  });

  void it('guards every path, not only /metrics', async () => {
    assert.equal((await get(`${endpoints.url}/healthz`, { ca: certSource.caPem! })).status, 401);
    assert.equal((await get(`${endpoints.url}/healthz`, { ca: certSource.caPem!, token: 'reader-token' })).status, 403);
  });
});

void describe('parseAddress', () => {
  void it('reads host:port, :port and [ipv6]:port', () => {
    assert.deepEqual(parseAddress('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseAddress(':8443'), { host: '0.0.0.0', port: 8443 });
    assert.deepEqual(parseAddress('[::1]:9'), { host: '::1', port: 9 });
    assert.throws(() => parseAddress('x:y'), /invalid address/);
  });
});
