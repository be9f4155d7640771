// Owner references with controller-runtime's rules (controllerutil.SetControllerReference):
// one controller per object, no cross-namespace owners, no namespaced owner of a
// cluster-scoped object (the garbage collector would delete such children at once).
import { clone, type KubeObject, type OwnerReference } from './object.ts';
import { apiVersionOf, type ResourceType } from './resource.ts';

/** The child already has a controller other than the owner we tried to set. */
export class AlreadyOwnedError extends Error {
  /** The controller reference the child already carries. */
  readonly existing: OwnerReference;

  constructor(child: KubeObject, existing: OwnerReference) {
    const { namespace, name } = child.metadata;
    const what = `${child.kind ?? 'object'} ${namespace ? `${namespace}/` : ''}${name ?? ''}`;
    super(`${what} is already owned by another ${existing.kind} controller ${existing.name} (uid ${existing.uid})`);
    this.name = 'AlreadyOwnedError';
    this.existing = existing;
  }
}

/** A controller owner reference to `owner`: controller and blockOwnerDeletion set. */
export function controllerRef(owner: KubeObject, ownerType: ResourceType): OwnerReference {
  const { name, uid } = owner.metadata;
  if (!name || !uid) {
    throw new Error(`owner ${ownerType.kind} ${name ?? '(no name)'} has no ${name ? 'uid' : 'name'}: only objects read from the API server can own others`);
  }
  return { apiVersion: apiVersionOf(ownerType), kind: ownerType.kind, name, uid, controller: true, blockOwnerDeletion: true };
}

/** The reference with `controller: true`, if any. */
export function getControllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((ref) => ref.controller === true);
}

/** True when `obj`'s controller reference points at `owner` (compared by uid). */
export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  const uid = owner.metadata.uid;
  return uid !== undefined && uid !== '' && getControllerOf(obj)?.uid === uid;
}

const groupOf = (apiVersion: string) => {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
};

/** Same object as controller-runtime's referSameObject: group (not version), kind and name. */
function refersToSameObject(a: OwnerReference, b: OwnerReference): boolean {
  return groupOf(a.apiVersion) === groupOf(b.apiVersion) && a.kind === b.kind && a.name === b.name;
}

/**
 * Returns a copy of `child` whose controller reference points at `owner`. An existing
 * reference to the same owner (group, kind, name) is replaced, so a recreated owner's new uid
 * is taken over; other non-controller references are kept.
 *
 * Throws AlreadyOwnedError when another object is the child's controller, and an Error when
 * the owner is namespaced and the child is cluster-scoped or lives in another namespace.
 * `child` may be frozen.
 */
export function setControllerReference(
  owner: KubeObject,
  ownerType: ResourceType,
  child: KubeObject,
  childType: ResourceType | { readonly namespaced: boolean },
): KubeObject {
  const ref = controllerRef(owner, ownerType);
  if (ownerType.namespaced) {
    const ownerNamespace = owner.metadata.namespace;
    const childName = `${'kind' in childType ? childType.kind : (child.kind ?? 'object')} ${child.metadata.name ?? '(no name)'}`;
    if (!ownerNamespace) throw new Error(`owner ${ownerType.kind} ${ref.name} is namespaced but has no metadata.namespace`);
    if (!childType.namespaced) {
      throw new Error(`cluster-scoped ${childName} must not have a namespace-scoped owner (${ownerType.kind} ${ownerNamespace}/${ref.name})`);
    }
    const childNamespace = child.metadata.namespace;
    if (childNamespace !== ownerNamespace) {
      throw new Error(`cross-namespace owner references are disallowed: ${childName} in namespace ${childNamespace ?? '(none)'} cannot be owned by ${ownerType.kind} ${ownerNamespace}/${ref.name}`);
    }
  }
  const existing = getControllerOf(child);
  if (existing && !refersToSameObject(existing, ref)) throw new AlreadyOwnedError(child, existing);

  const copy = clone(child);
  const refs = copy.metadata.ownerReferences ?? [];
  const index = refs.findIndex((r) => refersToSameObject(r, ref));
  if (index >= 0) refs[index] = ref;
  else refs.push(ref);
  copy.metadata.ownerReferences = refs;
  return copy;
}
