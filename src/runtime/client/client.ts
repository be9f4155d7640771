// A small typed client over client-node's kubeconfig/auth/HTTP layer. It speaks raw JSON
// (no client-node serializer, so timestamps stay strings), maps failures to typed errors,
// retries 429s as the server asks, and counts every request by verb and code.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import type { KubeObject, ObjectKey, ObjectList } from '../object.ts';
import { apiVersionOf, resourcePath, type ResourceType } from '../resource.ts';
import { apiErrorFrom, TooManyRequestsError, type Status } from './errors.ts';
import { watchStream, type WatchEvent } from './watch.ts';
import { permissionFor } from '../rbac.ts';
import { requestLimiter, type RateLimitPolicy, type RequestLimiter } from './ratelimit.ts';
import { KubeTransport, type HttpMethod } from './transport.ts';
import { listAllPages } from './paginate.ts';
import { reuseMetric } from '../metrics.ts';

export type { WatchEvent };

/** The field manager (and user agent) of a client that is given none. */
export const DEFAULT_FIELD_MANAGER = 'operator-runtime';

export interface ClientOptions {
  /**
   * Field manager for server-side apply, patches and updates: the name the API server records as
   * owner of the fields this client writes. Default `operator-runtime` (DEFAULT_FIELD_MANAGER); an
   * operator passes its own so its ownership is its own.
   */
  fieldManager?: string;
  /** How often a 429 (or a 5xx with Retry-After) is retried after the wait the server asks for. Default 5. */
  maxRetries?: number;
  /** Per-request timeout for everything but watches. Default 30 s. */
  requestTimeoutMs?: number;
  /** How long an unused keep-alive connection stays open. Default 90 s (KubeTransportOptions). */
  idleConnectionTimeoutMs?: number;
  /** Registers `rest_client_requests_total` here when given. */
  registry?: Registry;
  /** The User-Agent header (API server audit logs and metrics name the caller by it). Default: the field manager. */
  userAgent?: string;
  /**
   * Client-side rate limit (watches excluded), see RateLimitPolicy. Default `'none'`; the Manager
   * defaults to `'server'` (the API server's Priority and Fairness paces us).
   */
  rateLimit?: RateLimitPolicy | undefined;
}

