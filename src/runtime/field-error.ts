// A validation failure tied to one field path, the way the API server reports `Invalid` causes.
export interface FieldError {
  /** JSON path of the field, e.g. `spec.kernelMappings[1].regexp`. */
  field: string;
  /** What is wrong and what would be right, for a person. */
  message: string;
}

export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}
