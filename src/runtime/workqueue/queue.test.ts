import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { WorkQueueMetricsProvider } from './metrics.ts';
import { WorkQueue } from './queue.ts';
import { FakeClock } from '../testing/fake-clock.ts';

const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** True if the promise has not settled after everything already scheduled has run. */
async function isPending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await macrotask();
  return !settled;
}

/** The promise's value; fails (instead of hanging) if it has not settled by now. */
async function settled<T>(promise: Promise<T>): Promise<T> {
  assert.equal(await isPending(promise), false, 'expected the promise to have settled');
  return promise;
}

async function drain<T>(q: WorkQueue<T>): Promise<T[]> {
  const items: T[] = [];
  while (q.length > 0) {
    const item = (await q.get()) as T;
    items.push(item);
    q.done(item);
  }
  return items;
}

void test('an add while processing yields exactly one follow-up after done', async () => {
  const q = new WorkQueue({ name: 'follow-up' });
  q.add('a');
  assert.equal(await q.get(), 'a');
  q.add('a');
  q.add('a');
  q.add('a');
  assert.equal(q.length, 0, 'an item being processed is not queued again');
  const next = q.get();
  assert.equal(await isPending(next), true, 'the item is not handed out before done()');
  q.done('a');
  assert.equal(await settled(next), 'a');
  q.done('a');
  assert.equal(q.length, 0);
  assert.equal(await isPending(q.get()), true, 'no second follow-up');
  q.shutDown();
});

void test('low-priority items wait behind every normal item, FIFO within each lane', async () => {
  const q = new WorkQueue({ name: 'lanes' });
  q.add('replay-1', { lowPriority: true });
  q.add('replay-2', { lowPriority: true });
  q.add('fresh-1');
  q.add('replay-3', { lowPriority: true });
  q.add('fresh-2');
  assert.equal(q.length, 5);
  assert.equal(await q.get(), 'fresh-1');
  // A normal item added while low ones wait still goes first.
  q.add('fresh-3');
  q.done('fresh-1');
  assert.deepEqual(await drain(q), ['fresh-2', 'fresh-3', 'replay-1', 'replay-2', 'replay-3']);
});

void test('a normal add moves a queued low item to the normal lane, once', async () => {
  const q = new WorkQueue({ name: 'promote' });
  q.add('a', { lowPriority: true });
  q.add('b', { lowPriority: true });
  q.add('c');
  q.add('b');
  q.add('b', { lowPriority: true }); // a later low add does not demote it
  assert.equal(q.length, 3, 'still one entry per item');
  assert.deepEqual(await drain(q), ['c', 'b', 'a']);
  assert.equal(q.length, 0);
  assert.equal(await isPending(q.get()), true, 'the moved item is not handed out twice');
  q.shutDown();
});

void test('an item added while processing is queued again in the lane of its adds', async () => {
  const q = new WorkQueue({ name: 'lane-follow-up' });
  q.add('a');
  q.add('b');
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  q.add('a', { lowPriority: true });
  q.add('b', { lowPriority: true });
  q.add('b'); // normal wins while b is being processed
  q.add('c');
  q.done('a');
  q.done('b');
  assert.deepEqual(await drain(q), ['c', 'b', 'a']);
});

void test('shutdown still hands out what is queued in both lanes, normal first', async () => {
  const q = new WorkQueue({ name: 'lanes-shutdown' });
  q.add('low', { lowPriority: true });
  q.add('normal');
  q.shutDown();
  q.add('late');
  assert.equal(await q.get(), 'normal');
  assert.equal(await q.get(), 'low');
  assert.equal(await q.get(), undefined);
});

void test('many adds of a queued item collapse into one, in FIFO order', async () => {
  const q = new WorkQueue({ name: 'dedup' });
  for (const key of ['a', 'b', 'a', 'c', 'b', 'a']) q.add(key);
  assert.equal(q.length, 3);
  assert.deepEqual(await drain(q), ['a', 'b', 'c']);
});

