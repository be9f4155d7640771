// The Ptemplate device driver: everything the KMM workload layer (src/kmm/workload) needs to know
// about Ptemplate — its resource, defaults and validation, and the Module and consumers a spec
// asks for. The layer does the rest (apply, ordered unload, conditions, events, metrics).
import { buildModule, moduleParameter } from '../kmm/module.ts';
import type { Module } from '../kmm/types.ts';
import { ownedConsumers, ownedModule, consumerNodeSelector, type DaemonSet } from '../kmm/workload/children.ts';
import type { DeviceDriver } from '../kmm/workload/driver.ts';
import { upgradeStepKey } from '../kmm/workload/names.ts';
import { CONSUMERS_OFF_STEPS } from '../kmm/workload/upgrade.ts';
import { withDefaults } from './api/defaults.ts';
import { DEVICE_RESOURCE, ModuleState, Ptemplates, type Ptemplate, type PtemplateSpec } from './api/schema.ts';
import { validatePtemplate } from './api/validate.ts';
import { consumerName, NAMES } from './names.ts';

/** Every kernel: the driver image names its kernel with ${KERNEL_FULL_VERSION}. */
const ANY_KERNEL = '^.+$';

export const ptemplateDriver: DeviceDriver<Ptemplate> = {
  resource: Ptemplates,
  withDefaults: (spec) => withDefaults(spec),
  validate: validatePtemplate,
  selector: (spec) => spec.selector,
  unloaded: (spec) => spec.moduleState === ModuleState.Unloaded,
  version: (spec) => spec.version,
  upgradePolicy: (spec) => spec.upgradePolicy,
  pullSecret: (spec) => (spec.imagePullSecret?.name ? { name: spec.imagePullSecret.name, field: 'spec.imagePullSecret.name' } : undefined),

  module(pt: Ptemplate, spec: PtemplateSpec): Module {
    const kernelMappings = spec.kernelMappings?.length
      ? spec.kernelMappings.map((m) => ({ ...m }))
      : [{ regexp: ANY_KERNEL, containerImage: spec.driverImage }];
    return buildModule({
      name: pt.metadata.name!,
      namespace: pt.metadata.namespace!,
      selector: spec.selector,
      moduleName: spec.moduleName,
      parameters: [moduleParameter('max_dev', spec.maxdev), moduleParameter('default_msg', spec.defaultmsg)],
      kernelMappings,
      devicePlugin: { image: spec.deviceplugin },
      ...(spec.imagePullSecret?.name ? { imageRepoSecret: spec.imagePullSecret.name } : {}),
      ...(spec.tolerations?.length ? { tolerations: spec.tolerations } : {}),
    });
  },

  /**
   * The consumer pods: each requests the devices the plugin advertises and runs without privileges
   * or host mounts (the device plugin hands out the device files).
   */
  consumers(pt: Ptemplate, spec: PtemplateSpec): DaemonSet {
    const devices = String(spec.requiredDevices);
    const podSpec: Record<string, unknown> = {
      nodeSelector: spec.selector,
      containers: [{
        name: 'consumer',
        image: spec.consumer,
        // Quantities as strings: Kubernetes 1.20's server-side apply rejects numbers here.
        resources: { requests: { [DEVICE_RESOURCE]: devices }, limits: { [DEVICE_RESOURCE]: devices } },
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
      }],
    };
    if (spec.imagePullSecret?.name) podSpec.imagePullSecrets = [{ name: spec.imagePullSecret.name }];
    if (spec.tolerations?.length) podSpec.tolerations = spec.tolerations;
    return { metadata: { name: consumerName(pt) }, spec: { template: { spec: podSpec } } };
  },
};

/** The Module exactly as the operator applies it (owner reference, labels, applied hash). */
export function desiredModule(pt: Ptemplate, spec: PtemplateSpec = withDefaults(pt.spec)): Module {
  return ownedModule(pt, Ptemplates, ptemplateDriver.module(pt, spec), NAMES, spec.version);
}

/** The consumer DaemonSet exactly as the operator applies it (gated on KMM's node labels). */
export function desiredConsumers(pt: Ptemplate, spec: PtemplateSpec = withDefaults(pt.spec)): DaemonSet {
  const gate = consumerNodeSelector(pt, spec.selector, true);
  const exclusion = spec.version ? { key: upgradeStepKey(NAMES, pt.metadata.namespace!, pt.metadata.name!), values: CONSUMERS_OFF_STEPS } : undefined;
  return ownedConsumers(pt, Ptemplates, ptemplateDriver.consumers!(pt, spec)!, NAMES, gate, exclusion);
}

export type { DaemonSet };
