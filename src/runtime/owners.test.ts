import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deepFreeze, type KubeObject } from './object.ts';
import { ConfigMaps, DaemonSets, defineResource, Namespaces, Nodes } from './resource.ts';
import { AlreadyOwnedError, controllerRef, getControllerOf, isControlledBy, setControllerReference } from './owners.ts';

const Widgets = defineResource({ group: 'example.com', version: 'v1alpha1', kind: 'Widget', plural: 'widgets', namespaced: true });
const ClusterThings = defineResource({ group: 'example.com', version: 'v1', kind: 'ClusterThing', plural: 'clusterthings', namespaced: false });

const owner: KubeObject = deepFreeze({ metadata: { name: 'demo', namespace: 'apps', uid: 'uid-owner' } });
const child = (extra: Partial<KubeObject['metadata']> = {}): KubeObject =>
  deepFreeze({ kind: 'DaemonSet', metadata: { name: 'demo-ds', namespace: 'apps', ...extra } });

void describe('controllerRef', () => {
  void it('points at the owner with controller and blockOwnerDeletion', () => {
    assert.deepEqual(controllerRef(owner, Widgets), {
      apiVersion: 'example.com/v1alpha1', kind: 'Widget', name: 'demo', uid: 'uid-owner', controller: true, blockOwnerDeletion: true,
    });
  });

  void it('uses the bare version for the core group', () => {
    const ns = { metadata: { name: 'apps', uid: 'uid-ns' } };
    assert.equal(controllerRef(ns, Namespaces).apiVersion, 'v1');
  });

  void it('throws for an owner without uid', () => {
    assert.throws(() => controllerRef({ metadata: { name: 'x' } }, Widgets), /has no uid/);
  });
});

void describe('setControllerReference', () => {
  void it('returns a copy with the controller reference and leaves the frozen child alone', () => {
    const input = child();
    const out = setControllerReference(owner, Widgets, input, DaemonSets);
    assert.notEqual(out, input);
    assert.deepEqual(out.metadata.ownerReferences, [controllerRef(owner, Widgets)]);
    assert.equal(input.metadata.ownerReferences, undefined);
  });

  void it('keeps other non-controller references', () => {
    const other = { apiVersion: 'v1', kind: 'ConfigMap', name: 'cfg', uid: 'uid-cfg' };
    const out = setControllerReference(owner, Widgets, child({ ownerReferences: [other] }), DaemonSets);
    assert.deepEqual(out.metadata.ownerReferences, [other, controllerRef(owner, Widgets)]);
  });

  void it('is idempotent when the owner already controls the child', () => {
    const once = setControllerReference(owner, Widgets, child(), DaemonSets);
    const twice = setControllerReference(owner, Widgets, once, DaemonSets);
    assert.deepEqual(twice, once);
  });

  void it('replaces a reference to the same owner name, taking over a recreated owner\'s uid', () => {
    const stale = { apiVersion: 'example.com/v1beta1', kind: 'Widget', name: 'demo', uid: 'uid-old', controller: true };
    const out = setControllerReference(owner, Widgets, child({ ownerReferences: [stale] }), DaemonSets);
    assert.deepEqual(out.metadata.ownerReferences, [controllerRef(owner, Widgets)]);
  });

  void it('throws AlreadyOwnedError when another object is the controller', () => {
    const other = { apiVersion: 'example.com/v1alpha1', kind: 'Widget', name: 'someone-else', uid: 'uid-2', controller: true };
    assert.throws(
      () => setControllerReference(owner, Widgets, child({ ownerReferences: [other] }), DaemonSets),
      (err: unknown) => err instanceof AlreadyOwnedError && err.existing.uid === 'uid-2' && /already owned by another Widget controller someone-else/.test(err.message),
    );
  });

  void it('rejects a child in another namespace', () => {
    assert.throws(() => setControllerReference(owner, Widgets, child({ namespace: 'other' }), DaemonSets), /cross-namespace owner references are disallowed/);
    assert.throws(() => setControllerReference(owner, Widgets, child({ namespace: undefined }), DaemonSets), /cross-namespace/);
  });

  void it('rejects a cluster-scoped child of a namespaced owner', () => {
    const node = deepFreeze({ metadata: { name: 'node-1' } });
    assert.throws(() => setControllerReference(owner, Widgets, node, Nodes), /cluster-scoped Node node-1 must not have a namespace-scoped owner/);
    assert.throws(() => setControllerReference(owner, Widgets, node, { namespaced: false }), /must not have a namespace-scoped owner/);
  });

  void it('lets a cluster-scoped owner control namespaced and cluster-scoped children', () => {
    const clusterOwner = { metadata: { name: 'global', uid: 'uid-global' } };
    const cm = setControllerReference(clusterOwner, ClusterThings, { metadata: { name: 'cfg', namespace: 'any' } }, ConfigMaps);
    assert.equal(getControllerOf(cm)?.uid, 'uid-global');
    const ns = setControllerReference(clusterOwner, ClusterThings, { metadata: { name: 'apps' } }, Namespaces);
    assert.equal(getControllerOf(ns)?.uid, 'uid-global');
  });
});

void describe('getControllerOf and isControlledBy', () => {
  const plain = { apiVersion: 'v1', kind: 'ConfigMap', name: 'cfg', uid: 'uid-cfg' };

  void it('finds only the reference marked controller', () => {
    assert.equal(getControllerOf(child({ ownerReferences: [plain] })), undefined);
    const owned = setControllerReference(owner, Widgets, child({ ownerReferences: [plain] }), DaemonSets);
    assert.equal(getControllerOf(owned)?.name, 'demo');
  });

  void it('compares by uid', () => {
    const owned = setControllerReference(owner, Widgets, child(), DaemonSets);
    assert.equal(isControlledBy(owned, owner), true);
    assert.equal(isControlledBy(owned, { metadata: { name: 'demo', namespace: 'apps', uid: 'uid-recreated' } }), false);
    assert.equal(isControlledBy(owned, { metadata: { name: 'demo', namespace: 'apps' } }), false);
    assert.equal(isControlledBy(child({ ownerReferences: [{ ...plain, uid: 'uid-owner' }] }), owner), false);
  });
});
