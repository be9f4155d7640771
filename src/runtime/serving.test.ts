import assert from 'node:assert/strict';
import { createServer, get } from 'node:http';
import { describe, it } from 'node:test';
import { listenOn, parseAddress } from './serving.ts';

void describe('listenOn', () => {
  void it('answers with a Date header of its own, without Date#toUTCString (no time-zone lookup)', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    const listening = await listenOn(server, { host: '127.0.0.1', port: 0 });
    const proto = Date.prototype as unknown as Record<string, (this: Date) => string>;
    const saved = proto.toUTCString!;
    let called = 0;
    proto.toUTCString = function (this: Date) { called++; return saved.call(this); };
    try {
      const before = Math.floor(Date.now() / 1000) * 1000;
      const date = await new Promise<string | undefined>((resolve, reject) => {
        get(`http://${listening.hostPort}/`, (res) => { res.resume(); res.on('end', () => resolve(res.headers.date)); }).on('error', reject);
      });
      assert.ok(date, 'the response has a Date header');
      const at = Date.parse(date);
      assert.ok(at >= before && at <= Date.now(), `${date} is the time of the request`);
      assert.equal(called, 0);
    } finally {
      proto.toUTCString = saved;
      await listening.close();
    }
  });
});

void describe('parseAddress', () => {
  void it('reads host:port, IPv6 in brackets and a bare port', () => {
    assert.deepEqual(parseAddress('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseAddress('[::1]:9443'), { host: '::1', port: 9443 });
    assert.deepEqual(parseAddress(':8081'), { host: '0.0.0.0', port: 8081 });
    assert.throws(() => parseAddress('localhost:http'), /invalid address "localhost:http"/);
  });
});
