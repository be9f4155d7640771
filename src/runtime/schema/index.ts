// Typed structural schemas: one declaration gives the TypeScript types and the CRD schema.
export { s, Schema } from './schema.ts';
export type {
  AnySchema, ArrayOptions, CommonOptions, Infer, InferInput, ListType, MapOptions, MapType, NumericOptions,
  ObjectInput, ObjectOptions, ObjectOutput, SchemaDef, StringOptions,
} from './schema.ts';
export { applyDefaults } from './defaults.ts';
export { fieldPath, validateAgainst } from './validate.ts';
export { structuralErrors, toOpenApi } from './openapi.ts';
export type { JsonSchemaProps } from './openapi.ts';
export { crd } from './crd.ts';
export type { CrdOptions, CrdVersion, CrdVersionOptions, CustomResourceDefinition, PrinterColumn } from './crd.ts';
export { INT32_MAX, INT32_MIN, INT64_EXACT_MAX, INT64_EXACT_MIN, tolerationSchema } from './core.ts';
