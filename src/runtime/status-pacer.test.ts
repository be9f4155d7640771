import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusPacer } from './status-pacer.ts';

describe('StatusPacer', () => {
  it('lets the first write of a burst go at once, then doubles the gap up to the cap', () => {
    let now = 0;
    const pacer = new StatusPacer({ firstDelayMs: 100, maxDelayMs: 400, quietMs: 10_000, now: () => now });
    assert.equal(pacer.delay('a', false), 0);
    pacer.written('a', false);
    assert.equal(pacer.delay('a', false), 100);
    now = 100;
    assert.equal(pacer.delay('a', false), 0);
    pacer.written('a', false);
    assert.equal(pacer.delay('a', false), 200);
    now = 300;
    pacer.written('a', false);
    assert.equal(pacer.delay('a', false), 400);
    now = 700;
    pacer.written('a', false);
    assert.equal(pacer.delay('a', false), 400, 'capped');
  });

  it('never delays an urgent write, and an urgent write starts a new burst', () => {
    let now = 0;
    const pacer = new StatusPacer({ firstDelayMs: 100, now: () => now });
    pacer.written('a', false);
    now = 10;
    assert.equal(pacer.delay('a', true), 0);
    pacer.written('a', true);
    now = 20;
    assert.equal(pacer.delay('a', false), 90, 'the gap restarts from the first one');
  });

  it('starts over after a quiet period, and keeps objects apart', () => {
    let now = 0;
    const pacer = new StatusPacer({ firstDelayMs: 100, quietMs: 1_000, now: () => now });
    pacer.written('a', false);
    assert.equal(pacer.delay('b', false), 0, 'another object is not delayed');
    now = 1_000;
    assert.equal(pacer.delay('a', false), 0);
    pacer.forget('a');
    assert.equal(pacer.size, 0);
  });
});
