// Structural defaulting as the API server does it: a property that is absent (or null) gets a
// copy of its default, then defaulting goes on inside every present value, including the
// defaults just set. Unknown fields are kept. The input is never modified (it may be a frozen
// object from a cache); the result shares no objects with it or with the schema.
import type { AnySchema, Infer, InferInput } from './schema.ts';
import { isPlainObject } from '../object.ts';

export function applyDefaults<S extends AnySchema>(schema: S, value: InferInput<S>): Infer<S>;
export function applyDefaults(schema: AnySchema, value: unknown): unknown;
export function applyDefaults(schema: AnySchema, value: unknown): unknown {
  if ((value === undefined || value === null) && schema.def.default !== undefined) {
    return defaultInside(schema, structuredClone(schema.def.default));
  }
  return defaultInside(schema, value);
}

function defaultInside(schema: AnySchema, value: unknown): unknown {
  const def = schema.def;
  switch (def.type) {
    case 'object': {
      if (!isPlainObject(value)) return copy(value);
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) {
        const prop = def.properties[key];
        out[key] = prop ? applyDefaults(prop, child) : copy(child);
      }
      for (const [key, prop] of Object.entries(def.properties)) {
        if ((out[key] === undefined || out[key] === null) && prop.def.default !== undefined) out[key] = applyDefaults(prop, undefined);
      }
      return out;
    }
    case 'map': {
      if (!isPlainObject(value)) return copy(value);
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) out[key] = applyDefaults(def.values, child);
      return out;
    }
    case 'array':
      return Array.isArray(value) ? value.map((item: unknown) => applyDefaults(def.items, item)) : copy(value);
    default:
      return copy(value);
  }
}

function copy(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? structuredClone(value) : value;
}
