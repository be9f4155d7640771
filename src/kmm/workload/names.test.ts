import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { labelValueFor } from './names.ts';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe('labelValueFor', () => {
  it('keeps names that are valid label values as they are', () => {
    assert.equal(labelValueFor('pt-sample'), 'pt-sample');
    assert.equal(labelValueFor('a'.repeat(63)), 'a'.repeat(63));
  });

  it('turns any legal object name into a valid, distinct label value of at most 63 characters', () => {
    const long = `${'a'.repeat(60)}.-${'b'.repeat(100)}`;
    const other = `${'a'.repeat(60)}.-${'c'.repeat(100)}`;
    for (const name of [long, other, 'x'.repeat(253), `${'y'.repeat(52)}-.z${'q'.repeat(30)}`]) {
      const value = labelValueFor(name);
      assert.ok(value.length <= 63, value);
      assert.match(value, LABEL_VALUE);
    }
    assert.notEqual(labelValueFor(long), labelValueFor(other));
  });
});
