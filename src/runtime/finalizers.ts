// Finalizers with optimistic concurrency. The object usually comes from the cache and may be
// stale; writing its finalizer list back blindly could drop a finalizer someone else added
// meanwhile. So every write is a JSON patch that carries the cached resourceVersion: the API
// server compares the patched object's resourceVersion with the stored one and answers 409,
// which the client maps to ConflictError. The caller requeues and retries on a fresh object.
//
// Why not a JSON-patch `test` op: the API server reports a failed `test` as 422 (the patch
// could not be applied), not 409, so callers could not tell it from a real validation error.
// The patch below always applies (`replace` of an existing field, `add` of a whole member),
// leaving the resourceVersion precondition as the only way a stale object fails.
import type { Client } from './client/client.ts';
import { ignoreNotFound } from './client/errors.ts';
import type { KubeObject } from './object.ts';
import type { ResourceType } from './resource.ts';

export type JsonPatchOperation =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** The only client call these helpers make, so tests can pass a fake. */
export type PatchClient = Pick<Client, 'patch'>;

export function hasFinalizer(obj: KubeObject, name: string): boolean {
  return obj.metadata.finalizers?.includes(name) ?? false;
}

/**
 * A JSON patch that sets `metadata.finalizers` to `finalizers`, guarded by `obj`'s
 * resourceVersion: it fails with 409 Conflict when the object changed since `obj` was read.
 */
export function finalizerPatch(obj: KubeObject, finalizers: readonly string[]): JsonPatchOperation[] {
  const { resourceVersion } = obj.metadata;
  if (!resourceVersion) {
    throw new Error(`${describe(obj)} has no metadata.resourceVersion: finalizers can only be changed on an object read from the API server`);
  }
  return [
    { op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion },
    { op: 'add', path: '/metadata/finalizers', value: [...finalizers] },
  ];
}

/** The patch that adds `name`, or undefined when `obj` already has it. */
export function addFinalizerPatch(obj: KubeObject, name: string): JsonPatchOperation[] | undefined {
  checkName(name);
  if (hasFinalizer(obj, name)) return undefined;
  if (obj.metadata.deletionTimestamp) {
    throw new Error(`cannot add finalizer ${name} to ${describe(obj)}: it is being deleted (the API server forbids new finalizers then)`);
  }
  return finalizerPatch(obj, [...(obj.metadata.finalizers ?? []), name]);
}

/** The patch that removes every occurrence of `name`, or undefined when `obj` does not have it. */
export function removeFinalizerPatch(obj: KubeObject, name: string): JsonPatchOperation[] | undefined {
  checkName(name);
  if (!hasFinalizer(obj, name)) return undefined;
  return finalizerPatch(obj, (obj.metadata.finalizers ?? []).filter((f) => f !== name));
}

/**
 * Adds finalizer `name` and returns the updated object; returns `obj` itself without a request
 * when it already has the finalizer. Throws ConflictError when `obj` is stale.
 */
export async function addFinalizer<T extends KubeObject>(client: PatchClient, rt: ResourceType<T>, obj: T, name: string): Promise<T> {
  const patch = addFinalizerPatch(obj, name);
  if (!patch) return obj;
  return client.patch(rt, keyFor(obj), patch, 'json');
}

/**
 * Removes finalizer `name` and returns the updated object (or the server's last view of it,
 * when this was the last finalizer of an object being deleted); returns `obj` itself without
 * a request when it does not have the finalizer. Throws ConflictError when `obj` is stale and
 * NotFoundError when the object is already gone.
 */
export async function removeFinalizer<T extends KubeObject>(client: PatchClient, rt: ResourceType<T>, obj: T, name: string): Promise<T> {
  const patch = removeFinalizerPatch(obj, name);
  if (!patch) return obj;
  return client.patch(rt, keyFor(obj), patch, 'json');
}

/** What a finalizer-guarded reconcile does with the object in front of it. */
export interface FinalizerHandlers<T extends KubeObject, R> {
  /** The object is live and carries the finalizer (added first when missing): reconcile it. */
  apply(obj: T): Promise<R>;
  /**
   * The object is being deleted and still carries the finalizer: release what it guards. Resolve
   * true once that is done (the finalizer is then removed and the API server may delete the
   * object), false while it is still under way (the finalizer stays; reconcile again later).
   */
  cleanup(obj: T): Promise<boolean>;
}

/** What finalize() did: `applied` with apply's result, `cleaning` (cleanup not done), `finalized` (finalizer removed), `ignored` (deleting without our finalizer). */
export type FinalizeOutcome<R> =
  | { phase: 'applied'; result: R }
  | { phase: 'cleaning' }
  | { phase: 'finalized' }
  | { phase: 'ignored' };

/**
 * The add / clean up / remove flow of a finalizer, in the spirit of kube-rs's `finalizer()` and
 * controller-runtime's Finalizers: a live object gets the finalizer before it is reconciled (so
 * nothing it creates can outlive it unnoticed), a deleted one is cleaned up and then released.
 * An object deleted without our finalizer is left alone (we never added it, or already removed
 * it). Throws ConflictError when `obj` is stale (requeue and retry on a fresh read); an object
 * that vanished while its finalizer was being removed counts as finalized.
 */
export async function finalize<T extends KubeObject, R>(
  client: PatchClient, rt: ResourceType<T>, obj: T, name: string, handlers: FinalizerHandlers<T, R>,
): Promise<FinalizeOutcome<R>> {
  if (obj.metadata.deletionTimestamp) {
    if (!hasFinalizer(obj, name)) return { phase: 'ignored' };
    if (!(await handlers.cleanup(obj))) return { phase: 'cleaning' };
    await ignoreNotFound(removeFinalizer(client, rt, obj, name));
    return { phase: 'finalized' };
  }
  const guarded = await addFinalizer(client, rt, obj, name);
  return { phase: 'applied', result: await handlers.apply(guarded) };
}

function keyFor(obj: KubeObject): { namespace?: string; name: string } {
  const { namespace, name } = obj.metadata;
  if (!name) throw new Error(`${describe(obj)} has no metadata.name`);
  return namespace ? { namespace, name } : { name };
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name === '') throw new Error('finalizer name must be a non-empty string');
}

function describe(obj: KubeObject): string {
  const { namespace, name } = obj.metadata;
  return `${obj.kind ?? 'object'} ${namespace ? `${namespace}/` : ''}${name ?? '(no name)'}`;
}
