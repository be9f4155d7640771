// The rules KMM's admission webhook (and its CRD schema) enforce on a Module, so that an operator can
// refuse a spec before writing it, with a field path and a message a person can act on.
// Where KMM's own check is looser than what would actually work (an image whose only ':' is a registry
// port, a regexp Go cannot compile), the stricter rule is applied and the message says why.
import { posix } from 'node:path';
import type { V1Toleration } from '@kubernetes/client-node';
import type { FieldError } from '../runtime/field-error.ts';
import type { KernelMapping, Module, ModprobeSpec, Volume } from './types.ts';

/**
 * KMM refuses a Module whose name and namespace together are longer than this: both end up in one
 * label name (`beta.kmm.node.kubernetes.io/version-module-loader.<ns>.<name>`), which has 63 characters.
 * KMM's webhook: `len(name + namespace) > 40` is an error.
 */
export const MAX_NAME_AND_NAMESPACE_LENGTH = 40;

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

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const DEVICE_PLUGIN_HOST_PATH_PREFIXES = ['/dev', '/sys', '/var', '/opt'];
const UNANCHORED_HINT = 'KMM matches it unanchored against the kernel version, so write ^...$ to match a whole version';

export function validateModuleIdentity(namespace: string, name: string, field: string): FieldError[] {
  const total = name.length + namespace.length;
  if (total <= MAX_NAME_AND_NAMESPACE_LENGTH) return [];
  return [{
    field,
    message: `name (${name.length}) and namespace (${namespace.length}) are ${total} characters together; ` +
      `KMM allows at most ${MAX_NAME_AND_NAMESPACE_LENGTH}`,
  }];
}

// ---- image references ----

