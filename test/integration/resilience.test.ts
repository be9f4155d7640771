// The runtime when the API server goes away or the watch history is compacted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { Client, type WatchOptions, type WatchEvent } from '../../src/runtime/client/client.ts';
import { Cache } from '../../src/runtime/cache/cache.ts';
import { Manager } from '../../src/runtime/manager/manager.ts';
import { silentLogger } from '../../src/runtime/log.ts';
import { ConfigMaps, Namespaces, type ResourceType } from '../../src/runtime/resource.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { waitFor } from '../support/wait.ts';
import { addWidgetController, installWidgetCrd, Widgets } from '../support/sample-controller.ts';

interface ConfigMap extends KubeObject { data?: Record<string, string> }

/** A client whose new watches wait while the gate is closed, so a test can make changes the watch misses. */
class GatedClient extends Client {
  gate: Promise<void> | undefined;
  watchCalls = 0;

  override watch<T extends KubeObject>(rt: ResourceType<T>, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    this.watchCalls++;
    const gate = this.gate;
    const open = () => super.watch(rt, opts);
    return (async function* () {
      if (gate) await gate;
      yield* open();
    })();
  }
}

let cp: ControlPlane;
let admin: Client;

before(async () => {
  // Without the watch cache, watches are served by etcd itself, so compaction really expires them.
  cp = await ControlPlane.start({ watchCache: false });
  admin = new Client(cp.kubeConfig());
  await installWidgetCrd(admin);
});

after(async () => {
  await cp?.stop();
});

describe('reflector', () => {
  it('relists after 410 Gone and misses no change made while it was away', async () => {
    const ns = 'gone';
    await admin.create(Namespaces, { metadata: { name: ns } });
    for (const name of ['a', 'b', 'c']) await admin.create(ConfigMaps, { metadata: { name, namespace: ns }, data: { v: '1' } });

    const client = new GatedClient(cp.kubeConfig());
    const cache = new Cache({ client, log: silentLogger });
    const informer = cache.informer(ConfigMaps);
    const seen: string[] = [];
    // Only our objects: kube-controller-manager adds kube-root-ca.crt to every namespace.
    const ours = (o: KubeObject) => o.metadata.namespace === ns && ['a', 'b', 'c', 'd'].includes(o.metadata.name!);
    informer.addHandler({
      add: (o) => { if (ours(o)) seen.push(`add ${o.metadata.name}`); },
      update: (_, o) => { if (ours(o)) seen.push(`update ${o.metadata.name}`); },
      delete: (o) => { if (ours(o)) seen.push(`delete ${o.metadata.name}`); },
    });
    const abort = new AbortController();
    cache.start(abort.signal);
    try {
      await cache.waitForSync();
      await waitFor(() => client.watchCalls === 1, { what: 'first watch' });
      const listsBefore = client.requests.snapshot()['LIST 200'] ?? 0;
      seen.length = 0;

      // Break the watch and hold the reconnect until the history it needs is compacted away.
      let releaseGate!: () => void;
      client.gate = new Promise<void>((resolve) => { releaseGate = resolve; });
      await cp.stopApiServer();
      await waitFor(() => client.watchCalls >= 2, { what: 'reconnect attempt held at the gate' });
      await cp.startApiServer();
      await admin.delete(ConfigMaps, { namespace: ns, name: 'a' });
      await admin.patch(ConfigMaps, { namespace: ns, name: 'b' }, { data: { v: '2' } }, 'merge');
      await admin.create(ConfigMaps, { metadata: { name: 'd', namespace: ns } });
      await cp.compactEtcd();
      client.gate = undefined;
      releaseGate();

      await waitFor(() => (client.requests.snapshot()['LIST 200'] ?? 0) > listsBefore, { what: 'relist after 410' });
      await waitFor(() => seen.length >= 3, { what: 'three changes delivered' });
      assert.deepEqual(seen.sort(), ['add d', 'delete a', 'update b']);
      assert.deepEqual(cache.list(ConfigMaps, { namespace: ns }).filter(ours).map((o) => o.metadata.name).sort(), ['b', 'c', 'd']);
      assert.equal((cache.get(ConfigMaps, { namespace: ns, name: 'b' }) as ConfigMap).data?.v, '2');
    } finally {
      abort.abort();
    }
  });
});

describe('controller', () => {
  it('reconnects after the API server was stopped and restarted, and converges without exiting', async () => {
    const ns = 'restart';
    await admin.create(Namespaces, { metadata: { name: ns } });
    const manager = new Manager({ kubeConfig: cp.kubeConfig() });
    addWidgetController(manager);
    const abort = new AbortController();
    let settled = false;
    const done = manager.start(abort.signal).finally(() => { settled = true; });
    try {
      await waitFor(() => manager.cache.synced, { what: 'cache sync' });
      await admin.create(Widgets, { metadata: { name: 'before', namespace: ns }, spec: { data: { x: '1' } } });
      await waitFor(async () => admin.get(ConfigMaps, { namespace: ns, name: 'before-data' }).catch(() => undefined), { what: 'first child' });

      await cp.stopApiServer();
      // While it is down the controller keeps running; its watches fail and retry.
      await waitFor(() => (manager.client.requests.snapshot()['WATCH <error>'] ?? 0) > 0, { what: 'a failed reconnect' });
      await cp.startApiServer();

      await admin.create(Widgets, { metadata: { name: 'after', namespace: ns }, spec: { data: { y: '2' } } });
      await admin.patch(Widgets, { namespace: ns, name: 'before' }, { spec: { data: { x: '3' } } }, 'merge');
      await waitFor(async () => (await admin.get<ConfigMap>(ConfigMaps, { namespace: ns, name: 'after-data' }).catch(() => undefined))?.data?.y === '2',
        { what: 'child of a parent created after the restart', timeoutMs: 60_000 });
      await waitFor(async () => (await admin.get<ConfigMap>(ConfigMaps, { namespace: ns, name: 'before-data' })).data?.x === '3',
        { what: 'update after the restart', timeoutMs: 60_000 });
      assert.equal(settled, false, 'the manager must keep running');
    } finally {
      abort.abort();
      await done;
    }
  });
});
