// A synced Cache over fixed objects, for tests of what reads cost: its client lists what it is
// given in one page and answers every watch with nothing until the test ends.
import { mock } from 'node:test';
import type { Client, ListOptions, WatchOptions } from '../client/client.ts';
import type { WatchEvent } from '../client/watch.ts';
import { Cache } from '../cache/cache.ts';
import { silentLogger } from '../log.ts';
import type { KubeObject, ObjectList } from '../object.ts';

/** Lists `objects` by kind; a watch sees no change. */
export function staticClient(objects: Map<string, KubeObject[]>): Client {
  const client: Pick<Client, 'list' | 'watch'> = {
    async list<T extends KubeObject>(type: { kind: string }, _opts: ListOptions = {}): Promise<ObjectList<T>> {
      return { metadata: { resourceVersion: '10' }, items: (objects.get(type.kind) ?? []) as T[] };
    },
    watch<T extends KubeObject>(_type: unknown, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
      // eslint-disable-next-line require-yield -- a watch that never sees a change
      return (async function* () {
        await new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve(), { once: true }));
      })();
    },
  };
  return client as Client;
}

/**
 * A cache over `objects` (by kind), after `declare` has declared its informers and indexes,
 * started and synced; it stops when the test ends.
 */
export async function staticCache(t: { after: (fn: () => void) => void }, objects: Map<string, KubeObject[]>, declare: (cache: Cache) => void): Promise<Cache> {
  const cache = new Cache({ client: staticClient(objects), log: silentLogger });
  declare(cache);
  const abort = new AbortController();
  t.after(() => abort.abort());
  cache.start(abort.signal);
  if (!(await cache.waitForSync(abort.signal))) throw new Error('the static cache did not sync');
  return cache;
}

/**
 * How many objects `read` parses out of a cache, until its result settles: the store keeps each
 * object as its JSON text and parses it when read, so that is the per-object cost of a read.
 */
export async function parsedDuring<R>(read: () => R | Promise<R>): Promise<{ result: R; parsed: number }> {
  const parse = mock.method(JSON, 'parse');
  try {
    const result = await read();
    return { result, parsed: parse.mock.callCount() };
  } finally {
    parse.mock.restore();
  }
}
