// The Ptemplate API (pt.example.com/v1alpha1): one schema declaration from which the TypeScript
// types, the CRD's openAPIV3Schema, defaulting and the schema part of validation all derive.
// Field names are those of the original Go operator, so existing manifests keep working.
import type { KubeObject } from '../../runtime/object.ts';
import { defineResource } from '../../runtime/resource.ts';
import { KERNEL_MODULE_NAME_PATTERN, MAX_KERNEL_MODULE_NAME_LENGTH } from '../../kmm/modprobe-rules.ts';
import { MAX_IMAGE_REFERENCE_LENGTH } from '../../kmm/image-reference.ts';
import { MAX_KERNEL_MATCH_LENGTH } from '../../kmm/validation.ts';
import { deviceStatusSchema, type DeviceCondition, type DeviceStatus } from '../../kmm/workload/status-schema.ts';
import { upgradePolicySchema, versionSchema } from '../../kmm/workload/upgrade-schema.ts';
import { s, tolerationSchema, type Infer, type InferInput } from '../../runtime/schema/index.ts';

export { ConditionType, conditionSchema } from '../../kmm/workload/status-schema.ts';

/** The driver's device array holds this many entries; a larger `max_dev` corrupts kernel memory. */
export const MAX_DEVICES = 5;
/** The driver truncates `default_msg` to this many bytes. */
export const MAX_DEFAULT_MSG_BYTES = 100;
/** Longest kernel module name accepted (the kernel's MODULE_NAME_LEN on 64-bit machines). */
export const MAX_MODULE_NAME_LENGTH = MAX_KERNEL_MODULE_NAME_LENGTH;
/** The extended resource the device plugin advertises, one unit per `/dev/ptemplate-N`. */
export const DEVICE_RESOURCE = 'example.com/ptemplate';

export const DEFAULT_MAXDEV = 5;
export const DEFAULT_DEFAULTMSG = 'ptemplate';
export const DEFAULT_DEVICE_PLUGIN_IMAGE = 'quay.io/chrisp262/pt-device-plugin:plugin-latest';
export const DEFAULT_CONSUMER_IMAGE = 'quay.io/chrisp262/pt-device-plugin:consumer-latest';
export const DEFAULT_REQUIRED_DEVICES = 1;
export const DEFAULT_MODULE_NAME = 'ptemplate_char_dev';
export const DEFAULT_DRIVER_IMAGE = 'quay.io/chrisp262/pt-char-dev:${KERNEL_FULL_VERSION}-sb';

export const ModuleState = { Loaded: 'Loaded', Unloaded: 'Unloaded' } as const;
export type ModuleState = (typeof ModuleState)[keyof typeof ModuleState];

// Printable ASCII (space to '~') without the double quote: the kernel's parameter parser cannot pass '"' through.
const DEFAULT_MSG_PATTERN = '^[ !#-~]*$';
// Not starting with '-': modprobe would read the name as an option.
const MODULE_NAME_PATTERN = KERNEL_MODULE_NAME_PATTERN;

const kernelMappingSchema = s.object({
  regexp: s.string({
    maxLength: MAX_KERNEL_MATCH_LENGTH,
    description: 'A Go regular expression matched against the node\'s full kernel version (`uname -r`). It is not anchored: write ^...$ to match a whole version. Set exactly one of regexp and literal.',
  }).optional(),
  literal: s.string({
    maxLength: MAX_KERNEL_MATCH_LENGTH,
    description: 'An exact kernel version (`uname -r`) this mapping applies to. Set exactly one of regexp and literal.',
  }).optional(),
  containerImage: s.string({
    minLength: 1,
    maxLength: MAX_IMAGE_REFERENCE_LENGTH,
    description: 'The image holding the kernel module for the matching kernels. It needs a tag or a digest and may use ${KERNEL_FULL_VERSION}, ${KERNEL_XYZ}, ${KERNEL_X}, ${KERNEL_Y}, ${KERNEL_Z}, ${MOD_NAME} and ${MOD_NAMESPACE}, which KMM substitutes per node.',
  }),
}, { description: 'Which image loads the kernel module on which kernels.' });

