import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exposedGc, HeapReclaimer, type GcFunction } from './heap-reclaimer.ts';

const MiB = 1024 * 1024;

/** A reclaimer on a fake heap and clock; `gc` shrinks the heap to `live`. */
function setup(options: { busy?: () => boolean; compactAfterStart?: boolean } = {}) {
  const state = { now: 0, heap: 20 * MiB, live: 15 * MiB, busy: false, gcCalls: [] as unknown[] };
  const gc: GcFunction = (o) => { state.gcCalls.push(o); state.heap = state.live; };
  const reclaimer = new HeapReclaimer({
    busy: options.busy ?? (() => state.busy), gc, heapSize: () => state.heap, now: () => state.now, quietMs: 5_000, minGrowthBytes: 8 * MiB,
    compactAfterStart: options.compactAfterStart ?? false,
  });
  return { state, reclaimer };
}

describe('HeapReclaimer', () => {
  it('compacts once the work has been quiet long enough after the heap grew, with a memory-reducing major GC', () => {
    const { state, reclaimer } = setup();
    state.heap = 60 * MiB;
    state.busy = true;
    assert.equal(reclaimer.check(), false, 'busy');
    state.busy = false;
    state.now = 4_999;
    assert.equal(reclaimer.check(), false, 'quiet for less than quietMs');
    state.now = 5_000;
    assert.equal(reclaimer.check(), true);
    assert.deepEqual(state.gcCalls, [{ type: 'major', execution: 'sync', flavor: 'last-resort' }]);
    assert.equal(state.heap, 15 * MiB);
  });

  it('does not compact again until the heap has grown by minGrowthBytes since the last compaction', () => {
    const { state, reclaimer } = setup();
    state.heap = 60 * MiB;
    state.now = 10_000;
    assert.equal(reclaimer.check(), true);
    state.heap = 15 * MiB + 8 * MiB - 1;
    state.now = 20_000;
    assert.equal(reclaimer.check(), false, 'grown by less than minGrowthBytes');
    state.heap = 15 * MiB + 8 * MiB;
    assert.equal(reclaimer.check(), true);
    assert.equal(reclaimer.compactions, 2);
  });

  it('restarts the quiet period whenever work is in hand', () => {
    const { state, reclaimer } = setup();
    state.heap = 60 * MiB;
    state.now = 6_000;
    state.busy = true;
    reclaimer.check();
    state.busy = false;
    state.now = 10_999;
    assert.equal(reclaimer.check(), false, 'the quiet period counts from the last busy look');
    state.now = 11_000;
    assert.equal(reclaimer.check(), true);
  });

  it('never compacts a heap that did not grow (a process that stays small costs nothing)', () => {
    const { state, reclaimer } = setup();
    for (let t = 0; t < 100_000; t += 1_000) {
      state.now = t;
      assert.equal(reclaimer.check(), false);
    }
    assert.equal(state.gcCalls.length, 0);
  });

  it('follows the heap down when V8 shrank it on its own, so growth counts from there', () => {
    const { state, reclaimer } = setup();
    state.heap = 12 * MiB;
    state.now = 10_000;
    reclaimer.check();
    state.heap = 12 * MiB + 8 * MiB;
    assert.equal(reclaimer.check(), true);
  });

  it('compacts once after start-up whatever the growth, then only after growth', () => {
    const { state, reclaimer } = setup({ compactAfterStart: true });
    state.now = 4_999;
    assert.equal(reclaimer.check(), false, 'quiet for less than quietMs');
    state.now = 5_000;
    assert.equal(reclaimer.check(), true, 'start-up is a burst: its garbage goes at the first quiet period');
    assert.equal(state.heap, 15 * MiB);
    for (let t = 6_000; t < 60_000; t += 1_000) {
      state.now = t;
      assert.equal(reclaimer.check(), false, 'no growth since');
    }
    assert.equal(reclaimer.compactions, 1);
  });

  it('start returns at once without a gc() and stops with its signal', async () => {
    const none = new HeapReclaimer({ busy: () => false, gc: undefined });
    await none.start(new AbortController().signal);
    const abort = new AbortController();
    const running = new HeapReclaimer({ busy: () => false, gc: () => {}, checkEveryMs: 10 }).start(abort.signal);
    abort.abort();
    await running;
  });

  it('gets V8 gc() without a command-line flag and leaves the global without it', () => {
    const gc = exposedGc();
    assert.equal(typeof gc, 'function');
    gc!({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    if (!process.execArgv.includes('--expose-gc')) assert.equal((globalThis as { gc?: unknown }).gc, undefined);
  });
});
