// The node labels KMM sets once a Module's kernel module (and its device plugin) is ready on a node.
// Consumers must be scheduled on these labels, not merely on the Module's selector: a node can match
// the selector long before the module is loaded, and after it was unloaded.
import type { ObjectMeta } from '../runtime/object.ts';

/** The domain KMM's node labels, worker-pod labels and finalizer live under. */
export const KMM_PREFIX = 'kmm.node.kubernetes.io/';
const PREFIX = KMM_PREFIX;

/** `kmm.node.kubernetes.io/<ns>.<name>.ready`: set (value "") on a node where the module is loaded. */
export function moduleReadyLabel(namespace: string, name: string): string {
  return `${PREFIX}${namespace}.${name}.ready`;
}

/** `kmm.node.kubernetes.io/<ns>.<name>.device-plugin-ready`: set (value "") where KMM's device plugin pod is ready. */
export function devicePluginReadyLabel(namespace: string, name: string): string {
  return `${PREFIX}${namespace}.${name}.device-plugin-ready`;
}

const NODE_LABEL_SUFFIXES = ['.device-plugin-ready', '.version.ready', '.ready'] as const;
const VERSION_LABEL_PREFIX = 'version-module.';

/**
 * The Module a KMM node label is about (`<ns>.<name>.ready`, `.device-plugin-ready`,
 * `.version.ready`, `version-module.<ns>.<name>`), or undefined for any other label. Namespaces
 * are DNS labels (no dots), so the first dot ends the namespace; names may hold dots.
 */
export function moduleOfNodeLabel(label: string): { namespace: string; name: string } | undefined {
  if (!label.startsWith(PREFIX)) return undefined;
  let rest = label.slice(PREFIX.length);
  const suffix = NODE_LABEL_SUFFIXES.find((s) => rest.endsWith(s));
  if (suffix) rest = rest.slice(0, -suffix.length);
  else if (rest.startsWith(VERSION_LABEL_PREFIX)) rest = rest.slice(VERSION_LABEL_PREFIX.length);
  else return undefined;
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) return undefined;
  return { namespace: rest.slice(0, dot), name: rest.slice(dot + 1) };
}

interface Labelled {
  metadata?: Pick<ObjectMeta, 'labels'>;
}

// KMM sets these labels with the empty value, and a nodeSelector built by readyNodeSelector asks for
// exactly that value; the checks below agree with the scheduler.
function hasReadyLabel(node: Labelled, key: string): boolean {
  return node.metadata?.labels?.[key] === '';
}

export function isModuleReadyOn(node: Labelled, namespace: string, name: string): boolean {
  return hasReadyLabel(node, moduleReadyLabel(namespace, name));
}

export function isDevicePluginReadyOn(node: Labelled, namespace: string, name: string): boolean {
  return hasReadyLabel(node, devicePluginReadyLabel(namespace, name));
}

/**
 * The labels a consumer pod's nodeSelector must include so that it only lands where the module is loaded
 * (and, with `devicePlugin`, where KMM's device plugin is ready too). Merge it into the consumer's own selector.
 */
export function readyNodeSelector(namespace: string, name: string, options: { devicePlugin: boolean }): Record<string, string> {
  const selector: Record<string, string> = { [moduleReadyLabel(namespace, name)]: '' };
  if (options.devicePlugin) selector[devicePluginReadyLabel(namespace, name)] = '';
  return selector;
}

// KMM's ordered upgrade (KMM v2.x, internal/utils/kmmlabels.go and internal/constants): a versioned
// Module loads on a node only where the administrator's version-module label equals its version,
// and KMM reports the version it loaded with version.ready.

/** What every version-module label starts with. */
export const MODULE_VERSION_LABEL_PREFIX = `${PREFIX}${VERSION_LABEL_PREFIX}`;

/** `kmm.node.kubernetes.io/version-module.<ns>.<name>`: set by the administrator (here: the operator) to the version a node should run. */
export function moduleVersionLabel(namespace: string, name: string): string {
  return `${MODULE_VERSION_LABEL_PREFIX}${namespace}.${name}`;
}

/** `kmm.node.kubernetes.io/<ns>.<name>.version.ready`: set by KMM to the version loaded on the node. */
export function versionReadyLabel(namespace: string, name: string): string {
  return `${PREFIX}${namespace}.${name}.version.ready`;
}

/** On KMM's worker pods: the Module's name (constants.ModuleNameLabel); the pods live in the Module's namespace. */
export const KMM_MODULE_NAME_LABEL = `${PREFIX}module.name`;
/** On KMM's worker pods: `Load` or `Unload` (internal/pod/workerpodmanager.go). */
export const KMM_WORKER_ACTION_LABEL = `${PREFIX}worker-action`;