void test('pending getters are served in call order as items arrive', async () => {
  const q = new WorkQueue({ name: 'getters' });
  const first = q.get();
  const second = q.get();
  q.add('x');
  q.add('y');
  assert.deepEqual(await settled(Promise.all([first, second])), ['x', 'y']);
});

const noOverlap = 'never hands one key to two workers at once, and processes every add after its last start';
void test(noOverlap, { timeout: 60_000 }, async () => {
  const q = new WorkQueue({ name: 'concurrency' });
  const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
  // Deterministic pseudo-random interleavings (mulberry32).
  let seed = 42;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let tick = 0;
  const lastAdd = new Map<string, number>();
  const lastStart = new Map<string, number>();
  const active = new Set<string>();
  let overlaps = 0;
  let maxActive = 0;

  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await q.get();
      if (key === undefined) return;
      if (active.has(key)) overlaps++;
      active.add(key);
      maxActive = Math.max(maxActive, active.size);
      lastStart.set(key, ++tick);
      for (let i = Math.floor(random() * 4); i > 0; i--) await macrotask(); // "work"
      active.delete(key);
      q.done(key);
    }
  };
  const workers = Array.from({ length: 4 }, worker);

  for (let i = 0; i < 3000; i++) {
    const key = keys[Math.floor(random() * keys.length)] as string;
    lastAdd.set(key, ++tick);
    q.add(key);
    if (random() < 0.5) await macrotask();
  }
  await q.shutDownWithDrain();
  await Promise.all(workers);

  assert.equal(overlaps, 0, 'a key was processed by two workers at once');
  assert.ok(maxActive > 1, 'workers did run concurrently');
  for (const [key, added] of lastAdd) {
    assert.ok((lastStart.get(key) ?? 0) > added, `${key}: last add was not followed by processing`);
  }
});

void test('addAfter keeps the earliest ready time of a waiting item', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ name: 'delay', clock });
  q.addAfter('a', 100);
  q.addAfter('a', 50);
  q.addAfter('a', 200);
  clock.advance(49);
  assert.equal(q.length, 0);
  clock.advance(1);
  assert.equal(q.length, 1);
  assert.deepEqual(await drain(q), ['a']);
  clock.advance(1000);
  assert.equal(q.length, 0, 'the later requests merged into the earliest one');
});

void test('delayed items become ready in ready-time order, even when a sooner one arrives later', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ name: 'delay-order', clock });
  q.addAfter('late', 100);
  q.addAfter('middle', 30);
  clock.advance(5);
  q.addAfter('early', 10);
  clock.advance(10);
  assert.deepEqual(await drain(q), ['early']);
  clock.advance(100);
  assert.deepEqual(await drain(q), ['middle', 'late']);
});

void test('addAfter with a non-positive delay adds immediately', () => {
  const q = new WorkQueue({ name: 'no-delay', clock: new FakeClock() });
  q.addAfter('a', 0);
  q.addAfter('b', -5);
  assert.equal(q.length, 2);
});

void test('addRateLimited backs off 5, 10, 20, 40 ms per item; forget resets it', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ name: 'backoff', clock });
  for (const expected of [5, 10, 20, 40]) {
    q.addRateLimited('a');
    clock.advance(expected - 1);
    assert.equal(q.length, 0, `not ready before ${expected} ms`);
    clock.advance(1);
    assert.equal(q.length, 1, `ready after ${expected} ms`);
    await drain(q);
  }
  assert.equal(q.numRequeues('a'), 4);
  q.forget('a');
  assert.equal(q.numRequeues('a'), 0);
  q.addRateLimited('a');
  clock.advance(4);
  assert.equal(q.length, 0);
  clock.advance(1);
  assert.equal(q.length, 1);
});

