import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { connect, createServer, type Server } from 'node:tls';
import { waitFor } from '../testing/wait.ts';
import { CertSource, loadCertSource } from './cert-source.ts';
import { generateSelfSigned, type SelfSignedCertificate } from './selfsigned.ts';

function handshake(port: number, ca: string, servername = 'metrics.ops.svc'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
const newPair = () => generateSelfSigned({ commonName: 'metrics', dnsNames: ['metrics.ops.svc'] });

let root: string;
before(async () => { root = await mkdtemp(join(tmpdir(), 'cert-source-')); });
after(async () => { await rm(root, { recursive: true, force: true }); });

async function writePair(dir: string, pair: SelfSignedCertificate): Promise<void> {
  // Like a careful writer: each file appears whole (write aside, then rename).
  await writeFile(join(dir, 'tls.crt.tmp'), pair.certPem);
  await writeFile(join(dir, 'tls.key.tmp'), pair.keyPem);
  await rename(join(dir, 'tls.key.tmp'), join(dir, 'tls.key'));
  await rename(join(dir, 'tls.crt.tmp'), join(dir, 'tls.crt'));
}

void describe('CertSource from a directory', () => {
  let source: CertSource | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    source?.close();
    source = undefined;
    const s = server;
    server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  async function serve(src: CertSource): Promise<number> {
    server = createServer(src.tlsOptions(), (socket) => socket.end());
    src.attach(server);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  void it('serves tls.crt/tls.key and switches to a new pair when the files change', async () => {
    const dir = await mkdtemp(join(root, 'plain-'));
    const first = newPair();
    await writePair(dir, first);
    // No periodic check: the file-system watch alone must notice the change.
    source = await CertSource.fromDirectory(dir, { pollIntervalMs: 0 });
    assert.equal(source.caPem, undefined);
    assert.equal(source.current().certPem, first.certPem);
    const port = await serve(source);
    assert.equal(await handshake(port, first.caPem), fingerprint(first.certPem));

    const second = newPair();
    await writePair(dir, second);
    const served = await waitFor(() => handshake(port, second.caPem).catch(() => undefined), { what: 'the new certificate served' });
    assert.equal(served, fingerprint(second.certPem));
    assert.equal(source.current().keyPem, second.keyPem);
    await assert.rejects(handshake(port, first.caPem), 'the old certificate is no longer served');
  });

  void it('follows a Secret volume update (the ..data symlink is swapped)', async () => {
    const dir = await mkdtemp(join(root, 'secret-'));
    const mountVersion = async (name: string, pair: SelfSignedCertificate) => {
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'tls.crt'), pair.certPem);
      await writeFile(join(dir, name, 'tls.key'), pair.keyPem);
      await symlink(name, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    const first = newPair();
    await mountVersion('..v1', first);
    await symlink(join('..data', 'tls.crt'), join(dir, 'tls.crt'));
    await symlink(join('..data', 'tls.key'), join(dir, 'tls.key'));
    source = await CertSource.fromDirectory(dir, { pollIntervalMs: 0 });
    const port = await serve(source);
    assert.equal(await handshake(port, first.caPem), fingerprint(first.certPem));

    const second = newPair();
    await mountVersion('..v2', second);
    assert.equal(await waitFor(() => handshake(port, second.caPem).catch(() => undefined), { what: 'the new certificate served' }), fingerprint(second.certPem));
  });

  void it('keeps the current pair while the files do not match each other', async () => {
    const dir = await mkdtemp(join(root, 'half-'));
    const first = newPair();
    await writePair(dir, first);
    source = await CertSource.fromDirectory(dir, { pollIntervalMs: 0 });
    const changes: string[] = [];
    source.onChange((pair) => changes.push(pair.certPem));

    const second = newPair();
    await writeFile(join(dir, 'tls.crt'), second.certPem); // the key is still the first one
    assert.equal(await source.reload(), false);
    assert.equal(source.current().certPem, first.certPem);
    await writeFile(join(dir, 'tls.key'), second.keyPem);
    await waitFor(() => source!.current().certPem === second.certPem, { what: 'the complete new pair loaded' });
    assert.equal(await source.reload(), false, 'nothing changed since');
    assert.deepEqual(changes, [second.certPem]);
  });

  void it('re-reads on the periodic check without file-system events', async () => {
    const dir = await mkdtemp(join(root, 'poll-'));
    await writePair(dir, newPair());
    source = await CertSource.fromDirectory(dir, { watch: false, pollIntervalMs: 20 });
    const seen = new Promise<string>((resolve) => source!.onChange((pair) => resolve(pair.certPem)));
    const second = newPair();
    await writePair(dir, second);
    assert.equal(await seen, second.certPem);
  });

  void it('refuses a folder without a valid pair', async () => {
    await assert.rejects(CertSource.fromDirectory(join(root, 'missing')), /ENOENT/);
    const dir = await mkdtemp(join(root, 'mismatch-'));
    await writeFile(join(dir, 'tls.crt'), newPair().certPem);
    await writeFile(join(dir, 'tls.key'), newPair().keyPem);
    await assert.rejects(CertSource.fromDirectory(dir), /do not belong together/);
    await writeFile(join(dir, 'tls.crt'), 'not a certificate');
    await assert.rejects(CertSource.fromDirectory(dir), /does not parse/);
  });
});

void describe('loadCertSource', () => {
  void it('generates a self-signed certificate when the folder of an absent optional Secret is empty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'empty-certs-'));
    const source = await loadCertSource({ certDir: dir, selfSigned: { commonName: 'svc', dnsNames: ['svc.ns.svc'] } });
    try {
      assert.equal(source.description, 'self-signed');
      assert.equal(new X509Certificate(source.current().certPem).subjectAltName, 'DNS:svc.ns.svc');
    } finally {
      source.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  void it('generates a self-signed certificate when no folder is given', async () => {
    const source = await loadCertSource({ selfSigned: { commonName: 'svc', dnsNames: ['svc.ns.svc'] } });
    try {
      assert.equal(source.description, 'self-signed');
      assert.equal(source.caPem, source.current().certPem);
      assert.equal(new X509Certificate(source.current().certPem).subjectAltName, 'DNS:svc.ns.svc');
      assert.equal(await source.reload(), false);
    } finally {
      source.close();
    }
  });

  void it('defaults the self-signed names to localhost and the loopback addresses', async () => {
    const source = await loadCertSource();
    source.close();
    assert.match(new X509Certificate(source.current().certPem).subjectAltName ?? '', /DNS:localhost.*IP Address:127\.0\.0\.1/);
  });

  void it('loads the folder when one is given', async () => {
    const dir = await mkdtemp(join(root, 'load-'));
    const pair = newPair();
    await writePair(dir, pair);
    const source = await loadCertSource({ certDir: dir, pollIntervalMs: 0 });
    source.close();
    assert.equal(source.current().certPem, pair.certPem);
    assert.equal(source.description, dir);
  });
});
