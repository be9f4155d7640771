// A minimal DER (ASN.1 Distinguished Encoding Rules) encoder: just the types an X.509 v3
// certificate needs. Each function returns the complete tag-length-value encoding.
import { isIPv4, isIPv6 } from 'node:net';

export const Tag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  ObjectIdentifier: 0x06,
  Utf8String: 0x0c,
  Sequence: 0x30,
  Set: 0x31,
  IA5String: 0x16,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
} as const;

/** Length octets: short form below 128, else long form (0x80 | count, then big-endian bytes). */
export function encodeLength(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`invalid DER length ${length}`);
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(Tag.Sequence, Buffer.concat(items));
}

export function set(...items: Uint8Array[]): Buffer {
  return tlv(Tag.Set, Buffer.concat(items));
}

/** `[n] EXPLICIT`: a constructed context-specific tag around a complete encoding. */
export function explicit(n: number, inner: Uint8Array): Buffer {
  if (n < 0 || n > 30) throw new RangeError(`context tag ${n} out of range`);
  return tlv(0xa0 | n, inner);
}

/** `[n] IMPLICIT` for a primitive type: the content octets under a context-specific tag. */
export function implicitPrimitive(n: number, content: Uint8Array): Buffer {
  if (n < 0 || n > 30) throw new RangeError(`context tag ${n} out of range`);
  return tlv(0x80 | n, content);
}

export function boolean(value: boolean): Buffer {
  return tlv(Tag.Boolean, Buffer.from([value ? 0xff : 0x00]));
}

export function nullValue(): Buffer {
  return tlv(Tag.Null, Buffer.alloc(0));
}

/** INTEGER from a non-negative number or unsigned big-endian bytes (minimal two's complement). */
export function integer(value: number | bigint | Uint8Array): Buffer {
  let bytes: Buffer;
  if (value instanceof Uint8Array) {
    bytes = Buffer.from(value);
  } else {
    let n = BigInt(value);
    if (n < 0n) throw new RangeError('negative INTEGERs are not supported');
    const out: number[] = [];
    do { out.unshift(Number(n & 0xffn)); n >>= 8n; } while (n > 0n);
    bytes = Buffer.from(out);
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.length === 0) bytes = Buffer.from([0]);
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(Tag.Integer, bytes);
}

/** BIT STRING holding whole bytes (keys, signatures). */
export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  if (unusedBits < 0 || unusedBits > 7 || (unusedBits > 0 && bytes.length === 0)) throw new RangeError('invalid unused bit count');
  return tlv(Tag.BitString, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/**
 * A named-bit BIT STRING (such as keyUsage): bit 0 is the most significant bit of the first
 * byte, and DER drops trailing zero bits.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) {
    if (!Number.isInteger(bit) || bit < 0) throw new RangeError(`invalid bit ${bit}`);
    bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  }
  return bitString(bytes, 7 - (highest & 7));
}

export function octetString(bytes: Uint8Array): Buffer {
  return tlv(Tag.OctetString, bytes);
}

export function utf8String(value: string): Buffer {
  return tlv(Tag.Utf8String, Buffer.from(value, 'utf8'));
}

/** `1.2.840.10045.2.1` -> OBJECT IDENTIFIER. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`invalid OID "${dotted}"`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new Error(`invalid OID "${dotted}"`);
  const bytes: number[] = [];
  const push = (arc: bigint) => {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let n = arc >> 7n; n > 0n; n >>= 7n) chunk.unshift(Number(n & 0x7fn) | 0x80);
    bytes.push(...chunk);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  return tlv(Tag.ObjectIdentifier, Buffer.from(bytes));
}

/** RFC 5280: UTCTime for years 1950-2049, GeneralizedTime otherwise; always UTC, whole seconds. */
export function time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const rest = `${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  if (year >= 1950 && year < 2050) return tlv(Tag.UtcTime, Buffer.from(`${pad(year % 100)}${rest}`, 'ascii'));
  return tlv(Tag.GeneralizedTime, Buffer.from(`${pad(year, 4)}${rest}`, 'ascii'));
}

/** The 4 or 16 bytes of an IP address in text form (IPv6 with `::` and an embedded IPv4 tail). */
export function ipAddressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (!isIPv6(address)) throw new Error(`"${address}" is not an IP address`);
  let text = address.split('%')[0]!;
  // An embedded IPv4 tail (`::ffff:10.0.0.1`) becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  const v4 = text.slice(lastColon + 1);
  if (v4.includes('.')) {
    const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parseGroups = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  let groups: number[];
  const doubleColon = text.indexOf('::');
  if (doubleColon >= 0) {
    const head = parseGroups(text.slice(0, doubleColon));
    const rest = parseGroups(text.slice(doubleColon + 2));
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  } else {
    groups = parseGroups(text);
  }
  if (groups.length !== 8) throw new Error(`"${address}" is not an IP address`);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}