export const specSchema = s.object({
  selector: s.map(s.string(), {
    description: 'Node labels that select the nodes where the kernel module is loaded and the consumers run, e.g. {"kubernetes.io/hostname": "worker-0"}. An empty map selects every node.',
  }),
  maxdev: s.integer({
    minimum: 1,
    maximum: MAX_DEVICES,
    default: DEFAULT_MAXDEV,
    description: `Number of character devices (/dev/ptemplate-0 ...) the kernel module creates on each node: its max_dev parameter. The device plugin advertises one ${DEVICE_RESOURCE} unit per device. 1 to ${MAX_DEVICES}: the driver holds ${MAX_DEVICES} devices.`,
  }),
  defaultmsg: s.string({
    maxLength: MAX_DEFAULT_MSG_BYTES,
    pattern: DEFAULT_MSG_PATTERN,
    default: DEFAULT_DEFAULTMSG,
    description: `The message each device returns until something is written to it: the kernel module's default_msg parameter. Printable ASCII without double quotes, at most ${MAX_DEFAULT_MSG_BYTES} bytes.`,
  }),
  deviceplugin: s.string({
    minLength: 1,
    maxLength: MAX_IMAGE_REFERENCE_LENGTH,
    default: DEFAULT_DEVICE_PLUGIN_IMAGE,
    description: `Image of the device plugin that KMM runs on nodes where the module is loaded; it advertises ${DEVICE_RESOURCE}. Needs a tag or a digest.`,
  }),
  consumer: s.string({
    minLength: 1,
    maxLength: MAX_IMAGE_REFERENCE_LENGTH,
    default: DEFAULT_CONSUMER_IMAGE,
    description: 'Image of the consumer pods the operator runs on every node where the module and the device plugin are ready. Needs a tag or a digest.',
  }),
  requiredDevices: s.integer({
    minimum: 1,
    maximum: MAX_DEVICES,
    default: DEFAULT_REQUIRED_DEVICES,
    description: `How many ${DEVICE_RESOURCE} units each consumer pod requests. 1 to ${MAX_DEVICES}, and at most maxdev: a node never has more.`,
  }),
  imagePullSecret: s.object({
    name: s.string({ minLength: 1, maxLength: 253, description: 'Name of a Secret in this namespace.' }),
  }, {
    description: 'A pull secret (in this namespace) for the driver, device plugin and consumer images. Leave it out for public images.',
  }).optional(),
  moduleState: s.string({
    enum: [ModuleState.Loaded, ModuleState.Unloaded],
    default: ModuleState.Loaded,
    description: 'Loaded: load the kernel module on the selected nodes and run the consumers. Unloaded: stop the consumers and unload the module, keeping this object.',
  }),
  moduleName: s.string({
    maxLength: MAX_MODULE_NAME_LENGTH,
    pattern: MODULE_NAME_PATTERN,
    default: DEFAULT_MODULE_NAME,
    description: `Name of the kernel module modprobe loads from the driver image. Letters, digits, "_" and "-", not starting with "-", at most ${MAX_MODULE_NAME_LENGTH} characters.`,
  }),
  driverImage: s.string({
    minLength: 1,
    maxLength: MAX_IMAGE_REFERENCE_LENGTH,
    default: DEFAULT_DRIVER_IMAGE,
    description: 'Image holding the kernel module, used for every kernel no kernelMappings entry matches. Needs a tag or a digest and may use ${KERNEL_FULL_VERSION} and the other KMM variables, substituted per node.',
  }),
  kernelMappings: s.array(kernelMappingSchema, {
    description: 'Images for particular kernels, tried in order before driverImage; the first match wins.',
  }).optional(),
  tolerations: s.array(tolerationSchema, {
    description: 'Tolerations for the kernel module loader, device plugin and consumer pods, so they run on tainted nodes. Tolerate node.kubernetes.io/unschedulable to keep the module loaded on cordoned nodes.',
  }).optional(),
  // Driver upgrades (the KMM workload layer's fields): see "Upgrading the driver" in the README.
  version: versionSchema.optional(),
  upgradePolicy: upgradePolicySchema.optional(),
}, { description: 'The desired state: where to load the ptemplate kernel module, with which parameters, and which consumers to run.' });

/** The status the KMM workload layer writes (conditions, KMM's counts, the consumer pods). */
export const statusSchema = deviceStatusSchema;

/** The object schema without apiVersion, kind and metadata (crd() adds those). */
export const ptemplateSchema = s.object({
  spec: specSchema,
  status: statusSchema.optional(),
}, { description: 'Ptemplate loads the ptemplate kernel module on selected nodes through KMM and runs pods that use its devices.' });

/** A spec after defaulting: what the API server returns. */
export type PtemplateSpec = Infer<typeof specSchema>;
/** A spec as a user may write it: defaulted fields may be left out. */
export type PtemplateSpecInput = InferInput<typeof specSchema>;
export type PtemplateStatus = DeviceStatus;
export type PtemplateCondition = DeviceCondition;
export type KernelMapping = Infer<typeof kernelMappingSchema>;

export interface Ptemplate extends KubeObject {
  spec: PtemplateSpec;
  status?: PtemplateStatus;
}

export const Ptemplates = defineResource<Ptemplate>({
  group: 'pt.example.com',
  version: 'v1alpha1',
  kind: 'Ptemplate',
  plural: 'ptemplates',
  namespaced: true,
});
