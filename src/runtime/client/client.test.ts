// The client's error mapping and retry policy, against a local HTTP server that answers
// like the API server does (no fake client: the real HTTP path runs).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { ConfigMaps } from '../resource.ts';
import { waitFor } from '../testing/wait.ts';
import { Client } from './client.ts';
import { AlreadyExistsError, ConflictError, InvalidError, NotFoundError, TooManyRequestsError } from './errors.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let handler: Handler;
let server: ReturnType<typeof createServer>;
let kubeConfig: KubeConfig;

const status = (res: ServerResponse, code: number, reason: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  res.writeHead(code, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message: `${reason} happened`, ...extra }));

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    // client-node allows plain HTTP only with skipTLSVerify.
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
  });
});
after(() => { server.close(); });

describe('Client', () => {
  it('maps API statuses to typed errors, with the server causes of Invalid', async () => {
    const client = new Client(kubeConfig);
    handler = (_req, res) => status(res, 404, 'NotFound');
    await assert.rejects(client.get(ConfigMaps, { namespace: 'a', name: 'b' }), NotFoundError);
    handler = (_req, res) => status(res, 409, 'AlreadyExists');
    await assert.rejects(client.create(ConfigMaps, { metadata: { name: 'b', namespace: 'a' } }), AlreadyExistsError);
    handler = (_req, res) => status(res, 409, 'Conflict');
    await assert.rejects(client.update(ConfigMaps, { metadata: { name: 'b', namespace: 'a', resourceVersion: '1' } }), ConflictError);
    handler = (_req, res) => status(res, 422, 'Invalid', { details: { causes: [{ field: 'spec.maxdev', message: 'must be <= 5' }] } });
    await assert.rejects(client.apply(ConfigMaps, { metadata: { name: 'b', namespace: 'a' } }), (err: unknown) =>
      err instanceof InvalidError && err.causes[0]?.field === 'spec.maxdev');
    assert.deepEqual(client.requests.snapshot(), { 'GET 404': 1, 'CREATE 409': 1, 'UPDATE 409': 1, 'APPLY 422': 1 });
  });

  it('retries a 429 after the Retry-After the server asks for, then succeeds', async () => {
    const client = new Client(kubeConfig);
    let calls = 0;
    handler = (_req, res) => {
      calls++;
      if (calls === 1) status(res, 429, 'TooManyRequests', {}, { 'retry-after': '1' });
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ metadata: { name: 'b', namespace: 'a' } }));
    };
    const obj = await client.get(ConfigMaps, { namespace: 'a', name: 'b' });
    assert.equal(obj.metadata.name, 'b');
    assert.deepEqual(client.requests.snapshot(), { 'GET 429': 1, 'GET 200': 1 });
  });

  it('gives up after maxRetries with a TooManyRequestsError carrying Retry-After', async () => {
    const client = new Client(kubeConfig, { maxRetries: 0 });
    handler = (_req, res) => status(res, 429, 'TooManyRequests', {}, { 'retry-after': '7' });
    await assert.rejects(client.get(ConfigMaps, { namespace: 'a', name: 'b' }), (err: unknown) =>
      err instanceof TooManyRequestsError && err.retryAfterSeconds === 7);
  });

  it('sends server-side apply with the field manager, force, and the type filled in', async () => {
    const client = new Client(kubeConfig);
    let seen: { method?: string; url?: string; type?: string; body?: Record<string, unknown> } = {};
    handler = (req, res, body) => {
      seen = { method: req.method, url: req.url, type: req.headers['content-type'], body: JSON.parse(body) as Record<string, unknown> };
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    };
    await client.apply(ConfigMaps, { metadata: { name: 'b', namespace: 'a' } });
    assert.equal(seen.method, 'PATCH');
    assert.equal(seen.type, 'application/apply-patch+yaml');
    assert.equal(seen.url, '/api/v1/namespaces/a/configmaps/b?fieldManager=operator-runtime&force=true');
    assert.equal(seen.body?.apiVersion, 'v1');
    assert.equal(seen.body?.kind, 'ConfigMap');
    assert.ok(client.requests.permissionsUsed.has('patch /configmaps'));
  });
});

describe('Client keep-alive connections', () => {
  it('closes a connection idle for idleConnectionTimeoutMs; a watch quiet for longer keeps its own, and the next request reconnects', async () => {
    const idleMs = 300;
    const client = new Client(kubeConfig, { idleConnectionTimeoutMs: idleMs });
    const open = new Set<import('node:net').Socket>();
    const onConnection = (socket: import('node:net').Socket) => { open.add(socket); socket.once('close', () => open.delete(socket)); };
    server.on('connection', onConnection);
    try {
      let watchResponse: ServerResponse | undefined;
      const held: ServerResponse[] = [];
      const burst = 5;
      const object = (name: string) => JSON.stringify({ metadata: { name, namespace: 'a' } });
      handler = (req, res) => {
        if (req.url?.includes('watch=1')) {
          watchResponse = res;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'w1', namespace: 'a', resourceVersion: '1' } } })}\n`);
          return;
        }
        // Answered together once all arrived: the burst ran on `burst` connections at once.
        held.push(res);
        if (held.length === burst) for (const r of held.splice(0)) r.writeHead(200, { 'content-type': 'application/json' }).end(object('b'));
      };
      const watch = client.watch(ConfigMaps, { namespace: 'a' });
      const nextName = async () => {
        const event = await watch.next();
        assert.ok(!event.done, 'the watch streams');
        return event.value.object.metadata.name;
      };
      assert.equal(await nextName(), 'w1');
      await Promise.all(Array.from({ length: burst }, () => client.get(ConfigMaps, { namespace: 'a', name: 'b' })));
      assert.equal(open.size, burst + 1, 'the burst connections are kept alive beside the watch');

      const quietSince = performance.now();
      await waitFor(() => open.size === 1, { what: 'the idle connections closed at the server' });
      assert.ok(performance.now() - quietSince >= idleMs * 0.9, 'not before they were idle for the timeout');
      // The watch has now sent nothing for longer than the idle timeout: its connection stays.
      await waitFor(() => performance.now() - quietSince > 2 * idleMs, { what: 'twice the idle timeout' });
      assert.equal(open.size, 1);
      watchResponse!.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'w2', namespace: 'a', resourceVersion: '2' } } })}\n`);
      assert.equal(await nextName(), 'w2', 'the watch kept its connection');

      handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(object('c'));
      assert.equal((await client.get(ConfigMaps, { namespace: 'a', name: 'c' })).metadata.name, 'c');
      assert.equal(open.size, 2, 'the next request opened a connection of its own');
      await watch.return(undefined);
    } finally {
      server.off('connection', onConnection);
    }
  });
});
