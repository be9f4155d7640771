// Checks a value against a schema the way the API server's OpenAPI validation does, so that
// objects that did not pass through the current CRD (older CRDs, webhook requests, tests) can be
// held to the same rules. Unknown fields are not errors: the API server prunes them.
import type { FieldError } from '../field-error.ts';
import type { AnySchema, ArrayDef, MapDef, NumericDef, ObjectDef, StringDef } from './schema.ts';
import { isPlainObject } from '../object.ts';

/** Joins a property name to a JSON path: `spec.maxdev`, or `spec.selector["a b"]` for names that need quoting. */
export function fieldPath(parent: string, key: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return parent ? `${parent}.${key}` : key;
  return `${parent}[${JSON.stringify(key)}]`;
}

export { isPlainObject };

/** All the ways `value` breaks `schema`; `path` names the value in the messages. */
export function validateAgainst(schema: AnySchema, value: unknown, path: string): FieldError[] {
  const errors: FieldError[] = [];
  check(schema, value, path, errors);
  return errors;
}

function check(schema: AnySchema, value: unknown, path: string, errors: FieldError[]): void {
  const def = schema.def;
  switch (def.type) {
    case 'string':
      return checkString(def, value, path, errors);
    case 'integer':
    case 'number':
      return checkNumber(def, value, path, errors);
    case 'boolean':
      if (typeof value !== 'boolean') errors.push({ field: path, message: `must be true or false, not ${describeValue(value)}` });
      return;
    case 'object':
      return checkObject(def, value, path, errors);
    case 'map':
      return checkMap(def, value, path, errors);
    case 'array':
      return checkArray(def, value, path, errors);
    case 'intOrString':
      if (typeof value === 'number' && Number.isInteger(value)) return;
      if (typeof value !== 'string') errors.push({ field: path, message: `must be a whole number or a string, not ${describeValue(value)}` });
      else if (def.pattern !== undefined && !compiledPattern(def.pattern).test(value)) errors.push({ field: path, message: `must be a whole number or match ${def.pattern}` });
      return;
    case 'preserveUnknown':
      if (!isPlainObject(value)) errors.push({ field: path, message: `must be an object, not ${describeValue(value)}` });
      return;
  }
}

function checkString(def: StringDef, value: unknown, path: string, errors: FieldError[]): void {
  if (typeof value !== 'string') {
    errors.push({ field: path, message: `must be a string, not ${describeValue(value)}` });
    return;
  }
  if (def.enum && !def.enum.includes(value)) {
    errors.push({ field: path, message: `must be one of ${def.enum.map((e) => JSON.stringify(e)).join(', ')}, not ${JSON.stringify(value)}` });
  }
  // Like the API server (Go's utf8.RuneCountInString), lengths count code points, not UTF-16 units or bytes.
  const length = [...value].length;
  if (def.minLength !== undefined && length < def.minLength) {
    errors.push({ field: path, message: `must be at least ${def.minLength} characters long, not ${length}` });
  }
  if (def.maxLength !== undefined && length > def.maxLength) {
    errors.push({ field: path, message: `must be at most ${def.maxLength} characters long, not ${length}` });
  }
  if (def.pattern !== undefined && !compiledPattern(def.pattern).test(value)) {
    errors.push({ field: path, message: `must match the regular expression ${def.pattern}` });
  }
  if (def.format === 'date-time' && !isDateTime(value)) {
    errors.push({ field: path, message: `must be an RFC 3339 date-time such as 2006-01-02T15:04:05Z, not ${JSON.stringify(value)}` });
  }
}

function checkNumber(def: NumericDef, value: unknown, path: string, errors: FieldError[]): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    errors.push({ field: path, message: `must be a number, not ${describeValue(value)}` });
    return;
  }
  if (def.type === 'integer' && !Number.isInteger(value)) {
    errors.push({ field: path, message: `must be a whole number, not ${value}` });
    return;
  }
  // What the declared format holds, also when the schema gives no bounds (int64 as far as doubles are exact).
  const [low, high] = def.format === 'int32' ? [-(2 ** 31), 2 ** 31 - 1] : def.format === 'int64' ? [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] : [-Infinity, Infinity];
  if (value < low || value > high) {
    errors.push({ field: path, message: `must be between ${low} and ${high} (${def.format}), not ${value}` });
    return;
  }
  if (def.minimum !== undefined && value < def.minimum) {
    errors.push({ field: path, message: `must be at least ${def.minimum}, not ${value}` });
  }
  if (def.maximum !== undefined && value > def.maximum) {
    errors.push({ field: path, message: `must be at most ${def.maximum}, not ${value}` });
  }
}

