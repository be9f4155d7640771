// Gizmo: a second, minimal device operator built on the KMM workload layer (src/kmm/workload),
// to prove that a vendor writes only what is its device's own. A `Gizmo` (gz.example.com/v1)
// loads the `gizmo_drv` kernel module with `channels=<n>` on the selected nodes; its device plugin
// advertises `example.com/gizmo`, one unit per channel; its consumers each ask for `perConsumer`.
// The layer does the rest: apply, gating on KMM's labels, ordered unload, conditions, events.
// README "Build your own device operator" walks through this file.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { buildModule, moduleParameter } from '../../src/kmm/module.ts';
import { validateImageReference, validateModuleIdentity } from '../../src/kmm/validation.ts';
import { addDeviceController, type DeviceController } from '../../src/kmm/workload/controller.ts';
import type { DeviceDriver, DeviceObject } from '../../src/kmm/workload/driver.ts';
import { deviceStatusSchema } from '../../src/kmm/workload/status-schema.ts';
import { EventRecorder } from '../../src/runtime/events.ts';
import type { FieldError } from '../../src/runtime/field-error.ts';
import { Manager } from '../../src/runtime/manager/manager.ts';
import { defineResource } from '../../src/runtime/resource.ts';
import { applyDefaults, crd, s, validateAgainst, type CustomResourceDefinition, type Infer } from '../../src/runtime/schema/index.ts';

// 1. The API: one schema gives the types, the CRD (with defaults and bounds) and validation.
export const GIZMO_RESOURCE = 'example.com/gizmo';
const specSchema = s.object({
  selector: s.map(s.string(), { description: 'Nodes that have a gizmo card.' }),
  channels: s.integer({ minimum: 1, maximum: 8, default: 2, description: 'Channels the driver opens: its channels parameter.' }),
  perConsumer: s.integer({ minimum: 1, maximum: 8, default: 1, description: `${GIZMO_RESOURCE} units each consumer pod asks for.` }),
  driverImage: s.string({ minLength: 1, default: 'registry.example.com/gizmo-drv:${KERNEL_FULL_VERSION}', description: 'Kernel module image.' }),
  pluginImage: s.string({ minLength: 1, default: 'registry.example.com/gizmo-plugin:1.0', description: 'Device plugin image.' }),
  consumerImage: s.string({ minLength: 1, default: 'registry.example.com/gizmo-app:1.0', description: 'Consumer image.' }),
  enabled: s.boolean({ default: true, description: 'false unloads the module and stops the consumers, keeping this object.' }),
}, { description: 'Where to load the gizmo driver and what to run on it.' });
const gizmoSchema = s.object({ spec: specSchema, status: deviceStatusSchema.optional() }, { description: 'A gizmo card driver and its consumers.' });

export type GizmoSpec = Infer<typeof specSchema>;
export type Gizmo = DeviceObject<GizmoSpec>;
export const Gizmos = defineResource<Gizmo>({ group: 'gz.example.com', version: 'v1', kind: 'Gizmo', plural: 'gizmos', namespaced: true });

export function gizmoCrd(): CustomResourceDefinition {
  return crd({
    group: Gizmos.group, kind: Gizmos.kind, plural: Gizmos.plural, singular: 'gizmo', scope: 'Namespaced',
    versions: [{ name: Gizmos.version, served: true, storage: true, schema: gizmoSchema, subresources: { status: true } }],
  });
}

// 2. The driver: validation beyond the schema, and the Module and consumers a spec asks for.
function validateGizmo(gizmo: Gizmo): FieldError[] {
  const errors = validateAgainst(specSchema, gizmo.spec, 'spec');
  if (errors.length > 0) return errors;
  const spec = applyDefaults(specSchema, gizmo.spec);
  errors.push(...validateModuleIdentity(gizmo.metadata.namespace!, gizmo.metadata.name!, 'metadata.name'));
  for (const field of ['driverImage', 'pluginImage', 'consumerImage'] as const) errors.push(...validateImageReference(spec[field], `spec.${field}`));
  if (spec.perConsumer > spec.channels) errors.push({ field: 'spec.perConsumer', message: `must be at most spec.channels (${spec.channels}): no node has more` });
  return errors;
}

export const gizmoDriver: DeviceDriver<Gizmo> = {
  resource: Gizmos,
  names: { fieldManager: 'gizmo-operator' },
  withDefaults: (spec) => applyDefaults(specSchema, spec),
  validate: validateGizmo,
  selector: (spec) => spec.selector,
  unloaded: (spec) => !spec.enabled,
  module: (gizmo, spec) => buildModule({
    name: gizmo.metadata.name!, namespace: gizmo.metadata.namespace!, selector: spec.selector,
    moduleName: 'gizmo_drv', parameters: [moduleParameter('channels', spec.channels)],
    kernelMappings: [{ regexp: '^.+$', containerImage: spec.driverImage }],
    devicePlugin: { image: spec.pluginImage },
  }),
  consumers: (gizmo, spec) => ({
    metadata: { name: `${gizmo.metadata.name}-app` },
    spec: {
      template: {
        spec: {
          containers: [{
            name: 'app', image: spec.consumerImage,
            resources: { limits: { [GIZMO_RESOURCE]: String(spec.perConsumer) }, requests: { [GIZMO_RESOURCE]: String(spec.perConsumer) } },
          }],
        },
      },
    },
  }),
};

// 3. The operator: a manager, an event recorder and the layer's controller.
export interface GizmoOperator {
  manager: Manager;
  recorder: EventRecorder;
  device: DeviceController;
}

export function createGizmoOperator(options: { kubeConfig: KubeConfig; log?: Logger; registry?: Registry }): GizmoOperator {
  const manager = new Manager({ ...options, fieldManager: 'gizmo-operator' });
  const recorder = new EventRecorder({ client: manager.client, controller: 'gz.example.com/gizmo-operator', instance: 'test' });
  const device = addDeviceController(manager, gizmoDriver, { recorder });
  return { manager, recorder, device };
}
