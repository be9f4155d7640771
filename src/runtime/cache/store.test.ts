import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { silentLogger } from '../log.ts';
import { Client } from '../client/client.ts';
import type { KubeObject } from '../object.ts';
import { ConfigMaps } from '../resource.ts';
import { Cache } from './cache.ts';
import { Store, type TransformFunc } from './store.ts';

const configMap = (name: string, rv: string, data: Record<string, string>): KubeObject => ({
  apiVersion: 'v1', kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', resourceVersion: rv, labels: { app: 'x' }, managedFields: [{ manager: 'kubectl' }] },
  data,
});

/** Keeps metadata and the `keep` key of the data, and records what it was given. */
function keepOnly(seen: KubeObject[]): TransformFunc {
  return (obj) => {
    seen.push(obj);
    const data = obj.data as Record<string, string>;
    return { ...obj, data: { keep: data.keep! } };
  };
}

describe('Store transform', () => {
  it('stores, hands to handlers and returns on reads only what the transform keeps', () => {
    const seen: KubeObject[] = [];
    const store = new Store({ transform: keepOnly(seen) });
    const added = store.upsert(configMap('a', '1', { keep: 'k', drop: 'big' }));
    assert.deepEqual(added?.obj.data, { keep: 'k' });
    assert.deepEqual(store.get('ns/a')?.data, { keep: 'k' });
    const updated = store.upsert(configMap('a', '2', { keep: 'k2', drop: 'bigger' }));
    assert.deepEqual(updated?.old?.data, { keep: 'k' });
    assert.deepEqual(updated?.obj.data, { keep: 'k2' });
    const removed = store.remove(configMap('a', '3', { keep: 'k3', drop: 'x' }));
    assert.deepEqual(removed?.obj.data, { keep: 'k3' }, 'the delete event is transformed too');
    assert.ok(seen[0]!.metadata.managedFields, 'the transform sees the object as the server sent it');
  });

  it('still strips managedFields, freezes, and indexes the transformed object', () => {
    const store = new Store({ transform: (obj) => ({ ...obj, metadata: { ...obj.metadata, labels: { app: 'y' } } }) });
    store.addIndex('app', (obj) => [obj.metadata.labels?.app ?? '']);
    store.upsert(configMap('a', '1', {}));
    const cached = store.get('ns/a')!;
    assert.equal(cached.metadata.managedFields, undefined);
    assert.ok(Object.isFrozen(cached) && Object.isFrozen(cached.metadata));
    assert.equal(store.byIndex('app', 'y').length, 1);
    assert.equal(store.byIndex('app', 'x').length, 0);
  });

  it('replace after a relist transforms every item and deletes what vanished', () => {
    const store = new Store({ transform: keepOnly([]) });
    store.upsert(configMap('gone', '1', { keep: 'g' }));
    const changes = store.replace([configMap('a', '2', { keep: 'k', drop: 'x' })]);
    assert.deepEqual(changes.map((c) => [c.type, c.obj.metadata.name, c.obj.data]), [['add', 'a', { keep: 'k' }], ['delete', 'gone', { keep: 'g' }]]);
  });

  it('has no transform by default: the whole object minus managedFields', () => {
    const store = new Store();
    store.upsert(configMap('a', '1', { keep: 'k', drop: 'x' }));
    assert.deepEqual(store.get('ns/a')?.data, { keep: 'k', drop: 'x' });
  });
});

describe('Cache informer transform', () => {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
  });

  it('is one per type for the process: declaring the type again with another transform is refused', () => {
    const cache = new Cache({ client: new Client(kubeConfig), log: silentLogger });
    const transform: TransformFunc = (obj) => obj;
    const informer = cache.informer(ConfigMaps, { transform });
    assert.equal(cache.informer(ConfigMaps, { transform }), informer);
    assert.throws(() => cache.informer(ConfigMaps), /already exists with other options/);
    assert.throws(() => cache.informer(ConfigMaps, { transform: (obj) => obj }), /already exists with other options/);
  });
});
