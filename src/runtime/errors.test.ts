import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isTerminal, TerminalError } from './errors.ts';

void describe('TerminalError', () => {
  void it('is an Error with its name, message and cause', () => {
    const cause = new Error('spec.foo is invalid');
    const err = new TerminalError('cannot reconcile', { cause });
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'TerminalError');
    assert.equal(err.message, 'cannot reconcile');
    assert.equal(err.cause, cause);
    assert.match(String(err.stack), /TerminalError: cannot reconcile/);
  });
});

void describe('isTerminal', () => {
  void it('is true for a TerminalError', () => {
    assert.equal(isTerminal(new TerminalError('no')), true);
  });

  void it('is true for an error that wraps a TerminalError in its cause chain', () => {
    const wrapped = new Error('outer', { cause: new Error('middle', { cause: new TerminalError('inner') }) });
    assert.equal(isTerminal(wrapped), true);
  });

  void it('is false for ordinary errors and non-errors', () => {
    assert.equal(isTerminal(new Error('retry me')), false);
    assert.equal(isTerminal(new Error('outer', { cause: new Error('inner') })), false);
    assert.equal(isTerminal(undefined), false);
    assert.equal(isTerminal('TerminalError'), false);
    assert.equal(isTerminal({ name: 'TerminalError' }), false);
  });

  void it('terminates on a cyclic cause chain', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    assert.equal(isTerminal(a), false);
  });
});
