// The shared cache: one informer per resource type for the whole process, so every
// controller reads the same objects and the API server serves one watch per type.
import type { Logger } from 'pino';
import type { Client } from '../client/client.ts';
import { keyOf, type KubeObject, type ObjectKey } from '../object.ts';
import { resourceId, type ResourceType } from '../resource.ts';
import { permission, type Permission } from '../rbac.ts';
import { Informer, type InformerOptions } from './informer.ts';
import { LABELS_INDEX, labelIndexValue, NAMESPACE_INDEX } from './store.ts';
import { matchesLabels } from '../labels.ts';

export interface CacheOptions {
  client: Client;
  log: Logger;
  /** Restrict namespaced informers to this namespace (namespace-scoped operator). Default: all namespaces. */
  namespace?: string | undefined;
}

export interface CacheListOptions {
  namespace?: string | undefined;
  /** Every label must match exactly. */
  labels?: Record<string, string> | undefined;
  /** Only objects whose index `name` holds `value`. */
  index?: { name: string; value: string } | undefined;
}

export class Cache {
  readonly #client: Client;
  readonly #log: Logger;
  readonly #namespace: string | undefined;
  readonly #informers = new Map<string, Informer<KubeObject>>();
  #signal: AbortSignal | undefined;

  constructor(options: CacheOptions) {
    this.#client = options.client;
    this.#log = options.log.child({ component: 'cache' });
    this.#namespace = options.namespace;
  }

  get namespace(): string | undefined {
    return this.#namespace;
  }

  /**
   * The informer for a type, created on first use (and started at once if the cache runs).
   * Selectors are per type for the whole process: asking again with different ones is a bug.
   */
  informer<T extends KubeObject>(type: ResourceType<T>, options: Omit<InformerOptions, 'namespace'> = {}): Informer<T> {
    const id = resourceId(type);
    const existing = this.#informers.get(id);
    if (existing) {
      if ((existing.options.labelSelector ?? '') !== (options.labelSelector ?? '') ||
          (existing.options.fieldSelector ?? '') !== (options.fieldSelector ?? '') ||
          !!existing.options.metadataOnly !== !!options.metadataOnly ||
          existing.options.transform !== options.transform ||
          !!existing.options.deflate !== !!options.deflate) {
        throw new Error(`informer for ${id} already exists with other options (${JSON.stringify(existing.options)})`);
      }
      return existing as unknown as Informer<T>;
    }
    const informer = new Informer<T>(this.#client, type, { ...options, namespace: this.#namespace }, this.#log);
    this.#informers.set(id, informer as unknown as Informer<KubeObject>);
    if (this.#signal) informer.start(this.#signal);
    return informer;
  }

  /** Reads one object from the cache. The informer for its type must have been declared. */
  get<T extends KubeObject>(type: ResourceType<T>, key: ObjectKey): T | undefined {
    return this.#require(type).get(keyOf(key));
  }

  /**
   * Objects of a type, narrowed by namespace, labels and index. With `labels` and an informer that
   * has the LABELS_INDEX, the read starts from the smallest matching bucket.
   */
  list<T extends KubeObject>(type: ResourceType<T>, options: CacheListOptions = {}): T[] {
    const informer = this.#require(type);
    let items: T[];
    const labelBucket = !options.index && options.labels ? smallestLabelBucket(informer, options.labels) : undefined;
    if (options.index) items = informer.byIndex(options.index.name, options.index.value);
    else if (labelBucket !== undefined) items = informer.byIndex(LABELS_INDEX, labelBucket);
    else if (options.namespace && type.namespaced) items = informer.byIndex(NAMESPACE_INDEX, options.namespace);
    else items = informer.list();
    if (labelBucket !== undefined && options.namespace && type.namespaced) items = items.filter((o) => o.metadata.namespace === options.namespace);
    if (options.index && options.namespace) items = items.filter((o) => o.metadata.namespace === options.namespace);
    const labels = options.labels;
    if (labels) {
      items = items.filter((o) => matchesLabels(o.metadata.labels, labels));
    }
    return items;
  }

  /** What the informers need: list and watch of every cached type. */
  permissions(): Permission[] {
    return [...this.#informers.values()].map((i) => permission(i.type, ['list', 'watch']));
  }

  start(signal: AbortSignal): void {
    this.#signal = signal;
    for (const informer of this.#informers.values()) informer.start(signal);
  }

  get synced(): boolean {
    for (const informer of this.#informers.values()) if (!informer.synced) return false;
    return true;
  }

  /** Waits until every informer has listed once. Returns false if the signal aborted first. */
  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    for (const informer of this.#informers.values()) {
      if (!(await informer.waitForSync(signal))) return false;
    }
    return true;
  }

  #require<T extends KubeObject>(type: ResourceType<T>): Informer<T> {
    const informer = this.#informers.get(resourceId(type));
    if (!informer) throw new Error(`no informer for ${resourceId(type)}: declare it (for/owns/watches or cache.informer) before reading it from the cache`);
    return informer as unknown as Informer<T>;
  }
}

/** The `key=value` of the wanted labels with the fewest objects, when the informer indexes labels. */
function smallestLabelBucket<T extends KubeObject>(informer: Informer<T>, labels: Record<string, string>): string | undefined {
  if (!informer.hasIndex(LABELS_INDEX)) return undefined;
  let best: string | undefined;
  let bestCount = Infinity;
  for (const [k, v] of Object.entries(labels)) {
    const value = labelIndexValue(k, v);
    const count = informer.indexCount(LABELS_INDEX, value);
    if (count < bestCount) {
      best = value;
      bestCount = count;
    }
  }
  return best;
}
