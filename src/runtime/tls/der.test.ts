import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeLength, integer, ipAddressBytes, namedBits, oid, time } from './der.ts';

const hex = (b: Buffer) => b.toString('hex');

void describe('DER encoder', () => {
  void it('encodes lengths in short and long form', () => {
    assert.equal(hex(encodeLength(0)), '00');
    assert.equal(hex(encodeLength(127)), '7f');
    assert.equal(hex(encodeLength(128)), '8180');
    assert.equal(hex(encodeLength(256)), '820100');
    assert.equal(hex(encodeLength(70000)), '83011170');
  });

  void it('encodes INTEGERs minimally and positive', () => {
    assert.equal(hex(integer(0)), '020100');
    assert.equal(hex(integer(2)), '020102');
    assert.equal(hex(integer(128)), '02020080');
    assert.equal(hex(integer(Buffer.from([0, 0, 0x7f]))), '02017f');
    assert.equal(hex(integer(Buffer.from([0xff, 0x01]))), '020300ff01');
  });

  void it('encodes OBJECT IDENTIFIERs', () => {
    assert.equal(hex(oid('2.5.4.3')), '0603550403');
    assert.equal(hex(oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302');
    assert.equal(hex(oid('1.3.6.1.5.5.7.3.1')), '06082b06010505070301');
    assert.throws(() => oid('1.x'), /invalid OID/);
  });

  void it('drops trailing zero bits of named-bit strings', () => {
    // digitalSignature(0) + keyCertSign(5): 1000 0100, two unused bits.
    assert.equal(hex(namedBits([0, 5])), '03020284');
    // digitalSignature + keyEncipherment + keyCertSign: 1010 0100.
    assert.equal(hex(namedBits([0, 2, 5])), '030202a4');
    // decipherOnly(8) spills into a second byte.
    assert.equal(hex(namedBits([0, 8])), '0303078080');
  });

  void it('writes UTCTime before 2050 and GeneralizedTime after', () => {
    assert.equal(time(new Date('2024-01-02T03:04:05.678Z')).toString('latin1'), '\x17\x0d240102030405Z');
    assert.equal(time(new Date('2050-01-02T03:04:05Z')).toString('latin1'), '\x18\x0f20500102030405Z');
  });

  void it('turns IPv4 and IPv6 text into bytes', () => {
    assert.equal(hex(ipAddressBytes('10.0.0.1')), '0a000001');
    assert.equal(hex(ipAddressBytes('::1')), '00000000000000000000000000000001');
    assert.equal(hex(ipAddressBytes('fe80::1:2')), 'fe800000000000000000000000010002');
    assert.equal(hex(ipAddressBytes('2001:db8:0:0:1:0:0:1')), '20010db8000000000001000000000001');
    assert.equal(hex(ipAddressBytes('::ffff:10.1.2.3')), '00000000000000000000ffff0a010203');
    assert.throws(() => ipAddressBytes('example.com'), /not an IP address/);
  });
});
