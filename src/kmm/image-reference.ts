// Image references as KMM, the kubelet and container runtimes read them: the reference grammar of the
// distribution project (docker, containerd and CRI-O all use it), with its length limits, plus KMM's rules
// (a tag or a digest is required; only KMM's variables may appear, substituted per node).
import type { FieldError } from '../runtime/field-error.ts';

/** The variables KMM substitutes in a kernel mapping's `containerImage`. */
export const KMM_IMAGE_VARIABLES: readonly string[] = Object.freeze([
  'KERNEL_FULL_VERSION',
  'KERNEL_XYZ',
  'KERNEL_X',
  'KERNEL_Y',
  'KERNEL_Z',
  'MOD_NAME',
  'MOD_NAMESPACE',
]);

/** The grammar's limit on a repository name (registry and path, without tag or digest). */
export const MAX_REPOSITORY_NAME_LENGTH = 255;
/** A tag is at most this long. */
export const MAX_TAG_LENGTH = 128;
/**
 * The longest image reference the CRDs accept: a 255-character name, a 128-character tag and a sha512
 * digest, with room for KMM's variables, which are longer before substitution than the values they stand for.
 */
export const MAX_IMAGE_REFERENCE_LENGTH = 1024;

// The reference grammar of the distribution project (docker, containerd, CRI-O all use it).
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
// The digest algorithms container runtimes verify (go-digest's), each with its hex length.
const DIGEST_RE = /^(?:sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$/;
// What a variable stands for while the reference's structure is checked: valid as a path component and as a tag.
const VARIABLE_PLACEHOLDER = '0';

/**
 * Replaces KMM's variables (`${NAME}` or `$NAME`, as KMM's envsubst accepts both) with a placeholder,
 * or reports each `$` that is not one of them.
 */
function substituteVariables(image: string, field: string): { text: string; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const known = KMM_IMAGE_VARIABLES.join(', ');
  let text = '';
  let i = 0;
  while (i < image.length) {
    const ch = image[i]!;
    if (ch !== '$') {
      text += ch;
      i++;
      continue;
    }
    if (image[i + 1] === '{') {
      const end = image.indexOf('}', i + 2);
      if (end < 0) {
        errors.push({ field, message: `"${image.slice(i)}" opens a variable and never closes it; KMM substitutes only \${${KMM_IMAGE_VARIABLES[0]}} and the like` });
        break;
      }
      const variable = image.slice(i + 2, end);
      if (!KMM_IMAGE_VARIABLES.includes(variable)) {
        errors.push({ field, message: `unknown variable \${${variable}}: KMM substitutes only ${known}` });
      }
      text += VARIABLE_PLACEHOLDER;
      i = end + 1;
      continue;
    }
    const bare = /^[A-Za-z_][A-Za-z0-9_]*/.exec(image.slice(i + 1));
    if (bare) {
      if (!KMM_IMAGE_VARIABLES.includes(bare[0])) {
        errors.push({ field, message: `unknown variable $${bare[0]}: KMM substitutes only ${known}` });
      }
      text += VARIABLE_PLACEHOLDER;
      i += 1 + bare[0].length;
      continue;
    }
    errors.push({ field, message: `"$" at position ${i} does not start a variable; an image reference cannot contain "$"` });
    i++;
  }
  return { text, errors };
}

/**
 * An image reference KMM and the kubelet will accept: not empty, no whitespace, a tag or a digest
 * (KMM's webhook refuses an image without either), KMM's variables only, and the reference grammar.
 */
export function validateImageReference(image: string, field: string): FieldError[] {
  if (typeof image !== 'string' || image.trim() === '') return [{ field, message: 'an image reference is required' }];
  if (image.length > MAX_IMAGE_REFERENCE_LENGTH) {
    return [{ field, message: `is ${image.length} characters long; an image reference has at most ${MAX_IMAGE_REFERENCE_LENGTH} (a repository name of at most ${MAX_REPOSITORY_NAME_LENGTH}, a tag of at most ${MAX_TAG_LENGTH})` }];
  }
  if (/\s/.test(image)) return [{ field, message: `"${image}" contains whitespace, which no image reference can` }];

  const { text, errors } = substituteVariables(image, field);
  if (errors.length > 0) return errors;

  const at = text.indexOf('@');
  const name = at < 0 ? text : text.slice(0, at);
  const digest = at < 0 ? undefined : text.slice(at + 1);
  if (digest !== undefined && !DIGEST_RE.test(digest)) {
    return [{ field, message: `"${image}" has a malformed digest: expected @sha256: and 64 lower-case hex digits (or sha384: 96, sha512: 128)` }];
  }

  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  const repository = colon < 0 ? name : name.slice(0, colon);
  const tag = colon < 0 ? undefined : name.slice(colon + 1);
  if (tag === undefined && digest === undefined) {
    const port = lastSlash >= 0 && name.slice(0, lastSlash).includes(':') ? ' (the ":" before the last "/" is a registry port, not a tag)' : '';
    return [{ field, message: `"${image}" has neither a tag nor a digest${port}: add ":<tag>" or "@sha256:<digest>"; KMM refuses untagged images` }];
  }
  if (tag !== undefined && !TAG_RE.test(tag)) {
    return [{ field, message: `"${image}" has an invalid tag "${tag}": letters, digits, "_", "." and "-", not starting with "." or "-", at most 128` }];
  }

  // KMM's variables may stand for longer values; the limit holds for the text as written, with each variable as one character.
  if (repository.length > MAX_REPOSITORY_NAME_LENGTH) {
    return [{ field, message: `"${image.slice(0, 40)}..." has a repository name of ${repository.length} characters; the reference grammar allows at most ${MAX_REPOSITORY_NAME_LENGTH}` }];
  }
  const components = repository.split('/');
  const first = components[0]!;
  const hasDomain = components.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first));
  if (hasDomain && !DOMAIN_RE.test(first)) {
    return [{ field, message: `"${image}" has an invalid registry "${first}"` }];
  }
  for (const component of hasDomain ? components.slice(1) : components) {
    if (!PATH_COMPONENT_RE.test(component)) {
      return [{
        field,
        message: `"${image}" has an invalid repository path component "${component}": lower-case letters and digits, separated by ".", "_", "__" or "-"`,
      }];
    }
  }
  return [];
}

