// Predicates filter events before they reach the queue (controller-runtime's `predicate`).
// Unspecified event kinds pass.
import type { KubeObject } from '../object.ts';

export interface Predicate<T extends KubeObject = KubeObject> {
  create?(obj: T): boolean;
  update?(old: T, obj: T): boolean;
  delete?(obj: T): boolean;
}

/** Passes updates that change metadata.generation (spec changes), plus every create and delete. */
export const generationChanged: Predicate = {
  update: (old, obj) => old.metadata.generation !== obj.metadata.generation,
};

/** Passes updates that change labels. */
export const labelsChanged: Predicate = {
  update: (old, obj) => !shallowEqual(old.metadata.labels, obj.metadata.labels),
};

/** Passes updates that change annotations. */
export const annotationsChanged: Predicate = {
  update: (old, obj) => !shallowEqual(old.metadata.annotations, obj.metadata.annotations),
};

/** Passes updates that start a deletion or change finalizers (not visible in generation for all kinds). */
export const deletionOrFinalizersChanged: Predicate = {
  update: (old, obj) => old.metadata.deletionTimestamp !== obj.metadata.deletionTimestamp ||
    (old.metadata.finalizers ?? []).join(',') !== (obj.metadata.finalizers ?? []).join(','),
};

/** Passes when any of the predicates passes. */
export function or<T extends KubeObject>(...predicates: Predicate<T>[]): Predicate<T> {
  return {
    create: (obj) => predicates.some((p) => p.create?.(obj) ?? true),
    update: (old, obj) => predicates.some((p) => p.update?.(old, obj) ?? true),
    delete: (obj) => predicates.some((p) => p.delete?.(obj) ?? true),
  };
}

/** Passes only the events for which `fn` holds (all event kinds). */
export function matching<T extends KubeObject>(fn: (obj: T) => boolean): Predicate<T> {
  return { create: fn, update: (old, obj) => fn(old) || fn(obj), delete: fn };
}

export function passes<T extends KubeObject>(predicates: readonly Predicate<T>[], event: 'create' | 'delete', obj: T): boolean;
export function passes<T extends KubeObject>(predicates: readonly Predicate<T>[], event: 'update', obj: T, old: T): boolean;
export function passes<T extends KubeObject>(predicates: readonly Predicate<T>[], event: 'create' | 'update' | 'delete', obj: T, old?: T): boolean {
  return predicates.every((p) => {
    if (event === 'update') return p.update?.(old!, obj) ?? true;
    return p[event]?.(obj) ?? true;
  });
}

function shallowEqual(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ak = Object.keys(a ?? {});
  if (ak.length !== Object.keys(b ?? {}).length) return false;
  return ak.every((k) => a![k] === b?.[k]);
}
