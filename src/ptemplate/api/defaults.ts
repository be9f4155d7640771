// Defaulting of a Ptemplate spec, the same the API server applies from the CRD schema. Needed for
// objects stored under an older CRD (without some defaults) and for validating raw input.
import { applyDefaults } from '../../runtime/schema/index.ts';
import { specSchema, type PtemplateSpec, type PtemplateSpecInput } from './schema.ts';

/** A defaulted copy of `spec`; the input (possibly a frozen cached object) is left unchanged. */
export function withDefaults(spec: PtemplateSpecInput): PtemplateSpec {
  return applyDefaults(specSchema, spec);
}
