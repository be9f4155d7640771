// A typed builder for Kubernetes structural schemas (the OpenAPI v3 subset a CRD accepts).
// One declaration yields both the TypeScript types (`Infer`, `InferInput`) and, through
// `toOpenApi`, the CRD's openAPIV3Schema, so the two cannot drift apart.
import { formatFieldErrors } from '../field-error.ts';
import { applyDefaults } from './defaults.ts';
import { validateAgainst } from './validate.ts';

export type MapType = 'atomic' | 'granular';
export type ListType = 'atomic' | 'set' | 'map';

interface BaseDef {
  description?: string | undefined;
  /** The field may be left out (it is not listed in its parent's `required`). */
  optional: boolean;
  /** Filled in by the API server when the field is absent; `undefined` means no default. */
  default?: unknown;
}

export interface StringDef extends BaseDef {
  type: 'string';
  enum?: readonly string[] | undefined;
  minLength?: number | undefined;
  maxLength?: number | undefined;
  pattern?: string | undefined;
  format?: string | undefined;
}

export interface NumericDef extends BaseDef {
  type: 'integer' | 'number';
  minimum?: number | undefined;
  maximum?: number | undefined;
  format?: string | undefined;
}

export interface BooleanDef extends BaseDef {
  type: 'boolean';
}

export interface ObjectDef extends BaseDef {
  type: 'object';
  properties: Readonly<Record<string, AnySchema>>;
  mapType?: MapType | undefined;
}

export interface MapDef extends BaseDef {
  type: 'map';
  values: AnySchema;
  minProperties?: number | undefined;
  maxProperties?: number | undefined;
  mapType?: MapType | undefined;
}

export interface ArrayDef extends BaseDef {
  type: 'array';
  items: AnySchema;
  minItems?: number | undefined;
  maxItems?: number | undefined;
  listType?: ListType | undefined;
  listMapKeys?: readonly string[] | undefined;
}

/** An object whose content the API server keeps as sent (`x-kubernetes-preserve-unknown-fields`). */
export interface UnknownObjectDef extends BaseDef {
  type: 'preserveUnknown';
}

/** An integer or a string (`x-kubernetes-int-or-string`), e.g. `2` or `"25%"`; `pattern` checks the string form. */
export interface IntOrStringDef extends BaseDef {
  type: 'intOrString';
  pattern?: string | undefined;
}

export type SchemaDef = StringDef | NumericDef | BooleanDef | ObjectDef | MapDef | ArrayDef | UnknownObjectDef | IntOrStringDef;

/**
 * One node of a schema. The type parameters exist for inference only:
 * `Out` is the value after defaulting, `In` the value a user may send,
 * `Opt` whether the field may be left out, `Def` whether it has a default.
 */
export class Schema<Out, In = Out, Opt extends boolean = boolean, Def extends boolean = boolean> {
  declare readonly _output: Out;
  declare readonly _input: In;
  declare readonly _optional: Opt;
  declare readonly _defaulted: Def;
  readonly def: Readonly<SchemaDef>;

  constructor(def: SchemaDef) {
    this.def = Object.freeze({ ...def });
  }

  /** The field may be left out of its parent object. */
  optional(): Schema<Out, In, true, Def> {
    return new Schema({ ...this.def, optional: true });
  }

  /** Sets the description shown by `kubectl explain`. */
  describe(description: string): Schema<Out, In, Opt, Def> {
    return new Schema({ ...this.def, description });
  }
}

export type AnySchema = Schema<unknown, unknown, boolean, boolean>;

/** The value type after the API server applied defaults. */
export type Infer<S extends AnySchema> = S['_output'];
/** The value type a client may send (fields with defaults may be left out). */
export type InferInput<S extends AnySchema> = S['_input'];

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type Props = Readonly<Record<string, AnySchema>>;
type MayOmitAfterDefaults<S> = S extends { _defaulted: true } ? false : S extends { _optional: true } ? true : false;
type MayOmitInInput<S> = S extends { _defaulted: true } ? true : S extends { _optional: true } ? true : false;