// The reference grammar of the distribution project (docker, containerd, CRI-O all use it).
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
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
  if (/\s/.test(image)) return [{ field, message: `"${image}" contains whitespace, which no image reference can` }];

  const { text, errors } = substituteVariables(image, field);
  if (errors.length > 0) return errors;

  const at = text.indexOf('@');
  const name = at < 0 ? text : text.slice(0, at);
  const digest = at < 0 ? undefined : text.slice(at + 1);
  if (digest !== undefined && !DIGEST_RE.test(digest)) {
    return [{ field, message: `"${image}" has a malformed digest: expected @sha256: followed by 64 lower-case hex digits` }];
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

// ---- Go (RE2) regular expressions ----

// Escapes Go's regexp/syntax accepts after a backslash, besides punctuation and octal digits.
const GO_ESCAPE_LETTERS = new Set('aftnrvxdDsSwWbBAzpPQE');

function escapeForJs(literal: string): string {
  return literal.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/**
 * Checks a pattern the way Go's regexp package would. JavaScript's engine checks the general syntax after
 * Go-only spellings are rewritten; constructs JavaScript has and RE2 lacks are refused explicitly.
 * Returns the problem, or undefined when Go would compile the pattern.
 */
export function goRegexpProblem(pattern: string): string | undefined {
  let js = '';
  const flags = new Set<string>();
  let inClass = false;
  let classStart = -1;
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i]!;
    const rest = pattern.slice(i);

    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) return 'ends with a lone backslash';
      if (next >= '1' && next <= '9') {
        const octal = next <= '7' && /^[0-7]$/.test(pattern[i + 2] ?? '');
        if (!octal) return `\\${next} is a backreference, which Go regexps (RE2) do not support`;
      }
      if (next === 'k' && pattern[i + 2] === '<') return '\\k<...> is a named backreference, which Go regexps (RE2) do not support';
      if (/[a-zA-Z]/.test(next) && !GO_ESCAPE_LETTERS.has(next)) return `\\${next} is not an escape Go regexps know`;
      if (next === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        const literal = pattern.slice(i + 2, end < 0 ? undefined : end);
        js += inClass ? literal.replace(/[\\\]^-]/g, '\\$&') : escapeForJs(literal);
        i = end < 0 ? pattern.length : end + 2;
        continue;
      }
      if (next === 'z' || next === 'A') {
        js += next === 'z' ? '$' : '^';
        i += 2;
        continue;
      }
      if (next === 'x' && pattern[i + 2] === '{') {
        const end = pattern.indexOf('}', i + 3);
        const hex = end < 0 ? '' : pattern.slice(i + 3, end);
        if (!/^[0-9a-fA-F]{1,6}$/.test(hex) || Number.parseInt(hex, 16) > 0x10ffff) return `invalid hex escape \\x{${hex}}`;
        js += 'x';
        i = end + 1;
        continue;
      }
      js += ch + next;
      i += 2;
      continue;
    }

    if (inClass) {
      const posix = /^\[:\^?[a-z]+:\]/.exec(rest);
      if (posix) {
        js += 'a';
        i += posix[0].length;
        continue;
      }
      if (ch === ']' && i === classStart) {
        js += '\\]';
        i++;
        continue;
      }
      if (ch === ']') inClass = false;
      js += ch === '[' ? '\\[' : ch;
      i++;
      continue;
    }

    if (ch === '[') {
      inClass = true;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      classStart = i + (pattern[i + 1] === '^' ? 2 : 1);
      js += ch;
      i++;
      continue;
    }

    if (ch === '(' && pattern[i + 1] === '?') {
      if (rest.startsWith('(?=') || rest.startsWith('(?!')) return 'lookahead (?= / (?! is not supported by Go regexps (RE2)';
      if (rest.startsWith('(?<=') || rest.startsWith('(?<!')) return 'lookbehind (?<= / (?<! is not supported by Go regexps (RE2)';
      if (rest.startsWith('(?P=')) return '(?P=name) is a named backreference, which Go regexps (RE2) do not support';
      if (rest.startsWith('(?P<')) {
        js += '(?<';
        i += 4;
        continue;
      }
      if (rest.startsWith('(?<')) {
        js += '(?<';
        i += 3;
        continue;
      }
      const group = /^\(\?([^):]*)([):])/.exec(rest);
      if (!group) return `unterminated group flags at "${rest.slice(0, 8)}"`;
      const groupFlags = group[1]!;
      const badFlags = !/^[imsU]*(?:-[imsU]+)?$/.test(groupFlags) || (group[2] === ')' && groupFlags === '');
      if (badFlags) {
        return `(?${groupFlags}${group[2]} has flags Go regexps do not know (Go knows i, m, s and U)`;
      }
      if (group[2] === ')') {
        // `(?i)` changes the flags for the rest of the group; for a syntax check, applying them to the whole pattern is enough.
        for (const f of groupFlags.split('-')[0]!) if (f !== 'U') flags.add(f);
      } else {
        js += '(?:';
      }
      i += group[0].length;
      continue;
    }

    if (ch === '{') {
      const repeat = /^\{(\d+)(?:,(\d*))?\}/.exec(rest);
      if (repeat) {
        const counts = [repeat[1], repeat[2]].filter((n): n is string => n !== undefined && n !== '').map(Number);
        if (counts.some((n) => n > 1000)) return `repetition ${repeat[0]} is above Go's limit of 1000`;
      }
    }

    js += ch;
    i++;
  }

  try {
    new RegExp(js, [...flags].join(''));
  } catch (err) {
    // V8 says "Invalid regular expression: /<pattern>/<flags>: <reason>"; the pattern is our rewrite, so keep the reason.
    return `does not compile: ${(err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')}`;
  }
  return undefined;
}

// ---- kernel mappings ----

export function validateKernelMapping(mapping: KernelMapping, field: string): FieldError[] {
  if (mapping === null || typeof mapping !== 'object') return [{ field, message: 'a kernel mapping must be an object' }];
  const errors: FieldError[] = [];
  const regexp = mapping.regexp ?? '';
  const literal = mapping.literal ?? '';
  if (regexp !== '' && literal !== '') {
    errors.push({ field, message: 'regexp and literal are mutually exclusive: set exactly one' });
  } else if (regexp === '' && literal === '') {
    errors.push({ field, message: `set exactly one of regexp (for example "^5\\.14\\..*$") or literal (one exact kernel version)` });
  }
  if (regexp !== '') {
    const problem = goRegexpProblem(regexp);
    if (problem) errors.push({ field: `${field}.regexp`, message: `"${regexp}": ${problem} (${UNANCHORED_HINT})` });
  }
  if (literal !== '' && /\s/.test(literal)) {
    errors.push({ field: `${field}.literal`, message: `"${literal}" contains whitespace and can never equal a kernel version` });
  }
  if (mapping.containerImage) errors.push(...validateImageReference(mapping.containerImage, `${field}.containerImage`));
  return errors;
}

export function validateKernelMappings(list: readonly KernelMapping[] | undefined, field: string): FieldError[] {
  const items: unknown = list;
  if (!Array.isArray(items) || list === undefined || list.length === 0) {
    return [{ field, message: 'at least one kernel mapping is required (KMM picks the first that matches a node\'s kernel)' }];
  }
  return list.flatMap((mapping, i) => validateKernelMapping(mapping, `${field}[${i}]`));
}

