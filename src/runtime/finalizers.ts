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