export type ObjectOutput<P extends Props> = Simplify<
  { -readonly [K in keyof P as MayOmitAfterDefaults<P[K]> extends true ? never : K]: Infer<P[K]> } & {
    -readonly [K in keyof P as MayOmitAfterDefaults<P[K]> extends true ? K : never]?: Infer<P[K]>;
  }
>;
export type ObjectInput<P extends Props> = Simplify<
  { -readonly [K in keyof P as MayOmitInInput<P[K]> extends true ? never : K]: InferInput<P[K]> } & {
    -readonly [K in keyof P as MayOmitInInput<P[K]> extends true ? K : never]?: InferInput<P[K]>;
  }
>;

export interface CommonOptions {
  description?: string;
}

export interface StringOptions<E extends string> extends CommonOptions {
  enum?: readonly E[];
  minLength?: number;
  maxLength?: number;
  /** An ECMA-262 regular expression that is also valid RE2 (the API server uses Go's regexp). Unanchored. */
  pattern?: string;
  /** OpenAPI format, e.g. `date-time`. */
  format?: string;
}

export interface NumericOptions extends CommonOptions {
  minimum?: number;
  maximum?: number;
  format?: 'int32' | 'int64' | 'float' | 'double';
}

export interface ObjectOptions extends CommonOptions {
  mapType?: MapType;
}

export interface MapOptions extends CommonOptions {
  minProperties?: number;
  maxProperties?: number;
  mapType?: MapType;
}

export interface ArrayOptions extends CommonOptions {
  minItems?: number;
  maxItems?: number;
  listType?: ListType;
  /** Item fields that identify an entry; needs `listType: 'map'`. */
  listMapKeys?: readonly string[];
}

interface NoDefault {
  default?: undefined;
}
interface WithDefault<T> {
  default: NoInfer<T>;
}

function make<S>(def: SchemaDef): S {
  const schema = new Schema(def);
  if (def.default !== undefined) checkDefault(schema);
  return schema as S;
}

/** Rejects a default the API server would refuse (or that would make every object invalid). */
function checkDefault(schema: AnySchema): void {
  const value = schema.def.default;
  // The API server applies nested defaults to a default before it validates it.
  const errors = validateAgainst(schema, applyDefaults(schema, value), '<default>');
  if (errors.length > 0) {
    throw new Error(`invalid default ${JSON.stringify(value)}: ${formatFieldErrors(errors)}`);
  }
}

function common(opts: CommonOptions & { default?: unknown } | undefined): BaseDef {
  return { description: opts?.description, optional: false, default: opts?.default };
}

function string<const E extends string = string>(opts?: StringOptions<E> & NoDefault): Schema<E, E, false, false>;
function string<const E extends string = string>(opts: StringOptions<E> & WithDefault<E>): Schema<E, E, false, true>;
function string(opts?: StringOptions<string> & { default?: string }): AnySchema {
  return make({
    ...common(opts),
    type: 'string',
    enum: opts?.enum ? [...opts.enum] : undefined,
    minLength: opts?.minLength,
    maxLength: opts?.maxLength,
    pattern: opts?.pattern,
    format: opts?.format,
  });
}

function numeric(type: 'integer' | 'number', opts: NumericOptions & { default?: number } | undefined): AnySchema {
  return make({ ...common(opts), type, minimum: opts?.minimum, maximum: opts?.maximum, format: opts?.format });
}

function integer(opts?: NumericOptions & NoDefault): Schema<number, number, false, false>;
function integer(opts: NumericOptions & WithDefault<number>): Schema<number, number, false, true>;
function integer(opts?: NumericOptions & { default?: number }): AnySchema {
  return numeric('integer', opts);
}

function number(opts?: NumericOptions & NoDefault): Schema<number, number, false, false>;
function number(opts: NumericOptions & WithDefault<number>): Schema<number, number, false, true>;
function number(opts?: NumericOptions & { default?: number }): AnySchema {
  return numeric('number', opts);
}

function boolean(opts?: CommonOptions & NoDefault): Schema<boolean, boolean, false, false>;
function boolean(opts: CommonOptions & WithDefault<boolean>): Schema<boolean, boolean, false, true>;
function boolean(opts?: CommonOptions & { default?: boolean }): AnySchema {
  return make({ ...common(opts), type: 'boolean' });
}

