// List-then-watch loop that keeps a Store equal to the server's state (client-go's Reflector).
// It never gives up: a 410 Gone relists, any other failure re-watches after a jittered backoff.
//
// Which resourceVersion a list asks for follows client-go (relistResourceVersion), so that lists
// are served from the API server's watch cache, not as consistent reads of every page from etcd
// (at 10,000 objects per type the difference is seconds per type at start-up):
// - the first list: "0", any version, from the watch cache;
// - a relist after a watch's 410 Gone: the last synced version, "not older than" it. The watch
//   cache serves that from its current state even when its event history no longer reaches back
//   to it, and an API server restart makes every watch expire at once, which must not become a
//   burst of consistent reads on etcd;
// - after a list at such a version failed as expired (410) or too new for the server (a lagging
//   API server), a consistent list (unset), which every server can answer, until a list succeeds.
import type { Logger } from 'pino';
import { delay } from '../abort.ts';
import { Backoff } from '../backoff.ts';
import type { Client } from '../client/client.ts';
import { listAllPages } from '../client/paginate.ts';
import { GoneError, isResourceVersionTooLarge, NotFoundError } from '../client/errors.ts';
import type { KubeObject } from '../object.ts';
import { resourceId, type ResourceType } from '../resource.ts';
import type { Store, StoreChange } from './store.ts';

export interface ReflectorOptions<T extends KubeObject> {
  /** Only lists and watches are sent (tests pass a fake). */
  client: Pick<Client, 'list' | 'watch'>;
  type: ResourceType<T>;
  store: Store<T>;
  /** Called with the changes each list or watch event produced, in order. */
  onChanges: (changes: StoreChange<T>[]) => void;
  /** Called once, after the first successful list. */
  onSynced?: () => void;
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  metadataOnly?: boolean | undefined;
  /**
   * Page size of lists. Default 500. Sent with the first list (an older API server's watch cache
   * ignores it for resourceVersion "0" and answers in one response, a newer one may page it) and
   * with consistent lists; not with a relist at the last synced version, which a limit would turn
   * into an exact read from etcd (the API's legacy rule for a limit with a resourceVersion), as
   * client-go drops it there.
   */
  pageSize?: number;
  /** Server-side watch timeout; a random value in [min, 2*min) spreads reconnects. Default 300 s. */
  minWatchTimeoutSeconds?: number;
  /** Between failed attempts. Default: 0.8 s doubling to 30 s, 20 % jitter. */
  backoff?: Backoff;
  log: Logger;
}

export class Reflector<T extends KubeObject> {
  readonly #o: ReflectorOptions<T>;
  readonly #backoff: Backoff;
  #resourceVersion = '';
  /** A list at #resourceVersion failed as expired or too new: list consistently until a list succeeds. */
  #resourceVersionUnavailable = false;
  #synced = false;

  constructor(options: ReflectorOptions<T>) {
    this.#o = options;
    this.#backoff = options.backoff ?? new Backoff();
  }

  get lastSyncResourceVersion(): string {
    return this.#resourceVersion;
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Runs until the signal aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.#o.log;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.#list(signal);
          needList = false;
        }
        await this.#watch(signal);
        // The server closed the watch at its timeout: watch again from where we are.
      } catch (err) {
        if (signal.aborted) break;
        if (needList && !this.#resourceVersionUnavailable && (err instanceof GoneError || isResourceVersionTooLarge(err))) {
          // As client-go: retry at once, consistently. A consistent list that fails so again (its
          // continue token expired) backs off below.
          log.info({ resourceVersion: this.#listResourceVersion(), err: errorSummary(err) }, 'list at this resourceVersion unavailable; listing consistently');
          this.#resourceVersionUnavailable = true;
          continue;
        }
        if (err instanceof GoneError && !needList) {
          log.info({ resourceVersion: this.#resourceVersion }, 'watch expired (410 Gone); relisting');
          needList = true;
          continue;
        }
        const wait = this.#backoff.next();
        if (err instanceof NotFoundError && needList) {
          log.error({ retryInMs: Math.round(wait) }, `the API server does not serve ${resourceId(this.#o.type)}: is its CustomResourceDefinition installed?`);
          await delay(wait, signal);
          continue;
        }
        log.warn({ err: errorSummary(err), retryInMs: Math.round(wait), relist: needList }, 'list/watch failed; retrying');
        await delay(wait, signal);
      }
    }
  }

  /** "0" (any, from the watch cache) before the first list, "" (consistent) when unavailable, else the last synced version. */
  #listResourceVersion(): string {
    if (this.#resourceVersionUnavailable) return '';
    return this.#resourceVersion || '0';
  }

  async #list(signal: AbortSignal) {
    const { client, type, namespace, labelSelector, fieldSelector, metadataOnly } = this.#o;
    const rv = this.#listResourceVersion();
    const started = performance.now();
    const limit = rv === '' || rv === '0' ? this.#o.pageSize ?? 500 : undefined;
    // The server rejects a continue token together with a resourceVersion: the token carries it.
    const list = await listAllPages((cont) => client.list(type, {
      namespace, labelSelector, fieldSelector, limit, continue: cont, resourceVersion: cont ? undefined : rv, metadataOnly, signal,
    }));
    const { items } = list;
    const listed = performance.now();
    const resourceVersion = list.metadata.resourceVersion ?? '';
    const changes = this.#o.store.replace(items);
    this.#resourceVersion = resourceVersion;
    this.#resourceVersionUnavailable = false;
    this.#backoff.reset();
    this.#o.onChanges(changes);
    // The first list is what start-up waits for: say how long it took, and where (the request, or storing it).
    const timing = { count: items.length, resourceVersion, from: rv || 'consistent', listMs: Math.round(listed - started), storeMs: Math.round(performance.now() - listed) };
    if (!this.#synced) {
      this.#synced = true;
      this.#o.onSynced?.();
      this.#o.log.info(timing, 'listed');
    } else this.#o.log.debug(timing, 'listed');
  }

  async #watch(signal: AbortSignal) {
    const { client, type, namespace, labelSelector, fieldSelector, metadataOnly, store } = this.#o;
    const min = this.#o.minWatchTimeoutSeconds ?? 300;
    const events = client.watch(type, {
      namespace, labelSelector, fieldSelector, metadataOnly, resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: true, timeoutSeconds: Math.floor(min + Math.random() * min), signal,
    });
    for await (const event of events) {
      const rv = event.object.metadata?.resourceVersion;
      let change: StoreChange<T> | undefined;
      if (event.type === 'ADDED' || event.type === 'MODIFIED') change = store.upsert(event.object);
      else if (event.type === 'DELETED') change = store.remove(event.object);
      if (rv) this.#resourceVersion = rv;
      this.#backoff.reset();
      if (change) this.#o.onChanges([change]);
    }
  }
}

function errorSummary(err: unknown): string {
  if (err instanceof Error) return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
  return String(err);
}
