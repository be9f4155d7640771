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
export {
  KMM_IMAGE_VARIABLES,
  MAX_NAME_AND_NAMESPACE_LENGTH,
  goRegexpProblem,
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
