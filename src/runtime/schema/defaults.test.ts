import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deepFreeze } from '../object.ts';
import { applyDefaults } from './defaults.ts';
import { s, type InferInput } from './schema.ts';

const schema = s.object({
  name: s.string(),
  count: s.integer({ default: 3 }),
  note: s.string().optional(),
  inner: s.object({ a: s.string({ default: 'x' }), b: s.string().optional() }).optional(),
  withDefault: s.object({ a: s.string({ default: 'y' }) }, { default: {} }),
  list: s.array(s.object({ k: s.string(), v: s.integer({ default: 1 }) })).optional(),
  values: s.map(s.object({ on: s.boolean({ default: true }) })).optional(),
});

void describe('applyDefaults', () => {
  void it('fills absent fields with their defaults and leaves optional fields without defaults absent', () => {
    assert.deepEqual(applyDefaults(schema, { name: 'n' }), { name: 'n', count: 3, withDefault: { a: 'y' } });
  });

  void it('keeps values that are set, including falsy ones', () => {
    const bool = s.object({ on: s.boolean({ default: true }), n: s.integer({ default: 5 }), t: s.string({ default: 'x' }) });
    assert.deepEqual(applyDefaults(bool, { on: false, n: 0, t: '' }), { on: false, n: 0, t: '' });
  });

  void it('replaces null with the default, as the API server does for non-nullable fields', () => {
    assert.deepEqual(applyDefaults(schema, { name: 'n', count: null as unknown as number }).count, 3);
  });

  void it('defaults inside present objects, list items and map values', () => {
    const out = applyDefaults(schema, { name: 'n', inner: {}, list: [{ k: 'a' }, { k: 'b', v: 7 }], values: { x: {} } });
    assert.deepEqual(out.inner, { a: 'x' });
    assert.deepEqual(out.list, [{ k: 'a', v: 1 }, { k: 'b', v: 7 }]);
    assert.deepEqual(out.values, { x: { on: true } });
  });

  void it('applies nested defaults inside a default that was just set', () => {
    const outer = s.object({ o: s.object({ a: s.integer({ default: 2 }) }, { default: {} }) });
    assert.deepEqual(applyDefaults(outer, {}), { o: { a: 2 } });
  });

  void it('keeps unknown fields', () => {
    const input: unknown = { name: 'n', extra: { deep: 1 } };
    assert.deepEqual(applyDefaults(schema, input), { name: 'n', extra: { deep: 1 }, count: 3, withDefault: { a: 'y' } });
  });

  void it('does not modify a frozen input and shares no objects with it or the schema', () => {
    const input: InferInput<typeof schema> = deepFreeze({ name: 'n', inner: { b: 'z' }, list: [{ k: 'a' }] });
    const out = applyDefaults(schema, input);
    assert.deepEqual(input, { name: 'n', inner: { b: 'z' }, list: [{ k: 'a' }] });
    assert.notEqual(out.inner, input.inner);
    out.withDefault.a = 'changed';
    assert.deepEqual(applyDefaults(schema, { name: 'n' }).withDefault, { a: 'y' });
  });

  void it('returns the default for an absent root and leaves values of the wrong type alone', () => {
    assert.equal(applyDefaults(s.integer({ default: 4 }), undefined), 4);
    assert.equal(applyDefaults(schema, 'oops'), 'oops');
  });
});
