// Builds an apiextensions.k8s.io/v1 CustomResourceDefinition from schema builders.
import { formatFieldErrors } from '../field-error.ts';
import type { KubeObject } from '../object.ts';
import { structuralErrors, toOpenApi, type JsonSchemaProps } from './openapi.ts';
import type { AnySchema } from './schema.ts';
import { isDnsSubdomain } from '../names.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  format?: string;
  /** 0 shows the column by default; higher priorities only with `-o wide`. */
  priority?: number;
}

export interface CrdVersionOptions {
  name: string;
  served: boolean;
  storage: boolean;
  /**
   * The object's schema without `apiVersion`, `kind` and `metadata` (added here), i.e. an
   * `s.object({ spec, status })`.
   */
  schema: AnySchema;
  subresources?: { status?: boolean };
  printerColumns?: readonly PrinterColumn[];
  deprecated?: boolean;
  deprecationWarning?: string;
}

export interface CrdOptions {
  group: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames?: readonly string[];
  categories?: readonly string[];
  scope: 'Namespaced' | 'Cluster';
  versions: readonly CrdVersionOptions[];
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  schema: { openAPIV3Schema: JsonSchemaProps };
  subresources?: { status?: Record<string, never> };
  additionalPrinterColumns?: PrinterColumn[];
}

export interface CustomResourceDefinition extends KubeObject {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    scope: 'Namespaced' | 'Cluster';
    versions: CrdVersion[];
  };
}

// Resource names are RFC 1035 labels (a letter first), stricter than names.ts's RFC 1123 label.
const dnsLabel = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** A CRD object; throws when the options or a schema would be refused by the API server. */
export function crd(opts: CrdOptions): CustomResourceDefinition {
  const problems: string[] = [];
  if (!isDnsSubdomain(opts.group) || !opts.group.includes('.')) problems.push(`group ${opts.group} must be a DNS subdomain with at least one dot`);
  if (!/^[A-Z][A-Za-z0-9]*$/.test(opts.kind)) problems.push(`kind ${opts.kind} must be CamelCase`);
  for (const name of [opts.plural, opts.singular, ...(opts.shortNames ?? [])]) {
    if (!dnsLabel.test(name)) problems.push(`name ${name} must be a lower-case DNS label`);
  }
  if (opts.versions.length === 0) problems.push('at least one version is needed');
  if (opts.versions.filter((v) => v.storage).length !== 1) problems.push('exactly one version must be the storage version');
  if (new Set(opts.versions.map((v) => v.name)).size !== opts.versions.length) problems.push('version names must be unique');
  for (const v of opts.versions) {
    if (!/^v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$/.test(v.name)) problems.push(`version ${v.name} must look like v1, v1beta1 or v1alpha1`);
  }
  if (problems.length > 0) throw new Error(`invalid CRD ${opts.plural}.${opts.group}: ${problems.join('; ')}`);

  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${opts.plural}.${opts.group}` },
    spec: {
      group: opts.group,
      names: {
        kind: opts.kind,
        listKind: `${opts.kind}List`,
        plural: opts.plural,
        singular: opts.singular,
        ...(opts.shortNames?.length ? { shortNames: [...opts.shortNames] } : {}),
        ...(opts.categories?.length ? { categories: [...opts.categories] } : {}),
      },
      scope: opts.scope,
      versions: opts.versions.map((v) => crdVersion(opts, v)),
    },
  };
}

function crdVersion(opts: CrdOptions, v: CrdVersionOptions): CrdVersion {
  const body = toOpenApi(v.schema);
  if (body.type !== 'object' || !body.properties) {
    throw new Error(`version ${v.name}: the schema must be an object with properties`);
  }
  for (const reserved of ['apiVersion', 'kind', 'metadata']) {
    if (reserved in body.properties) throw new Error(`version ${v.name}: ${reserved} is added by crd(); leave it out of the schema`);
  }
  if (v.subresources?.status && !('status' in body.properties)) {
    throw new Error(`version ${v.name}: the status subresource needs a status property`);
  }
  const { description, required, ...rest } = body;
  const openAPIV3Schema: JsonSchemaProps = {
    type: 'object',
    description: description ?? `${opts.kind} is the Schema for the ${opts.plural} API.`,
    ...rest,
    properties: {
      apiVersion: {
        type: 'string',
        description: 'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.',
      },
      kind: {
        type: 'string',
        description: 'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase.',
      },
      metadata: { type: 'object' },
      ...body.properties,
    },
    ...(required ? { required } : {}),
  };
  const errors = structuralErrors(openAPIV3Schema).filter((e) => e.field !== 'openAPIV3Schema.properties.metadata');
  if (errors.length > 0) throw new Error(`version ${v.name}: not a structural schema: ${formatFieldErrors(errors)}`);

  const out: CrdVersion = { name: v.name, served: v.served, storage: v.storage, schema: { openAPIV3Schema } };
  if (v.deprecated !== undefined) out.deprecated = v.deprecated;
  if (v.deprecationWarning !== undefined) out.deprecationWarning = v.deprecationWarning;
  if (v.subresources?.status) out.subresources = { status: {} };
  if (v.printerColumns?.length) out.additionalPrinterColumns = v.printerColumns.map((c) => ({ ...c }));
  return out;
}