// ---- the rest of the spec ----

function validateModprobe(modprobe: ModprobeSpec | undefined, field: string): FieldError[] {
  if (modprobe === null || typeof modprobe !== 'object') return [{ field, message: 'modprobe is required' }];
  const errors: FieldError[] = [];
  const moduleName = modprobe.moduleName ?? '';
  const rawLoad = (modprobe.rawArgs?.load?.length ?? 0) > 0;
  const rawUnload = (modprobe.rawArgs?.unload?.length ?? 0) > 0;
  if (moduleName !== '') {
    if (rawLoad || rawUnload) errors.push({ field: `${field}.rawArgs`, message: 'rawArgs cannot be set together with moduleName' });
  } else if (!rawLoad || !rawUnload) {
    errors.push({ field: `${field}.moduleName`, message: 'the name of the kernel module to load is required (unless rawArgs.load and rawArgs.unload are both set)' });
  }
  const order = modprobe.modulesLoadingOrder;
  if (order !== undefined) {
    const orderField = `${field}.modulesLoadingOrder`;
    if (order.length < 2) errors.push({ field: orderField, message: 'a loading order needs at least two modules' });
    if (moduleName === '') errors.push({ field: orderField, message: 'a loading order needs moduleName to be set' });
    else if (order.length > 0 && order[0] !== moduleName) {
      errors.push({ field: `${orderField}[0]`, message: `must be the module itself ("${moduleName}"), then what it depends on` });
    }
    const seen = new Set<string>();
    order.forEach((name, i) => {
      if (seen.has(name)) errors.push({ field: `${orderField}[${i}]`, message: `"${name}" is listed twice` });
      seen.add(name);
    });
  }
  return errors;
}

function validatePullPolicy(policy: string | undefined, field: string): FieldError[] {
  if (policy === undefined || PULL_POLICIES.includes(policy)) return [];
  return [{ field, message: `"${policy}" is not one of ${PULL_POLICIES.join(', ')}` }];
}

const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function qualifiedNameProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN_RE.test(prefix))) return `prefix "${prefix}" is not a DNS subdomain`;
  if (name.length > 63 || !QUALIFIED_NAME_RE.test(name)) {
    return `"${name}" must be at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit`;
  }
  return undefined;
}

/** The toleration rules KMM's webhook applies (the same as the API server's for pods). */
export function validateTolerations(tolerations: readonly V1Toleration[] | undefined, field: string): FieldError[] {
  const errors: FieldError[] = [];
  (tolerations ?? []).forEach((t, i) => {
    const at = `${field}[${i}]`;
    const key = t.key ?? '';
    const operator = t.operator ?? 'Equal';
    if (key !== '') {
      const problem = qualifiedNameProblem(key);
      if (problem) errors.push({ field: `${at}.key`, message: problem });
    } else if (operator !== 'Exists') {
      errors.push({ field: `${at}.operator`, message: 'must be Exists when key is empty' });
    }
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && t.effect !== 'NoExecute') {
      errors.push({ field: `${at}.effect`, message: 'must be NoExecute when tolerationSeconds is set' });
    }
    if (operator === 'Equal') {
      const value = t.value ?? '';
      if (value !== '' && (value.length > 63 || !QUALIFIED_NAME_RE.test(value))) {
        errors.push({ field: `${at}.value`, message: `"${value}" is not a valid label value` });
      }
    } else if (operator === 'Exists') {
      if (t.value) errors.push({ field: `${at}.value`, message: 'must be empty when operator is Exists' });
    } else {
      errors.push({ field: `${at}.operator`, message: `"${operator}" is not one of Equal, Exists` });
    }
    if (t.effect && !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)) {
      errors.push({ field: `${at}.effect`, message: `"${t.effect}" is not one of NoSchedule, PreferNoSchedule, NoExecute` });
    }
  });
  return errors;
}

function validateDevicePluginVolumes(volumes: readonly Volume[] | undefined, field: string): FieldError[] {
  const errors: FieldError[] = [];
  (volumes ?? []).forEach((volume, i) => {
    const hostPath = volume.hostPath?.path;
    if (hostPath === undefined) return;
    const clean = posix.normalize(hostPath);
    if (!clean.startsWith('/') || !DEVICE_PLUGIN_HOST_PATH_PREFIXES.some((p) => clean === p || clean.startsWith(`${p}/`))) {
      errors.push({
        field: `${field}[${i}].hostPath.path`,
        message: `"${hostPath}" is not allowed: KMM permits device plugin hostPath volumes under ${DEVICE_PLUGIN_HOST_PATH_PREFIXES.join(', ')} only`,
      });
    }
  });
  return errors;
}

