// Builds the Module an operator applies (server-side apply: only the fields it owns, nothing null),
// formats kernel module parameters for modprobe, and reads KMM's status counts.
import type { V1EnvVar, V1Toleration, V1VolumeMount } from '@kubernetes/client-node';
import { clone, type OwnerReference } from '../runtime/object.ts';
import { apiVersionOf } from '../runtime/resource.ts';
import { Modules } from './resource.ts';
import type {
  DaemonSetStatusCounts,
  DevicePluginSpec,
  KernelMapping,
  Module,
  ModuleLoaderContainerSpec,
  ModuleSpec,
  PullPolicy,
  Volume,
} from './types.ts';

/** modprobe's module root when none is given; also what the API server would default `dirName` to. */
export const DEFAULT_DIR_NAME = '/opt';

export interface DevicePluginInput {
  image: string;
  args?: string[];
  env?: V1EnvVar[];
  volumeMounts?: V1VolumeMount[];
  volumes?: Volume[];
  serviceAccountName?: string;
  imagePullPolicy?: PullPolicy;
}

export interface ModuleInput {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  /** Node labels the module is loaded on; `{}` for every node. */
  selector: Record<string, string>;
  /** The kernel module modprobe loads. */
  moduleName: string;
  /** `key=value` strings; build them with `moduleParameter`. */
  parameters?: string[];
  /** Default `/opt`. */
  dirName?: string;
  /** First match wins. A mapping without `containerImage` uses `containerImage` below. */
  kernelMappings: KernelMapping[];
  /** Default image for kernel mappings that name none. */
  containerImage?: string;
  imagePullPolicy?: PullPolicy;
  devicePlugin?: DevicePluginInput;
  /** Name of a pull secret in the Module's namespace, for the loader and device plugin images. */
  imageRepoSecret?: string;
  tolerations?: V1Toleration[];
  /** Service account of KMM's module loader pods. */
  serviceAccountName?: string;
}

function nonEmpty<T>(list: readonly T[] | undefined): list is readonly T[] {
  return list !== undefined && list.length > 0;
}

function buildKernelMapping(mapping: KernelMapping): KernelMapping {
  const out: KernelMapping = {};
  if (mapping.regexp) out.regexp = mapping.regexp;
  if (mapping.literal) out.literal = mapping.literal;
  // KMM's schema lists containerImage as a required key of every mapping; "" means "use the container's default".
  out.containerImage = mapping.containerImage ?? '';
  if (nonEmpty(mapping.inTreeModulesToRemove)) out.inTreeModulesToRemove = [...mapping.inTreeModulesToRemove];
  return out;
}

function buildDevicePlugin(input: DevicePluginInput): DevicePluginSpec {
  const plugin: DevicePluginSpec = { container: { image: input.image } };
  if (nonEmpty(input.args)) plugin.container.args = [...input.args];
  if (nonEmpty(input.env)) plugin.container.env = clone([...input.env]);
  if (nonEmpty(input.volumeMounts)) plugin.container.volumeMounts = clone([...input.volumeMounts]);
  if (input.imagePullPolicy) plugin.container.imagePullPolicy = input.imagePullPolicy;
  if (nonEmpty(input.volumes)) plugin.volumes = clone([...input.volumes]);
  if (input.serviceAccountName) plugin.serviceAccountName = input.serviceAccountName;
  return plugin;
}

/**
 * An apply-ready Module holding only the fields the caller owns. `modprobe.dirName` is always written
 * (the API server would default it, and an apply that omits it would never match what is stored), the
 * selector is always present, and optional parts are left out rather than sent empty or null.
 * The input is not validated here: run `validateModule` on the result before writing it.
 * The result shares no objects with the input.
 */
