import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { AlreadyExistsError, NotFoundError } from './client/errors.ts';
import { clone, deepFreeze, type KubeObject, type ObjectKey } from './object.ts';
import { ConfigMaps, Events, Nodes, Pods, type ResourceType } from './resource.ts';
import {
  EventRecorder, eventName, microTime, truncateUtf8,
  type Event, type EventClient, type EventRecorderOptions,
} from './events.ts';

type Call =
  | { verb: 'create'; rt: ResourceType; obj: Event }
  | { verb: 'patch'; rt: ResourceType; key: ObjectKey; patch: unknown; type: string };

/** Records calls and keeps created Events by namespace/name, like a tiny API server. */
class FakeClient implements EventClient {
  readonly calls: Call[] = [];
  readonly stored = new Map<string, Event>();
  /** Returns an error to throw instead of handling a call. */
  fail: ((call: Call) => Error | undefined) | undefined;
  /** When set, create waits for this promise before answering. */
  gate: Promise<void> | undefined;

  async create<T extends KubeObject>(rt: ResourceType<T>, obj: T): Promise<T> {
    const call: Call = { verb: 'create', rt, obj: clone(obj) as unknown as Event };
    this.calls.push(call);
    if (this.gate) await this.gate;
    const err = this.fail?.(call);
    if (err) throw err;
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    if (this.stored.has(key)) throw new AlreadyExistsError(409, { reason: 'AlreadyExists' }, 'CREATE', key);
    this.stored.set(key, clone(obj) as unknown as Event);
    return clone(obj);
  }

  async patch<T extends KubeObject>(rt: ResourceType<T>, key: ObjectKey, patch: unknown, type: 'merge' | 'json' | 'strategic'): Promise<T> {
    const call: Call = { verb: 'patch', rt, key, patch: clone(patch), type };
    this.calls.push(call);
    const err = this.fail?.(call);
    if (err) throw err;
    const id = `${key.namespace}/${key.name}`;
    const current = this.stored.get(id);
    if (!current) throw new NotFoundError(404, { reason: 'NotFound' }, 'PATCH', id);
    const next = { ...current, ...(patch as Partial<Event>) };
    this.stored.set(id, next);
    return clone(next) as unknown as T;
  }

  get creates(): Event[] {
    return this.calls.flatMap((c) => (c.verb === 'create' ? [c.obj] : []));
  }

  get patches(): { key: ObjectKey; patch: unknown; type: string }[] {
    return this.calls.flatMap((c) => (c.verb === 'patch' ? [c] : []));
  }
}

class FakeClock {
  ms = Date.parse('2026-01-02T03:04:05.678Z');
  now(): number {
    return this.ms;
  }
}

function setup(options: Partial<EventRecorderOptions> = {}) {
  const client = new FakeClient();
  const clock = new FakeClock();
  const logs: { level: number; msg: string; err?: { message: string } }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as (typeof logs)[number]) });
  const recorder = new EventRecorder({ client, controller: 'example.com/widget-operator', instance: 'operator-0', clock, log, ...options });
  return { client, clock, logs, recorder };
}

const pod: KubeObject = deepFreeze({ metadata: { name: 'demo', namespace: 'apps', uid: 'uid-pod', resourceVersion: '7' } });
const node: KubeObject = deepFreeze({ metadata: { name: 'node-1', uid: 'uid-node', resourceVersion: '3' } });

