import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { silentLogger } from '../runtime/log.ts';
import { FORCED_EXIT_CODE, shutdownSignal } from './signals.ts';

describe('shutdownSignal', () => {
  it('aborts on the first SIGTERM and exits at once on a second signal', () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    const signal = shutdownSignal({ log: silentLogger, target, exit: (code) => exits.push(code) });
    assert.equal(signal.aborted, false);
    target.emit('SIGTERM');
    assert.equal(signal.aborted, true, 'graceful shutdown starts');
    assert.deepEqual(exits, [], 'no exit yet: running work may finish');
    target.emit('SIGINT');
    assert.deepEqual(exits, [FORCED_EXIT_CODE]);
  });
});
