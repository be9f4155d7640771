import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { s } from './schema.ts';
import { fieldPath, validateAgainst } from './validate.ts';
import { structuralErrors, toOpenApi } from './openapi.ts';

function fields(errors: { field: string }[]): string[] {
  return errors.map((e) => e.field);
}

void describe('validateAgainst', () => {
  void it('accepts a valid value', () => {
    const schema = s.object({ a: s.string({ maxLength: 3 }), b: s.integer({ minimum: 1 }).optional(), m: s.map(s.string()) });
    assert.deepEqual(validateAgainst(schema, { a: 'abc', b: 2, m: { x: 'y' }, unknown: true }, 'spec'), []);
  });

  void it('reports missing required fields but not missing defaulted or optional ones', () => {
    const schema = s.object({ req: s.string(), opt: s.string().optional(), def: s.string({ default: 'x' }) });
    assert.deepEqual(validateAgainst(schema, {}, 'spec'), [{ field: 'spec.req', message: 'is required' }]);
    assert.deepEqual(fields(validateAgainst(schema, { req: null }, 'spec')), ['spec.req']);
  });

  void it('reports wrong types with the field path', () => {
    const schema = s.object({ a: s.string(), b: s.integer(), c: s.boolean(), d: s.array(s.string()), e: s.map(s.string()), f: s.preserveUnknown() });
    const errors = validateAgainst(schema, { a: 1, b: '1', c: 'true', d: {}, e: [], f: 'x' }, 'spec');
    assert.deepEqual(fields(errors), ['spec.a', 'spec.b', 'spec.c', 'spec.d', 'spec.e', 'spec.f']);
    assert.deepEqual(fields(validateAgainst(schema, null, 'spec')), ['spec']);
  });

  void it('checks integers are whole and within bounds', () => {
    const n = s.integer({ minimum: 1, maximum: 5 });
    assert.match(validateAgainst(n, 1.5, 'x')[0]?.message ?? '', /whole number/);
    assert.deepEqual(validateAgainst(n, 0, 'x'), [{ field: 'x', message: 'must be at least 1, not 0' }]);
    assert.deepEqual(validateAgainst(n, 6, 'x'), [{ field: 'x', message: 'must be at most 5, not 6' }]);
    assert.deepEqual(validateAgainst(n, 5, 'x'), []);
    assert.equal(validateAgainst(s.number(), Number.NaN, 'x').length, 1);
  });

  void it('checks enums, lengths in code points and patterns', () => {
    assert.match(validateAgainst(s.string({ enum: ['A', 'B'] }), 'C', 'x')[0]?.message ?? '', /must be one of "A", "B", not "C"/);
    const short = s.string({ minLength: 2, maxLength: 3 });
    assert.equal(validateAgainst(short, 'é😀x', 'x').length, 0);
    assert.match(validateAgainst(short, 'abcd', 'x')[0]?.message ?? '', /at most 3 characters/);
    assert.match(validateAgainst(short, 'a', 'x')[0]?.message ?? '', /at least 2 characters/);
    assert.match(validateAgainst(s.string({ pattern: '^[a-z]+$' }), 'A', 'x')[0]?.message ?? '', /\^\[a-z\]\+\$/);
  });

  void it('checks the date-time format', () => {
    const t = s.string({ format: 'date-time' });
    assert.deepEqual(validateAgainst(t, '2024-05-01T10:00:00Z', 'x'), []);
    assert.deepEqual(validateAgainst(t, '2024-05-01T10:00:00.123+02:00', 'x'), []);
    assert.equal(validateAgainst(t, 'yesterday', 'x').length, 1);
    assert.equal(validateAgainst(t, '2024-13-01T10:00:00Z', 'x').length, 1);
  });

  void it('checks list and map sizes and names items and keys in the path', () => {
    const schema = s.object({ l: s.array(s.integer({ maximum: 1 }), { minItems: 1, maxItems: 2 }), m: s.map(s.integer({ maximum: 1 }), { maxProperties: 1 }) });
    const errors = validateAgainst(schema, { l: [1, 2, 3], m: { 'a b': 2, c: 0 } }, 'spec');
    assert.deepEqual(fields(errors), ['spec.l', 'spec.l[1]', 'spec.l[2]', 'spec.m', 'spec.m["a b"]']);
    assert.deepEqual(fields(validateAgainst(schema, { l: [], m: {} }, 'spec')), ['spec.l']);
  });

  void it('reports duplicate entries in list maps and sets', () => {
    const conditions = s.array(s.object({ type: s.string(), status: s.string() }), { listType: 'map', listMapKeys: ['type'] });
    const errors = validateAgainst(conditions, [{ type: 'Ready', status: 'True' }, { type: 'Other', status: 'True' }, { type: 'Ready', status: 'False' }], 'c');
    assert.deepEqual(errors, [{ field: 'c[2]', message: 'duplicates c[0] (type="Ready"); entries must be unique' }]);
    assert.equal(validateAgainst(s.array(s.string(), { listType: 'set' }), ['a', 'b', 'a'], 's').length, 1);
  });
});

void describe('validateAgainst: integer formats', () => {
  void it('holds int32 to its range and int64 to the range doubles carry exactly, also without bounds', () => {
    const int32 = s.integer({ format: 'int32' });
    assert.deepEqual(validateAgainst(int32, 2 ** 31 - 1, 'n'), []);
    assert.match(validateAgainst(int32, 2 ** 31, 'n')[0]?.message ?? '', /between -2147483648 and 2147483647 \(int32\)/);
    const int64 = s.integer({ format: 'int64' });
    assert.deepEqual(validateAgainst(int64, Number.MAX_SAFE_INTEGER, 'n'), []);
    // 2^63 (one past int64) and 2^63 - 1 are the same double: only a bound below 2^53 is exact.
    assert.equal(validateAgainst(int64, JSON.parse('9223372036854775807'), 'n').length, 1);
    assert.equal(validateAgainst(int64, -(2 ** 53), 'n').length, 1);
  });
});

void describe('fieldPath', () => {
  void it('uses dots for plain names and quoted brackets otherwise', () => {
    assert.equal(fieldPath('', 'spec'), 'spec');
    assert.equal(fieldPath('spec', 'maxdev'), 'spec.maxdev');
    assert.equal(fieldPath('spec.selector', 'kubernetes.io/hostname'), 'spec.selector["kubernetes.io/hostname"]');
  });
});

void describe('intOrString', () => {
  void it('accepts a whole number or a string matching its pattern, renders as x-kubernetes-int-or-string without a type', () => {
    const schema = s.object({ max: s.intOrString({ pattern: '^[0-9]+%$' }) });
    assert.deepEqual(validateAgainst(schema, { max: 2 }, 'spec'), []);
    assert.deepEqual(validateAgainst(schema, { max: '25%' }, 'spec'), []);
    assert.deepEqual(validateAgainst(schema, { max: 'half' }, 'spec').map((e) => e.field), ['spec.max']);
    assert.deepEqual(validateAgainst(schema, { max: true }, 'spec').map((e) => e.message), ['must be a whole number or a string, not boolean true']);
    const props = toOpenApi(schema).properties?.max;
    assert.deepEqual(props, { 'x-kubernetes-int-or-string': true });
    assert.deepEqual(structuralErrors(toOpenApi(schema)), []);
  });
});
