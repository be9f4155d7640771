// What a cache read costs. The store keeps each object as its JSON text and parses it when read, so
// the objects a read parses are what it costs: a label read must parse the smallest bucket of the
// labels it asks for (a device's reconcile reads its nodes that way), never every cached object.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../object.ts';
import { Nodes, Pods } from '../resource.ts';
import { parsedDuring, staticCache } from '../testing/static-cache.ts';
import { LABELS_INDEX, labelsIndex } from './store.ts';

const node = (name: string, labels: Record<string, string>): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Node', metadata: { name, resourceVersion: '1', labels } });
const pod = (namespace: string, name: string, labels: Record<string, string>): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name, resourceVersion: '1', labels } });

/**
 * A synced cache of 1,000 Linux nodes, 3 of them in the `gpu` pool, and 1,000 pods in two namespaces
 * of which 4 carry `owner=a` (2 in each); both informers index labels, as the workload's do.
 */
async function fleet(t: { after: (fn: () => void) => void }) {
  const nodes = Array.from({ length: 1000 }, (_, i) =>
    node(`node-${i}`, { 'kubernetes.io/os': 'linux', ...(i % 400 === 7 ? { pool: 'gpu' } : {}) }));
  const pods = Array.from({ length: 1000 }, (_, i) =>
    pod(i % 2 ? 'ns1' : 'ns2', `pod-${i}`, { app: 'consumer', ...(i < 4 ? { owner: 'a' } : {}) }));
  return staticCache(t, new Map([['Node', nodes], ['Pod', pods]]), (cache) => {
    cache.informer(Nodes).addIndex(LABELS_INDEX, labelsIndex);
    cache.informer(Pods).addIndex(LABELS_INDEX, labelsIndex);
  });
}

const names = (objects: KubeObject[]) => objects.map((o) => o.metadata.name).sort();

describe('Cache.list', () => {
  it('reads a selector\'s nodes from its smallest label bucket: 3 parsed of 1,000 cached', async (t) => {
    const cache = await fleet(t);
    const { result, parsed } = await parsedDuring(() => cache.list(Nodes, { labels: { 'kubernetes.io/os': 'linux', pool: 'gpu' } }));
    assert.deepEqual(names(result), ['node-407', 'node-7', 'node-807']);
    assert.equal(parsed, 3);
  });

  it('parses every object when the selector picks every object: the count above is not a fluke of counting', async (t) => {
    const cache = await fleet(t);
    const { result, parsed } = await parsedDuring(() => cache.list(Nodes, { labels: { 'kubernetes.io/os': 'linux' } }));
    assert.equal(result.length, 1000);
    assert.equal(parsed, 1000);
  });

  it('reads nothing for a label no object has', async (t) => {
    const cache = await fleet(t);
    const { result, parsed } = await parsedDuring(() => cache.list(Nodes, { labels: { 'kubernetes.io/os': 'linux', pool: 'none' } }));
    assert.deepEqual(result, []);
    assert.equal(parsed, 0);
  });

  it('reads an owner\'s pods by their label and keeps those of the namespace asked for', async (t) => {
    const cache = await fleet(t);
    const { result, parsed } = await parsedDuring(() => cache.list(Pods, { namespace: 'ns1', labels: { app: 'consumer', owner: 'a' } }));
    assert.deepEqual(names(result), ['pod-1', 'pod-3']);
    assert.equal(parsed, 4, 'the owner\'s bucket (4 pods, both namespaces), not the namespace (500) nor the app label (1,000)');
  });

  it('reads a namespace through its index when no label is asked for', async (t) => {
    const cache = await fleet(t);
    const { result, parsed } = await parsedDuring(() => cache.list(Pods, { namespace: 'ns2' }));
    assert.equal(result.length, 500);
    assert.equal(parsed, 500);
  });
});
