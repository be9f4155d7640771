// The controller runtime against a real etcd + kube-apiserver + kube-controller-manager.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { Client } from '../../src/runtime/client/client.ts';
import { NotFoundError } from '../../src/runtime/client/errors.ts';
import { Manager } from '../../src/runtime/manager/manager.ts';
import { ConfigMaps, Namespaces } from '../../src/runtime/resource.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { waitFor } from '../support/wait.ts';
import { addWidgetController, installWidgetCrd, Widgets } from '../support/sample-controller.ts';

interface ConfigMap extends KubeObject { data?: Record<string, string> }

let cp: ControlPlane;
let admin: Client;

async function createNamespace(name: string) {
  await admin.create(Namespaces, { metadata: { name } });
}

/** Starts a manager with the sample controller; returns it with its stop function. */
async function startManager(namespace?: string) {
  const manager = new Manager({ kubeConfig: cp.kubeConfig(), ...(namespace ? { namespace } : {}) });
  const counters = { reconciles: 0, order: [] as string[] };
  const controller = addWidgetController(manager, counters);
  const abort = new AbortController();
  const done = manager.start(abort.signal);
  await waitFor(() => manager.cache.synced, { what: 'cache sync' });
  return { manager, counters, done, controller, stop: async () => { abort.abort(); await done; } };
}

before(async () => {
  cp = await ControlPlane.start();
  admin = new Client(cp.kubeConfig());
  await installWidgetCrd(admin);
});

after(async () => {
  await cp?.stop();
});

describe('cache', () => {
  it('fills from a list and follows creates, updates and deletes', async () => {
    await createNamespace('cache-follow');
    await admin.create(ConfigMaps, { metadata: { name: 'before', namespace: 'cache-follow' }, data: { a: '1' } });
    const manager = new Manager({ kubeConfig: cp.kubeConfig() });
    const informer = manager.cache.informer(ConfigMaps);
    const abort = new AbortController();
    manager.cache.start(abort.signal);
    try {
      assert.ok(await manager.cache.waitForSync());
      // The first list comes from the API server's watch cache (resourceVersion=0), which may trail
      // a write made just before by a few milliseconds: the watch then brings it.
      await waitFor(() => manager.cache.get(ConfigMaps, { namespace: 'cache-follow', name: 'before' }), { what: 'the object created before the start cached' });

      await admin.create(ConfigMaps, { metadata: { name: 'later', namespace: 'cache-follow' }, data: { b: '1' } });
      await waitFor(() => manager.cache.get(ConfigMaps, { namespace: 'cache-follow', name: 'later' }), { what: 'create seen' });

      await admin.patch(ConfigMaps, { namespace: 'cache-follow', name: 'later' }, { data: { b: '2' } }, 'merge');
      await waitFor(() => manager.cache.get<ConfigMap>(ConfigMaps, { namespace: 'cache-follow', name: 'later' })?.data?.b === '2',
        { what: 'update seen' });

      await admin.delete(ConfigMaps, { namespace: 'cache-follow', name: 'before' });
      await waitFor(() => !manager.cache.get(ConfigMaps, { namespace: 'cache-follow', name: 'before' }), { what: 'delete seen' });

      const cached = manager.cache.get(ConfigMaps, { namespace: 'cache-follow', name: 'later' })!;
      assert.equal(cached.metadata.managedFields, undefined, 'managedFields are stripped');
      (cached.metadata as { name: string }).name = 'changed by the reader';
      assert.equal(manager.cache.get(ConfigMaps, { namespace: 'cache-follow', name: 'later' })?.metadata.name, 'later', 'a read is the reader\'s own copy');
      assert.deepEqual(manager.cache.list(ConfigMaps, { namespace: 'cache-follow' }).map((o) => o.metadata.name), ['later']);
      assert.ok(informer.size >= 1);
    } finally {
      abort.abort();
    }
  });

  it('serves reads without sending any request to the API server', async () => {
    await createNamespace('cache-reads');
    for (let i = 0; i < 5; i++) await admin.create(ConfigMaps, { metadata: { name: `cm-${i}`, namespace: 'cache-reads' } });
    const manager = new Manager({ kubeConfig: cp.kubeConfig() });
    manager.cache.informer(ConfigMaps);
    const abort = new AbortController();
    manager.cache.start(abort.signal);
    try {
      await manager.cache.waitForSync();
      await waitFor(() => manager.cache.list(ConfigMaps, { namespace: 'cache-reads' }).length === 5, { what: '5 objects cached' });
      const before = manager.client.requests.total;
      for (let i = 0; i < 1000; i++) {
        manager.cache.get(ConfigMaps, { namespace: 'cache-reads', name: `cm-${i % 5}` });
        manager.cache.list(ConfigMaps, { namespace: 'cache-reads', labels: { none: 'x' } });
      }
      assert.equal(manager.client.requests.total, before, 'cache reads sent requests');
    } finally {
      abort.abort();
    }
  });
});

