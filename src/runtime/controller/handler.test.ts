import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../object.ts';
import { replaysLow, replaysLowWhenObserved } from './handler.ts';

const object = (metadata: KubeObject['metadata'], status?: unknown) => ({ metadata: { name: 'a', namespace: 'ns', ...metadata }, ...(status ? { status } : {}) }) as KubeObject;

describe('replay priorities', () => {
  it('lets an object whose status observed its generation wait, and nothing else', () => {
    assert.equal(replaysLowWhenObserved(object({ generation: 3 }, { observedGeneration: 3 })), 'low');
    assert.equal(replaysLowWhenObserved(object({ generation: 4 }, { observedGeneration: 3 })), 'normal', 'edited while no controller ran');
    assert.equal(replaysLowWhenObserved(object({ generation: 1 })), 'normal', 'never reconciled');
    assert.equal(replaysLowWhenObserved(object({})), 'normal', 'a type without generation');
    assert.equal(replaysLowWhenObserved(object({ generation: 2, deletionTimestamp: '2026-01-01T00:00:00Z' }, { observedGeneration: 2 })), 'normal', 'being deleted');
  });

  it('lets every replayed child wait', () => {
    assert.equal(replaysLow(object({})), 'low');
  });
});
