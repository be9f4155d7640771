import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { KubeObject } from '../object.ts';
import { FakeClock } from '../testing/fake-clock.ts';
import { waitFor } from '../testing/wait.ts';
import { JsonDeflater } from './deflate.ts';
import { CONTROLLER_UID_INDEX, DEFLATE_AFTER_MS, Store } from './store.ts';

/** What one operator writes many of: the same template, another name, UID and resourceVersion. */
const child = (i: number, rv = '1'): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'DaemonSet',
  metadata: {
    name: `pt-${i}-consumer`, namespace: 'ns', uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, resourceVersion: rv, generation: 1,
    labels: { 'app.kubernetes.io/component': 'consumer', 'app.kubernetes.io/instance': `pt-${i}`, 'app.kubernetes.io/managed-by': 'ptemplate-operator' },
    ownerReferences: [{ apiVersion: 'pt.example.com/v1alpha1', kind: 'Ptemplate', name: `pt-${i}`, uid: `owner-${i}`, controller: true, blockOwnerDeletion: true }],
  },
  spec: {
    selector: { matchLabels: { 'app.kubernetes.io/instance': `pt-${i}` } },
    template: {
      metadata: { labels: { 'app.kubernetes.io/instance': `pt-${i}`, 'pt.example.com/owner-uid': `owner-${i}` } },
      spec: {
        nodeSelector: { [`kmm.node.kubernetes.io/ns.pt-${i}.ready`]: '' },
        containers: [{ name: 'consumer', image: 'quay.io/example/consumer:v1', resources: { limits: { 'example.com/ptemplate': '1' } }, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
        tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
      },
    },
  },
  status: { desiredNumberScheduled: i % 3, numberReady: 0, observedGeneration: 1 },
});

describe('JsonDeflater', () => {
  it('inflates exactly the JSON it deflated, for any JSON (non-ASCII text included)', () => {
    const deflater = new JsonDeflater();
    deflater.deflate(JSON.stringify(child(0)));
    let deflatedRuns = 0;
    fc.assert(fc.property(fc.nat(), fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'grapheme' }), (i, value, text) => {
      // A sibling with arbitrary content in it, so that the copies and literals both get exercised.
      const sibling = child(i);
      const json = JSON.stringify({ ...sibling, metadata: { ...sibling.metadata, annotations: { text } }, value });
      const deflated = deflater.deflate(json);
      if (deflated === undefined) return;
      deflatedRuns++;
      assert.equal(deflater.inflate(deflated), json);
    }));
    assert.ok(deflatedRuns > 50, `only ${deflatedRuns} of 100 runs were deflated`);
  });

  it('inflates exactly any edit of its dictionary: insertions, deletions and replacements anywhere', () => {
    const dictionary = JSON.stringify(child(0));
    const deflater = new JsonDeflater();
    deflater.deflate(dictionary);
    const edit = fc.record({ at: fc.nat({ max: dictionary.length }), remove: fc.nat({ max: 12 }), insert: fc.string({ maxLength: 12 }) });
    fc.assert(fc.property(fc.array(edit, { maxLength: 12 }), (edits) => {
      let text = dictionary;
      for (const { at, remove, insert } of edits) text = text.slice(0, at) + insert + text.slice(at + remove);
      const deflated = deflater.deflate(text);
      if (deflated !== undefined) assert.equal(deflater.inflate(deflated), text);
      else assert.ok(edits.length > 0, 'the dictionary itself always deflates');
    }), { numRuns: 500 });
  });

  it('leaves a near-copy of its first object a small fraction of its JSON', () => {
    const deflater = new JsonDeflater();
    deflater.deflate(JSON.stringify(child(0)));
    const json = JSON.stringify(child(7, '12345'));
    const deflated = deflater.deflate(json)!;
    assert.ok(deflated.length * 5 < json.length, `${deflated.length} of ${json.length} characters`);
  });

  it('gives nothing back when deflating would not save a quarter, and refuses to inflate before any deflate', () => {
    assert.throws(() => new JsonDeflater().inflate('x'), /nothing was deflated/);
    const deflater = new JsonDeflater();
    deflater.deflate(JSON.stringify(child(0)));
    assert.equal(deflater.deflate('{"a":1}'), undefined);
  });
});

describe('Store with deflate', () => {
  it('deflates objects once unchanged for DEFLATE_AFTER_MS, and one changed since stays plain until it settles too', () => {
    const clock = new FakeClock();
    const store = new Store({ deflate: true, now: () => clock.now() });
    for (let i = 0; i < 50; i++) store.upsert(child(i));
    const plain = store.footprint();
    clock.advance(DEFLATE_AFTER_MS - 1);
    store.upsert(child(3, '2'));
    clock.advance(1);
    store.deflateSettled();
    assert.deepEqual({ ...store.footprint(), chars: 0 }, { objects: 50, deflated: 49, chars: 0 }, 'all but the one changed late');
    clock.advance(DEFLATE_AFTER_MS);
    store.deflateSettled();
    const deflated = store.footprint();
    assert.equal(deflated.deflated, 50);
    assert.ok(deflated.chars * 4 < plain.chars, `${deflated.chars} characters deflated against ${plain.chars} plain`);
  });

  it('reads, indexes, updates, removes and relists deflated objects as a plain store does', () => {
    const clock = new FakeClock();
    const deflating = new Store({ deflate: true, now: () => clock.now() });
    const plain = new Store();
    const both = (f: (s: Store<KubeObject>) => unknown) => [f(deflating), f(plain)];
    const same = (f: (s: Store<KubeObject>) => unknown, what: string) => {
      const [a, b] = both(f);
      assert.deepEqual(a, b, what);
    };
    for (let i = 0; i < 20; i++) both((s) => s.upsert(child(i)));
    clock.advance(DEFLATE_AFTER_MS);
    deflating.deflateSettled();
    assert.equal(deflating.footprint().deflated, 20);
    same((s) => s.get('ns/pt-4-consumer'), 'get');
    same((s) => s.list(), 'list');
    same((s) => s.byIndex(CONTROLLER_UID_INDEX, 'owner-9'), 'a built-in index');
    same((s) => { s.addIndex('instance', (o) => [o.metadata.labels!['app.kubernetes.io/instance']!]); return s.byIndex('instance', 'pt-5'); }, 'an index added to a filled store');
    same((s) => s.upsert(child(5, '2')), 'an update hands out the old object');
    same((s) => s.remove(child(6, '3')), 'a delete');
    same((s) => s.replace([child(1), child(2, '9'), child(30)]), 'a relist');
    same((s) => s.list(), 'list after the changes');
    same((s) => s.byIndex('instance', 'pt-5'), 'the added index after the changes');
  });

  it('deflates on its own timer once the objects settle', async () => {
    const store = new Store({ deflate: true });
    for (let i = 0; i < 10; i++) store.upsert(child(i));
    assert.equal(store.footprint().deflated, 0, 'a fresh object stays plain');
    await waitFor(() => store.footprint().deflated === 10, { timeoutMs: DEFLATE_AFTER_MS + 10_000, what: 'the settled objects to be deflated' });
    assert.deepEqual(store.get('ns/pt-3-consumer'), child(3));
  });

  it('is off by default', () => {
    const clock = new FakeClock();
    const store = new Store({ now: () => clock.now() });
    store.upsert(child(1));
    clock.advance(DEFLATE_AFTER_MS * 2);
    store.deflateSettled();
    assert.equal(store.footprint().deflated, 0);
  });
});
