// Self-signed X.509 v3 certificates with node:crypto only (the production image has no openssl):
// generate a key pair, encode the TBSCertificate in DER, sign it, wrap it in PEM. The certificate
// is its own CA (basicConstraints CA:TRUE, keyCertSign), so clients trust it by using the
// certificate itself as their CA bundle.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  boolean, explicit, implicitPrimitive, integer, ipAddressBytes, namedBits, nullValue, octetString, oid, sequence, set, time, utf8String,
  bitString,
} from './der.ts';

export type KeyAlgorithm = 'ec' | 'rsa';

export interface SelfSignedOptions {
  /** Subject and issuer CN. */
  commonName: string;
  /** SubjectAltName DNS names. When neither dnsNames nor ipAddresses is given: the common name (as DNS name or IP). */
  dnsNames?: readonly string[];
  /** SubjectAltName IP addresses (IPv4 or IPv6). */
  ipAddresses?: readonly string[];
  /** Default 365. */
  validDays?: number;
  /** `ec` (P-256, ECDSA with SHA-256; the default) or `rsa` (2048 bits, SHA-256). */
  keyAlgorithm?: KeyAlgorithm;
  /** Default: now. The certificate is valid from one hour before (clock skew) to validDays after. */
  now?: Date;
}

export interface CertificatePair {
  /** The certificate, PEM. */
  certPem: string;
  /** The private key, PKCS#8 PEM. */
  keyPem: string;
}

export interface SelfSignedCertificate extends CertificatePair {
  /** The CA bundle clients need: the certificate itself. */
  caPem: string;
}

const OID = {
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

// keyUsage bit positions (RFC 5280 4.2.1.3).
const KeyUsageBit = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5 } as const;

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

export function generateSelfSigned(options: SelfSignedOptions): SelfSignedCertificate {
  const { commonName } = options;
  if (!commonName) throw new Error('generateSelfSigned: commonName is required');
  const validDays = options.validDays ?? 365;
  if (!(validDays > 0)) throw new Error(`generateSelfSigned: validDays must be positive, not ${validDays}`);
  let dnsNames = [...(options.dnsNames ?? [])];
  let ipAddresses = [...(options.ipAddresses ?? [])];
  if (!options.dnsNames && !options.ipAddresses) {
    if (isIP(commonName)) ipAddresses = [commonName];
    else dnsNames = [commonName];
  }
  for (const ip of ipAddresses) if (!isIP(ip)) throw new Error(`generateSelfSigned: "${ip}" is not an IP address`);
  for (const dns of dnsNames) {
    if (!dns || /[^\x21-\x7e]/.test(dns)) throw new Error(`generateSelfSigned: "${dns}" is not a valid DNS name`);
  }

  const algorithm = options.keyAlgorithm ?? 'ec';
  const { publicKey, privateKey } = algorithm === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signatureAlgorithm = algorithm === 'ec'
    ? sequence(oid(OID.ecdsaWithSha256))
    : sequence(oid(OID.sha256WithRsa), nullValue());

  const now = options.now ?? new Date();
  const notBefore = new Date(Math.floor((now.getTime() - HOUR_MS) / 1000) * 1000);
  const notAfter = new Date(Math.floor((now.getTime() + validDays * DAY_MS) / 1000) * 1000);
  const name = sequence(set(sequence(oid(OID.commonName), utf8String(commonName))));
  const spki = publicKey.export({ type: 'spki', format: 'der' });

  const tbs = sequence(
    explicit(0, integer(2)), // v3
    integer(serialNumber()),
    signatureAlgorithm,
    name, // issuer
    sequence(time(notBefore), time(notAfter)),
    name, // subject
    spki,
    explicit(3, sequence(...extensions(algorithm, publicKey, dnsNames, ipAddresses))),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = sequence(tbs, signatureAlgorithm, bitString(signature));
  const certPem = toPem('CERTIFICATE', der);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return { certPem, keyPem, caPem: certPem };
}

function extensions(algorithm: KeyAlgorithm, publicKey: KeyObject, dnsNames: string[], ipAddresses: string[]): Buffer[] {
  const ext = (id: string, critical: boolean, value: Buffer) =>
    sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
  const usage: number[] = [KeyUsageBit.digitalSignature, KeyUsageBit.keyCertSign];
  // RSA key exchange encrypts with the certificate's key; ECDSA keys only sign.
  if (algorithm === 'rsa') usage.push(KeyUsageBit.keyEncipherment);
  const out = [
    ext(OID.basicConstraints, true, sequence(boolean(true))),
    ext(OID.keyUsage, true, namedBits(usage)),
    ext(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
    ext(OID.subjectKeyIdentifier, false, octetString(subjectKeyIdentifier(publicKey))),
  ];
  const altNames = [
    // GeneralName: dNSName [2] IA5String, iPAddress [7] OCTET STRING (both implicit).
    ...dnsNames.map((d) => implicitPrimitive(2, Buffer.from(d, 'ascii'))),
    ...ipAddresses.map((ip) => implicitPrimitive(7, ipAddressBytes(ip))),
  ];
  if (altNames.length) out.push(ext(OID.subjectAltName, false, sequence(...altNames)));
  return out;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function subjectKeyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
}

/** The contents of the BIT STRING that ends a SubjectPublicKeyInfo (after its unused-bits octet). */
function subjectPublicKeyBits(spki: Buffer): Buffer {
  // SEQUENCE { AlgorithmIdentifier, BIT STRING }: skip the outer header and the algorithm.
  let offset = headerLength(spki, 0);
  offset += headerLength(spki, offset) + contentLength(spki, offset);
  const start = offset + headerLength(spki, offset);
  return spki.subarray(start + 1, start + contentLength(spki, offset));
}

function headerLength(der: Buffer, offset: number): number {
  const first = der[offset + 1]!;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

function contentLength(der: Buffer, offset: number): number {
  const first = der[offset + 1]!;
  if (first < 0x80) return first;
  let n = 0;
  for (let i = 0; i < (first & 0x7f); i++) n = n * 256 + der[offset + 2 + i]!;
  return n;
}

/** 16 random bytes, positive and non-zero (RFC 5280: at most 20 octets). */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes;
}

function toPem(label: string, der: Buffer): string {
  const body = der.toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}