export function buildModule(input: ModuleInput): Module {
  const container: ModuleLoaderContainerSpec = {
    modprobe: { moduleName: input.moduleName, dirName: input.dirName || DEFAULT_DIR_NAME },
    kernelMappings: input.kernelMappings.map(buildKernelMapping),
  };
  if (nonEmpty(input.parameters)) container.modprobe.parameters = [...input.parameters];
  if (input.containerImage) container.containerImage = input.containerImage;
  if (input.imagePullPolicy) container.imagePullPolicy = input.imagePullPolicy;

  const spec: ModuleSpec = {
    selector: { ...input.selector },
    moduleLoader: { container },
  };
  if (input.serviceAccountName) spec.moduleLoader!.serviceAccountName = input.serviceAccountName;
  if (input.devicePlugin) spec.devicePlugin = buildDevicePlugin(input.devicePlugin);
  if (input.imageRepoSecret) spec.imageRepoSecret = { name: input.imageRepoSecret };
  if (nonEmpty(input.tolerations)) spec.tolerations = clone([...input.tolerations]);

  const module: Module = {
    apiVersion: apiVersionOf(Modules),
    kind: Modules.kind,
    metadata: { name: input.name, namespace: input.namespace },
    spec,
  };
  if (input.labels && Object.keys(input.labels).length > 0) module.metadata.labels = { ...input.labels };
  if (nonEmpty(input.ownerReferences)) module.metadata.ownerReferences = clone([...input.ownerReferences]);
  return module;
}

const PARAMETER_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * One kernel module parameter as modprobe takes it: `name=value`. Integers are written as they are,
 * booleans as Y/N, strings as they are unless they contain whitespace (or are empty), in which case
 * they are double-quoted (the kernel splits parameters on whitespace outside double quotes). A value the
 * kernel cannot receive intact (one containing `"` or a line break, a non-integer number) is an Error.
 */
export function moduleParameter(name: string, value: string | number | bigint | boolean): string {
  if (!PARAMETER_NAME_RE.test(name)) {
    throw new Error(`kernel module parameter name ${JSON.stringify(name)} must be letters, digits, "_", "-" or "."`);
  }
  if (typeof value === 'boolean') return `${name}=${value ? 'Y' : 'N'}`;
  if (typeof value === 'bigint') return `${name}=${value}`;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new Error(`kernel module parameter ${name}: ${value} is not an integer the kernel can parse (kernel parameters have no fractions)`);
    }
    return `${name}=${value}`;
  }
  if (typeof value !== 'string') throw new Error(`kernel module parameter ${name}: unsupported value type ${typeof value}`);
  if (/[\r\n]/.test(value)) {
    throw new Error(`kernel module parameter ${name}: a value with a line break cannot be passed to the kernel`);
  }
  if (value.includes('"')) {
    throw new Error(`kernel module parameter ${name}: a value containing '"' cannot be quoted for the kernel's parameter parser`);
  }
  return /\s/.test(value) || value === '' ? `${name}="${value}"` : `${name}=${value}`;
}

export interface WorkloadCounts {
  /** Pods KMM wants (one per eligible node). */
  desired: number;
  /** Pods running and ready. */
  available: number;
  /** Nodes matching the Module's selector. */
  matching: number;
}

export interface ModuleStatusSummary {
  loader: WorkloadCounts;
  /** Present when the Module has a device plugin. */
  devicePlugin?: WorkloadCounts;
}

function counts(status: DaemonSetStatusCounts | undefined): WorkloadCounts {
  return {
    desired: status?.desiredNumber ?? 0,
    available: status?.availableNumber ?? 0,
    matching: status?.nodesMatchingSelectorNumber ?? 0,
  };
}

/**
 * KMM's counts with zeros where KMM left them out. `devicePlugin` follows the spec, not the status:
 * KMM writes `status.devicePlugin` (possibly `{}`) even for Modules without a device plugin.
 */
export function moduleStatusSummary(module: Pick<Module, 'spec' | 'status'>): ModuleStatusSummary {
  const summary: ModuleStatusSummary = { loader: counts(module.status?.moduleLoader) };
  if (module.spec?.devicePlugin) summary.devicePlugin = counts(module.status?.devicePlugin);
  return summary;
}
