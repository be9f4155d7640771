import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deepFreeze } from './object.ts';
import {
  conditionsEqual, findCondition, isFalse, isTrue, removeCondition, rfc3339, setCondition, validateCondition,
  type Condition,
} from './conditions.ts';

const t0 = new Date('2026-01-02T03:04:05.678Z');
const t1 = new Date('2026-01-02T04:00:00.000Z');

const ready = (status: Condition['status'], reason = 'AllGood', message = 'fine', observedGeneration = 1) =>
  ({ type: 'Ready', status, reason, message, observedGeneration });

void describe('rfc3339', () => {
  void it('formats with seconds precision in UTC like metav1.Time', () => {
    assert.equal(rfc3339(t0), '2026-01-02T03:04:05Z');
    assert.equal(rfc3339('2026-01-02T05:04:05.999+02:00'), '2026-01-02T03:04:05Z');
    assert.equal(rfc3339(Date.UTC(2026, 0, 2, 3, 4, 5)), '2026-01-02T03:04:05Z');
  });

  void it('rejects an unparseable time', () => {
    assert.throws(() => rfc3339('yesterday'), /invalid time/);
  });
});

void describe('setCondition', () => {
  void it('adds a new condition with now as lastTransitionTime', () => {
    const out = setCondition(undefined, ready('True'), t0);
    assert.deepEqual(out, [{ type: 'Ready', status: 'True', observedGeneration: 1, lastTransitionTime: '2026-01-02T03:04:05Z', reason: 'AllGood', message: 'fine' }]);
  });

  void it('keeps lastTransitionTime when the status does not change, even if reason, message and generation do', () => {
    const before = setCondition([], ready('False', 'Waiting', 'not yet', 1), t0);
    const after = setCondition(before, ready('False', 'StillWaiting', 'still not', 2), t1);
    assert.deepEqual(after, [{ type: 'Ready', status: 'False', observedGeneration: 2, lastTransitionTime: '2026-01-02T03:04:05Z', reason: 'StillWaiting', message: 'still not' }]);
  });

  void it('moves lastTransitionTime when the status flips', () => {
    const before = setCondition([], ready('False'), t0);
    const after = setCondition(before, ready('True'), t1);
    assert.equal(after[0]?.lastTransitionTime, '2026-01-02T04:00:00Z');
    assert.equal(after[0]?.status, 'True');
  });

  void it('returns a new array and leaves a frozen input untouched', () => {
    const input = deepFreeze([
      { type: 'Progressing', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'Rolling', message: '' },
      { type: 'Ready', status: 'False', lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'Waiting', message: '' },
    ] satisfies Condition[]);
    const out = setCondition(input, ready('True'), t0);
    assert.notEqual(out, input);
    assert.equal(input[1]?.status, 'False');
    assert.deepEqual(out.map((c) => c.type), ['Progressing', 'Ready']);
    out[0]!.message = 'mutable copy';
    assert.equal(input[0]?.message, '');
  });

  void it('omits observedGeneration when not given', () => {
    const out = setCondition([], { type: 'Ready', status: 'Unknown', reason: 'Starting', message: '' }, t0);
    assert.equal('observedGeneration' in out[0]!, false);
  });

  void it('throws on a reason that is not CamelCase', () => {
    for (const reason of ['', 'not ready', '1Bad', 'Bad-Dash', 'Trailing,', 'x'.repeat(1025)]) {
      assert.throws(() => setCondition([], ready('True', reason), t0), /invalid reason/, reason);
    }
    for (const reason of ['A', 'ModuleLoaded', 'Some_Reason', 'A:b,c_9']) {
      assert.doesNotThrow(() => setCondition([], ready('True', reason), t0), reason);
    }
  });

  void it('throws on a message longer than 32768 bytes', () => {
    assert.doesNotThrow(() => setCondition([], ready('True', 'Ok', 'x'.repeat(32768)), t0));
    assert.throws(() => setCondition([], ready('True', 'Ok', 'x'.repeat(32769)), t0), /longer than 32768 bytes/);
    assert.throws(() => setCondition([], ready('True', 'Ok', 'é'.repeat(16385)), t0), /longer than 32768 bytes/);
  });
});

void describe('validateCondition', () => {
  void it('rejects invalid types, statuses and generations', () => {
    const ok = ready('True');
    assert.throws(() => validateCondition({ ...ok, type: 'has space' }), /invalid condition type/);
    assert.throws(() => validateCondition({ ...ok, status: 'true' as Condition['status'] }), /invalid status/);
    assert.throws(() => validateCondition({ ...ok, observedGeneration: -1 }), /observedGeneration/);
    assert.doesNotThrow(() => validateCondition({ ...ok, type: 'example.com/ModuleLoaded' }));
  });
});

void describe('findCondition, isTrue, isFalse', () => {
  const conditions = setCondition(setCondition([], ready('True'), t0), { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '' }, t0);

  void it('finds a condition by type', () => {
    assert.equal(findCondition(conditions, 'Degraded')?.reason, 'AsExpected');
    assert.equal(findCondition(conditions, 'Missing'), undefined);
    assert.equal(findCondition(undefined, 'Ready'), undefined);
  });

  void it('reports True only for status True and False only for status False', () => {
    assert.equal(isTrue(conditions, 'Ready'), true);
    assert.equal(isTrue(conditions, 'Degraded'), false);
    assert.equal(isTrue(conditions, 'Missing'), false);
    assert.equal(isFalse(conditions, 'Degraded'), true);
    assert.equal(isFalse(conditions, 'Missing'), false);
  });
});

void describe('removeCondition', () => {
  void it('returns a new list without that type', () => {
    const input = deepFreeze(setCondition(setCondition([], ready('True'), t0), { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '' }, t0));
    const out = removeCondition(input, 'Ready');
    assert.deepEqual(out.map((c) => c.type), ['Degraded']);
    assert.equal(input.length, 2);
    assert.deepEqual(removeCondition(undefined, 'Ready'), []);
  });
});

void describe('conditionsEqual', () => {
  const a = setCondition(setCondition([], ready('True'), t0), { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '' }, t0);

  void it('is true when re-setting the same state at a later time', () => {
    const again = setCondition(setCondition(a, ready('True'), t1), { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '' }, t1);
    assert.equal(conditionsEqual(a, again), true);
  });

  void it('ignores order', () => {
    assert.equal(conditionsEqual(a, [...a].reverse()), true);
  });

  void it('is false when any field changes', () => {
    assert.equal(conditionsEqual(a, setCondition(a, ready('True', 'AllGood', 'other message'), t0)), false);
    assert.equal(conditionsEqual(a, setCondition(a, ready('True', 'OtherReason'), t0)), false);
    assert.equal(conditionsEqual(a, setCondition(a, ready('True', 'AllGood', 'fine', 2), t0)), false);
    assert.equal(conditionsEqual(a, setCondition(a, ready('False'), t0)), false);
  });

  void it('is false when a condition is added or removed', () => {
    assert.equal(conditionsEqual(a, removeCondition(a, 'Ready')), false);
    assert.equal(conditionsEqual(removeCondition(a, 'Ready'), a), false);
  });

  void it('treats a missing list as empty', () => {
    assert.equal(conditionsEqual(undefined, []), true);
    assert.equal(conditionsEqual(undefined, a), false);
  });
});
