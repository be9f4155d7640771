// The reconcile loop's error policy, driven through the controller's own queue.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../testing/wait.ts';
import { TerminalError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { Controller, type Reconciler } from './controller.ts';

function run(reconciler: Reconciler) {
  const controller = new Controller({ name: 'test', reconciler, log: silentLogger, maxConcurrentReconciles: 2 });
  const abort = new AbortController();
  const done = controller.start(abort.signal);
  return { controller, stop: async () => { abort.abort(); await done; } };
}

describe('Controller', () => {
  it('retries a failing key with growing backoff until it succeeds, then forgets its failures', async () => {
    let calls = 0;
    const { controller, stop } = run(async () => {
      calls++;
      if (calls < 4) throw new Error('transient');
    });
    try {
      controller.queue.add('ns/a');
      await waitFor(() => calls === 4 && controller.idle, { what: 'four attempts' });
      assert.equal(controller.queue.numRequeues('ns/a'), 0, 'success resets the backoff');
    } finally {
      await stop();
    }
  });

  it('does not retry a TerminalError', async () => {
    let calls = 0;
    const { controller, stop } = run(async () => {
      calls++;
      throw new TerminalError('bad spec');
    });
    try {
      controller.queue.add('ns/a');
      await waitFor(() => calls === 1 && controller.idle, { what: 'one attempt' });
      // A later event still reconciles the key: terminal means "until the object changes".
      controller.queue.add('ns/a');
      await waitFor(() => calls === 2 && controller.idle, { what: 'second event handled' });
      assert.equal(controller.queue.numRequeues('ns/a'), 0);
    } finally {
      await stop();
    }
  });

  it('survives a reconciler that throws synchronously or rejects with a non-Error', async () => {
    let calls = 0;
    const { controller, stop } = run(((request) => {
      calls++;
      if (request.name === 'sync') throw new TypeError('bug');
      return Promise.reject(new Error('async bug'));
    }));
    try {
      controller.queue.add('ns/sync');
      controller.queue.add('ns/async');
      await waitFor(() => calls >= 4, { what: 'both keys retried' });
    } finally {
      await stop();
    }
  });

  it('lets timers and I/O run during a burst of reconciles that never wait for I/O', async () => {
    let reconciled = 0;
    const { controller, stop } = run(async () => { reconciled++; });
    try {
      for (let i = 0; i < 1000; i++) controller.queue.add(`ns/o${i}`);
      const seenAt = await new Promise<number>((resolve) => setImmediate(() => resolve(reconciled)));
      assert.ok(seenAt < 1000, `the event loop had a turn after ${seenAt} of 1000 reconciles`);
      await waitFor(() => reconciled === 1000 && controller.idle, { what: 'all reconciled' });
    } finally {
      await stop();
    }
  });

  it('reconciles again after requeueAfter', async () => {
    let calls = 0;
    const { controller, stop } = run(async () => (++calls === 1 ? { requeueAfter: 20 } : undefined));
    try {
      controller.queue.add('ns/a');
      await waitFor(() => calls === 2 && controller.idle, { what: 'the requeue' });
    } finally {
      await stop();
    }
  });

  it('lets a running reconcile finish on shutdown', async () => {
    let release!: () => void;
    let finished = false;
    const { controller, stop } = run(async () => {
      await new Promise<void>((resolve) => { release = resolve; });
      finished = true;
    });
    controller.queue.add('ns/a');
    await waitFor(() => release !== undefined, { what: 'reconcile started' });
    const stopped = stop();
    release();
    await stopped;
    assert.ok(finished, 'the in-flight reconcile completed before start() resolved');
  });

  it('starts no queued reconcile once shutdown began', async () => {
    const releases: (() => void)[] = [];
    const started: string[] = [];
    let stopping = false;
    const { controller, stop } = run(async (request) => {
      started.push(request.name);
      // Reconciles started after shutdown (the failure this test looks for) end at once.
      if (!stopping) await new Promise<void>((resolve) => releases.push(resolve));
    });
    for (let i = 0; i < 10; i++) controller.queue.add(`ns/pt-${i}`);
    await waitFor(() => releases.length === 2, { what: 'both workers busy' });
    stopping = true;
    const stopped = stop();
    for (const release of releases.splice(0)) release();
    await stopped;
    assert.deepEqual(started, ['pt-0', 'pt-1'], 'only the two running reconciles ran; the eight queued did not start');
  });
});
