// The indexed object store behind an informer. Each object is kept as the JSON text of what the
// transform left, not as a JavaScript object graph: a one-byte string takes about its JSON size,
// a parsed object two to three times that (a cache of 30,000 objects: tens of MB apart). Every read
// parses a private copy (controller-runtime's cache deep-copies on read too), so a reconciler may
// change what it read without touching the cache or another reader; a read costs microseconds.
// With `deflate`, an object that has not changed for a while is kept as a compact delta (deflate.ts).
import { keyOf, type KubeObject } from '../object.ts';
import { JsonDeflater } from './deflate.ts';

export type IndexFunc<T extends KubeObject> = (obj: T) => readonly string[];

export interface StoreChange<T extends KubeObject> {
  type: 'add' | 'update' | 'delete';
  old?: T;
  obj: T;
}

/** Built-in index: objects by namespace. */
export const NAMESPACE_INDEX = 'namespace';
/** Built-in index: objects by the UID of their controller owner reference. */
export const CONTROLLER_UID_INDEX = 'controller-uid';

/**
 * Opt-in index: objects by each of their labels, as `key=value`. Label-matching cache reads use it
 * (the smallest bucket among the wanted labels), so they cost what they return, not the whole type.
 */
export const LABELS_INDEX = 'labels';
export const labelsIndex: IndexFunc<KubeObject> = (obj) => Object.entries(obj.metadata.labels ?? {}).map(([k, v]) => labelIndexValue(k, v));
export const labelIndexValue = (key: string, value: string): string => `${key}=${value}`;

const namespaceIndex: IndexFunc<KubeObject> = (obj) => (obj.metadata.namespace ? [obj.metadata.namespace] : []);
const controllerUidIndex: IndexFunc<KubeObject> = (obj) =>
  (obj.metadata.ownerReferences ?? []).filter((r) => r.controller).map((r) => r.uid);

/**
 * Applied to every object before it is stored (controller-runtime's cache TransformFunc): what it
 * drops costs no memory and no handler or reader ever sees it. It receives the object as the
 * server sent it (managedFields included, stripped afterwards) and may return a new object or its
 * argument changed in place; it must keep name, namespace and resourceVersion.
 */
export type TransformFunc = (obj: KubeObject) => KubeObject;

export interface StoreOptions {
  /** Default: none (the server's object, without managedFields). */
  transform?: TransformFunc | undefined;
  /**
   * Keep each object as a delta against one of its siblings (deflate.ts) once it has not changed
   * for `DEFLATE_AFTER_MS`: a tenth of the memory for the near-identical objects one operator
   * writes, for some 14 µs to deflate each and a read a fifth slower (rebuild, then parse). Meant
   * for types read one object at a time (an operator's primaries and children), not for those read
   * in bulk (nodes). Objects that change often stay plain. Default false.
   */
  deflate?: boolean | undefined;
  /** Milliseconds, monotonic: when an object counts as settled. Default performance.now. */
  now?: (() => number) | undefined;
}

/** How long an object must stay unchanged before it is deflated: a start or a rollout changes each object several times within a few seconds. */
export const DEFLATE_AFTER_MS = 2_000;
/** A pass over settled objects yields to I/O after this long. */
const DEFLATE_SLICE_MS = 5;

/** One cached object: its resourceVersion (compared on every event without parsing) and its JSON, plain or deflated. */
interface Stored {
  readonly rv: string | undefined;
  readonly data: string;
  readonly deflated: boolean;
}

export class Store<T extends KubeObject> {
  readonly #transform: TransformFunc | undefined;
  readonly #items = new Map<string, Stored>();
  readonly #indexers = new Map<string, IndexFunc<T>>();
  readonly #indexes = new Map<string, Map<string, Set<string>>>();
  readonly #deflater: JsonDeflater | undefined;
  /** Plain objects awaiting deflation, by key, with when they were stored; oldest first. */
  readonly #plainSince = new Map<string, number>();
  #deflateTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  readonly #now: () => number;