describe('sample controller', () => {
  it('creates the child, restores it after an edit and a delete, and reports status', async () => {
    await createNamespace('sample');
    const { stop } = await startManager();
    try {
      await admin.create(Widgets, { metadata: { name: 'w1', namespace: 'sample' }, spec: { data: { color: 'blue' } } });
      const key = { namespace: 'sample', name: 'w1-data' };
      await waitFor(async () => (await admin.get<ConfigMap>(ConfigMaps, key).catch(() => undefined))?.data?.color === 'blue', { what: 'child created' });
      const w = await waitFor(async () => { const w = await admin.get(Widgets, { namespace: 'sample', name: 'w1' }); return w.status?.configMap ? w : undefined; },
        { what: 'status written' });
      assert.equal(w.status?.observedGeneration, w.metadata.generation);

      // Someone edits the child: the owned-object watch enqueues the parent, which puts it back.
      await admin.patch(ConfigMaps, key, { data: { color: 'red' } }, 'merge');
      await waitFor(async () => (await admin.get<ConfigMap>(ConfigMaps, key)).data?.color === 'blue', { what: 'edit reverted' });

      await admin.delete(ConfigMaps, key);
      await waitFor(async () => (await admin.get<ConfigMap>(ConfigMaps, key).catch(() => undefined))?.data?.color === 'blue', { what: 'child recreated' });

      await admin.patch(Widgets, { namespace: 'sample', name: 'w1' }, { spec: { data: { color: 'green' } } }, 'merge');
      await waitFor(async () => (await admin.get<ConfigMap>(ConfigMaps, key)).data?.color === 'green', { what: 'spec change applied' });
    } finally {
      await stop();
    }
  });

  it('does not write anything when reconciling an object that is already converged', async () => {
    await createNamespace('noop');
    const { manager, counters, stop, controller } = await startManager();
    try {
      await admin.create(Widgets, { metadata: { name: 'w', namespace: 'noop' }, spec: { data: { a: 'b' } } });
      await waitFor(async () => (await admin.get(Widgets, { namespace: 'noop', name: 'w' })).status?.configMap, { what: 'converged' });
      // Let the cache see our own writes and the queue drain, then force a reconcile and count requests.
      await waitFor(() => controller.idle && manager.cache.get(Widgets, { namespace: 'noop', name: 'w' })?.status?.configMap &&
        manager.cache.get(ConfigMaps, { namespace: 'noop', name: 'w-data' }), { what: 'cache caught up and queue drained' });
      const requestsBefore = manager.client.requests.total;
      const reconcilesBefore = counters.reconciles;
      // Enqueue through a watch event that does not change the spec (a label on the child).
      await admin.patch(ConfigMaps, { namespace: 'noop', name: 'w-data' }, { metadata: { labels: { touched: 'yes' } } }, 'merge');
      await waitFor(() => counters.reconciles > reconcilesBefore, { what: 'reconcile triggered' });
      assert.equal(manager.client.requests.total, requestsBefore, `requests sent: ${JSON.stringify(manager.client.requests.snapshot())}`);
    } finally {
      await stop();
    }
  });

  it('after a restart, reconciles what changed while it was down before the converged objects it replays', async () => {
    const ns = 'replay';
    await createNamespace(ns);
    const names = Array.from({ length: 20 }, (_, i) => `w-${i}`);
    const first = await startManager(ns);
    try {
      for (const name of names) await admin.create(Widgets, { metadata: { name, namespace: ns }, spec: { data: { a: name } } });
      await waitFor(async () => (await admin.list(Widgets, { namespace: ns })).items.every((w) => w.status?.observedGeneration === w.metadata.generation) &&
        first.controller.settled, { what: 'every widget converged' });
    } finally {
      await first.stop();
    }
    // While no controller runs: one new widget, one edited.
    await admin.create(Widgets, { metadata: { name: 'w-new', namespace: ns }, spec: { data: { a: 'new' } } });
    await admin.patch(Widgets, { namespace: ns, name: 'w-7' }, { spec: { data: { a: 'edited' } } }, 'merge');
    const second = await startManager(ns);
    try {
      await waitFor(() => second.counters.order.length >= names.length + 1 && second.controller.settled, { what: 'every widget reconciled' });
      // The cache replays the others first (list order); the queue hands out the two that need work before them.
      assert.deepEqual(new Set(second.counters.order.slice(0, 2)), new Set(['w-new', 'w-7']), `reconcile order: ${second.counters.order.join(' ')}`);
      assert.equal((await admin.get(Widgets, { namespace: ns, name: 'w-7' })).status?.observedGeneration, 2);
    } finally {
      await second.stop();
    }
  });

  it('lets the garbage collector remove children after the parent is deleted', async () => {
    await createNamespace('gc');
    const { stop } = await startManager();
    try {
      await admin.create(Widgets, { metadata: { name: 'w', namespace: 'gc' }, spec: { data: {} } });
      await waitFor(async () => admin.get(ConfigMaps, { namespace: 'gc', name: 'w-data' }).catch(() => undefined), { what: 'child created' });
      await admin.delete(Widgets, { namespace: 'gc', name: 'w' });
      await waitFor(async () => admin.get(ConfigMaps, { namespace: 'gc', name: 'w-data' }).then(() => false, (e) => e instanceof NotFoundError),
        { what: 'child garbage-collected', timeoutMs: 60_000 });
    } finally {
      await stop();
    }
  });
});
