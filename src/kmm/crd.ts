// A CustomResourceDefinition for KMM's Module, for development and test clusters that run no KMM.
// Written from the KMM v1beta1 API for the fields in ./types.ts; KMM's published CRD does not load on
// Kubernetes 1.20 (it carries `default: ""` on object reference names), so this one has no defaults
// at all, no CEL rules, and models loosely (x-kubernetes-preserve-unknown-fields) what it does not need
// to model: env, volume mounts and volumes. Tolerations are typed and pruned, as in KMM's CRD (they reach
// pod specs). Fields outside ./types.ts are pruned.
import { APP_PART_OF_LABEL } from '../runtime/labels.ts';
import type { KubeObject } from '../runtime/object.ts';
import { CustomResourceDefinitions, apiVersionOf } from '../runtime/resource.ts';
import { tolerationSchema, toOpenApi } from '../runtime/schema/index.ts';
import { Modules } from './resource.ts';

export const MODULE_CRD_NAME = `${Modules.plural}.${Modules.group}`;

type Schema = Record<string, unknown>;

const string = (description?: string): Schema => (description ? { type: 'string', description } : { type: 'string' });
const int32 = (description: string): Schema => ({ type: 'integer', format: 'int32', description });
const strings = (extra: Schema = {}): Schema => ({ type: 'array', items: { type: 'string' }, ...extra });
const object = (properties: Record<string, Schema>, required?: string[], description?: string): Schema => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  ...(required ? { required } : {}),
});
/** A list of Kubernetes core objects we pass through without modelling them. */
const opaqueList = (description: string): Schema => ({
  type: 'array',
  description,
  items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
});

const modprobeArgs = (description: string): Schema =>
  object({ load: strings({ minItems: 1 }), unload: strings({ minItems: 1 }) }, undefined, description);

const daemonSetCounts = (description: string): Schema =>
  object({
    nodesMatchingSelectorNumber: int32('number of nodes that match the Module selector'),
    desiredNumber: int32('number of pods that should run'),
    availableNumber: int32('number of pods running and available'),
  }, undefined, description);

function moduleSchema(): Schema {
  const kernelMapping = object({
    regexp: string('Go regular expression matched (unanchored) against node kernel versions; exclusive with literal'),
    literal: string('exact kernel version; exclusive with regexp'),
    containerImage: string('module loader image; may use ${KERNEL_FULL_VERSION} and similar variables; empty means the container default'),
    inTreeModulesToRemove: strings(),
  }, ['containerImage']);

  const moduleLoader = object({
    container: object({
      modprobe: object({
        moduleName: string('kernel module to load; may only be empty when rawArgs is set'),
        parameters: strings(),
        dirName: string('root directory for modules (modprobe -d); KMM defaults it to /opt'),
        firmwarePath: string(),
        args: modprobeArgs('arguments placed before the module name'),
        rawArgs: modprobeArgs('arguments passed to modprobe verbatim'),
        modulesLoadingOrder: strings(),
      }),
      kernelMappings: { type: 'array', minItems: 1, items: kernelMapping },
      containerImage: string('default image for kernel mappings that name none'),
      imagePullPolicy: string(),
      version: string(),
      inTreeModulesToRemove: strings(),
    }, ['kernelMappings', 'modprobe']),
    serviceAccountName: string(),
  }, ['container']);

  const devicePlugin = object({
    container: object({
      image: string(),
      args: strings(),
      env: opaqueList('core/v1 EnvVar list'),
      volumeMounts: opaqueList('core/v1 VolumeMount list'),
      imagePullPolicy: string(),
    }, ['image']),
    volumes: opaqueList('core/v1 Volume list'),
    serviceAccountName: string(),
  }, ['container']);

  const spec = object({
    selector: { type: 'object', additionalProperties: { type: 'string' }, description: 'node labels the module is loaded on' },
    moduleLoader,
    devicePlugin,
    imageRepoSecret: object({ name: string() }),
    tolerations: { type: 'array', description: 'core/v1 Toleration list', items: toOpenApi(tolerationSchema) },
  }, ['selector']);

  const status = object({
    moduleLoader: daemonSetCounts('module loader pods'),
    devicePlugin: daemonSetCounts('device plugin pods'),
  });

  return object({
    apiVersion: string(),
    kind: string(),
    metadata: { type: 'object' },
    spec,
    status,
  }, undefined, 'Module describes how to load a kernel module on nodes with different kernel versions (KMM v1beta1, development schema)');
}

/** The Module CRD for development and test clusters only: on a real cluster, install KMM instead. */
export function moduleCrd(): KubeObject {
  return {
    apiVersion: apiVersionOf(CustomResourceDefinitions),
    kind: CustomResourceDefinitions.kind,
    metadata: {
      name: MODULE_CRD_NAME,
      labels: { [APP_PART_OF_LABEL]: 'ptemplate-operator-dev' },
      annotations: {
        'kubernetes.io/description':
          'Development and test clusters only: a stand-in for the CRD Kernel Module Management (KMM) installs. ' +
          'Do not apply it to a cluster that runs, or will run, KMM.',
      },
    },
    spec: {
      group: Modules.group,
      names: { kind: Modules.kind, listKind: `${Modules.kind}List`, plural: Modules.plural, singular: Modules.kind.toLowerCase() },
      scope: Modules.namespaced ? 'Namespaced' : 'Cluster',
      versions: [{
        name: Modules.version,
        served: true,
        storage: true,
        schema: { openAPIV3Schema: moduleSchema() },
        subresources: { status: {} },
      }],
    },
  };
}