  constructor(options: StoreOptions = {}) {
    this.#transform = options.transform;
    this.#now = options.now ?? (() => performance.now());
    if (options.deflate) this.#deflater = new JsonDeflater();
    this.addIndex(NAMESPACE_INDEX, namespaceIndex);
    this.addIndex(CONTROLLER_UID_INDEX, controllerUidIndex);
  }

  addIndex(name: string, fn: IndexFunc<T>): void {
    if (this.#indexers.has(name)) {
      if (this.#indexers.get(name) === fn) return;
      throw new Error(`index ${name} is already defined`);
    }
    this.#indexers.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.#indexes.set(name, index);
    for (const [key, stored] of this.#items) this.#indexAdd(index, fn(this.#parse(stored)), key);
  }

  get size(): number {
    return this.#items.size;
  }

  get(key: string): T | undefined {
    const stored = this.#items.get(key);
    return stored ? this.#parse(stored) : undefined;
  }

  list(): T[] {
    const out: T[] = [];
    for (const stored of this.#items.values()) out.push(this.#parse(stored));
    return out;
  }

  /** How many objects are deflated, and the characters all of them take (what the store costs, give or take V8's string headers). */
  footprint(): { objects: number; deflated: number; chars: number } {
    let deflated = 0;
    let chars = 0;
    for (const stored of this.#items.values()) {
      if (stored.deflated) deflated++;
      chars += stored.data.length;
    }
    return { objects: this.#items.size, deflated, chars };
  }

  /** Deflates every object unchanged for DEFLATE_AFTER_MS. A timer calls it, a slice at a time; tests call it directly. */
  deflateSettled(): void {
    this.#deflateSettled(this.#now() - DEFLATE_AFTER_MS, Infinity);
  }

  hasIndex(name: string): boolean {
    return this.#indexes.has(name);
  }

  /** How many objects `byIndex(name, value)` would return, without building the list. */
  indexCount(name: string, value: string): number {
    const index = this.#indexes.get(name);
    if (!index) throw new Error(`no index named ${name}`);
    return index.get(value)?.size ?? 0;
  }

  byIndex(name: string, value: string): T[] {
    const out: T[] = [];
    for (const key of this.#indexBucket(name, value)) {
      const stored = this.#items.get(key);
      if (stored) out.push(this.#parse(stored));
    }
    return out;
  }

  /** The keys of `byIndex(name, value)`, without reading the objects: for mappers that only enqueue. */
  keysByIndex(name: string, value: string): string[] {
    return [...this.#indexBucket(name, value)];
  }

  #indexBucket(name: string, value: string): ReadonlySet<string> {
    const index = this.#indexes.get(name);
    if (!index) throw new Error(`no index named ${name}`);
    return index.get(value) ?? EMPTY;
  }

  /** Inserts or replaces one object; returns the change, or undefined when the resourceVersion is unchanged. */
  upsert(raw: T): StoreChange<T> | undefined {
    const key = keyOf(raw);
    const stored = this.#items.get(key);
    // Before the transform, which may be costly: the watch repeats objects after a relist.
    if (stored && stored.rv === raw.metadata.resourceVersion) return undefined;
    const obj = prepare(raw, this.#transform);
    const old = stored ? this.#parse(stored) : undefined;
    if (old) this.#unindex(key, old);
    this.#items.set(key, { rv: obj.metadata.resourceVersion, data: JSON.stringify(obj), deflated: false });
    this.#index(key, obj);
    this.#awaitDeflate(key);
    return old ? { type: 'update', old, obj } : { type: 'add', obj };
  }

  remove(raw: T): StoreChange<T> | undefined {
    const key = keyOf(raw);
    const stored = this.#items.get(key);
    if (!stored) return undefined;
    this.#unindex(key, this.#parse(stored));
    this.#items.delete(key);
    this.#plainSince.delete(key);
    // Hand out the final state the server sent, which carries the deletion's resourceVersion.
    return { type: 'delete', obj: prepare(raw, this.#transform) };
  }

  /** Replaces the whole content after a (re)list, returning the changes that brings. */
  replace(rawItems: readonly T[]): StoreChange<T>[] {
    const changes: StoreChange<T>[] = [];
    const seen = new Set<string>();
    for (const raw of rawItems) {
      seen.add(keyOf(raw));
      const change = this.upsert(raw);
      if (change) changes.push(change);
    }
    for (const [key, stored] of [...this.#items]) {
      if (seen.has(key)) continue;
      const obj = this.#parse(stored);
      this.#unindex(key, obj);
      this.#items.delete(key);
      this.#plainSince.delete(key);
      changes.push({ type: 'delete', obj });
    }
    return changes;
  }

  #parse(stored: Stored): T {
    return JSON.parse(stored.deflated ? this.#deflater!.inflate(stored.data) : stored.data) as T;
  }

  #awaitDeflate(key: string) {
    if (!this.#deflater) return;
    // Delete first: a Map keeps insertion order, so the oldest stay first.
    this.#plainSince.delete(key);
    this.#plainSince.set(key, this.#now());
    this.#scheduleDeflate(DEFLATE_AFTER_MS);
  }

  #scheduleDeflate(afterMs: number) {
    if (this.#deflateTimer) return;
    // unref: a cache never keeps the process alive.
    this.#deflateTimer = afterMs > 0 ? setTimeout(this.#onDeflateTimer, afterMs).unref() : setImmediate(this.#onDeflateTimer).unref();
  }

  readonly #onDeflateTimer = () => {
    this.#deflateTimer = undefined;
    const now = this.#now();
    this.#deflateSettled(now - DEFLATE_AFTER_MS, now + DEFLATE_SLICE_MS);
  };

  /** Deflates the plain objects stored before `settledBefore`, oldest first, until `until`. */
  #deflateSettled(settledBefore: number, until: number) {
    const deflater = this.#deflater;
    if (!deflater) return;
    for (const [key, since] of this.#plainSince) {
      if (since > settledBefore) {
        this.#scheduleDeflate(since - settledBefore);
        return;
      }
      this.#plainSince.delete(key);
      const stored = this.#items.get(key);
      const deflated = stored && !stored.deflated ? deflater.deflate(stored.data) : undefined;
      if (deflated !== undefined) this.#items.set(key, { rv: stored!.rv, data: deflated, deflated: true });
      if (this.#now() >= until) {
        if (this.#plainSince.size > 0) this.#scheduleDeflate(0);
        return;
      }
    }
  }

  #index(key: string, obj: T) {
    for (const [name, fn] of this.#indexers) this.#indexAdd(this.#indexes.get(name)!, fn(obj), key);
  }

  #unindex(key: string, obj: T) {
    for (const [name, fn] of this.#indexers) {
      const index = this.#indexes.get(name)!;
      for (const value of fn(obj)) {
        const keys = index.get(value);
        keys?.delete(key);
        if (keys && keys.size === 0) index.delete(value);
      }
    }
  }

  #indexAdd(index: Map<string, Set<string>>, values: readonly string[], key: string) {
    for (const value of values) {
      let keys = index.get(value);
      if (!keys) index.set(value, (keys = new Set()));
      keys.add(key);
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** managedFields are large and useless to a controller; the cache never keeps them. */
function prepare<T extends KubeObject>(raw: T, transform: TransformFunc | undefined): T {
  // A frozen object (a caller's own) is not ours to change: the transform gets a copy.
  let obj = Object.isFrozen(raw) ? structuredClone(raw) : raw;
  if (transform) obj = transform(obj) as T;
  // A fresh metadata object rather than `delete`: deleting a key leaves V8 a slower, larger dictionary.
  const { managedFields: _managedFields, ...metadata } = obj.metadata;
  obj.metadata = metadata;
  return obj;
}
