// The KMM v1beta1 `Module` (kmm.sigs.x-k8s.io), as plain JSON shapes: the part of the spec an operator
// writes, plus the status KMM reports. Fields we never write (build, sign, registryTLS, initContainer,
// resources, ...) are not modelled; a Module read from the API server may still carry them.
import type { V1EnvVar, V1Toleration, V1VolumeMount } from '@kubernetes/client-node';
import type { KubeObject } from '../runtime/object.ts';

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** Arguments handed to modprobe when loading and when unloading. */
export interface ModprobeArgs {
  load?: string[];
  unload?: string[];
}

export interface ModprobeSpec {
  /** The kernel module modprobe loads. May only be empty when `rawArgs` carries both load and unload. */
  moduleName?: string;
  /** `key=value` strings, joined by spaces after the module name (see `moduleParameter`). */
  parameters?: string[];
  /** Root directory for modules (`modprobe -d`). The API server defaults it to `/opt`. */
  dirName?: string;
  /** Where firmware lives in the image; KMM copies it to the host. */
  firmwarePath?: string;
  /** Extra modprobe arguments placed before the module name. */
  args?: ModprobeArgs;
  /** When set, passed to modprobe verbatim and every other field here is ignored. */
  rawArgs?: ModprobeArgs;
  /** Load order for modules depmod does not know about: the module itself first, then what it depends on. */
  modulesLoadingOrder?: string[];
}

/**
 * Which image loads the module on which kernels. Exactly one of `regexp` (a Go regexp, unanchored)
 * or `literal`; the first mapping that matches a node's kernel wins.
 */
export interface KernelMapping {
  regexp?: string;
  literal?: string;
  /** May use `${KERNEL_FULL_VERSION}` and friends; falls back to the container's `containerImage`. */
  containerImage?: string;
  inTreeModulesToRemove?: string[];
}

export interface ModuleLoaderContainerSpec {
  modprobe: ModprobeSpec;
  /** At least one. */
  kernelMappings: KernelMapping[];
  /** Default image for mappings that name none. */
  containerImage?: string;
  imagePullPolicy?: PullPolicy;
  /** For ordered upgrades. Cannot change between empty and set on an existing Module. */
  version?: string;
  inTreeModulesToRemove?: string[];
}

export interface ModuleLoaderSpec {
  container: ModuleLoaderContainerSpec;
  serviceAccountName?: string;
}

export interface DevicePluginContainerSpec {
  image: string;
  args?: string[];
  env?: V1EnvVar[];
  volumeMounts?: V1VolumeMount[];
  imagePullPolicy?: PullPolicy;
}

/**
 * A pod volume. Only the sources a device plugin commonly uses are typed; any other source is carried as is.
 * (client-node's V1Volume is not used: through ephemeral volume templates it reaches Date-typed metadata.)
 */
export interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  configMap?: { name?: string; items?: { key: string; path: string; mode?: number }[]; defaultMode?: number; optional?: boolean };
  secret?: { secretName?: string; items?: { key: string; path: string; mode?: number }[]; defaultMode?: number; optional?: boolean };
  emptyDir?: { medium?: string; sizeLimit?: string };
  [source: string]: unknown;
}

export interface DevicePluginSpec {
  container: DevicePluginContainerSpec;
  volumes?: Volume[];
  serviceAccountName?: string;
}

export interface LocalObjectReference {
  name: string;
}

export interface ModuleSpec {
  /** Nodes the module is loaded on. Required by the schema: send `{}` to mean every node. */
  selector: Record<string, string>;
  /** Optional in recent KMM releases, required in older ones; this package always writes it. */
  moduleLoader?: ModuleLoaderSpec;
  devicePlugin?: DevicePluginSpec;
  imageRepoSecret?: LocalObjectReference;
  tolerations?: V1Toleration[];
}

/** Counts KMM reports for one of its DaemonSet-like workloads. Zero values are omitted by KMM. */
export interface DaemonSetStatusCounts {
  nodesMatchingSelectorNumber?: number;
  desiredNumber?: number;
  availableNumber?: number;
}

/** KMM has no conditions; these counts are all it reports. */
export interface ModuleStatus {
  moduleLoader?: DaemonSetStatusCounts;
  devicePlugin?: DaemonSetStatusCounts;
}

export interface Module extends KubeObject {
  spec: ModuleSpec;
  status?: ModuleStatus;
}
