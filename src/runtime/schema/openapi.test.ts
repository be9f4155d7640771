import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Toleration } from '@kubernetes/client-node';
import { structuralErrors, toOpenApi, type JsonSchemaProps } from './openapi.ts';
import { s } from './schema.ts';

void describe('toOpenApi', () => {
  void it('renders a string with all its constraints and its default', () => {
    assert.deepEqual(
      toOpenApi(s.string({ description: 'd', enum: ['a', 'b'], minLength: 1, maxLength: 3, pattern: '^[ab]$', format: 'byte', default: 'a' })),
      { type: 'string', format: 'byte', description: 'd', enum: ['a', 'b'], minLength: 1, maxLength: 3, pattern: '^[ab]$', default: 'a' },
    );
    assert.deepEqual(toOpenApi(s.string()), { type: 'string' });
  });

  void it('renders integers, numbers and booleans', () => {
    assert.deepEqual(toOpenApi(s.integer({ minimum: 1, maximum: 5, default: 5, format: 'int32', description: 'n' })), {
      type: 'integer', format: 'int32', description: 'n', minimum: 1, maximum: 5, default: 5,
    });
    assert.deepEqual(toOpenApi(s.number({ minimum: 0 })), { type: 'number', minimum: 0 });
    assert.deepEqual(toOpenApi(s.boolean({ default: false })), { type: 'boolean', default: false });
  });

  void it('lists as required only the properties that are neither optional nor defaulted', () => {
    const out = toOpenApi(s.object({ req: s.string(), opt: s.string().optional(), def: s.string({ default: 'x' }) }, { description: 'o' }));
    assert.deepEqual(out, {
      type: 'object',
      description: 'o',
      properties: { req: { type: 'string' }, opt: { type: 'string' }, def: { type: 'string', default: 'x' } },
      required: ['req'],
    });
  });

  void it('leaves out an empty required list and renders the map type of a struct', () => {
    assert.deepEqual(toOpenApi(s.object({ a: s.string().optional() }, { mapType: 'atomic' })), {
      type: 'object', properties: { a: { type: 'string' } }, 'x-kubernetes-map-type': 'atomic',
    });
  });

  void it('renders a map as additionalProperties', () => {
    assert.deepEqual(toOpenApi(s.map(s.integer(), { description: 'm', maxProperties: 3, mapType: 'granular' })), {
      type: 'object', description: 'm', maxProperties: 3, additionalProperties: { type: 'integer' }, 'x-kubernetes-map-type': 'granular',
    });
  });

  void it('renders an array with bounds and list type', () => {
    const conditions = s.array(s.object({ type: s.string(), status: s.string() }), {
      minItems: 1, maxItems: 8, listType: 'map', listMapKeys: ['type'],
    });
    assert.deepEqual(toOpenApi(conditions), {
      type: 'array',
      minItems: 1,
      maxItems: 8,
      items: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'string' } }, required: ['type', 'status'] },
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    });
  });

  void it('renders a preserve-unknown object', () => {
    assert.deepEqual(toOpenApi(s.preserveUnknown<V1Toleration>({ description: 't' })), {
      type: 'object', description: 't', 'x-kubernetes-preserve-unknown-fields': true,
    });
  });

  void it('copies defaults, so changing the output does not change the schema', () => {
    const schema = s.array(s.string(), { default: ['a'] });
    const out = toOpenApi(schema);
    (out.default as string[]).push('b');
    assert.deepEqual(schema.def.default, ['a']);
  });
});

void describe('structuralErrors', () => {
  void it('finds no problem in what the builders produce', () => {
    const schema = s.object({
      a: s.string(),
      m: s.map(s.array(s.integer())),
      l: s.array(s.object({ k: s.string() }), { listType: 'map', listMapKeys: ['k'] }),
      u: s.preserveUnknown(),
      e: s.object({}),
    });
    assert.deepEqual(structuralErrors(toOpenApi(schema)), []);
  });

  void it('requires a type on every node except int-or-string and preserve-unknown ones', () => {
    const props: JsonSchemaProps = {
      type: 'object',
      properties: { a: {}, b: { 'x-kubernetes-int-or-string': true }, c: { 'x-kubernetes-preserve-unknown-fields': true } },
    };
    assert.deepEqual(structuralErrors(props).map((e) => e.field), ['openAPIV3Schema.properties.a.type']);
  });

  void it('requires objects to list properties or preserve unknown fields', () => {
    assert.deepEqual(structuralErrors({ type: 'object' }).map((e) => e.field), ['openAPIV3Schema']);
    assert.deepEqual(structuralErrors({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true }), []);
    assert.deepEqual(structuralErrors({ type: 'object', additionalProperties: { type: 'string' } }), []);
  });

  void it('refuses properties together with additionalProperties, and additionalProperties false', () => {
    assert.match(structuralErrors({ type: 'object', properties: {}, additionalProperties: { type: 'string' } })[0]?.message ?? '', /mutually exclusive/);
    assert.ok(structuralErrors({ type: 'object', properties: {}, additionalProperties: false }).some((e) => /false/.test(e.message)));
  });

  void it('requires arrays to have items and keeps array keywords off other types', () => {
    assert.deepEqual(structuralErrors({ type: 'array' }).map((e) => e.field), ['openAPIV3Schema.items']);
    assert.deepEqual(structuralErrors({ type: 'string', items: { type: 'string' } }).map((e) => e.field), ['openAPIV3Schema.items']);
    assert.deepEqual(structuralErrors({ type: 'string', required: ['a'] }).map((e) => e.field).slice(0, 1), ['openAPIV3Schema.required']);
  });

  void it('requires required names to be properties', () => {
    assert.deepEqual(structuralErrors({ type: 'object', properties: {}, required: ['x'] }).map((e) => e.message), ['names x, which is not a property']);
  });

  void it('checks list-map keys against the items', () => {
    const items: JsonSchemaProps = { type: 'object', properties: { k: { type: 'string' }, o: { type: 'object', properties: {} } } };
    assert.match(structuralErrors({ type: 'array', items, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['k'] })[0]?.message ?? '', /required or have a default/);
    assert.match(structuralErrors({ type: 'array', items, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['o'] })[0]?.message ?? '', /scalar/);
    assert.match(structuralErrors({ type: 'array', items, 'x-kubernetes-list-type': 'map' })[0]?.message ?? '', /at least one key/);
    assert.deepEqual(structuralErrors({ type: 'array', items: { ...items, required: ['k'] }, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['k'] }), []);
  });
});
