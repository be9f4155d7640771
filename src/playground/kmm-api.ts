// The simulated KMM's own view of KMM: the Module fields it reads, the names KMM puts on nodes and
// worker pods, written from KMM v2.6.0's source (internal/constants, internal/utils/kmmlabels.go,
// internal/pod/workerpodmanager.go) and not imported from src/kmm, so that a misunderstanding of
// KMM in the operator cannot pass in the simulator too (issue 10).
import type { KubeObject } from '../runtime/object.ts';
import { defineResource } from '../runtime/resource.ts';

export interface SimToleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

export interface SimKernelMapping {
  regexp?: string;
  literal?: string;
  containerImage?: string;
}

/** The part of a kmm.sigs.x-k8s.io/v1beta1 Module the simulated KMM reads. */
export interface SimModule extends KubeObject {
  spec: {
    selector?: Record<string, string>;
    tolerations?: SimToleration[];
    moduleLoader?: {
      container: {
        containerImage?: string;
        version?: string;
        kernelMappings: SimKernelMapping[];
        modprobe: { moduleName?: string; parameters?: string[]; dirName?: string; [field: string]: unknown };
        [field: string]: unknown;
      };
      [field: string]: unknown;
    };
    devicePlugin?: Record<string, unknown>;
    [field: string]: unknown;
  };
  status?: SimModuleStatus;
}

export interface SimCounts {
  nodesMatchingSelectorNumber?: number;
  desiredNumber?: number;
  availableNumber?: number;
}

export interface SimModuleStatus {
  moduleLoader?: SimCounts;
  devicePlugin?: SimCounts;
  [field: string]: unknown;
}

export const SimModules = defineResource<SimModule>({
  group: 'kmm.sigs.x-k8s.io', version: 'v1beta1', kind: 'Module', plural: 'modules', namespaced: true,
});

/** KMM's finalizer on a Module, held until no node has the module loaded (constants.ModuleFinalizer). */
export const KMM_MODULE_FINALIZER = 'kmm.node.kubernetes.io/module-finalizer';

const NODE_PREFIX = 'kmm.node.kubernetes.io/';

/** `kmm.node.kubernetes.io/<ns>.<name>.ready=""`: set when the module's loaded config equals its desired one. */
export const kmmReadyLabel = (ns: string, name: string) => `${NODE_PREFIX}${ns}.${name}.ready`;
/** `...<ns>.<name>.version.ready=<version>`: set together with the ready label when the loaded module has a version. */
export const kmmVersionReadyLabel = (ns: string, name: string) => `${NODE_PREFIX}${ns}.${name}.version.ready`;
/** `...<ns>.<name>.device-plugin-ready=""`: set while KMM's device plugin pod on the node is Ready. */
export const kmmDevicePluginReadyLabel = (ns: string, name: string) => `${NODE_PREFIX}${ns}.${name}.device-plugin-ready`;

/** Set by the administrator (or an operator): which version of the Module this node should run. */
export const KMM_MODULE_VERSION_PREFIX = 'kmm.node.kubernetes.io/version-module';
/** KMM-internal: the version the worker pods should load on this node. */
export const KMM_WORKER_POD_VERSION_PREFIX = 'beta.kmm.node.kubernetes.io/version-worker-pod';
/** KMM-internal: the version whose device plugin DaemonSet may run on this node. */
export const KMM_DEVICE_PLUGIN_VERSION_PREFIX = 'beta.kmm.node.kubernetes.io/version-device-plugin';

export const kmmModuleVersionLabel = (ns: string, name: string) => `${KMM_MODULE_VERSION_PREFIX}.${ns}.${name}`;
export const kmmWorkerPodVersionLabel = (ns: string, name: string) => `${KMM_WORKER_POD_VERSION_PREFIX}.${ns}.${name}`;
export const kmmDevicePluginVersionLabel = (ns: string, name: string) => `${KMM_DEVICE_PLUGIN_VERSION_PREFIX}.${ns}.${name}`;

/** Worker pods: `kmm-worker-<node>-<module name>` in the Module's namespace, bound to the node, restartPolicy OnFailure. */
export const kmmWorkerPodName = (nodeName: string, moduleName: string) => `kmm-worker-${nodeName}-${moduleName}`;
/** Label on worker pods (and device plugin pods): the Module's name. */
export const KMM_MODULE_NAME_LABEL = 'kmm.node.kubernetes.io/module.name';
/** Label on worker pods: `Load` or `Unload`. */
export const KMM_WORKER_ACTION_LABEL = 'kmm.node.kubernetes.io/worker-action';
export const KMM_WORKER_ACTION_LOAD = 'Load';
export const KMM_WORKER_ACTION_UNLOAD = 'Unload';
/** Annotation on worker pods: the module config the worker applies (KMM writes YAML; JSON is YAML too). */
export const KMM_WORKER_CONFIG_ANNOTATION = 'kmm.node.kubernetes.io/worker-config';
/** Annotation on loader pods: the Module's version, when it has one. */
export const KMM_WORKER_VERSION_ANNOTATION = 'kmm.node.kubernetes.io/worker-module-version';
/** Annotation on worker pods: a hash of the pod template; KMM replaces a restarted pod whose hash is outdated. */
export const KMM_WORKER_HASH_ANNOTATION = 'kmm.node.kubernetes.io/worker-hash';
export const KMM_WORKER_CONTAINER = 'worker';

/**
 * The Module a ready / version-ready / device-plugin-ready label belongs to. KMM's own pattern:
 * namespace `[a-zA-Z0-9-]+`, name `[a-zA-Z0-9-.]+` (so names may hold dots).
 */
export function kmmModuleOfNodeLabel(label: string): { namespace: string; name: string } | undefined {
  const match = /^kmm\.node\.kubernetes\.io\/([a-zA-Z0-9-]+)\.([a-zA-Z0-9-.]+?)\.(ready|version\.ready|device-plugin-ready)$/.exec(label);
  return match ? { namespace: match[1]!, name: match[2]! } : undefined;
}

/**
 * The Module a version label belongs to. KMM takes the last two dot-separated parts, so a Module
 * whose name holds a dot is misread by KMM too.
 */
export function kmmModuleOfVersionLabel(label: string): { namespace: string; name: string } | undefined {
  const prefix = [KMM_MODULE_VERSION_PREFIX, KMM_WORKER_POD_VERSION_PREFIX, KMM_DEVICE_PLUGIN_VERSION_PREFIX].find((p) => label.startsWith(p));
  if (!prefix) return undefined;
  const parts = label.split('.');
  if (parts.length < 2) return undefined;
  return { namespace: parts[parts.length - 2]!, name: parts[parts.length - 1]! };
}
