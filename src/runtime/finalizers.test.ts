import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, NotFoundError, ignoreNotFound, isConflict } from './client/errors.ts';
import { clone, deepFreeze, type KubeObject, type ObjectKey } from './object.ts';
import { ConfigMaps, Namespaces, type ResourceType } from './resource.ts';
import {
  addFinalizer, addFinalizerPatch, finalize, finalizerPatch, hasFinalizer, removeFinalizer, removeFinalizerPatch,
  type JsonPatchOperation, type PatchClient,
} from './finalizers.ts';

const F = 'example.com/cleanup';

const cm = (finalizers?: string[], extra: Partial<KubeObject['metadata']> = {}): KubeObject =>
  deepFreeze({ kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'apps', resourceVersion: '10', ...(finalizers ? { finalizers } : {}), ...extra } });

/**
 * Stands in for the API server's handling of a JSON patch on metadata: applies add/replace ops
 * to the stored object, then refuses a patched resourceVersion that differs from the stored
 * one with 409 (what the registry's optimistic-concurrency check does).
 */
class FakeServer implements PatchClient {
  stored: KubeObject;
  readonly calls: { rt: ResourceType; key: ObjectKey; patch: unknown; type: string }[] = [];

  constructor(stored: KubeObject) {
    this.stored = clone(stored);
  }

