// The KMM (Kernel Module Management) API layer: Module types and resource, ready labels, the rules
// KMM's webhook enforces, a Module builder, and a development CRD. Knows nothing of any one device.
export type {
  DaemonSetStatusCounts,
  DevicePluginContainerSpec,
  DevicePluginSpec,
  KernelMapping,
  LocalObjectReference,
  ModprobeArgs,
  ModprobeSpec,
  Module,
  ModuleLoaderContainerSpec,
  ModuleLoaderSpec,
  ModuleSpec,
  ModuleStatus,
  PullPolicy,
  Volume,
} from './types.ts';
export { MODULE_FINALIZER, Modules } from './resource.ts';
export {
  devicePluginReadyLabel,
  isDevicePluginReadyOn,
  isModuleReadyOn,
  moduleReadyLabel,
  readyNodeSelector,
} from './labels.ts';
export { GoRegexpError, goRegexpError } from './go-regexp.ts';
export { MAX_IMAGE_REFERENCE_LENGTH, MAX_REPOSITORY_NAME_LENGTH, MAX_TAG_LENGTH } from './image-reference.ts';
export { KERNEL_MODULE_NAME_PATTERN, MAX_KERNEL_MODULE_NAME_LENGTH, kernelModuleNameProblem } from './modprobe-rules.ts';
export { MAX_TOLERATION_SECONDS, MIN_TOLERATION_SECONDS } from './toleration-rules.ts';
export { DEFAULT_KMM_VERSION, MIN_KMM_VERSION, maxNameAndNamespaceLength, parseKmmVersion, type KmmVersion } from './versions.ts';
export {
  KMM_IMAGE_VARIABLES,
  MAX_KERNEL_MATCH_LENGTH,
  MAX_NAME_AND_NAMESPACE_LENGTH,
  goRegexpProblem,
  type KmmRuleOptions,
  validateImageReference,
  validateKernelMapping,
  validateKernelMappings,
  validateModule,
  validateModuleIdentity,
  validateModuleUpdate,
  validateTolerations,
} from './validation.ts';
export {
  DEFAULT_DIR_NAME,
  buildModule,
  moduleParameter,
  moduleStatusSummary,
  type DevicePluginInput,
  type ModuleInput,
  type ModuleStatusSummary,
  type WorkloadCounts,
} from './module.ts';
export { MODULE_CRD_NAME, moduleCrd } from './crd.ts';
