// The rules KMM's admission webhook (and its CRD schema) enforce on a Module, so that an operator can
// refuse a spec before writing it, with a field path and a message a person can act on.
// Where KMM's own check is looser than what would actually work (an image whose only ':' is a registry
// port, a module name modprobe would read as an option), the stricter rule is applied and the message says why.
import { posix } from 'node:path';
import type { FieldError } from '../runtime/field-error.ts';
import { goRegexpError } from './go-regexp.ts';
import { validateImageReference } from './image-reference.ts';
import { kernelModuleNames, validateModprobe } from './modprobe-rules.ts';
import { validateTolerations } from './toleration-rules.ts';
import type { KernelMapping, Module, Volume } from './types.ts';
import { DEFAULT_KMM_VERSION, maxNameAndNamespaceLength } from './versions.ts';

export { KMM_IMAGE_VARIABLES, validateImageReference } from './image-reference.ts';
export { validateTolerations } from './toleration-rules.ts';

/** What the rules depend on. */
export interface KmmRuleOptions {
  /** The KMM release the Module is written for (its name length rule changed after v2.6.0). Defaults to DEFAULT_KMM_VERSION. */
  kmmVersion?: string;
}

/** The name + namespace limit of DEFAULT_KMM_VERSION (40); see `maxNameAndNamespaceLength` for others. */
export const MAX_NAME_AND_NAMESPACE_LENGTH = maxNameAndNamespaceLength(DEFAULT_KMM_VERSION);

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const DEVICE_PLUGIN_HOST_PATH_PREFIXES = ['/dev', '/sys', '/var', '/opt'];
const UNANCHORED_HINT = 'KMM matches it unanchored against the kernel version, so write ^...$ to match a whole version';
/** Longest regexp or literal kernel version the CRDs accept; kernel versions are short, Go's limits are not reached below it. */
export const MAX_KERNEL_MATCH_LENGTH = 4096;

export function validateModuleIdentity(namespace: string, name: string, field: string, options: KmmRuleOptions = {}): FieldError[] {
  const max = maxNameAndNamespaceLength(options.kmmVersion);
  const total = name.length + namespace.length;
  if (total <= max) return [];
  return [{
    field,
    message: `name (${name.length}) and namespace (${namespace.length}) are ${total} characters together; ` +
      `KMM ${options.kmmVersion ?? DEFAULT_KMM_VERSION} allows at most ${max}`,
  }];
}

/** Go's regexp.Compile refusal of `pattern`, as a sentence, or undefined when Go compiles it. */
export function goRegexpProblem(pattern: string): string | undefined {
  const err = goRegexpError(pattern);
  if (!err) return undefined;
  const at = err.expr && err.expr !== pattern ? ` at \`${short(err.expr)}\`` : '';
  const hint = regexpHint(err.code, err.expr);
  return `Go's regexp.Compile refuses it: ${err.code}${at}${hint ? ` (${hint})` : ''}`;
}

// What a person coming from other regexp engines needs to know about Go's refusal.
function regexpHint(code: string, expr: string): string | undefined {
  if (/^\(\?<?[=!]/.test(expr)) return `${expr.startsWith('(?<') ? 'lookbehind' : 'lookahead'} is not supported by Go regexps (RE2)`;
  if (/^\\[1-9k]/.test(expr) || expr.startsWith('(?P=')) return 'backreferences are not supported by Go regexps (RE2)';
  if (code === 'invalid repeat count') return 'a count is at most 1000, also multiplied through nested repetitions';
  if (code === 'expression nests too deeply') return 'Go allows at most 1000 levels of nesting';
  if (code === 'expression too large') return 'its compiled form would be over Go\'s 128 MB limit';
  if (code === 'invalid or unsupported Perl syntax' && expr.startsWith('(?')) return 'Go knows the flags i, m, s and U';
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
  if (regexp.length > MAX_KERNEL_MATCH_LENGTH) {
    errors.push({ field: `${field}.regexp`, message: `is ${regexp.length} characters long; at most ${MAX_KERNEL_MATCH_LENGTH}` });
  } else if (regexp !== '') {
    const problem = goRegexpProblem(regexp);
    if (problem) errors.push({ field: `${field}.regexp`, message: `"${short(regexp)}": ${problem} (${UNANCHORED_HINT})` });
  }
  if (literal.length > MAX_KERNEL_MATCH_LENGTH) {
    errors.push({ field: `${field}.literal`, message: `is ${literal.length} characters long; at most ${MAX_KERNEL_MATCH_LENGTH}` });
  } else if (literal !== '' && /\s/.test(literal)) {
    errors.push({ field: `${field}.literal`, message: `"${short(literal)}" contains whitespace and can never equal a kernel version` });
  }
  errors.push(...kernelModuleNames(mapping.inTreeModulesToRemove, `${field}.inTreeModulesToRemove`));
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

function validatePullPolicy(policy: string | undefined, field: string): FieldError[] {
  if (policy === undefined || PULL_POLICIES.includes(policy)) return [];
  return [{ field, message: `"${policy}" is not one of ${PULL_POLICIES.join(', ')}` }];
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
export function validateModule(module: Module, options: KmmRuleOptions = {}): FieldError[] {
  const errors: FieldError[] = [];
  const name = module.metadata?.name ?? '';
  const namespace = module.metadata?.namespace ?? '';
  if (name === '') errors.push({ field: 'metadata.name', message: 'is required' });
  if (namespace === '') errors.push({ field: 'metadata.namespace', message: 'is required (Module is namespaced)' });
  if (name !== '' && namespace !== '') errors.push(...validateModuleIdentity(namespace, name, 'metadata.name', options));

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
    errors.push(...kernelModuleNames(container.inTreeModulesToRemove, `${at}.inTreeModulesToRemove`));
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
export function validateModuleUpdate(old: Module, next: Module, options: KmmRuleOptions = {}): FieldError[] {
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
  return [...errors, ...validateModule(next, options)];
}

function short(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
