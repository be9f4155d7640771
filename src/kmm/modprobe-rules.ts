// The modprobe part of a Module. KMM's worker runs `modprobe -vd <image files>/<dirName> [args.load...]
// <moduleName> <parameters...>` (or rawArgs verbatim) and copies firmware from <image files>/<firmwarePath>,
// so every field that becomes an argument or a path is held to a rule that keeps it what it claims to be:
// a module name or parameter never starts with "-" (modprobe would read it as an option), and paths are
// absolute without ".." (filepath.Join would let them leave the image's files).
import { posix } from 'node:path';
import type { FieldError } from '../runtime/field-error.ts';
import type { ModprobeSpec } from './types.ts';

/** Longest kernel module name (the kernel's MODULE_NAME_LEN on 64-bit machines, 64 - 8). */
export const MAX_KERNEL_MODULE_NAME_LENGTH = 56;
/** A kernel module name: letters, digits, "_" and "-" (modprobe treats them alike), not starting with "-". */
export const KERNEL_MODULE_NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_-]*$';
const KERNEL_MODULE_NAME_RE = new RegExp(KERNEL_MODULE_NAME_PATTERN);
// `name` or `name=value`; the name as the kernel's parameter parser reads it (module.param allowed).
const PARAMETER_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(=.*)?$/s;

/** Why `name` is not a kernel module name modprobe takes as one, or undefined when it is one. */
export function kernelModuleNameProblem(name: string): string | undefined {
  if (name.startsWith('-')) return `"${name}" starts with "-", which modprobe would read as an option, not a module name`;
  if (name.length > MAX_KERNEL_MODULE_NAME_LENGTH || !KERNEL_MODULE_NAME_RE.test(name)) {
    return `"${name.slice(0, 80)}" is not a kernel module name: 1 to ${MAX_KERNEL_MODULE_NAME_LENGTH} letters, digits, "_" and "-"`;
  }
  return undefined;
}

export function kernelModuleNames(list: readonly unknown[] | undefined, field: string): FieldError[] {
  const errors: FieldError[] = [];
  (Array.isArray(list) ? list : []).forEach((name: unknown, i) => {
    const problem = typeof name === 'string' ? kernelModuleNameProblem(name) : 'must be a string';
    if (problem) errors.push({ field: `${field}[${i}]`, message: problem });
  });
  return errors;
}

function parameterProblem(parameter: unknown): string | undefined {
  if (typeof parameter !== 'string') return 'must be a string';
  if (parameter.startsWith('-')) return `"${parameter.slice(0, 80)}" starts with "-", which modprobe would read as an option`;
  if (!PARAMETER_RE.test(parameter)) return `"${parameter.slice(0, 80)}" is not name=value with a parameter name of letters, digits, "_", "-" and "."`;
  if (/[\r\n\0]/.test(parameter)) return 'a parameter cannot contain a line break or NUL: the kernel would not receive it intact';
  if ((parameter.match(/"/g) ?? []).length % 2 !== 0) return 'has an unbalanced double quote: the kernel\'s parameter parser would swallow the parameters after it';
  return undefined;
}

/** Why `path` (joined by KMM to the image's files) is not a safe absolute path, or undefined. */
function imagePathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string') return 'must be a string';
  if (!path.startsWith('/')) return `"${path.slice(0, 80)}" must be an absolute path inside the image`;
  if (path.split('/').includes('..')) return `"${path.slice(0, 80)}" must not contain "..": KMM joins it to the image's files, and ".." would leave them`;
  if (/[\0\r\n]/.test(path)) return 'must not contain NUL or line breaks';
  if (posix.normalize(path).length > 4096) return 'is longer than a path can be (4096)';
  return undefined;
}

export function validateModprobe(modprobe: ModprobeSpec | undefined, field: string): FieldError[] {
  if (modprobe === null || typeof modprobe !== 'object') return [{ field, message: 'modprobe is required' }];
  const errors: FieldError[] = [];
  const moduleName = modprobe.moduleName ?? '';
  const rawLoad = (modprobe.rawArgs?.load?.length ?? 0) > 0;
  const rawUnload = (modprobe.rawArgs?.unload?.length ?? 0) > 0;
  if (typeof moduleName !== 'string') {
    errors.push({ field: `${field}.moduleName`, message: 'must be a string' });
  } else if (moduleName !== '') {
    const problem = kernelModuleNameProblem(moduleName);
    if (problem) errors.push({ field: `${field}.moduleName`, message: problem });
    if (rawLoad || rawUnload) errors.push({ field: `${field}.rawArgs`, message: 'rawArgs cannot be set together with moduleName' });
  } else if (!rawLoad || !rawUnload) {
    errors.push({ field: `${field}.moduleName`, message: 'the name of the kernel module to load is required (unless rawArgs.load and rawArgs.unload are both set)' });
  }
  for (const key of ['dirName', 'firmwarePath'] as const) {
    const value = modprobe[key];
    const problem = value === undefined || value === '' ? undefined : imagePathProblem(value);
    if (problem) errors.push({ field: `${field}.${key}`, message: problem });
  }
  const parameters: unknown = modprobe.parameters;
  if (parameters !== undefined && !Array.isArray(parameters)) errors.push({ field: `${field}.parameters`, message: 'must be a list of strings' });
  (Array.isArray(parameters) ? parameters : []).forEach((parameter: unknown, i) => {
    const problem = parameterProblem(parameter);
    if (problem) errors.push({ field: `${field}.parameters[${i}]`, message: problem });
  });
  const order = modprobe.modulesLoadingOrder;
  if (order !== undefined) {
    const orderField = `${field}.modulesLoadingOrder`;
    if (order.length < 2) errors.push({ field: orderField, message: 'a loading order needs at least two modules' });
    if (moduleName === '') errors.push({ field: orderField, message: 'a loading order needs moduleName to be set' });
    else if (order.length > 0 && order[0] !== moduleName) {
      errors.push({ field: `${orderField}[0]`, message: `must be the module itself ("${moduleName}"), then what it depends on` });
    }
    errors.push(...kernelModuleNames(order, orderField));
    const seen = new Set<string>();
    order.forEach((name, i) => {
      if (seen.has(name)) errors.push({ field: `${orderField}[${i}]`, message: `"${name}" is listed twice` });
      seen.add(name);
    });
  }
  return errors;
}