void describe('EventRecorder', () => {
  void it('creates an events.k8s.io/v1 Event with the regarding reference and reporting fields', async () => {
    const { client, recorder } = setup();
    const cm = { metadata: { name: 'cfg', namespace: 'apps', uid: 'uid-cm' } };
    assert.equal(recorder.event(Pods, pod, 'Normal', 'Scheduled', 'Binding', 'assigned to node-1', { rt: ConfigMaps, object: cm }), undefined);
    await recorder.flush();
    assert.equal(client.calls.length, 1);
    assert.equal(client.calls[0]?.rt, Events);
    const { metadata, ...rest } = client.creates[0]!;
    assert.match(metadata.name ?? '', /^demo\.[0-9a-f]{16}$/);
    assert.equal(metadata.namespace, 'apps');
    assert.deepEqual(rest, {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      eventTime: '2026-01-02T03:04:05.678000Z',
      reportingController: 'example.com/widget-operator',
      reportingInstance: 'operator-0',
      action: 'Binding',
      reason: 'Scheduled',
      regarding: { apiVersion: 'v1', kind: 'Pod', name: 'demo', namespace: 'apps', uid: 'uid-pod', resourceVersion: '7' },
      related: { apiVersion: 'v1', kind: 'ConfigMap', name: 'cfg', namespace: 'apps', uid: 'uid-cm' },
      note: 'assigned to node-1',
      type: 'Normal',
    });
  });

  void it('puts events about cluster-scoped objects in the default namespace', async () => {
    const { client, recorder } = setup();
    recorder.event(Nodes, node, 'Warning', 'NotReady', 'Check', 'kubelet stopped');
    await recorder.flush();
    const event = client.creates[0]!;
    assert.equal(event.metadata.namespace, 'default');
    assert.deepEqual(event.regarding, { apiVersion: 'v1', kind: 'Node', name: 'node-1', uid: 'uid-node', resourceVersion: '3' });
  });

  void it('truncates the note to 1024 bytes', async () => {
    const { client, recorder } = setup();
    recorder.event(Pods, pod, 'Warning', 'Failed', 'Load', 'é'.repeat(600));
    await recorder.flush();
    assert.equal(client.creates[0]?.note, 'é'.repeat(512));
  });

  void it('patches the series of an identical event instead of creating another', async () => {
    const { client, clock, recorder } = setup();
    recorder.event(Pods, pod, 'Warning', 'Failed', 'Load', 'module missing');
    await recorder.flush();
    clock.ms += 60_000;
    recorder.event(Pods, pod, 'Warning', 'Failed', 'Load', 'module missing');
    await recorder.flush();
    clock.ms += 60_000;
    recorder.event(Pods, pod, 'Warning', 'Failed', 'Load', 'module missing');
    await recorder.flush();

    const name = client.creates[0]?.metadata.name;
    assert.equal(client.creates.length, 1);
    assert.deepEqual(client.patches, [
      { verb: 'patch', rt: Events, key: { namespace: 'apps', name }, type: 'merge', patch: { series: { count: 2, lastObservedTime: '2026-01-02T03:05:05.678000Z' } } },
      { verb: 'patch', rt: Events, key: { namespace: 'apps', name }, type: 'merge', patch: { series: { count: 3, lastObservedTime: '2026-01-02T03:06:05.678000Z' } } },
    ]);
  });

  void it('aggregates although the regarding object\'s resourceVersion changed', async () => {
    const { client, recorder } = setup();
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    recorder.event(Pods, { metadata: { ...pod.metadata, resourceVersion: '8' } }, 'Normal', 'Synced', 'Reconcile', 'ok');
    await recorder.flush();
    assert.equal(client.creates.length, 1);
  });

  void it('coalesces occurrences that arrive while a write is queued into one request', async () => {
    const { client, recorder } = setup();
    for (let i = 0; i < 3; i++) recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await recorder.flush();
    assert.equal(client.calls.length, 1);
    assert.deepEqual(client.creates[0]?.series, { count: 3, lastObservedTime: '2026-01-02T03:04:05.678000Z' });
  });

  void it('does not charge the rate limit for occurrences folded into a queued write', async () => {
    const { client, recorder } = setup({ burst: 2 });
    for (let i = 0; i < 5; i++) recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    recorder.event(Pods, pod, 'Normal', 'Other', 'Reconcile', 'ok');
    await recorder.flush();
    assert.deepEqual(client.creates.map((e) => [e.reason, e.series?.count]), [['Synced', 5], ['Other', undefined]]);
  });

  void it('waits for the create before patching the series of the same event', async () => {
    const { client, recorder } = setup();
    let open!: () => void;
    client.gate = new Promise<void>((resolve) => { open = resolve; });
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await new Promise(setImmediate);
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await new Promise(setImmediate);
    assert.deepEqual(client.calls.map((c) => c.verb), ['create']);
    open();
    await recorder.flush();
    assert.deepEqual(client.calls.map((c) => c.verb), ['create', 'patch']);
  });

  void it('starts a new Event once the series window has passed since the last occurrence', async () => {
    const { client, clock, recorder } = setup();
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    clock.ms += 300_000;
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await recorder.flush();
    clock.ms += 360_001;
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await recorder.flush();
    assert.equal(client.creates.length, 2);
    assert.notEqual(client.creates[0]?.metadata.name, client.creates[1]?.metadata.name);
    assert.equal(client.creates[1]?.series, undefined);
  });

  void it('creates separate Events when type, reason, action, note, regarding or related object differ', async () => {
    const { client, recorder } = setup();
    const other = { metadata: { name: 'other', namespace: 'apps', uid: 'uid-other' } };
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    recorder.event(Pods, pod, 'Warning', 'Synced', 'Reconcile', 'ok');
    recorder.event(Pods, pod, 'Normal', 'Updated', 'Reconcile', 'ok');
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Apply', 'ok');
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'changed');
    recorder.event(Pods, other, 'Normal', 'Synced', 'Reconcile', 'ok');
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok', { rt: ConfigMaps, object: other });
    await recorder.flush();
    assert.equal(client.creates.length, 7);
    assert.equal(client.patches.length, 0);
  });

  void it('recreates an Event that the API server expired, keeping its series', async () => {
    const { client, clock, recorder } = setup();
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await recorder.flush();
    const name = client.creates[0]?.metadata.name;
    client.stored.clear();
    clock.ms += 1_000;
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await recorder.flush();
    assert.deepEqual(client.calls.map((c) => c.verb), ['create', 'patch', 'create']);
    assert.equal(client.creates[1]?.metadata.name, name);
    assert.deepEqual(client.creates[1]?.series, { count: 2, lastObservedTime: '2026-01-02T03:04:06.678000Z' });
  });

  void it('patches the series when a create answers AlreadyExists', async () => {
    const { client, recorder } = setup();
    let lost = true;
    client.fail = (call) => {
      if (call.verb !== 'create' || !lost) return undefined;
      lost = false;
      client.stored.set(`${call.obj.metadata.namespace}/${call.obj.metadata.name}`, call.obj);
      return new Error('connection reset');
    };
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await recorder.flush();
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await recorder.flush();
    assert.deepEqual(client.calls.map((c) => c.verb), ['create', 'create', 'patch']);
    assert.deepEqual(client.patches[0]?.patch, { series: { count: 2, lastObservedTime: '2026-01-02T03:04:05.678000Z' } });
  });

  void it('drops events about one object beyond a burst of 25 and allows one more every 5 minutes', async () => {
    const { client, clock, recorder } = setup();
    for (let i = 0; i < 30; i++) recorder.event(Pods, pod, 'Normal', `Reason${i}`, 'Reconcile', 'ok');
    recorder.event(Nodes, node, 'Normal', 'Other', 'Reconcile', 'another object has its own budget');
    await recorder.flush();
    assert.equal(client.creates.filter((e) => e.regarding.name === 'demo').length, 25);
    assert.equal(client.creates.filter((e) => e.regarding.name === 'node-1').length, 1);

    clock.ms += 299_999;
    recorder.event(Pods, pod, 'Normal', 'Late0', 'Reconcile', 'ok');
    await recorder.flush();
    assert.equal(client.calls.length, 26);
    clock.ms += 1;
    recorder.event(Pods, pod, 'Normal', 'Late1', 'Reconcile', 'ok');
    recorder.event(Pods, pod, 'Normal', 'Late2', 'Reconcile', 'ok');
    await recorder.flush();
    assert.deepEqual(client.creates.slice(26).map((e) => e.reason), ['Late1']);
  });

  void it('keeps counting a rate-limited series and writes the total with the next allowed write', async () => {
    const { client, clock, recorder } = setup({ burst: 3 });
    for (let i = 0; i < 10; i++) {
      recorder.event(Pods, pod, 'Warning', 'Failed', 'Load', 'module missing');
      await recorder.flush();
    }
    assert.deepEqual(client.calls.map((c) => c.verb), ['create', 'patch', 'patch']);
    clock.ms += 300_000;
    recorder.event(Pods, pod, 'Warning', 'Failed', 'Load', 'module missing');
    await recorder.flush();
    assert.equal(client.calls.length, 4);
    assert.deepEqual(client.patches.at(-1)?.patch, { series: { count: 11, lastObservedTime: '2026-01-02T03:09:05.678000Z' } });
  });

  void it('logs failed writes without throwing or leaving a rejected promise', async () => {
    const { client, logs, recorder } = setup();
    client.fail = () => new Error('apiserver down');
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await recorder.flush();
    const warning = logs.find((l) => l.msg === 'cannot write event');
    assert.equal(warning?.err?.message, 'apiserver down');
  });

  void it('survives a client that throws synchronously and a logger that throws', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const throwing: EventClient = {
        create: () => { throw new Error('sync failure'); },
        patch: () => { throw new Error('sync failure'); },
      };
      const log = pino({ level: 'debug' }, { write: () => { throw new Error('log sink broken'); } });
      const recorder = new EventRecorder({ client: throwing, controller: 'c', instance: 'i', log, burst: 1 });
      recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
      recorder.event(Pods, pod, 'Normal', 'Dropped', 'Reconcile', 'rate-limited, logged at debug');
      recorder.event(Pods, { metadata: {} }, 'Normal', 'Synced', 'Reconcile', 'cannot be built');
      await recorder.flush();
      await new Promise(setImmediate);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  void it('retries a failed create with the next occurrence', async () => {
    const { client, recorder } = setup();
    client.fail = () => new Error('apiserver down');
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await recorder.flush();
    client.fail = undefined;
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    await recorder.flush();
    assert.equal(client.stored.size, 1);
    assert.equal([...client.stored.values()][0]?.series?.count, 2);
  });

  void it('logs instead of throwing when the event cannot be built', async () => {
    const { client, logs, recorder } = setup();
    assert.doesNotThrow(() => recorder.event(Pods, { metadata: { namespace: 'apps' } }, 'Normal', 'Synced', 'Reconcile', 'ok'));
    await recorder.flush();
    assert.equal(client.calls.length, 0);
    assert.match(logs.find((l) => l.msg === 'cannot record event')?.err?.message ?? '', /without metadata.name/);
  });

  void it('flush waits for writes in flight', async () => {
    const { client, recorder } = setup();
    let open!: () => void;
    client.gate = new Promise<void>((resolve) => { open = resolve; });
    recorder.event(Pods, pod, 'Normal', 'Synced', 'Reconcile', 'ok');
    let flushed = false;
    const done = recorder.flush().then(() => { flushed = true; });
    await new Promise(setImmediate);
    assert.equal(flushed, false);
    open();
    await done;
    assert.equal(client.stored.size, 1);
  });

  void it('forgets the least recently used series beyond maxEntries', async () => {
    const { client, recorder } = setup({ maxEntries: 2 });
    recorder.event(Pods, pod, 'Normal', 'A', 'Reconcile', 'ok');
    recorder.event(Pods, pod, 'Normal', 'B', 'Reconcile', 'ok');
    recorder.event(Pods, pod, 'Normal', 'C', 'Reconcile', 'ok');
    await recorder.flush();
    recorder.event(Pods, pod, 'Normal', 'A', 'Reconcile', 'ok');
    recorder.event(Pods, pod, 'Normal', 'C', 'Reconcile', 'ok');
    await recorder.flush();
    assert.deepEqual(client.calls.map((c) => `${c.verb} ${c.verb === 'create' ? c.obj.reason : ''}`.trim()), ['create A', 'create B', 'create C', 'create A', 'patch']);
  });

  void it('rejects a missing controller or instance', () => {
    const client = new FakeClient();
    assert.throws(() => new EventRecorder({ client, controller: '', instance: 'x' }), /controller/);
    assert.throws(() => new EventRecorder({ client, controller: 'c', instance: 'x'.repeat(129) }), /instance/);
  });
});