void test('shutDown wakes idle getters with undefined', async () => {
  const q = new WorkQueue({ name: 'shutdown' });
  const getters = [q.get(), q.get(), q.get()];
  assert.equal(await isPending(getters[0] as Promise<unknown>), true);
  q.shutDown();
  assert.equal(q.shuttingDown, true);
  assert.deepEqual(await settled(Promise.all(getters)), [undefined, undefined, undefined]);
  assert.equal(await settled(q.get()), undefined);
});

void test('items queued before shutDown are still handed out, then undefined', async () => {
  const q = new WorkQueue({ name: 'shutdown-queued' });
  q.add('a');
  q.add('b');
  q.shutDown();
  assert.equal(await settled(q.get()), 'a');
  assert.equal(await settled(q.get()), 'b');
  assert.equal(await settled(q.get()), undefined);
});

void test('adds after shutdown are ignored and waiting items are dropped', () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ name: 'shutdown-adds', clock });
  q.addAfter('waiting', 10);
  q.shutDown();
  assert.equal(clock.pendingTimers, 0, 'the delay timer is cancelled');
  q.add('a');
  q.addAfter('b', 5);
  q.addRateLimited('c');
  clock.advance(1000);
  assert.equal(q.length, 0);
  assert.equal(q.numRequeues('c'), 0);
});

void test('shutDownWithDrain resolves only when in-flight items are done', async () => {
  const q = new WorkQueue({ name: 'drain' });
  q.add('a');
  q.add('b');
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  q.add('a'); // dirty while processing: still delivered after done()
  const drained = q.shutDownWithDrain();
  assert.equal(q.shuttingDown, true);
  assert.equal(await isPending(drained), true);
  q.done('b');
  assert.equal(await isPending(drained), true, 'a is still in flight');
  q.done('a');
  await settled(drained);
  assert.equal(await settled(q.get()), 'a', 'the follow-up added before shutdown is kept');
  q.done('a');
  assert.equal(await settled(q.get()), undefined);
});

void test('shutDown releases a pending drain', async () => {
  const q = new WorkQueue({ name: 'drain-abort' });
  q.add('a');
  await q.get();
  const drained = q.shutDownWithDrain();
  assert.equal(await isPending(drained), true);
  q.shutDown();
  await settled(drained);
});

void test('a delayed item on the real clock is delivered by get()', { timeout: 10_000 }, async () => {
  const q = new WorkQueue({ name: 'real-clock' });
  q.addAfter('a', 20);
  assert.equal(q.length, 0);
  assert.equal(await q.get(), 'a');
  q.shutDown();
});

interface Series {
  value: number;
  labels: Partial<Record<string, string | number>>;
  metricName?: string;
}

async function sample(registry: Registry, metric: string, queue: string, series = metric): Promise<number | undefined> {
  const values: Series[] = (await registry.getSingleMetric(metric)?.get())?.values ?? [];
  return values.find((v) => v.labels.name === queue && (v.metricName ?? metric) === series)?.value;
}

void test('metrics reflect depth, adds and retries', async () => {
  const registry = new Registry();
  const clock = new FakeClock();
  const q = new WorkQueue({ name: 'q', clock, metrics: new WorkQueueMetricsProvider(registry) });
  assert.equal(await sample(registry, 'workqueue_adds_total', 'q'), 0, 'series exist from creation');
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(await sample(registry, 'workqueue_adds_total', 'q'), 2);
  assert.equal(await sample(registry, 'workqueue_depth', 'q'), 2);
  await q.get();
  assert.equal(await sample(registry, 'workqueue_depth', 'q'), 1);
  q.add('a'); // dirty while processing counts, as in client-go
  assert.equal(await sample(registry, 'workqueue_adds_total', 'q'), 3);
  assert.equal(await sample(registry, 'workqueue_depth', 'q'), 2);
  q.addRateLimited('c');
  assert.equal(await sample(registry, 'workqueue_retries_total', 'q'), 1);
  assert.equal(await sample(registry, 'workqueue_adds_total', 'q'), 3, 'a delayed item is added when ready');
  clock.advance(5);
  assert.equal(await sample(registry, 'workqueue_adds_total', 'q'), 4);
  assert.equal(await sample(registry, 'workqueue_depth', 'q'), 3);
});

