// A ResourceType says where a kind lives in the REST API. We declare the few kinds we use
// instead of running discovery: cheaper at start-up, and the RBAC generator reads the same list.
import type { KubeObject } from './object.ts';

export interface ResourceType<_T extends KubeObject = KubeObject> {
  /** API group, '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** Lower-case plural used in URLs and RBAC rules. */
  readonly plural: string;
  readonly namespaced: boolean;
}

export function defineResource<T extends KubeObject>(rt: ResourceType<T>): ResourceType<T> {
  return Object.freeze({ ...rt });
}

export function apiVersionOf(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** `group/version/plural`: a stable identity for a resource type (cache keys, metrics, logs). */
export function resourceId(rt: ResourceType): string {
  return `${rt.group || 'core'}/${rt.version}/${rt.plural}`;
}

export interface PathParts {
  namespace?: string | undefined;
  name?: string | undefined;
  subresource?: string | undefined;
}

export function resourcePath(rt: ResourceType, parts: PathParts = {}): string {
  const base = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  let path = base;
  if (rt.namespaced && parts.namespace) path += `/namespaces/${encodeURIComponent(parts.namespace)}`;
  path += `/${rt.plural}`;
  if (parts.name) path += `/${encodeURIComponent(parts.name)}`;
  if (parts.subresource) {
    if (!parts.name) throw new Error(`subresource ${parts.subresource} needs a name`);
    path += `/${parts.subresource}`;
  }
  return path;
}

export const Namespaces = defineResource({ group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false });
export const ConfigMaps = defineResource({ group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true });
export const Secrets = defineResource({ group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true });
export const Pods = defineResource({ group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true });
export const Nodes = defineResource({ group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false });
export const ServiceAccounts = defineResource({ group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true });
export const DaemonSets = defineResource({ group: 'apps', version: 'v1', kind: 'DaemonSet', plural: 'daemonsets', namespaced: true });
export const Leases = defineResource({ group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true });
export const Events = defineResource({ group: 'events.k8s.io', version: 'v1', kind: 'Event', plural: 'events', namespaced: true });
export const CustomResourceDefinitions = defineResource({
  group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition', plural: 'customresourcedefinitions', namespaced: false,
});