export interface ListOptions {
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  limit?: number | undefined;
  continue?: string | undefined;
  resourceVersion?: string | undefined;
  /** Receive only metadata (PartialObjectMetadata): spec, status and data never leave the server. */
  metadataOnly?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

export interface WatchOptions extends Omit<ListOptions, 'limit' | 'continue'> {
  allowWatchBookmarks?: boolean;
  /** Server-side timeout of the watch; the stream then ends normally. */
  timeoutSeconds?: number;
}

export interface WriteOptions {
  subresource?: string | undefined;
  dryRun?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

export interface ApplyOptions extends WriteOptions {
  /** Take ownership of conflicting fields. Default true: the controller is the source of truth for what it applies. */
  force?: boolean | undefined;
  fieldManager?: string | undefined;
}

export type PatchType = 'merge' | 'json' | 'strategic';
const acceptMetadata = (as: string) => `application/json;as=${as};v=v1;g=meta.k8s.io,application/json`;

const patchContentTypes: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export interface DeleteOptions {
  preconditions?: { uid?: string | undefined; resourceVersion?: string | undefined };
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  signal?: AbortSignal | undefined;
}

export interface RawRequest {
  method: HttpMethod;
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  accept?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Verb for metrics and errors (GET, LIST, WATCH, CREATE, ...). */
  verb?: string;
}

/**
 * Counts requests by `VERB code` (for tests and the no-op-reconcile guarantee) and remembers the
 * RBAC permissions they needed (`verb group/resource`), so tests can check the generated role.
 */
export class RequestCounter {
  readonly #counts = new Map<string, number>();
  readonly #byPermission = new Map<string, number>();
  record(verb: string, code: number | string, path?: string): void {
    const key = `${verb} ${code}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    const perm = path ? permissionFor(verb, path) : undefined;
    if (perm) this.#byPermission.set(perm, (this.#byPermission.get(perm) ?? 0) + 1);
  }
  /** Every `verb group/resource` a request needed so far. */
  get permissionsUsed(): Set<string> {
    return new Set(this.#byPermission.keys());
  }
  /** Requests that needed this permission, e.g. `patch kmm.sigs.x-k8s.io/modules`. */
  countFor(permission: string): number {
    return this.#byPermission.get(permission) ?? 0;
  }
  get total(): number {
    let sum = 0;
    for (const n of this.#counts.values()) sum += n;
    return sum;
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason as Error); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class Client {
  readonly kubeConfig: KubeConfig;
  readonly fieldManager: string;
  readonly requests = new RequestCounter();
  readonly #http: KubeTransport;
  readonly #server: string;
  readonly #host: string;
  readonly #maxRetries: number;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #metric: Counter<'code' | 'method' | 'host'> | undefined;
  readonly #limiter: RequestLimiter | undefined;

  constructor(kubeConfig: KubeConfig, options: ClientOptions = {}) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster (set a current-context)');
    this.kubeConfig = kubeConfig;
    this.#http = new KubeTransport(kubeConfig, { idleConnectionTimeoutMs: options.idleConnectionTimeoutMs });
    this.#server = cluster.server.replace(/\/+$/, '');
    this.#host = new URL(this.#server).host;
    this.fieldManager = options.fieldManager ?? DEFAULT_FIELD_MANAGER;
    this.#maxRetries = options.maxRetries ?? 5;
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#userAgent = options.userAgent ?? this.fieldManager;
    this.#limiter = requestLimiter(options.rateLimit);
    if (options.registry) {
      const registry = options.registry;
      this.#metric = reuseMetric(registry, 'rest_client_requests_total', Counter, () => new Counter({
        name: 'rest_client_requests_total',
        help: 'Number of HTTP requests, partitioned by status code, method, and host.',
        labelNames: ['code', 'method', 'host'],
        registers: [registry],
      }));
    }
  }

  get server(): string {
    return this.#server;
  }

  /** The client-side rate limiter in force (undefined: none). */
  get limiter(): RequestLimiter | undefined {
    return this.#limiter;
  }

  async get<T extends KubeObject>(rt: ResourceType<T>, key: ObjectKey, opts: { subresource?: string; signal?: AbortSignal } = {}): Promise<T> {
    return this.request<T>({ method: 'GET', verb: 'GET', path: resourcePath(rt, { ...key, subresource: opts.subresource }), signal: opts.signal });
  }

  /** One page (when `limit` is set) or the whole list; the cache lists through the reflector instead. */
  async list<T extends KubeObject>(rt: ResourceType<T>, opts: ListOptions = {}): Promise<ObjectList<T>> {
    return this.request<ObjectList<T>>({
      method: 'GET', verb: 'LIST', path: resourcePath(rt, { namespace: opts.namespace }), signal: opts.signal,
      accept: opts.metadataOnly ? acceptMetadata('PartialObjectMetadataList') : undefined,
      query: {
        labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: opts.limit,
        continue: opts.continue, resourceVersion: opts.resourceVersion,
      },
    });
  }

  /** Lists every page and returns all items with the resourceVersion of the list. */
  async listAll<T extends KubeObject>(rt: ResourceType<T>, opts: ListOptions = {}): Promise<ObjectList<T>> {
    return listAllPages((cont) => this.list(rt, { ...opts, limit: opts.limit ?? 500, continue: cont, resourceVersion: cont ? undefined : opts.resourceVersion }));
  }

  async create<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.request<T>({
      method: 'POST', verb: 'CREATE', path: resourcePath(rt, { namespace: obj.metadata.namespace }), body: withTypeMeta(rt, obj),
      query: { dryRun: opts.dryRun ? 'All' : undefined }, signal: opts.signal,
    });
  }

  /** PUT: a full replace guarded by metadata.resourceVersion (optimistic concurrency). */
  async update<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts: WriteOptions = {}): Promise<T> {
    const { namespace, name } = obj.metadata;
    return this.request<T>({
      method: 'PUT', verb: 'UPDATE', path: resourcePath(rt, { namespace, name, subresource: opts.subresource }), body: withTypeMeta(rt, obj),
      query: { dryRun: opts.dryRun ? 'All' : undefined }, signal: opts.signal,
    });
  }

  /**
   * Server-side apply: send only the fields we own. `apiVersion` and `kind` are filled in from
   * the resource type when missing.
   */
  async apply<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts: ApplyOptions = {}): Promise<T> {
    return (await this.applyWithResult(rt, obj, opts)).object;
  }

  /**
   * Server-side apply that also says whether it created the object (201) or changed an existing
   * one (200): the response decides, not a guess from the cache or the generation.
   */
  async applyWithResult<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts: ApplyOptions = {}): Promise<{ object: T; created: boolean }> {
    const { namespace, name } = obj.metadata;
    if (!name) throw new Error(`apply ${rt.kind}: metadata.name is required`);
    const { body, code } = await this.requestWithStatus<T>({
      method: 'PATCH', verb: 'APPLY', path: resourcePath(rt, { namespace, name, subresource: opts.subresource }), body: withTypeMeta(rt, obj),
      contentType: 'application/apply-patch+yaml', signal: opts.signal,
      query: { fieldManager: opts.fieldManager ?? this.fieldManager, force: opts.force ?? true, dryRun: opts.dryRun ? 'All' : undefined },
    });
    return { object: body, created: code === 201 };
  }

  /** Server-side apply to the status subresource. */
  async applyStatus<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts: Omit<ApplyOptions, 'subresource'> = {}): Promise<T> {
    return this.apply(rt, obj, { ...opts, subresource: 'status' });
  }

  async patch<T extends KubeObject>(rt: ResourceType<T>, key: ObjectKey, patch: unknown, type: PatchType, opts: WriteOptions & { fieldManager?: string } = {}): Promise<T> {
    return this.request<T>({
      method: 'PATCH', verb: 'PATCH', path: resourcePath(rt, { ...key, subresource: opts.subresource }), body: patch,
      contentType: patchContentTypes[type], signal: opts.signal,
      query: { fieldManager: opts.fieldManager ?? this.fieldManager, dryRun: opts.dryRun ? 'All' : undefined },
    });
  }

  /** Deletes; returns the object while finalizers hold it, or the server's Status once it is gone. */
  async delete(rt: ResourceType, key: ObjectKey, opts: DeleteOptions = {}): Promise<KubeObject | Status> {
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
    if (opts.preconditions) body.preconditions = opts.preconditions;
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    return this.request({ method: 'DELETE', verb: 'DELETE', path: resourcePath(rt, key), body, signal: opts.signal });
  }

  /** Streams watch events until the server ends the watch, the signal aborts, or an error is thrown. */
  watch<T extends KubeObject>(rt: ResourceType<T>, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const path = resourcePath(rt, { namespace: opts.namespace });
    const query = {
      watch: 1, resourceVersion: opts.resourceVersion, labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector,
      allowWatchBookmarks: opts.allowWatchBookmarks ?? true, timeoutSeconds: opts.timeoutSeconds,
    };
    const accept = opts.metadataOnly ? acceptMetadata('PartialObjectMetadata') : undefined;
    return watchStream<T>(async (signal) => this.send({ method: 'GET', verb: 'WATCH', path, query, signal, accept }, false), path, opts.signal,
      (opts.timeoutSeconds ?? 600) * 1000 + 30_000);
  }

  /** Any request, parsed as JSON, with errors mapped to typed ApiErrors. */
  async request<T>(req: RawRequest): Promise<T> {
    return (await this.requestWithStatus<T>(req)).body;
  }

  /** As request(), with the HTTP status code of the successful response. */
  async requestWithStatus<T>(req: RawRequest): Promise<{ body: T; code: number }> {
    const verb = req.verb ?? req.method;
    for (let attempt = 0; ; attempt++) {
      const response = await this.send(req, true);
      const text = await response.body.text();
      if (response.httpStatusCode >= 200 && response.httpStatusCode < 300) {
        return { body: (text ? JSON.parse(text) : undefined) as T, code: response.httpStatusCode };
      }
      const status = parseStatus(text, response.httpStatusCode);
      const retryAfter = Number(response.headers['retry-after']);
      const retriable = response.httpStatusCode === 429 || (response.httpStatusCode >= 500 && retryAfter > 0);
      if (retriable && attempt < this.#maxRetries) {
        await sleep((retryAfter > 0 ? retryAfter : 1) * 1000, req.signal);
        continue;
      }
      const err = apiErrorFrom(response.httpStatusCode, status, verb, req.path);
      if (err instanceof TooManyRequestsError && retryAfter > 0 && !status.details?.retryAfterSeconds) {
        (status.details ??= {}).retryAfterSeconds = retryAfter;
      }
      throw err;
    }
  }

  async send(req: RawRequest, withTimeout: boolean) {
    // Watches (no timeout: long-lived) are not rate limited, as in client-go.
    if (withTimeout) await this.#limiter?.acquire(req.signal);
    const url = new URL(this.#server + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { 'Accept': req.accept ?? 'application/json', 'User-Agent': this.#userAgent };
    if (req.body !== undefined) headers['Content-Type'] = req.contentType ?? 'application/json';
    const signals = [req.signal, withTimeout ? AbortSignal.timeout(this.#timeoutMs) : undefined].filter((s): s is AbortSignal => !!s);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const verb = req.verb ?? req.method;
    try {
      const response = await this.#http.send({ method: req.method, url, headers, body: req.body === undefined ? undefined : JSON.stringify(req.body), signal });
      this.#count(verb, req.method, response.httpStatusCode, req.path);
      this.#limiter?.observe?.(response.headers);
      return response;
    } catch (err) {
      this.#count(verb, req.method, '<error>', req.path);
      throw err;
    }
  }

  #count(verb: string, method: string, code: number | string, path: string) {
    this.requests.record(verb, code, path);
    this.#metric?.inc({ code: String(code), method, host: this.#host });
  }
}

/** Fills apiVersion and kind from the resource type, so callers can write just metadata and spec. */
function withTypeMeta<T extends KubeObject>(rt: ResourceType<T>, obj: T): T {
  return { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(rt), kind: obj.kind ?? rt.kind };
}

function parseStatus(text: string, code: number): Status {
  try {
    const parsed = JSON.parse(text) as Status;
    if (parsed && typeof parsed === 'object') return parsed;
  } catch { /* not JSON: fall through */ }
  return { code, message: text.slice(0, 500) || `HTTP ${code}` };
}

/** Loads kubeconfig the usual way: explicit file, KUBECONFIG, ~/.kube/config, then in-cluster. */
export function loadKubeConfig(opts: { kubeconfig?: string | undefined; context?: string | undefined } = {}): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) throw new Error(`kubeconfig has no context named "${opts.context}"`);
    kc.setCurrentContext(opts.context);
  }
  return kc;
}
