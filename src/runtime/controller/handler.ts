// Handlers map a watched object's event to the keys of the objects to reconcile
// (controller-runtime's `handler`). They never do I/O.
import { keyOf, type KubeObject } from '../object.ts';
import type { ResourceType } from '../resource.ts';

/** Returns `namespace/name` keys (or `name` for cluster-scoped parents). */
export type MapFunc<T extends KubeObject = KubeObject> = (obj: T) => readonly string[];

/** The object itself. */
export const enqueueObject: MapFunc = (obj) => [keyOf(obj)];

/** The controller owner of the object, when it is of `ownerType` (same namespace by Kubernetes' rules). */
export function enqueueControllerOwner(ownerType: ResourceType): MapFunc {
  return (obj) => {
    for (const ref of obj.metadata.ownerReferences ?? []) {
      if (!ref.controller || ref.kind !== ownerType.kind) continue;
      const group = ref.apiVersion.includes('/') ? ref.apiVersion.slice(0, ref.apiVersion.indexOf('/')) : '';
      if (group !== ownerType.group) continue;
      return [ownerType.namespaced ? `${obj.metadata.namespace}/${ref.name}` : ref.name];
    }
    return [];
  };
}
