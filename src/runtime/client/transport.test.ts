// The transport's TLS: one secure context shared by all connections of a TLS identity, and the
// server still verified against the kubeconfig's CA. A local HTTPS server with a self-signed
// certificate stands in for the API server.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { generateSelfSigned } from '../tls/selfsigned.ts';
import { KubeTransport } from './transport.ts';

let server: Server;
let url: URL;
const SPLIT_BODY = JSON.stringify({ items: [{ name: 'grüße', note: '设备 🙂 ok', n: 1 }, { name: 'ascii' }] });
const serving = generateSelfSigned({ commonName: 'apiserver', ipAddresses: ['127.0.0.1'] });

before(async () => {
  server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    if (req.url === '/split') {
      // A body whose multi-byte characters straddle the chunks it arrives in, one byte at a time around them.
      const body = Buffer.from(SPLIT_BODY);
      res.writeHead(200, { 'content-type': 'application/json' });
      let at = 0;
      const next = () => {
        if (at >= body.length) return res.end();
        const size = body[at]! >= 0x80 ? 1 : 7;
        res.write(body.subarray(at, at + size), next);
        at += size;
      };
      return next();
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/api`);
});
after(() => { server.close(); });

function kubeConfigTrusting(caPem: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: url.origin, caData: Buffer.from(caPem).toString('base64') }],
    users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
  });
  return kubeConfig;
}

/** Counts tls.createSecureContext calls while `run` runs: tls.connect calls it when not given a context. */
async function countSecureContexts(run: () => Promise<void>): Promise<number> {
  const original = tls.createSecureContext;
  let calls = 0;
  tls.createSecureContext = (options) => { calls++; return original(options); };
  try {
    await run();
  } finally {
    tls.createSecureContext = original;
  }
  return calls;
}

describe('KubeTransport TLS', () => {
  it('builds one secure context for a burst that opens several connections', async () => {
    const transport = new KubeTransport(kubeConfigTrusting(serving.caPem));
    const connections = new Set<unknown>();
    const onConnection = (socket: unknown) => connections.add(socket);
    server.on('secureConnection', onConnection);
    try {
      const burst = 5;
      const contexts = await countSecureContexts(async () => {
        const responses = await Promise.all(Array.from({ length: burst }, () => transport.send({ method: 'GET', url, headers: {} })));
        for (const response of responses) assert.equal(await response.body.text(), '{}');
      });
      assert.equal(connections.size, burst, 'the burst ran on one connection per request');
      assert.equal(contexts, 1, 'one secure context for all of them, not one per connection');
    } finally {
      server.off('secureConnection', onConnection);
    }
  });

  it('still refuses a server whose certificate the kubeconfig CA did not sign', async () => {
    const otherCa = generateSelfSigned({ commonName: 'other', ipAddresses: ['127.0.0.1'] });
    const transport = new KubeTransport(kubeConfigTrusting(otherCa.caPem));
    await assert.rejects(transport.send({ method: 'GET', url, headers: {} }), (err: NodeJS.ErrnoException) =>
      /self[- ]signed|unable to verify|certificate/i.test(`${err.code} ${err.message}`));
  });
});

describe('KubeTransport body', () => {
  it('decodes a UTF-8 body whose characters are split across chunks', async () => {
    const transport = new KubeTransport(kubeConfigTrusting(serving.caPem));
    const response = await transport.send({ method: 'GET', url: new URL('/split', url), headers: {} });
    assert.equal(await response.body.text(), SPLIT_BODY);
  });
});
