// The Ptemplate API: types, resource, CRD, defaulting and validation.
export {
  ConditionType, DEFAULT_CONSUMER_IMAGE, DEFAULT_DEFAULTMSG, DEFAULT_DEVICE_PLUGIN_IMAGE, DEFAULT_DRIVER_IMAGE, DEFAULT_MAXDEV,
  DEFAULT_MODULE_NAME, DEFAULT_REQUIRED_DEVICES, DEVICE_RESOURCE, MAX_DEFAULT_MSG_BYTES, MAX_DEVICES, MAX_MODULE_NAME_LENGTH,
  ModuleState, Ptemplates, conditionSchema, ptemplateSchema, specSchema, statusSchema,
} from './schema.ts';
export type { KernelMapping, Ptemplate, PtemplateCondition, PtemplateSpec, PtemplateSpecInput, PtemplateStatus } from './schema.ts';
export { PTEMPLATE_CRD_NAME, ptemplateCrd } from './crd.ts';
export { withDefaults } from './defaults.ts';
export { CONSUMER_SUFFIX, validatePtemplate } from './validate.ts';
