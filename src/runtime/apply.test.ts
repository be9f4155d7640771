import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSubset, needsApply, stableHash, withAppliedHash } from './apply.ts';

void describe('isSubset', () => {
  void it('accepts extra fields the server added', () => {
    assert.ok(isSubset({ a: 1, b: { c: 'x' } }, { a: 1, b: { c: 'x', d: 2 }, e: [] }));
  });
  void it('rejects a changed or missing value', () => {
    assert.ok(!isSubset({ a: 1 }, { a: 2 }));
    assert.ok(!isSubset({ a: { b: 1 } }, { a: {} }));
    assert.ok(!isSubset({ a: 'x' }, {}));
  });
  void it('compares arrays element by element and by length', () => {
    assert.ok(isSubset([{ name: 'c' }], [{ name: 'c', image: 'i' }]));
    assert.ok(!isSubset([{ name: 'c' }], [{ name: 'c' }, { name: 'd' }]));
    assert.ok(!isSubset([1, 2], [2, 1]));
  });
});

void describe('applied hash', () => {
  const base = { metadata: { name: 'x', labels: { a: 'b' } }, spec: { tolerations: [{ key: 'k' }] } };
  void it('does not depend on key order', () => {
    assert.equal(stableHash({ a: 1, b: 2 }), stableHash({ b: 2, a: 1 }));
  });
  void it('asks for an apply when a field we sent before is dropped', () => {
    const current = withAppliedHash(base, 'h');
    const next = withAppliedHash({ metadata: { name: 'x', labels: { a: 'b' } }, spec: {} }, 'h');
    assert.ok(!needsApply(current, current));
    assert.ok(needsApply(next, current), 'subset alone would miss the dropped toleration');
  });
  void it('needs no apply for an object from a list, which carries no apiVersion and kind', () => {
    const desired = withAppliedHash({ apiVersion: 'apps/v1', kind: 'DaemonSet', ...base }, 'h');
    const { apiVersion: _a, kind: _k, ...fromList } = desired;
    assert.ok(!needsApply(desired, fromList));
    assert.ok(needsApply(desired, { ...fromList, spec: { tolerations: [{ key: 'other' }] } }), 'content is still compared');
  });
  void it('asks for an apply when the object is missing', () => {
    assert.ok(needsApply(withAppliedHash(base, 'h'), undefined));
  });
});