function checkObject(def: ObjectDef, value: unknown, path: string, errors: FieldError[]): void {
  if (!isPlainObject(value)) {
    errors.push({ field: path, message: `must be an object, not ${describeValue(value)}` });
    return;
  }
  for (const [key, prop] of Object.entries(def.properties)) {
    const child = value[key];
    const childPath = fieldPath(path, key);
    if (child === undefined || child === null) {
      if (!prop.def.optional && prop.def.default === undefined) errors.push({ field: childPath, message: 'is required' });
      continue;
    }
    check(prop, child, childPath, errors);
  }
}

function checkMap(def: MapDef, value: unknown, path: string, errors: FieldError[]): void {
  if (!isPlainObject(value)) {
    errors.push({ field: path, message: `must be an object (a map), not ${describeValue(value)}` });
    return;
  }
  const count = Object.keys(value).length;
  if (def.minProperties !== undefined && count < def.minProperties) {
    errors.push({ field: path, message: `must have at least ${def.minProperties} entries, not ${count}` });
  }
  if (def.maxProperties !== undefined && count > def.maxProperties) {
    errors.push({ field: path, message: `must have at most ${def.maxProperties} entries, not ${count}` });
  }
  for (const [key, child] of Object.entries(value)) check(def.values, child, fieldPath(path, key), errors);
}

function checkArray(def: ArrayDef, value: unknown, path: string, errors: FieldError[]): void {
  if (!Array.isArray(value)) {
    errors.push({ field: path, message: `must be a list, not ${describeValue(value)}` });
    return;
  }
  if (def.minItems !== undefined && value.length < def.minItems) {
    errors.push({ field: path, message: `must have at least ${def.minItems} items, not ${value.length}` });
  }
  if (def.maxItems !== undefined && value.length > def.maxItems) {
    errors.push({ field: path, message: `must have at most ${def.maxItems} items, not ${value.length}` });
  }
  value.forEach((item: unknown, i) => check(def.items, item, `${path}[${i}]`, errors));
  if (def.listType === 'set' || def.listType === 'map') {
    const seen = new Map<string, number>();
    value.forEach((item: unknown, i) => {
      const identity = def.listType === 'map' ? mapKeyOf(item, def.listMapKeys ?? []) : JSON.stringify(item);
      if (identity === undefined) return;
      const first = seen.get(identity);
      if (first === undefined) seen.set(identity, i);
      else errors.push({ field: `${path}[${i}]`, message: `duplicates ${path}[${first}] (${describeIdentity(item, def)}); entries must be unique` });
    });
  }
}

function mapKeyOf(item: unknown, keys: readonly string[]): string | undefined {
  if (!isPlainObject(item)) return undefined;
  return JSON.stringify(keys.map((k) => item[k]));
}

function describeIdentity(item: unknown, def: ArrayDef): string {
  if (def.listType !== 'map' || !isPlainObject(item)) return JSON.stringify(item);
  return (def.listMapKeys ?? []).map((k) => `${k}=${JSON.stringify(item[k])}`).join(', ');
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${value}`;
  return typeof value;
}

const patterns = new Map<string, RegExp>();
function compiledPattern(pattern: string): RegExp {
  let re = patterns.get(pattern);
  if (!re) {
    re = new RegExp(pattern, 'u');
    patterns.set(pattern, re);
  }
  return re;
}

// RFC 3339 date-time as Go's strfmt accepts it (fractional seconds optional, `Z` or an offset).
const dateTime = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
function isDateTime(value: string): boolean {
  return dateTime.test(value) && !Number.isNaN(Date.parse(value.replace(' ', 'T')));
}