function object<const P extends Props>(
  properties: P,
  opts?: ObjectOptions & NoDefault,
): Schema<ObjectOutput<P>, ObjectInput<P>, false, false>;
function object<const P extends Props>(
  properties: P,
  opts: ObjectOptions & WithDefault<ObjectInput<P>>,
): Schema<ObjectOutput<P>, ObjectInput<P>, false, true>;
function object(properties: Props, opts?: ObjectOptions & { default?: unknown }): AnySchema {
  return make({ ...common(opts), type: 'object', properties: Object.freeze({ ...properties }), mapType: opts?.mapType });
}

function map<V extends AnySchema>(
  values: V,
  opts?: MapOptions & NoDefault,
): Schema<Record<string, Infer<V>>, Record<string, InferInput<V>>, false, false>;
function map<V extends AnySchema>(
  values: V,
  opts: MapOptions & WithDefault<Record<string, InferInput<V>>>,
): Schema<Record<string, Infer<V>>, Record<string, InferInput<V>>, false, true>;
function map(values: AnySchema, opts?: MapOptions & { default?: unknown }): AnySchema {
  return make({
    ...common(opts),
    type: 'map',
    values,
    minProperties: opts?.minProperties,
    maxProperties: opts?.maxProperties,
    mapType: opts?.mapType,
  });
}

function array<I extends AnySchema>(items: I, opts?: ArrayOptions & NoDefault): Schema<Infer<I>[], InferInput<I>[], false, false>;
function array<I extends AnySchema>(
  items: I,
  opts: ArrayOptions & WithDefault<InferInput<I>[]>,
): Schema<Infer<I>[], InferInput<I>[], false, true>;
function array(items: AnySchema, opts?: ArrayOptions & { default?: unknown }): AnySchema {
  if (opts?.listMapKeys && opts.listType !== 'map') throw new Error("listMapKeys needs listType: 'map'");
  if (opts?.listType === 'map') {
    const keys = opts.listMapKeys ?? [];
    if (keys.length === 0) throw new Error("listType 'map' needs listMapKeys");
    if (items.def.type !== 'object') throw new Error("listType 'map' needs object items");
    const props = items.def.properties;
    for (const key of keys) {
      const prop = props[key];
      if (!prop) throw new Error(`list map key ${key} is not a property of the items`);
      if (!['string', 'integer', 'number', 'boolean'].includes(prop.def.type)) throw new Error(`list map key ${key} must be a scalar`);
      if (prop.def.optional && prop.def.default === undefined) throw new Error(`list map key ${key} must be required or defaulted`);
    }
  }
  if (opts?.listType === 'set' && !['string', 'integer', 'number', 'boolean'].includes(items.def.type)) {
    throw new Error("listType 'set' needs scalar items");
  }
  return make({
    ...common(opts),
    type: 'array',
    items,
    minItems: opts?.minItems,
    maxItems: opts?.maxItems,
    listType: opts?.listType,
    listMapKeys: opts?.listMapKeys ? [...opts.listMapKeys] : undefined,
  });
}

/**
 * An object the API server stores as sent, typed as `T` (e.g. `V1Toleration`).
 * Its content is not checked by the schema: validate it in code.
 */
function preserveUnknown<T = Record<string, unknown>>(opts?: CommonOptions & NoDefault): Schema<T, T, false, false>;
function preserveUnknown<T = Record<string, unknown>>(opts: CommonOptions & WithDefault<T>): Schema<T, T, false, true>;
function preserveUnknown(opts?: CommonOptions & { default?: unknown }): AnySchema {
  return make({ ...common(opts), type: 'preserveUnknown' });
}

function intOrString(opts?: CommonOptions & { pattern?: string } & NoDefault): Schema<number | string, number | string, false, false>;
function intOrString(opts: CommonOptions & { pattern?: string } & WithDefault<number | string>): Schema<number | string, number | string, false, true>;
function intOrString(opts?: CommonOptions & { pattern?: string; default?: number | string }): AnySchema {
  return make({ ...common(opts), type: 'intOrString', pattern: opts?.pattern });
}

/** The schema builders: `s.object({ name: s.string() })`. */
export const s = Object.freeze({ string, integer, number, boolean, object, map, array, preserveUnknown, intOrString });
