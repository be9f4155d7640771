// A shared informer: one reflector and one store per resource type, fanned out to every
// handler that registered. Handlers run synchronously and must only enqueue work.
import type { Logger } from 'pino';
import type { Client } from '../client/client.ts';
import type { KubeObject } from '../object.ts';
import { resourceId, type ResourceType } from '../resource.ts';
import { Reflector } from './reflector.ts';
import { Store, type IndexFunc, type StoreChange, type TransformFunc } from './store.ts';

export type { TransformFunc };

export interface ResourceEventHandler<T extends KubeObject> {
  /**
   * `replayed` is true for objects that were already cached when the handler registered (client-go's
   * isInInitialList): a controller starting after its caches synced gets its whole world that way.
   */
  add?(obj: T, replayed: boolean): void;
  update?(old: T, obj: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions {
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /** Cache only metadata (labels, owners, ...): less memory and no access to e.g. Secret data. */
  metadataOnly?: boolean | undefined;
  /**
   * Applied to every object before it is cached, so handlers and readers see only what it keeps
   * (controller-runtime's cache transforms). Default: none — the whole object minus managedFields.
   * One transform per type for the whole process, like the selectors.
   */
  transform?: TransformFunc | undefined;
  /**
   * Keep cached objects deflated once they settle (see StoreOptions.deflate): for the types an
   * operator writes many near-identical objects of. Default false.
   */
  deflate?: boolean | undefined;
}

export class Informer<T extends KubeObject> {
  readonly type: ResourceType<T>;
  readonly options: Readonly<InformerOptions>;
  readonly #store: Store<T>;
  readonly #handlers = new Set<ResourceEventHandler<T>>();
  readonly #reflector: Reflector<T>;
  readonly #log: Logger;
  readonly #synced: Promise<void>;
  #markSynced!: () => void;
  #started = false;

  constructor(client: Client, type: ResourceType<T>, options: InformerOptions, log: Logger) {
    this.type = type;
    this.options = Object.freeze({ ...options });
    this.#store = new Store<T>({ transform: options.transform, deflate: options.deflate });
    this.#log = log.child({ resource: resourceId(type) });
    this.#synced = new Promise((resolve) => { this.#markSynced = resolve; });
    this.#reflector = new Reflector<T>({
      client, type, store: this.#store, log: this.#log,
      namespace: type.namespaced ? options.namespace : undefined,
      labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, metadataOnly: options.metadataOnly,
      onChanges: (changes) => this.#dispatch(changes),
      onSynced: () => this.#markSynced(),
    });
  }

  get synced(): boolean {
    return this.#reflector.synced;
  }

  get lastSyncResourceVersion(): string {
    return this.#reflector.lastSyncResourceVersion;
  }

  /** Resolves once the first list has been stored, or when the signal aborts (then returns false). */
  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return true;
    if (!signal) {
      await this.#synced;
      return true;
    }
    if (signal.aborted) return false;
    return Promise.race([
      this.#synced.then(() => true),
      new Promise<boolean>((resolve) => signal.addEventListener('abort', () => resolve(false), { once: true })),
    ]);
  }

  start(signal: AbortSignal): void {
    if (this.#started) return;
    this.#started = true;
    void this.#reflector.run(signal);
  }

  get started(): boolean {
    return this.#started;
  }

  /** Registers a handler; objects already in the store are replayed to it as adds. Returns an unregister function. */
  addHandler(handler: ResourceEventHandler<T>): () => void {
    this.#handlers.add(handler);
    for (const obj of this.#store.list()) this.#call(() => handler.add?.(obj, true));
    return () => this.#handlers.delete(handler);
  }

  addIndex(name: string, fn: IndexFunc<T>): void {
    this.#store.addIndex(name, fn);
  }

  get(key: string): T | undefined {
    return this.#store.get(key);
  }

  list(): T[] {
    return this.#store.list();
  }

  byIndex(name: string, value: string): T[] {
    return this.#store.byIndex(name, value);
  }

  /** The keys of `byIndex(name, value)`, without reading (parsing) the objects. */
  keysByIndex(name: string, value: string): string[] {
    return this.#store.keysByIndex(name, value);
  }

  hasIndex(name: string): boolean {
    return this.#store.hasIndex(name);
  }

  indexCount(name: string, value: string): number {
    return this.#store.indexCount(name, value);
  }

  get size(): number {
    return this.#store.size;
  }

  #dispatch(changes: StoreChange<T>[]) {
    for (const change of changes) {
      for (const handler of this.#handlers) {
        this.#call(() => {
          if (change.type === 'add') handler.add?.(change.obj, false);
          else if (change.type === 'update') handler.update?.(change.old!, change.obj);
          else handler.delete?.(change.obj);
        });
      }
    }
  }

  // A broken handler must not stop the informer or the other handlers.
  #call(fn: () => void) {
    try {
      fn();
    } catch (err) {
      this.#log.error({ err }, 'event handler threw');
    }
  }
}
