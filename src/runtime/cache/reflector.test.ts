// The reflector's list/watch logic against a client that answers from memory: paginated lists,
// watches from the list's resourceVersion, 410 Gone -> relist (deletes for what vanished), other
// failures -> backoff and watch again from where it was; which resourceVersion each list asks for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from '../backoff.ts';
import type { Client, ListOptions, WatchOptions } from '../client/client.ts';
import { GoneError, NotFoundError, ServerError } from '../client/errors.ts';
import type { WatchEvent } from '../client/watch.ts';
import { silentLogger } from '../log.ts';
import type { KubeObject, ObjectList } from '../object.ts';
import { ConfigMaps } from '../resource.ts';
import { Reflector } from './reflector.ts';
import { Store, type StoreChange } from './store.ts';

const cm = (name: string, rv: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns', resourceVersion: rv } });

/** One watch call's answer: these events, then an error, or the end of the stream, or (`hang`) nothing until aborted. */
interface WatchScript { events?: WatchEvent[]; error?: Error; hang?: boolean }

/**
 * Lists pages of `objects` at `listRv` (a list's first page moves on to the next of `laterLists`
 * first, if any); answers each watch call with the next script.
 */
class FakeClient implements Pick<Client, 'list' | 'watch'> {
  objects: KubeObject[] = [];
  listRv = '100';
  /** Answers of the next lists in order: an error to throw, or undefined to answer normally. */
  listErrors: (Error | undefined)[] = [];
  laterLists: { objects: KubeObject[]; rv: string }[] = [];
  readonly lists: ListOptions[] = [];
  readonly watches: WatchOptions[] = [];
  readonly #scripts: WatchScript[] = [];
  readonly #waiters: { count: number; resolve: () => void }[] = [];

  script(...scripts: WatchScript[]): void {
    this.#scripts.push(...scripts);
  }

  /** Resolves once the `count`-th watch has been opened. */
  watchOpened(count: number): Promise<void> {
    if (this.watches.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  async list<T extends KubeObject>(_rt: unknown, opts: ListOptions = {}): Promise<ObjectList<T>> {
    this.lists.push(opts);
    const error = this.listErrors.shift();
    if (error) throw error;
    const later = !opts.continue && this.lists.length > 1 ? this.laterLists.shift() : undefined;
    if (later) [this.objects, this.listRv] = [later.objects, later.rv];
    const start = opts.continue ? Number(opts.continue) : 0;
    const end = opts.limit ? start + opts.limit : this.objects.length;
    const more = end < this.objects.length;
    return {
      metadata: { resourceVersion: this.listRv, ...(more ? { continue: String(end) } : {}) },
      items: this.objects.slice(start, end) as T[],
    };
  }

  watch<T extends KubeObject>(_rt: unknown, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    this.watches.push(opts);
    for (const w of this.#waiters.filter((x) => x.count <= this.watches.length)) {
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      w.resolve();
    }
    const script = this.#scripts.shift() ?? { hang: true };
    return (async function* () {
      for (const event of script.events ?? []) yield event as WatchEvent<T>;
      if (script.error) throw script.error;
      if (script.hang) {
        await new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve(), { once: true }));
      }
    })();
  }
}

/** Waits nothing between attempts and counts them. */
class CountingBackoff extends Backoff {
  waits = 0;
  resets = 0;
  override next(): number {
    this.waits++;
    return 0;
  }
  override reset(): void {
    this.resets++;
  }
}

function start(client: FakeClient, pageSize?: number) {
  const store = new Store<KubeObject>();
  const changes: StoreChange<KubeObject>[] = [];
  let synced = 0;
  const backoff = new CountingBackoff();
  const reflector = new Reflector({
    client, type: ConfigMaps, store, log: silentLogger, backoff, namespace: 'ns',
    onChanges: (batch) => changes.push(...batch), onSynced: () => synced++,
    ...(pageSize ? { pageSize } : {}),
  });
  const abort = new AbortController();
  const running = reflector.run(abort.signal);
  const stop = async () => {
    abort.abort();
    await running;
  };
  return { store, changes, reflector, backoff, stop, synced: () => synced };
}

const gone = (verb: string) => new GoneError(410, { reason: 'Expired', message: 'too old resource version' }, verb, '/api/v1/configmaps');
/** resourceVersion, limit and continue of each list call. */
const listed = (client: FakeClient) => client.lists.map((l) => [l.resourceVersion, l.limit, l.continue]);

const summary = (changes: StoreChange<KubeObject>[]) => changes.map((c) => `${c.type} ${c.obj.metadata.name}@${c.obj.metadata.resourceVersion}`);

describe('Reflector', () => {
  it('lists every page from the watch cache (resourceVersion 0) first, continue pages without a resourceVersion, then watches from the list resourceVersion', async () => {
    const client = new FakeClient();
    client.objects = [cm('a', '1'), cm('b', '2'), cm('c', '3'), cm('d', '4'), cm('e', '5')];
    const r = start(client, 2);
    await client.watchOpened(1);
    assert.deepEqual(listed(client), [['0', 2, undefined], [undefined, 2, '2'], [undefined, 2, '4']]);
    assert.equal(r.store.size, 5);
    assert.equal(r.synced(), 1);
    assert.equal(r.reflector.lastSyncResourceVersion, '100');
    assert.equal(client.watches[0]!.resourceVersion, '100');
    assert.equal(client.watches[0]!.allowWatchBookmarks, true);
    await r.stop();
  });

  it('applies watch events and watches again from the last event once the server ends the watch, without relisting', async () => {
    const client = new FakeClient();
    client.objects = [cm('a', '1')];
    client.script({
      events: [
        { type: 'ADDED', object: cm('b', '101') },
        { type: 'MODIFIED', object: cm('a', '102') },
        { type: 'DELETED', object: cm('b', '103') },
        { type: 'BOOKMARK', object: { metadata: { resourceVersion: '150' } } },
      ],
    });
    const r = start(client);
    await client.watchOpened(2);
    assert.deepEqual(summary(r.changes), ['add a@1', 'add b@101', 'update a@102', 'delete b@103']);
    assert.deepEqual(client.watches.map((w) => w.resourceVersion), ['100', '150'], 'a bookmark moves the resourceVersion on');
    assert.equal(client.lists.length, 1);
    assert.equal(r.backoff.waits, 0);
    await r.stop();
  });

  it('relists on 410 Gone, emitting deletes for objects that vanished meanwhile, and watches from the new list', async () => {
    const client = new FakeClient();
    client.objects = [cm('keep', '1'), cm('vanish', '2')];
    client.script({ error: gone('WATCH') });
    client.laterLists = [{ objects: [cm('keep', '1'), cm('new', '205')], rv: '210' }];
    const r = start(client);
    await client.watchOpened(2);
    assert.equal(client.lists.length, 2);
    assert.deepEqual(summary(r.changes), ['add keep@1', 'add vanish@2', 'add new@205', 'delete vanish@2']);
    assert.deepEqual([...r.store.list().map((o) => o.metadata.name)].sort(), ['keep', 'new']);
    assert.equal(client.watches[1]!.resourceVersion, '210');
    assert.deepEqual(listed(client)[1], ['100', undefined, undefined], 'relisted not older than the last synced version, unpaged so the watch cache serves it');
    assert.equal(r.synced(), 1, 'synced is reported once, not per relist');
    assert.equal(r.backoff.waits, 0, 'a relist needs no backoff');
    await r.stop();
  });

  it('backs off after another watch failure and watches again from where it was, keeping the store', async () => {
    const client = new FakeClient();
    client.objects = [cm('a', '1')];
    client.script(
      { events: [{ type: 'MODIFIED', object: cm('a', '120') }], error: new ServerError(500, { message: 'etcd unavailable' }, 'WATCH', '/api/v1/configmaps') },
      { error: new Error('socket hang up') },
    );
    const r = start(client);
    await client.watchOpened(3);
    assert.equal(r.backoff.waits, 2);
    assert.equal(client.lists.length, 1, 'no relist for errors other than 410');
    assert.deepEqual(client.watches.map((w) => w.resourceVersion), ['100', '120', '120']);
    assert.equal(r.store.get('ns/a')?.metadata.resourceVersion, '120');
    await r.stop();
  });

  it('retries a failed list after a backoff, and is not synced until a list succeeds', async () => {
    const client = new FakeClient();
    client.objects = [cm('a', '1')];
    client.listErrors = [new NotFoundError(404, { reason: 'NotFound' }, 'LIST', '/api/v1/configmaps'), new ServerError(503, {}, 'LIST', '/api/v1/configmaps')];
    const r = start(client);
    await client.watchOpened(1);
    assert.equal(client.lists.length, 3);
    assert.equal(r.backoff.waits, 2);
    assert.equal(r.synced(), 1);
    assert.ok(r.backoff.resets > 0, 'a successful list resets the backoff');
    await r.stop();
  });

  it('relists consistently at once when the list at the last synced version is expired, and from the last synced version again after the next 410', async () => {
    const client = new FakeClient();
    client.objects = [cm('a', '1')];
    client.listErrors = [undefined, gone('LIST')];
    client.script(
      { events: [{ type: 'MODIFIED', object: cm('a', '120') }], error: gone('WATCH') },
      { error: gone('WATCH') },
    );
    client.laterLists = [{ objects: [cm('a', '130')], rv: '200' }, { objects: [cm('a', '130')], rv: '300' }];
    const r = start(client, 2);
    await client.watchOpened(3);
    assert.deepEqual(listed(client), [['0', 2, undefined], ['120', undefined, undefined], ['', 2, undefined], ['200', undefined, undefined]]);
    assert.equal(r.backoff.waits, 0, 'an unavailable resourceVersion is retried without backoff');
    assert.equal(r.store.get('ns/a')?.metadata.resourceVersion, '130');
    assert.deepEqual(client.watches.map((w) => w.resourceVersion), ['100', '200', '300']);
    await r.stop();
  });

  it('lists consistently when the server has not reached the resourceVersion yet (a lagging API server)', async () => {
    const client = new FakeClient();
    const tooLarge = new ServerError(504, { reason: 'Timeout', message: 'Too large resource version: 500, current: 400',
      details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }] } }, 'LIST', '/api/v1/configmaps');
    client.listErrors = [tooLarge];
    const r = start(client);
    await client.watchOpened(1);
    assert.deepEqual(client.lists.map((l) => l.resourceVersion), ['0', '']);
    assert.equal(r.backoff.waits, 0);
    await r.stop();
  });

  it('backs off when a consistent list fails as expired too (its continue token expired), and lists consistently again', async () => {
    const client = new FakeClient();
    client.objects = [cm('a', '1'), cm('b', '2'), cm('c', '3')];
    client.listErrors = [undefined, undefined, gone('LIST'), undefined, gone('LIST')];
    client.script({ error: gone('WATCH') });
    const r = start(client, 2);
    await client.watchOpened(2);
    assert.deepEqual(listed(client), [
      ['0', 2, undefined], [undefined, 2, '2'],
      ['100', undefined, undefined],
      ['', 2, undefined], [undefined, 2, '2'],
      ['', 2, undefined], [undefined, 2, '2'],
    ]);
    assert.equal(r.backoff.waits, 1);
    await r.stop();
  });

  it('retries a failed first list from the watch cache (resourceVersion 0), and a failed relist from the last synced version', async () => {
    const client = new FakeClient();
    client.listErrors = [new ServerError(503, {}, 'LIST', '/api/v1/configmaps'), undefined, new ServerError(500, {}, 'LIST', '/api/v1/configmaps')];
    client.script({ error: gone('WATCH') });
    const r = start(client);
    await client.watchOpened(2);
    assert.deepEqual(client.lists.map((l) => l.resourceVersion), ['0', '0', '100', '100']);
    assert.equal(r.backoff.waits, 2);
    await r.stop();
  });

  it('stops when the signal aborts, also in the middle of a watch', async () => {
    const client = new FakeClient();
    const r = start(client);
    await client.watchOpened(1);
    await r.stop();
    assert.equal(r.reflector.synced, true);
  });
});
