import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect, createServer, type Server } from 'node:tls';
import { generateSelfSigned, type SelfSignedCertificate } from './selfsigned.ts';

/** Completes a TLS handshake and resolves with the server certificate's fingerprint, or rejects with the verification error. */
function handshake(port: number, options: { ca: string; host?: string; servername?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: options.host ?? '127.0.0.1', port, ca: options.ca, ...(options.servername ? { servername: options.servername } : {}) }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

async function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

void describe('generateSelfSigned', () => {
  for (const keyAlgorithm of ['ec', 'rsa'] as const) {
    void it(`makes a ${keyAlgorithm} certificate that parses, carries the SANs and matches its key`, () => {
      const now = new Date('2030-06-15T12:00:00Z');
      const generated = generateSelfSigned({
        commonName: 'widget-operator', dnsNames: ['metrics.ops.svc', 'localhost'], ipAddresses: ['127.0.0.1', '::1', '10.0.0.7'],
        validDays: 10, keyAlgorithm, now,
      });
      assert.equal(generated.caPem, generated.certPem);
      const cert = new X509Certificate(generated.certPem);
      assert.equal(cert.subject, 'CN=widget-operator');
      assert.equal(cert.issuer, 'CN=widget-operator');
      assert.equal(cert.subjectAltName, 'DNS:metrics.ops.svc, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10.0.0.7');
      assert.equal(cert.ca, true);
      assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
      assert.equal(cert.publicKey.asymmetricKeyType, keyAlgorithm);
      assert.ok(cert.checkPrivateKey(createPrivateKey(generated.keyPem)));
      assert.ok(cert.verify(cert.publicKey), 'self-signed: the signature verifies with its own key');
      assert.ok(cert.checkIssued(cert));
      assert.equal(new Date(cert.validFrom).toISOString(), '2030-06-15T11:00:00.000Z');
      assert.equal(new Date(cert.validTo).toISOString(), '2030-06-25T12:00:00.000Z');
      assert.match(generated.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    });
  }

  void it('uses the common name as the only SAN when no names are given', () => {
    assert.equal(new X509Certificate(generateSelfSigned({ commonName: 'svc.example' }).certPem).subjectAltName, 'DNS:svc.example');
    assert.equal(new X509Certificate(generateSelfSigned({ commonName: '192.0.2.1' }).certPem).subjectAltName, 'IP Address:192.0.2.1');
  });

  void it('gives every certificate its own key and serial number', () => {
    const a = new X509Certificate(generateSelfSigned({ commonName: 'a' }).certPem);
    const b = new X509Certificate(generateSelfSigned({ commonName: 'a' }).certPem);
    assert.notEqual(a.serialNumber, b.serialNumber);
    assert.notEqual(a.publicKey.export({ type: 'spki', format: 'pem' }), b.publicKey.export({ type: 'spki', format: 'pem' }));
  });

  void it('writes GeneralizedTime for dates from 2050 on', () => {
    const cert = new X509Certificate(generateSelfSigned({ commonName: 'a', now: new Date('2049-12-01T00:00:00Z'), validDays: 60 }).certPem);
    assert.equal(new Date(cert.validTo).toISOString(), '2050-01-30T00:00:00.000Z');
  });

  void it('refuses bad input', () => {
    assert.throws(() => generateSelfSigned({ commonName: '' }), /commonName/);
    assert.throws(() => generateSelfSigned({ commonName: 'a', ipAddresses: ['not-an-ip'] }), /not an IP address/);
    assert.throws(() => generateSelfSigned({ commonName: 'a', dnsNames: ['has space'] }), /DNS name/);
    assert.throws(() => generateSelfSigned({ commonName: 'a', validDays: 0 }), /validDays/);
  });
});

void describe('a TLS server with a self-signed certificate', () => {
  let generated: SelfSignedCertificate;
  let server: Server;
  let port: number;
  before(async () => {
    generated = generateSelfSigned({ commonName: 'test', dnsNames: ['webhook.ops.svc'], ipAddresses: ['127.0.0.1'] });
    server = createServer({ cert: generated.certPem, key: generated.keyPem }, (socket) => socket.end());
    port = await listen(server);
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  void it('verifies for a DNS SAN with the certificate as CA', async () => {
    const fingerprint = await handshake(port, { ca: generated.caPem, servername: 'webhook.ops.svc' });
    assert.equal(fingerprint, new X509Certificate(generated.certPem).fingerprint256);
  });

  void it('verifies for an IP SAN with the certificate as CA', async () => {
    const fingerprint = await handshake(port, { ca: generated.caPem, host: '127.0.0.1' });
    assert.equal(fingerprint, new X509Certificate(generated.certPem).fingerprint256);
  });

  void it('fails for a name that is not in the SANs', async () => {
    await assert.rejects(handshake(port, { ca: generated.caPem, servername: 'other.ops.svc' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  void it('fails when the client trusts another CA', async () => {
    const other = generateSelfSigned({ commonName: 'test', dnsNames: ['webhook.ops.svc'] });
    await assert.rejects(handshake(port, { ca: other.caPem, servername: 'webhook.ops.svc' }), /self[- ]signed|unable to verify|UNABLE_TO/i);
  });
});