function isStringMap(value: unknown): value is Record<string, string> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string');
}

/**
 * Everything KMM would refuse in a Module (webhook and schema), as field errors. A Module without
 * `spec.moduleLoader` is refused too: older KMM releases require it, and loading a module is the point.
 */
export function validateModule(module: Module): FieldError[] {
  const errors: FieldError[] = [];
  const name = module.metadata?.name ?? '';
  const namespace = module.metadata?.namespace ?? '';
  if (name === '') errors.push({ field: 'metadata.name', message: 'is required' });
  if (namespace === '') errors.push({ field: 'metadata.namespace', message: 'is required (Module is namespaced)' });
  if (name !== '' && namespace !== '') errors.push(...validateModuleIdentity(namespace, name, 'metadata.name'));

  const spec = module.spec;
  if (spec === null || typeof spec !== 'object') return [...errors, { field: 'spec', message: 'is required' }];

  if (!isStringMap(spec.selector)) {
    errors.push({ field: 'spec.selector', message: 'is required: a map of node labels to values ({} selects every node)' });
  }

  const loader = spec.moduleLoader;
  if (loader === null || typeof loader !== 'object') {
    errors.push({ field: 'spec.moduleLoader', message: 'is required' });
  } else if (loader.container === null || typeof loader.container !== 'object') {
    errors.push({ field: 'spec.moduleLoader.container', message: 'is required' });
  } else {
    const at = 'spec.moduleLoader.container';
    const container = loader.container;
    errors.push(...validateModprobe(container.modprobe, `${at}.modprobe`));
    const defaultImage = container.containerImage ?? '';
    if (defaultImage !== '') errors.push(...validateImageReference(defaultImage, `${at}.containerImage`));
    errors.push(...validateKernelMappings(container.kernelMappings, `${at}.kernelMappings`));
    if (Array.isArray(container.kernelMappings) && defaultImage === '') {
      container.kernelMappings.forEach((mapping, i) => {
        if (mapping && typeof mapping === 'object' && !mapping.containerImage) {
          errors.push({
            field: `${at}.kernelMappings[${i}].containerImage`,
            message: `is required when ${at}.containerImage (the default for all mappings) is not set`,
          });
        }
      });
    }
    errors.push(...validatePullPolicy(container.imagePullPolicy, `${at}.imagePullPolicy`));
  }

  const plugin = spec.devicePlugin;
  if (plugin !== undefined) {
    if (plugin === null || typeof plugin !== 'object' || plugin.container === null || typeof plugin.container !== 'object') {
      errors.push({ field: 'spec.devicePlugin.container', message: 'is required when spec.devicePlugin is set' });
    } else {
      errors.push(...validateImageReference(plugin.container.image, 'spec.devicePlugin.container.image'));
      errors.push(...validatePullPolicy(plugin.container.imagePullPolicy, 'spec.devicePlugin.container.imagePullPolicy'));
      errors.push(...validateDevicePluginVolumes(plugin.volumes, 'spec.devicePlugin.volumes'));
    }
  }

  if (spec.imageRepoSecret !== undefined && !spec.imageRepoSecret?.name) {
    errors.push({ field: 'spec.imageRepoSecret.name', message: 'is required when imageRepoSecret is set' });
  }
  errors.push(...validateTolerations(spec.tolerations, 'spec.tolerations'));
  return errors;
}

/**
 * What KMM's webhook checks on an update: everything `validateModule(next)` reports, and that
 * `spec.moduleLoader.container.version` does not change between empty and set.
 */
export function validateModuleUpdate(old: Module, next: Module): FieldError[] {
  const errors: FieldError[] = [];
  const before = old.spec?.moduleLoader?.container;
  const after = next.spec?.moduleLoader?.container;
  if (before && after) {
    const from = before.version ?? '';
    const to = after.version ?? '';
    if ((from === '') !== (to === '')) {
      errors.push({
        field: 'spec.moduleLoader.container.version',
        message: `cannot change from ${from === '' ? 'empty' : `"${from}"`} to ${to === '' ? 'empty' : `"${to}"`}: ` +
          'KMM refuses an update to or from an empty version; delete the Module and create it again',
      });
    }
  }
  return [...errors, ...validateModule(next)];
}
