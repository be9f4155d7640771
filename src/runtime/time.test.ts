import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { httpDate, isoTime, microTime, rfc3339 } from './time.ts';

const MIN_MS = Date.parse('0000-01-01T00:00:00.000Z');
const MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');

void describe('isoTime', () => {
  void it('writes what Date#toISOString writes, for every millisecond of years 0000-9999', () => {
    fc.assert(fc.property(fc.integer({ min: MIN_MS, max: MAX_MS }), (ms) => {
      const expected = new Date(ms).toISOString();
      assert.equal(isoTime(ms), expected);
      assert.equal(isoTime(new Date(ms)), expected);
      assert.equal(isoTime(ms, 0), expected.replace(/\.\d{3}Z$/, 'Z'));
      assert.equal(isoTime(ms, 6), expected.replace(/Z$/, '000Z'));
    }), { numRuns: 2_000 });
  });

  void it('writes the edges of the range and leap days', () => {
    assert.equal(isoTime(MIN_MS), '0000-01-01T00:00:00.000Z');
    assert.equal(isoTime(MAX_MS), '9999-12-31T23:59:59.999Z');
    assert.equal(isoTime('2024-02-29T23:59:59.5+01:00'), '2024-02-29T22:59:59.500Z');
    assert.equal(isoTime(-1), '1969-12-31T23:59:59.999Z');
  });

  void it('rejects what RFC 3339 cannot write, naming the time', () => {
    assert.throws(() => isoTime(MIN_MS - 1), /outside years 0000-9999/);
    assert.throws(() => isoTime(MAX_MS + 1), /outside years 0000-9999/);
    assert.throws(() => isoTime('yesterday'), /invalid time yesterday/);
    assert.throws(() => isoTime(Number.NaN), /invalid time NaN/);
  });

  void it('does not render a date string through Date, so no local time zone is looked up', () => {
    const names: string[] = ['toISOString', 'toJSON', 'toString', 'toUTCString', 'getTimezoneOffset', 'getHours'];
    const proto = Date.prototype as unknown as Record<string, unknown>;
    const saved = names.map((name) => proto[name]);
    const called: string[] = [];
    try {
      for (const name of names) proto[name] = () => { called.push(name); throw new Error(name); };
      assert.equal(isoTime(0), '1970-01-01T00:00:00.000Z');
      assert.equal(httpDate(0), 'Thu, 01 Jan 1970 00:00:00 GMT');
    } finally {
      names.forEach((name, i) => { proto[name] = saved[i]; });
    }
    assert.deepEqual(called, []);
  });
});

void describe('rfc3339 and microTime', () => {
  void it('write metav1.Time and metav1.MicroTime', () => {
    assert.equal(rfc3339('2026-01-02T03:04:05.678Z'), '2026-01-02T03:04:05Z');
    assert.equal(microTime(Date.parse('2026-01-02T03:04:05.678Z')), '2026-01-02T03:04:05.678000Z');
  });
});

void describe('httpDate', () => {
  void it('writes what Date#toUTCString writes (IMF-fixdate), for every millisecond of years 0000-9999', () => {
    fc.assert(fc.property(fc.integer({ min: MIN_MS, max: MAX_MS }), (ms) => {
      assert.equal(httpDate(ms), new Date(ms).toUTCString());
    }), { numRuns: 2_000 });
    assert.equal(httpDate(Date.parse('2026-01-02T03:04:05Z')), 'Fri, 02 Jan 2026 03:04:05 GMT');
  });
});
