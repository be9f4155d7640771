import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { silentLogger } from '../log.ts';
import { Client } from '../client/client.ts';
import type { KubeObject } from '../object.ts';
import { ConfigMaps } from '../resource.ts';
import { Cache } from './cache.ts';
import { CONTROLLER_UID_INDEX, LABELS_INDEX, NAMESPACE_INDEX, Store, labelIndexValue, labelsIndex, type TransformFunc } from './store.ts';

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

  it('still strips managedFields and indexes the transformed object', () => {
    const store = new Store({ transform: (obj) => ({ ...obj, metadata: { ...obj.metadata, labels: { app: 'y' } } }) });
    store.addIndex('app', (obj) => [obj.metadata.labels?.app ?? '']);
    store.upsert(configMap('a', '1', {}));
    const cached = store.get('ns/a')!;
    assert.equal(cached.metadata.managedFields, undefined);
    assert.equal(store.byIndex('app', 'y').length, 1);
    assert.equal(store.byIndex('app', 'x').length, 0);
  });

  it('hands every reader its own copy: changing what was read changes neither the cache nor another read', () => {
    const store = new Store();
    store.addIndex('app', (obj) => [obj.metadata.labels?.app ?? '']);
    const change = store.upsert(configMap('a', '1', { k: 'v' }))!;
    change.obj.data = { k: 'changed by a handler' };
    const first = store.get('ns/a')!;
    (first.data as Record<string, string>).k = 'changed by a reader';
    first.metadata.labels = { app: 'other' };
    assert.deepEqual(store.get('ns/a')?.data, { k: 'v' });
    assert.deepEqual(store.byIndex('app', 'x').map((o) => o.data), [{ k: 'v' }]);
    assert.notEqual(store.get('ns/a'), store.get('ns/a'));
  });

  it('skips an event whose resourceVersion it has without calling the transform', () => {
    const seen: KubeObject[] = [];
    const store = new Store({ transform: keepOnly(seen) });
    store.upsert(configMap('a', '1', { keep: 'k' }));
    assert.equal(store.upsert(configMap('a', '1', { keep: 'k' })), undefined);
    assert.equal(seen.length, 1);
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
    assert.throws(() => cache.informer(ConfigMaps, { transform, deflate: true }), /already exists with other options/, 'deflating is per type too');
  });
});

const labelled = (name: string, rv: string, labels: Record<string, string>, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns', resourceVersion: rv, labels, ...extra },
});
const names = (objs: KubeObject[]) => objs.map((o) => o.metadata.name).sort();

describe('Store indexes', () => {
  it('index by namespace and controller UID out of the box', () => {
    const store = new Store();
    const owner = { apiVersion: 'v1', kind: 'X', name: 'o', uid: 'u1', controller: true };
    const plain = { ...owner, uid: 'u2', controller: false };
    store.upsert(labelled('a', '1', {}, { ownerReferences: [owner] }));
    store.upsert(labelled('b', '1', {}, { namespace: 'other', ownerReferences: [plain] }));
    assert.deepEqual(names(store.byIndex(NAMESPACE_INDEX, 'ns')), ['a']);
    assert.deepEqual(names(store.byIndex(CONTROLLER_UID_INDEX, 'u1')), ['a']);
    assert.equal(store.indexCount(CONTROLLER_UID_INDEX, 'u2'), 0, 'only the controller reference counts');
  });

  it('move an object between values when it changes and drop it when it is removed', () => {
    const store = new Store();
    store.addIndex(LABELS_INDEX, labelsIndex);
    store.upsert(labelled('a', '1', { app: 'x', tier: 'web' }));
    store.upsert(labelled('b', '1', { app: 'x' }));
    assert.equal(store.indexCount(LABELS_INDEX, labelIndexValue('app', 'x')), 2);
    store.upsert(labelled('a', '2', { app: 'y' }));
    assert.deepEqual(names(store.byIndex(LABELS_INDEX, 'app=x')), ['b']);
    assert.deepEqual(names(store.byIndex(LABELS_INDEX, 'app=y')), ['a']);
    assert.equal(store.indexCount(LABELS_INDEX, 'tier=web'), 0, 'a label the object lost no longer finds it');
    store.remove(labelled('b', '3', { app: 'x' }));
    assert.deepEqual(store.byIndex(LABELS_INDEX, 'app=x'), []);
  });

  it('an index added to a filled store covers what is already there', () => {
    const store = new Store();
    store.upsert(labelled('a', '1', { app: 'x' }));
    store.addIndex(LABELS_INDEX, labelsIndex);
    assert.deepEqual(names(store.byIndex(LABELS_INDEX, 'app=x')), ['a']);
  });

  it('defining an index twice is a no-op with the same function and an error with another; reading an unknown one is an error', () => {
    const store = new Store();
    store.addIndex(LABELS_INDEX, labelsIndex);
    store.addIndex(LABELS_INDEX, labelsIndex);
    assert.throws(() => store.addIndex(LABELS_INDEX, () => []), /index labels is already defined/);
    assert.throws(() => store.byIndex('nope', 'x'), /no index named nope/);
    assert.throws(() => store.indexCount('nope', 'x'), /no index named nope/);
    assert.equal(store.hasIndex(LABELS_INDEX), true);
    assert.equal(store.hasIndex('nope'), false);
  });
});

describe('Store upsert and replace', () => {
  it('upsert reports nothing for an unchanged resourceVersion', () => {
    const store = new Store();
    assert.equal(store.upsert(labelled('a', '1', {}))?.type, 'add');
    assert.equal(store.upsert(labelled('a', '1', { changed: 'but same version' })), undefined);
    assert.equal(store.get('ns/a')?.metadata.labels?.changed, undefined);
    assert.equal(store.remove(labelled('absent', '1', {})), undefined, 'removing what is not stored changes nothing');
  });

  it('replace reports adds, updates and deletes in that order, skips the unchanged, and reindexes', () => {
    const store = new Store();
    store.addIndex(LABELS_INDEX, labelsIndex);
    store.upsert(labelled('same', '1', { app: 'x' }));
    store.upsert(labelled('changed', '1', { app: 'x' }));
    store.upsert(labelled('gone', '1', { app: 'x' }));
    const changes = store.replace([labelled('same', '1', { app: 'x' }), labelled('changed', '2', { app: 'y' }), labelled('new', '5', { app: 'x' })]);
    assert.deepEqual(changes.map((c) => [c.type, c.obj.metadata.name, c.old?.metadata.resourceVersion]),
      [['update', 'changed', '1'], ['add', 'new', undefined], ['delete', 'gone', undefined]]);
    assert.deepEqual(names(store.list()), ['changed', 'new', 'same']);
    assert.deepEqual(names(store.byIndex(LABELS_INDEX, 'app=x')), ['new', 'same']);
    assert.deepEqual(names(store.byIndex(LABELS_INDEX, 'app=y')), ['changed']);
    assert.equal(store.size, 3);
  });

  it('replace with nothing deletes everything', () => {
    const store = new Store();
    store.upsert(labelled('a', '1', {}));
    store.upsert(labelled('b', '1', {}));
    assert.deepEqual(store.replace([]).map((c) => `${c.type} ${c.obj.metadata.name}`), ['delete a', 'delete b']);
    assert.equal(store.size, 0);
    assert.equal(store.indexCount(NAMESPACE_INDEX, 'ns'), 0);
  });
});