void describe('event helpers', () => {
  void it('microTime has microsecond precision', () => {
    assert.equal(microTime(Date.parse('2026-01-02T03:04:05Z')), '2026-01-02T03:04:05.000000Z');
  });

  void it('truncateUtf8 never splits a character', () => {
    assert.equal(truncateUtf8('abc', 3), 'abc');
    assert.equal(truncateUtf8('aé', 2), 'a');
    assert.equal(truncateUtf8('a😀b', 4), 'a');
    assert.equal(truncateUtf8('a😀b', 5), 'a😀');
  });

  void it('eventName is the regarding name, a dot and 16 hex digits of nanoseconds', () => {
    const ms = Date.parse('2026-01-02T03:04:05Z');
    const name = eventName('demo', ms);
    assert.match(name, /^demo\.[0-9a-f]{16}$/);
    const nanos = BigInt(`0x${name.slice(5)}`);
    assert.ok(nanos >= BigInt(ms) * 1_000_000n && nanos < BigInt(ms + 1) * 1_000_000n);
  });

  void it('eventName stays within 253 characters and ends the prefix on an alphanumeric', () => {
    const name = eventName(`${'a'.repeat(235)}-${'b'.repeat(17)}`, 0);
    assert.ok(name.length <= 253);
    assert.match(name, /^a+\.[0-9a-f]{16}$/);
  });
});
