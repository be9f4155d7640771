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

/**
 * Which replayed objects may wait behind fresh events (low priority in the queue). A controller that
 * starts, or whose process becomes leader, is handed every cached object at once; without this a
 * new object would wait behind thousands of reconciles that find nothing to do.
 */
export type ReplayPriority<T extends KubeObject = KubeObject> = (obj: T) => 'low' | 'normal';

/** Every replay waits (controller-runtime's default for its priority queue): for children and mapped types. */
export const replaysLow: ReplayPriority = () => 'low';

/**
 * A replayed object waits when its status says its current spec was handled
 * (status.observedGeneration = metadata.generation) and it is not being deleted; anything else
 * (new, edited while no controller ran, deleting) goes first.
 */
export const replaysLowWhenObserved: ReplayPriority = (obj) => {
  const observed = (obj as { status?: { observedGeneration?: unknown } }).status?.observedGeneration;
  return obj.metadata.generation !== undefined && observed === obj.metadata.generation && !obj.metadata.deletionTimestamp ? 'low' : 'normal';
};
