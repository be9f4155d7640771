// A controller: watch events -> keys on a rate-limited workqueue -> reconcile, one worker per
// key at a time. Errors retry with per-key backoff; a TerminalError does not; nothing that a
// reconciler throws can stop the loop or the process.
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { parseKey, type KubeObject, type ObjectKey } from '../object.ts';
import type { Informer } from '../cache/informer.ts';
import { TooManyRequestsError } from '../client/errors.ts';
import { isTerminal } from '../errors.ts';
import { WorkQueue, WorkQueueMetricsProvider, ExponentialFailureRateLimiter, type RateLimiter } from '../workqueue/index.ts';
import type { MapFunc, ReplayPriority } from './handler.ts';
import { controllerMetrics, type ControllerMetrics } from './metrics.ts';
import { passes, type Predicate } from './predicate.ts';

export type Request = ObjectKey;

/** One options object for every low-priority add: enqueueing runs for every watch event. */
const LOW_PRIORITY = Object.freeze({ lowPriority: true });

export interface ReconcileResult {
  /** Reconcile this key again after this many milliseconds (resets its backoff). */
  requeueAfter?: number;
}

export interface ReconcileContext {
  log: Logger;
  /** Aborted when the manager shuts down; long waits inside a reconcile should honour it. */
  signal: AbortSignal;
}

export type Reconciler = (request: Request, context: ReconcileContext) => Promise<ReconcileResult | void>;

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  log: Logger;
  /** Default 1. */
  maxConcurrentReconciles?: number;
  /** Default: exponential per-key backoff 5 ms .. 1000 s. */
  rateLimiter?: RateLimiter<string>;
  /** Default: a private registry (metrics not exported). */
  registry?: Registry;
  /** How long shutdown waits for running reconciles. Default 30 s. */
  drainTimeoutMs?: number;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue<string>;
  readonly #o: ControllerOptions;
  readonly #log: Logger;
  readonly #metrics: ControllerMetrics;
  readonly #workers: number;
  readonly #sources: (() => () => void)[] = [];
  #started = false;
  #active = 0;

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.#o = options;
    this.#log = options.log.child({ controller: options.name });
    this.#workers = Math.max(1, options.maxConcurrentReconciles ?? 1);
    const registry = options.registry ?? new Registry();
    this.#metrics = controllerMetrics(registry);
    this.queue = new WorkQueue<string>({
      name: options.name,
      rateLimiter: options.rateLimiter ?? new ExponentialFailureRateLimiter<string>(5, 1_000_000),
      metrics: new WorkQueueMetricsProvider(registry),
    });
  }

  /** Nothing queued and nothing being reconciled (delayed requeues may still be waiting). */
  get idle(): boolean {
    return this.#active === 0 && this.queue.length === 0;
  }

  /** Idle, and no delayed requeue waiting either: nothing will run until a new event comes. */
  get settled(): boolean {
    return this.idle && this.queue.waiting === 0;
  }

  /**
   * Feeds the queue from an informer: every event passing the predicates is mapped to keys. The
   * objects already cached when the controller starts are replayed as creates, at the priority
   * `replay` gives them (default: normal).
   */
  watch<T extends KubeObject>(informer: Informer<T>, map: MapFunc<T>, predicates: readonly Predicate<T>[] = [], replay?: ReplayPriority<T>): void {
    const enqueue = (obj: T, low = false) => { for (const key of map(obj)) this.queue.add(key, low ? LOW_PRIORITY : undefined); };
    this.#sources.push(() => informer.addHandler({
      add: (obj, replayed) => { if (passes(predicates, 'create', obj)) enqueue(obj, replayed && replay?.(obj) === 'low'); },
      update: (old, obj) => {
        if (!passes(predicates, 'update', obj, old)) return;
        enqueue(obj);
        // An owner or label change can move the object from one parent to another: tell both.
        for (const key of map(old)) this.queue.add(key);
      },
      delete: (obj) => { if (passes(predicates, 'delete', obj)) enqueue(obj); },
    }));
    if (this.#started) this.#sources.at(-1)!();
  }

  /** Runs the workers until the signal aborts, then drains running reconciles within a bound. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error(`controller ${this.name} already started`);
    this.#started = true;
    const unregister = this.#sources.map((register) => register());
    this.#metrics.maxConcurrent.set({ controller: this.name }, this.#workers);
    this.#log.info({ workers: this.#workers }, 'starting workers');
    const workers = Array.from({ length: this.#workers }, () => this.#worker(signal));
    const onAbort = () => {
      for (const u of unregister) u();
      void this.#drain();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    await Promise.all(workers);
    this.#log.info('workers stopped');
  }

  async #drain() {
    const timeout = this.#o.drainTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.queue.shutDownWithDrain().then(() => true),
      new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), timeout); }),
    ]);
    clearTimeout(timer);
    if (!drained) this.#log.warn({ timeoutMs: timeout }, 'running reconciles did not finish in time');
  }

  async #worker(signal: AbortSignal) {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      // The queue hands out what is still queued after shutDown (client-go's semantics); a
      // controller-runtime reconcile would then fail fast on its cancelled context. Ours may not
      // use the signal, so no reconcile starts once it aborted: only the running ones finish, and
      // a pod stops in milliseconds rather than after working through its whole queue.
      if (signal.aborted) {
        this.queue.done(key);
        return;
      }
      this.#active++;
      this.#metrics.activeWorkers.inc({ controller: this.name });
      try {
        await this.#reconcile(key, signal);
      } finally {
        this.#active--;
        this.#metrics.activeWorkers.dec({ controller: this.name });
        this.queue.done(key);
      }
      // A reconcile that finds nothing to do never waits for I/O, and the queue hands out the next
      // key at once: without a turn of the event loop, a burst of such reconciles (every object
      // after a start) would hold back probes, lease renewals and watch events until it ends.
      await yieldToEventLoop();
    }
  }

  async #reconcile(key: string, signal: AbortSignal) {
    const request = parseKey(key);
    const log = this.#log.child(request.namespace ? { namespace: request.namespace, name: request.name } : { name: request.name });
    const labels = { controller: this.name };
    const end = this.#metrics.reconcileTime.startTimer(labels);
    try {
      const result = await this.#o.reconciler(request, { log, signal });
      if (result?.requeueAfter !== undefined && result.requeueAfter > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, result.requeueAfter);
        this.#metrics.reconcileTotal.inc({ ...labels, result: 'requeue_after' });
      } else {
        this.queue.forget(key);
        this.#metrics.reconcileTotal.inc({ ...labels, result: 'success' });
      }
    } catch (err) {
      this.#metrics.reconcileErrors.inc(labels);
      this.#metrics.reconcileTotal.inc({ ...labels, result: 'error' });
      if (signal.aborted) {
        log.debug({ err }, 'reconcile interrupted by shutdown');
      } else if (isTerminal(err)) {
        this.#metrics.terminalErrors.inc(labels);
        this.queue.forget(key);
        log.error({ err }, 'reconcile failed with a terminal error; not retrying until the object changes');
      } else if (err instanceof TooManyRequestsError && err.retryAfterSeconds) {
        log.warn({ err: err.message, retryAfterSeconds: err.retryAfterSeconds }, 'API server asked to slow down');
        this.queue.addAfter(key, err.retryAfterSeconds * 1000);
      } else {
        this.queue.addRateLimited(key);
        log.error({ err, retries: this.queue.numRequeues(key) }, 'reconcile failed; will retry');
      }
    } finally {
      end();
    }
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
