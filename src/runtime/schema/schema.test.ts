import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Toleration } from '@kubernetes/client-node';
import { s, type Infer, type InferInput } from './schema.ts';

// Exact type equality, checked by the compiler (`tsc --noEmit`): `true satisfies Equal<A, B>`
// does not compile when A and B differ.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const _example = s.object({
  name: s.string({ description: 'a name', maxLength: 10 }),
  greeting: s.string({ default: 'hi', pattern: '^[a-z]+$' }),
  state: s.string({ enum: ['On', 'Off'], default: 'On' }),
  count: s.integer({ minimum: 1, maximum: 5, default: 1 }).optional(),
  limit: s.integer().optional(),
  ratio: s.number({ default: 0.5 }),
  enabled: s.boolean().optional(),
  labels: s.map(s.string()),
  items: s.array(s.object({ key: s.string(), weight: s.integer({ default: 2 }) }), { minItems: 1 }),
  tolerations: s.array(s.preserveUnknown<V1Toleration>()).optional(),
  nested: s.object({ inner: s.string({ default: 'x' }) }, { default: {} }),
});

void describe('Infer and InferInput', () => {
  void it('make defaulted fields required after defaults and optional in input', () => {
    true satisfies Equal<
      Infer<typeof _example>,
      {
        name: string;
        greeting: string;
        state: 'On' | 'Off';
        count: number;
        ratio: number;
        labels: Record<string, string>;
        items: { key: string; weight: number }[];
        nested: { inner: string };
        limit?: number;
        enabled?: boolean;
        tolerations?: V1Toleration[];
      }
    >;
    true satisfies Equal<
      InferInput<typeof _example>,
      {
        name: string;
        labels: Record<string, string>;
        items: { key: string; weight?: number }[];
        greeting?: string;
        state?: 'On' | 'Off';
        count?: number;
        ratio?: number;
        limit?: number;
        enabled?: boolean;
        tolerations?: V1Toleration[];
        nested?: { inner?: string };
      }
    >;
    // A minimal input is accepted by the input type and refused by the defaulted type.
    const input = { name: 'n', labels: {}, items: [{ key: 'k' }] } satisfies InferInput<typeof _example>;
    // @ts-expect-error greeting, state, count, ratio and nested are missing after defaults
    input satisfies Infer<typeof _example>;
    // @ts-expect-error not one of the enum values
    ({ ...input, state: 'Maybe' }) satisfies InferInput<typeof _example>;
    assert.equal(input.name, 'n');
  });

  void it('types defaults against the field, so a default outside an enum does not compile', () => {
    // @ts-expect-error 'C' is not in the enum
    assert.throws(() => s.string({ enum: ['A', 'B'], default: 'C' }));
    // @ts-expect-error an integer's default is a number
    assert.throws(() => s.integer({ default: '1' }));
  });

  void it('keeps optional() and describe() on the node and leaves the original unchanged', () => {
    const base = s.string();
    const changed = base.optional().describe('text');
    assert.equal(base.def.optional, false);
    assert.equal(base.def.description, undefined);
    assert.equal(changed.def.optional, true);
    assert.equal(changed.def.description, 'text');
    true satisfies Equal<Infer<typeof changed>, string>;
  });
});

void describe('defaults are checked when a schema is built', () => {
  void it('refuses an empty-string default for a field with minLength', () => {
    assert.throws(() => s.string({ minLength: 1, default: '' }), /invalid default "".*at least 1 characters/);
  });

  void it('refuses defaults outside bounds, enums and patterns', () => {
    assert.throws(() => s.integer({ minimum: 1, maximum: 5, default: 6 }), /at most 5/);
    assert.throws(() => s.integer({ default: 1.5 }), /whole number/);
    assert.throws(() => s.string({ pattern: '^[a-z]+$', default: 'ABC' }), /regular expression/);
    assert.throws(() => s.string({ enum: ['A'], default: 'B' as 'A' }), /one of "A"/);
  });

  void it('refuses an object default that lacks a required field, counting nested defaults', () => {
    assert.throws(() => s.object({ a: s.string() }, { default: {} as { a: string } }), /<default>.a: is required/);
    assert.doesNotThrow(() => s.object({ a: s.string({ default: 'x' }) }, { default: {} }));
  });

  void it('accepts valid defaults, including an empty string where nothing forbids it', () => {
    assert.equal(s.string({ default: '' }).def.default, '');
    assert.deepEqual(s.array(s.string(), { default: ['a'] }).def.default, ['a']);
  });
});

void describe('list types', () => {
  void it('requires list map keys to be required scalar properties of object items', () => {
    assert.throws(() => s.array(s.string(), { listType: 'map', listMapKeys: ['type'] }), /object items/);
    assert.throws(() => s.array(s.object({ a: s.string() }), { listType: 'map', listMapKeys: ['type'] }), /not a property/);
    assert.throws(() => s.array(s.object({ type: s.string().optional() }), { listType: 'map', listMapKeys: ['type'] }), /required or defaulted/);
    assert.throws(() => s.array(s.object({ type: s.string() }), { listType: 'map' }), /needs listMapKeys/);
    assert.throws(() => s.array(s.object({ type: s.string() }), { listMapKeys: ['type'] }), /needs listType/);
    assert.doesNotThrow(() => s.array(s.object({ type: s.string() }), { listType: 'map', listMapKeys: ['type'] }));
  });

  void it('allows sets of scalars only', () => {
    assert.throws(() => s.array(s.object({ a: s.string() }), { listType: 'set' }), /scalar items/);
    assert.doesNotThrow(() => s.array(s.string(), { listType: 'set' }));
  });
});