  async patch<T extends KubeObject>(rt: ResourceType<T>, key: ObjectKey, patch: unknown, type: 'merge' | 'json' | 'strategic'): Promise<T> {
    this.calls.push({ rt, key, patch, type });
    const next = clone(this.stored);
    for (const op of patch as JsonPatchOperation[]) {
      const field = op.path.replace(/^\/metadata\//, '') as keyof KubeObject['metadata'];
      assert.ok(op.op === 'add' || op.op === 'replace', `unexpected op ${op.op}`);
      if (op.op === 'replace') assert.ok(field in next.metadata, `replace of missing ${op.path} would fail with 422`);
      (next.metadata as Record<string, unknown>)[field] = op.value;
    }
    if (next.metadata.resourceVersion !== this.stored.metadata.resourceVersion) {
      throw new ConflictError(409, { reason: 'Conflict', message: 'the object has been modified' }, 'PATCH', `/api/v1/namespaces/${key.namespace}/configmaps/${key.name}`);
    }
    next.metadata.resourceVersion = String(Number(next.metadata.resourceVersion) + 1);
    this.stored = next;
    return clone(next) as T;
  }
}

void describe('hasFinalizer', () => {
  void it('checks the finalizer list', () => {
    assert.equal(hasFinalizer(cm([F]), F), true);
    assert.equal(hasFinalizer(cm(['other']), F), false);
    assert.equal(hasFinalizer(cm(), F), false);
  });
});

void describe('finalizer patches', () => {
  void it('guard the whole new list with the object\'s resourceVersion', () => {
    assert.deepEqual(finalizerPatch(cm(['a']), ['a', F]), [
      { op: 'replace', path: '/metadata/resourceVersion', value: '10' },
      { op: 'add', path: '/metadata/finalizers', value: ['a', F] },
    ]);
  });

  void it('add appends after existing finalizers', () => {
    assert.deepEqual(addFinalizerPatch(cm(['a']), F)?.[1], { op: 'add', path: '/metadata/finalizers', value: ['a', F] });
    assert.deepEqual(addFinalizerPatch(cm(), F)?.[1], { op: 'add', path: '/metadata/finalizers', value: [F] });
  });

  void it('remove drops every occurrence and keeps the others in order', () => {
    assert.deepEqual(removeFinalizerPatch(cm(['a', F, 'b', F]), F)?.[1], { op: 'add', path: '/metadata/finalizers', value: ['a', 'b'] });
    assert.deepEqual(removeFinalizerPatch(cm([F]), F)?.[1], { op: 'add', path: '/metadata/finalizers', value: [] });
  });

  void it('are undefined when nothing changes', () => {
    assert.equal(addFinalizerPatch(cm([F]), F), undefined);
    assert.equal(removeFinalizerPatch(cm(['a']), F), undefined);
    assert.equal(removeFinalizerPatch(cm(), F), undefined);
  });

  void it('refuse an object without resourceVersion', () => {
    assert.throws(() => addFinalizerPatch(cm([], { resourceVersion: undefined }), F), /no metadata.resourceVersion/);
  });

  void it('refuse to add a finalizer to an object being deleted', () => {
    assert.throws(() => addFinalizerPatch(cm([], { deletionTimestamp: '2026-01-01T00:00:00Z' }), F), /being deleted/);
    assert.ok(removeFinalizerPatch(cm([F], { deletionTimestamp: '2026-01-01T00:00:00Z' }), F));
  });

  void it('refuse an empty finalizer name', () => {
    assert.throws(() => addFinalizerPatch(cm(), ''), /non-empty/);
  });
});

void describe('addFinalizer', () => {
  void it('sends one JSON patch and returns the updated object', async () => {
    const server = new FakeServer(cm(['a']));
    const out = await addFinalizer(server, ConfigMaps, cm(['a']), F);
    assert.deepEqual(out.metadata.finalizers, ['a', F]);
    assert.equal(out.metadata.resourceVersion, '11');
    assert.equal(server.calls.length, 1);
    assert.equal(server.calls[0]?.type, 'json');
    assert.deepEqual(server.calls[0]?.key, { namespace: 'apps', name: 'cfg' });
    assert.equal(server.calls[0]?.rt, ConfigMaps);
  });

  void it('sends nothing when the finalizer is already there', async () => {
    const server = new FakeServer(cm([F]));
    const input = cm([F]);
    assert.equal(await addFinalizer(server, ConfigMaps, input, F), input);
    assert.equal(server.calls.length, 0);
  });

  void it('fails with ConflictError on a stale object instead of dropping a finalizer added meanwhile', async () => {
    const server = new FakeServer(cm(['someone-else'], { resourceVersion: '11' }));
    await assert.rejects(addFinalizer(server, ConfigMaps, cm([]), F), isConflict);
    assert.deepEqual(server.stored.metadata.finalizers, ['someone-else']);
  });

  void it('addresses cluster-scoped objects without a namespace', async () => {
    const ns = deepFreeze({ kind: 'Namespace', metadata: { name: 'apps', resourceVersion: '10' } });
    const server = new FakeServer(ns);
    await addFinalizer(server, Namespaces, ns, F);
    assert.deepEqual(server.calls[0]?.key, { name: 'apps' });
  });
});

void describe('removeFinalizer', () => {
  void it('removes the finalizer and keeps the others', async () => {
    const server = new FakeServer(cm(['a', F]));
    const out = await removeFinalizer(server, ConfigMaps, cm(['a', F]), F);
    assert.deepEqual(out.metadata.finalizers, ['a']);
    assert.equal(server.calls.length, 1);
  });

  void it('sends nothing when the finalizer is absent', async () => {
    const server = new FakeServer(cm(['a']));
    const input = cm(['a']);
    assert.equal(await removeFinalizer(server, ConfigMaps, input, F), input);
    assert.equal(server.calls.length, 0);
  });

  void it('fails with ConflictError on a stale object instead of dropping a finalizer added meanwhile', async () => {
    const server = new FakeServer(cm([F, 'someone-else'], { resourceVersion: '11' }));
    await assert.rejects(removeFinalizer(server, ConfigMaps, cm([F]), F), isConflict);
    assert.deepEqual(server.stored.metadata.finalizers, [F, 'someone-else']);
  });
});

void describe('finalize', () => {
  const deleting = (finalizers: string[]) => cm(finalizers, { deletionTimestamp: '2024-05-01T12:00:00Z' });
  const handlers = (cleanupDone = true) => {
    const seen: { applied: KubeObject[]; cleaned: KubeObject[] } = { applied: [], cleaned: [] };
    return {
      seen,
      apply: async (obj: KubeObject) => { seen.applied.push(obj); return 'reconciled'; },
      cleanup: async (obj: KubeObject) => { seen.cleaned.push(obj); return cleanupDone; },
    };
  };

  void it('adds the finalizer before applying, and applies the object that carries it', async () => {
    const server = new FakeServer(cm(['a']));
    const h = handlers();
    assert.deepEqual(await finalize(server, ConfigMaps, cm(['a']), F, h), { phase: 'applied', result: 'reconciled' });
    assert.equal(server.calls.length, 1);
    assert.deepEqual(h.seen.applied.map((o) => o.metadata.finalizers), [['a', F]]);
    assert.equal(h.seen.cleaned.length, 0);
  });

  void it('applies without a request when the finalizer is there', async () => {
    const server = new FakeServer(cm([F]));
    assert.equal((await finalize(server, ConfigMaps, cm([F]), F, handlers())).phase, 'applied');
    assert.equal(server.calls.length, 0);
  });

  void it('cleans up a deleted object, then removes only its own finalizer', async () => {
    const server = new FakeServer(deleting(['a', F]));
    const h = handlers();
    assert.deepEqual(await finalize(server, ConfigMaps, deleting(['a', F]), F, h), { phase: 'finalized' });
    assert.deepEqual(server.stored.metadata.finalizers, ['a']);
    assert.equal(h.seen.cleaned.length, 1);
    assert.equal(h.seen.applied.length, 0);
  });

  void it('keeps the finalizer while cleanup is under way', async () => {
    const server = new FakeServer(deleting([F]));
    assert.deepEqual(await finalize(server, ConfigMaps, deleting([F]), F, handlers(false)), { phase: 'cleaning' });
    assert.equal(server.calls.length, 0);
  });

  void it('leaves a deleted object without its finalizer alone', async () => {
    const server = new FakeServer(deleting(['a']));
    const h = handlers();
    assert.deepEqual(await finalize(server, ConfigMaps, deleting(['a']), F, h), { phase: 'ignored' });
    assert.equal(server.calls.length + h.seen.cleaned.length + h.seen.applied.length, 0);
  });

  void it('counts an object that vanished during removal as finalized, and passes a conflict on', async () => {
    const gone: PatchClient = { patch: async () => { throw new NotFoundError(404, { reason: 'NotFound' }, 'PATCH', '/x'); } };
    assert.deepEqual(await finalize(gone, ConfigMaps, deleting([F]), F, handlers()), { phase: 'finalized' });
    const stale = new FakeServer(cm([], { resourceVersion: '11' }));
    await assert.rejects(finalize(stale, ConfigMaps, cm([]), F, handlers()), isConflict);
  });
});

void describe('ignoreNotFound', () => {
  void it('turns NotFound into undefined and passes other errors and results on', async () => {
    assert.equal(await ignoreNotFound(Promise.reject(new NotFoundError(404, { reason: 'NotFound' }, 'GET', '/x'))), undefined);
    assert.equal(await ignoreNotFound(Promise.resolve(3)), 3);
    await assert.rejects(ignoreNotFound(Promise.reject(new ConflictError(409, { reason: 'Conflict' }, 'PUT', '/x'))), isConflict);
  });
});

