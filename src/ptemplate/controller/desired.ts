// What the children of a Ptemplate should look like: pure functions of the (defaulted) spec.
// They hold only the fields we own, ready for server-side apply.
import { buildModule, moduleParameter } from '../../kmm/module.ts';
import { devicePluginReadyLabel, moduleReadyLabel } from '../../kmm/labels.ts';
import type { Module } from '../../kmm/types.ts';
import { withAppliedHash } from '../../runtime/apply.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { controllerRef } from '../../runtime/owners.ts';
import { DEVICE_RESOURCE, Ptemplates, type Ptemplate, type PtemplateSpec } from '../api/schema.ts';
import {
  APPLIED_HASH_ANNOTATION, commonLabels, CONSUMER_COMPONENT, consumerName, PTEMPLATE_ANNOTATION, PTEMPLATE_UID_LABEL,
} from './names.ts';

/** The DaemonSet fields the operator writes and reads (plain JSON, not client-node's classes). */
export interface DaemonSet extends KubeObject {
  spec?: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    desiredNumberScheduled?: number;
    currentNumberScheduled?: number;
    numberReady?: number;
    numberAvailable?: number;
    updatedNumberScheduled?: number;
  };
}

/** Every kernel: the driver image names its kernel with ${KERNEL_FULL_VERSION}. */
const ANY_KERNEL = '^.+$';

export function desiredModule(pt: Ptemplate, spec: PtemplateSpec): Module {
  const kernelMappings = spec.kernelMappings?.length
    ? spec.kernelMappings.map((m) => ({ ...m }))
    : [{ regexp: ANY_KERNEL, containerImage: spec.driverImage }];
  const module = buildModule({
    name: pt.metadata.name!,
    namespace: pt.metadata.namespace!,
    labels: commonLabels(pt, 'kernel-module'),
    ownerReferences: [controllerRef(pt, Ptemplates)],
    selector: spec.selector,
    moduleName: spec.moduleName,
    parameters: [moduleParameter('max_dev', spec.maxdev), moduleParameter('default_msg', spec.defaultmsg)],
    kernelMappings,
    devicePlugin: { image: spec.deviceplugin },
    ...(spec.imagePullSecret?.name ? { imageRepoSecret: spec.imagePullSecret.name } : {}),
    ...(spec.tolerations?.length ? { tolerations: spec.tolerations } : {}),
  });
  return withAppliedHash(module, APPLIED_HASH_ANNOTATION);
}

/** The spec's selector plus KMM's "module loaded" and "device plugin ready" node labels. */
export function consumerNodeSelector(pt: Ptemplate): Record<string, string> {
  const { namespace, name } = pt.metadata;
  return {
    ...pt.spec.selector,
    [moduleReadyLabel(namespace!, name!)]: '',
    [devicePluginReadyLabel(namespace!, name!)]: '',
  };
}

/**
 * The consumer DaemonSet. Its pods land only where KMM reports the module loaded and the device
 * plugin ready (node labels), and request the devices the plugin advertises, so a consumer never
 * starts on a node without the driver.
 */
export function desiredConsumers(pt: Ptemplate, spec: PtemplateSpec): DaemonSet {
  const namespace = pt.metadata.namespace!;
  const name = pt.metadata.name!;
  const labels = commonLabels(pt, CONSUMER_COMPONENT);
  const devices = String(spec.requiredDevices);
  const podSpec: Record<string, unknown> = {
    nodeSelector: consumerNodeSelector({ ...pt, spec }),
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
  const ds: DaemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: consumerName(pt), namespace, labels, ownerReferences: [controllerRef(pt, Ptemplates)] },
    spec: {
      selector: { matchLabels: { [PTEMPLATE_UID_LABEL]: labels[PTEMPLATE_UID_LABEL]!, 'app.kubernetes.io/component': CONSUMER_COMPONENT } },
      template: {
        metadata: { labels, annotations: { [PTEMPLATE_ANNOTATION]: name } },
        spec: podSpec,
      },
    },
  };
  return withAppliedHash(ds, APPLIED_HASH_ANNOTATION);
}

/**
 * Why the consumers cannot be updated in place, or undefined: a DaemonSet's spec.selector is
 * immutable (an earlier version of the operator, or someone else, may have left another one).
 */
export function immutableConsumersChange(desired: DaemonSet, current: DaemonSet): string | undefined {
  const want = JSON.stringify(stableSelector(desired.spec?.selector));
  const have = JSON.stringify(stableSelector(current.spec?.selector));
  return want === have ? undefined : `spec.selector is immutable and differs (${have} -> ${want})`;
}

/**
 * Why the Module cannot be updated in place, or undefined: KMM's webhook refuses changing
 * spec.moduleLoader.container.version between empty and set.
 */
export function immutableModuleChange(desired: Module, current: Module): string | undefined {
  const want = desired.spec.moduleLoader?.container.version ?? '';
  const have = current.spec.moduleLoader?.container.version ?? '';
  if (!want === !have) return undefined;
  return want ? `KMM refuses to set spec.moduleLoader.container.version on an existing Module (to "${want}")` : `KMM refuses to clear spec.moduleLoader.container.version (was "${have}")`;
}

function stableSelector(selector: unknown): unknown {
  const s = (selector ?? {}) as { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  const labels = Object.fromEntries(Object.entries(s.matchLabels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { matchLabels: labels, matchExpressions: s.matchExpressions ?? [] };
}
