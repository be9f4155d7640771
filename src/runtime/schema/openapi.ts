// Renders a schema as a CRD openAPIV3Schema (wire names, ready for YAML or JSON), and checks
// the structural-schema rules the API server enforces on CRDs.
import type { FieldError } from '../field-error.ts';
import type { AnySchema, ListType, MapType } from './schema.ts';

/** The part of apiextensions.k8s.io/v1 JSONSchemaProps this builder produces, with wire names. */
export interface JsonSchemaProps {
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array';
  format?: string;
  description?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  default?: unknown;
  properties?: Record<string, JsonSchemaProps>;
  required?: string[];
  additionalProperties?: JsonSchemaProps | boolean;
  items?: JsonSchemaProps;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-map-type'?: MapType;
  'x-kubernetes-list-type'?: ListType;
  'x-kubernetes-list-map-keys'?: string[];
}

/** The openAPIV3Schema of `schema`. Fields that are neither optional nor defaulted are `required`. */
export function toOpenApi(schema: AnySchema): JsonSchemaProps {
  const def = schema.def;
  const out: JsonSchemaProps = {};
  switch (def.type) {
    case 'string':
      out.type = 'string';
      set(out, 'format', def.format);
      set(out, 'description', def.description);
      if (def.enum) out.enum = [...def.enum];
      set(out, 'minLength', def.minLength);
      set(out, 'maxLength', def.maxLength);
      set(out, 'pattern', def.pattern);
      break;
    case 'integer':
    case 'number':
      out.type = def.type;
      set(out, 'format', def.format);
      set(out, 'description', def.description);
      set(out, 'minimum', def.minimum);
      set(out, 'maximum', def.maximum);
      break;
    case 'boolean':
      out.type = 'boolean';
      set(out, 'description', def.description);
      break;
    case 'object': {
      out.type = 'object';
      set(out, 'description', def.description);
      out.properties = {};
      const required: string[] = [];
      for (const [key, prop] of Object.entries(def.properties)) {
        out.properties[key] = toOpenApi(prop);
        if (!prop.def.optional && prop.def.default === undefined) required.push(key);
      }
      if (required.length > 0) out.required = required;
      set(out, 'x-kubernetes-map-type', def.mapType);
      break;
    }
    case 'map':
      out.type = 'object';
      set(out, 'description', def.description);
      set(out, 'minProperties', def.minProperties);
      set(out, 'maxProperties', def.maxProperties);
      out.additionalProperties = toOpenApi(def.values);
      set(out, 'x-kubernetes-map-type', def.mapType);
      break;
    case 'array':
      out.type = 'array';
      set(out, 'description', def.description);
      set(out, 'minItems', def.minItems);
      set(out, 'maxItems', def.maxItems);
      out.items = toOpenApi(def.items);
      set(out, 'x-kubernetes-list-type', def.listType);
      if (def.listMapKeys) out['x-kubernetes-list-map-keys'] = [...def.listMapKeys];
      break;
    case 'preserveUnknown':
      out.type = 'object';
      set(out, 'description', def.description);
      out['x-kubernetes-preserve-unknown-fields'] = true;
      break;
    case 'intOrString':
      out['x-kubernetes-int-or-string'] = true;
      set(out, 'description', def.description);
      // No type and no pattern: a structural schema allows neither here; the string form is checked in code (validateAgainst).
      break;
    default:
      return unreachable(def);
  }
  if (def.default !== undefined) out.default = structuredClone(def.default);
  return out;
}

function set<K extends keyof JsonSchemaProps>(out: JsonSchemaProps, key: K, value: JsonSchemaProps[K] | undefined): void {
  if (value !== undefined) out[key] = value;
}

function unreachable(def: never): never {
  throw new Error(`unknown schema node ${JSON.stringify(def)}`);
}

const scalarTypes = new Set(['string', 'integer', 'number', 'boolean']);

/**
 * The ways `props` is not a structural schema the API server accepts for a CRD, plus one rule of
 * ours: an object lists its properties (or `additionalProperties`) or preserves unknown fields, so
 * nothing a user sends is pruned silently. `path` names the node in the messages.
 */
export function structuralErrors(props: JsonSchemaProps, path = 'openAPIV3Schema'): FieldError[] {
  const errors: FieldError[] = [];
  walk(props, path, errors);
  return errors;
}

function walk(node: JsonSchemaProps, path: string, errors: FieldError[]): void {
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  if (!node.type && !preserve && !intOrString) {
    errors.push({ field: `${path}.type`, message: 'must be set (only int-or-string and preserve-unknown-fields nodes may omit it)' });
  }
  if (node.type === 'object') {
    if (node.properties === undefined && node.additionalProperties === undefined && !preserve) {
      errors.push({ field: path, message: 'an object must list properties or additionalProperties, or preserve unknown fields' });
    }
    if (node.properties !== undefined && node.additionalProperties !== undefined) {
      errors.push({ field: path, message: 'properties and additionalProperties are mutually exclusive' });
    }
    if (node.additionalProperties === false) {
      errors.push({ field: `${path}.additionalProperties`, message: 'false is not allowed in a structural schema' });
    }
  } else {
    for (const key of ['properties', 'additionalProperties', 'required', 'x-kubernetes-map-type'] as const) {
      if (node[key] !== undefined) errors.push({ field: `${path}.${key}`, message: 'is only allowed on objects' });
    }
  }
  if (node.type === 'array') {
    if (!node.items) errors.push({ field: `${path}.items`, message: 'an array must say what its items are' });
  } else {
    for (const key of ['items', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys'] as const) {
      if (node[key] !== undefined) errors.push({ field: `${path}.${key}`, message: 'is only allowed on arrays' });
    }
  }
  for (const name of node.required ?? []) {
    if (!node.properties?.[name]) errors.push({ field: `${path}.required`, message: `names ${name}, which is not a property` });
  }
  checkListMap(node, path, errors);
  for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.properties.${key}`, errors);
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}.additionalProperties`, errors);
  if (node.items) walk(node.items, `${path}.items`, errors);
}

function checkListMap(node: JsonSchemaProps, path: string, errors: FieldError[]): void {
  const keys = node['x-kubernetes-list-map-keys'];
  if (node['x-kubernetes-list-type'] !== 'map') {
    if (keys !== undefined) errors.push({ field: `${path}.x-kubernetes-list-map-keys`, message: 'needs x-kubernetes-list-type: map' });
    return;
  }
  if (!keys || keys.length === 0) {
    errors.push({ field: `${path}.x-kubernetes-list-map-keys`, message: 'must name at least one key for x-kubernetes-list-type: map' });
    return;
  }
  const items = node.items;
  if (!items || items.type !== 'object') {
    errors.push({ field: `${path}.items.type`, message: 'must be object for x-kubernetes-list-type: map' });
    return;
  }
  for (const key of keys) {
    const prop = items.properties?.[key];
    if (!prop || !prop.type || !scalarTypes.has(prop.type)) {
      errors.push({ field: `${path}.x-kubernetes-list-map-keys`, message: `key ${key} must be a scalar property of the items` });
    } else if (!items.required?.includes(key) && prop.default === undefined) {
      errors.push({ field: `${path}.x-kubernetes-list-map-keys`, message: `key ${key} must be required or have a default` });
    }
  }
}