void test('metrics time queue waits, work, and in-flight processors', async () => {
  const registry = new Registry();
  const clock = new FakeClock();
  const q = new WorkQueue({ name: 'q', clock, metrics: new WorkQueueMetricsProvider(registry) });
  const queued = 'workqueue_queue_duration_seconds';
  const work = 'workqueue_work_duration_seconds';
  q.add('a');
  clock.advance(1000);
  await q.get();
  assert.equal(await sample(registry, queued, 'q', `${queued}_count`), 1);
  assert.equal(await sample(registry, queued, 'q', `${queued}_sum`), 1);
  clock.advance(2000);
  q.add('b');
  await q.get();
  clock.advance(1000);
  assert.equal(await sample(registry, 'workqueue_unfinished_work_seconds', 'q'), 4);
  assert.equal(await sample(registry, 'workqueue_longest_running_processor_seconds', 'q'), 3);
  q.done('a');
  q.done('b');
  assert.equal(await sample(registry, work, 'q', `${work}_count`), 2);
  assert.equal(await sample(registry, work, 'q', `${work}_sum`), 4);
  assert.equal(await sample(registry, 'workqueue_unfinished_work_seconds', 'q'), 0);
  assert.equal(await sample(registry, 'workqueue_longest_running_processor_seconds', 'q'), 0);

  const series: Series[] = (await registry.getSingleMetric(work)?.get())?.values ?? [];
  const buckets = series
    .filter((v) => v.metricName === `${work}_bucket` && v.labels.name === 'q')
    .map((v) => v.labels.le);
  assert.deepEqual(buckets, [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, '+Inf']);
});

void test('several queues share one registry, labelled by name', async () => {
  const registry = new Registry();
  const one = new WorkQueue({ name: 'one', metrics: new WorkQueueMetricsProvider(registry) });
  const provider = new WorkQueueMetricsProvider(registry);
  const two = new WorkQueue({ name: 'two', metrics: provider });
  const three = new WorkQueue({ name: 'three', metrics: provider });
  one.add('a');
  two.add('a');
  two.add('b');
  three.add('a');
  await two.get();
  assert.equal(await sample(registry, 'workqueue_adds_total', 'one'), 1);
  assert.equal(await sample(registry, 'workqueue_adds_total', 'two'), 2);
  assert.equal(await sample(registry, 'workqueue_depth', 'two'), 1);
  assert.equal(await sample(registry, 'workqueue_depth', 'three'), 1);
  assert.equal(await sample(registry, 'workqueue_unfinished_work_seconds', 'one'), 0);
  assert.ok((await sample(registry, 'workqueue_unfinished_work_seconds', 'two')) !== undefined);
  assert.match(await registry.metrics(), /workqueue_depth\{name="three"\} 1/);
});

void test('a shut-down queue reports no in-flight work once its last item is done', async () => {
  const registry = new Registry();
  const clock = new FakeClock();
  const q = new WorkQueue({ name: 'q', clock, metrics: new WorkQueueMetricsProvider(registry) });
  q.add('a');
  await q.get();
  clock.advance(1000);
  assert.equal(await sample(registry, 'workqueue_unfinished_work_seconds', 'q'), 1);
  const drained = q.shutDownWithDrain();
  assert.equal(await sample(registry, 'workqueue_longest_running_processor_seconds', 'q'), 1, 'still in flight');
  q.done('a');
  await settled(drained);
  assert.equal(await sample(registry, 'workqueue_unfinished_work_seconds', 'q'), 0);
  assert.equal(await sample(registry, 'workqueue_longest_running_processor_seconds', 'q'), 0);
});
