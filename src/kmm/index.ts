// The KMM (Kernel Module Management) layer: Module types and resource, ready labels, the rules
// KMM's webhook enforces, a Module builder, a development CRD, and the workload layer a device
// operator builds on. Knows nothing of any one device. Public as `ptemplate-operator/kmm`.
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
  KMM_PREFIX,
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

// The workload layer: a controller for a device resource that owns one KMM Module plus consumer
// DaemonSets gated on KMM's node labels. A device operator implements DeviceDriver and calls
// addDeviceController.
export { addDeviceController, DEFAULT_MAX_CONCURRENT_RECONCILES, type DeviceController, type DeviceControllerOptions } from './workload/controller.ts';
export type { DeviceDriver, DeviceObject, Observed } from './workload/driver.ts';
export { DeviceReconciler, type DeviceReconcilerDeps } from './workload/reconciler.ts';
export { ConditionType, conditionSchema, deviceStatusSchema, type DeviceCondition, type DeviceStatus } from './workload/status-schema.ts';
export {
  CONSUMER_COMPONENT, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, MODULE_COMPONENT,
  consumerPodSelector, labelValueFor, workloadNames, type WorkloadNames,
} from './workload/names.ts';
export {
  commonLabels, consumerNodeSelector, immutableConsumersChange, immutableModuleChange, ownedConsumers, ownedModule, type DaemonSet,
} from './workload/children.ts';
export { childTransform, nodeTransform, pick, podTransform, secretTransform, type Shape } from './workload/cache-transforms.ts';
export { DeviceMetrics } from './workload/metrics.ts';
