// Workqueue metrics under controller-runtime's names (they come from client-go's
// workqueue MetricsProvider), so existing dashboards and alerts keep working.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { reuseMetric } from '../metrics.ts';

/** What one queue reports; the queue calls these as items move through it. */
export interface QueueMetrics {
  /** The item became dirty (queued, or marked for a follow-up while processing). */
  add(item: unknown): void;
  /** The item was handed to a worker. */
  get(item: unknown): void;
  /** The worker finished the item. */
  done(item: unknown): void;
  /** The item was requeued with rate limiting. */
  retry(): void;
  /** The queue is shut down with nothing in flight: stop reporting it. */
  close(): void;
}

export interface QueueMetricsProvider {
  /** `now` is the queue's clock in milliseconds. */
  forQueue(name: string, now: () => number): QueueMetrics;
}

export const noopQueueMetrics: QueueMetrics = {
  add() {},
  get() {},
  done() {},
  retry() {},
  close() {},
};

type Label = 'name';

// Exponential from 10 ns, factor 10, 10 buckets (controller-runtime's layout).
// Written as decimal literals so the `le` labels read 1e-7, not 1.0000000000000002e-7.
const DURATION_BUCKETS = Array.from({ length: 10 }, (_, i) => Number(`1e${i - 8}`));

interface RegistryMetrics {
  depth: Gauge<Label>;
  adds: Counter<Label>;
  queueDuration: Histogram<Label>;
  workDuration: Histogram<Label>;
  retries: Counter<Label>;
  unfinished: Gauge<Label>;
  longest: Gauge<Label>;
  /** Queues currently reporting in-flight work into this registry. */
  trackers: Set<QueueTracker>;
  /** Every queue name ever seen, so a closed queue's gauges fall back to 0. */
  names: Set<string>;
}

// One state per registry, so several providers (and queues) on one registry share
// the metric objects and the on-collect computation sees every queue.
const byRegistry = new WeakMap<Registry, RegistryMetrics>();

/** Per queue name: total and maximum age (s) of the items being processed. */
function inFlight(state: RegistryMetrics): Map<string, { total: number; oldest: number }> {
  const out = new Map<string, { total: number; oldest: number }>();
  for (const name of state.names) out.set(name, { total: 0, oldest: 0 });
  for (const tracker of state.trackers) {
    const entry = out.get(tracker.name);
    if (!entry) continue;
    const now = tracker.now();
    for (const start of tracker.processingStarts.values()) {
      const age = (now - start) / 1000;
      entry.total += age;
      entry.oldest = Math.max(entry.oldest, age);
    }
  }
  return out;
}

function metricsFor(registry: Registry): RegistryMetrics {
  const known = byRegistry.get(registry);
  if (known) return known;
  const registers = [registry];
  const labelNames = ['name'] as const;
  const trackers = new Set<QueueTracker>();
  const names = new Set<string>();
  const gauge = (name: string, help: string, collect?: (this: Gauge<Label>) => void): Gauge<Label> =>
    reuseMetric(registry, name, Gauge, () => new Gauge({ name, help, labelNames, registers, ...(collect ? { collect } : {}) }));
  const counter = (name: string, help: string): Counter<Label> =>
    reuseMetric(registry, name, Counter, () => new Counter({ name, help, labelNames, registers }));
  const histogram = (name: string, help: string): Histogram<Label> =>
    reuseMetric(registry, name, Histogram, () => new Histogram({ name, help, labelNames, registers, buckets: DURATION_BUCKETS }));

  const state: RegistryMetrics = {
    trackers,
    names,
    depth: gauge('workqueue_depth', 'Current depth of workqueue'),
    adds: counter('workqueue_adds_total', 'Total number of adds handled by workqueue'),
    queueDuration: histogram(
      'workqueue_queue_duration_seconds',
      'How long in seconds an item stays in workqueue before being requested',
    ),
    workDuration: histogram(
      'workqueue_work_duration_seconds',
      'How long in seconds processing an item from workqueue takes.',
    ),
    retries: counter('workqueue_retries_total', 'Total number of retries handled by workqueue'),
    // client-go refreshes these two every 500 ms; computing them on scrape is exact and needs no timer.
    unfinished: gauge(
      'workqueue_unfinished_work_seconds',
      "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " +
        'Large values indicate stuck threads. ' +
        'One can deduce the number of stuck threads by observing the rate at which this increases.',
      function () {
        for (const [name, { total }] of inFlight(state)) this.set({ name }, total);
      },
    ),
    longest: gauge(
      'workqueue_longest_running_processor_seconds',
      'How many seconds has the longest running processor for workqueue been running.',
      function () {
        for (const [name, { oldest }] of inFlight(state)) this.set({ name }, oldest);
      },
    ),
  };
  byRegistry.set(registry, state);
  return state;
}

class QueueTracker implements QueueMetrics {
  readonly name: string;
  readonly now: () => number;
  /** Items being processed -> when they were handed out (ms). */
  readonly processingStarts = new Map<unknown, number>();
  readonly #addTimes = new Map<unknown, number>();
  readonly #state: RegistryMetrics;
  readonly #depth: Gauge.Internal<Label>;
  readonly #adds: Counter.Internal;
  readonly #retries: Counter.Internal;
  readonly #queueDuration: Histogram.Internal<Label>;
  readonly #workDuration: Histogram.Internal<Label>;

  constructor(name: string, now: () => number, state: RegistryMetrics) {
    this.name = name;
    this.now = now;
    this.#state = state;
    this.#depth = state.depth.labels(name);
    this.#adds = state.adds.labels(name);
    this.#retries = state.retries.labels(name);
    this.#queueDuration = state.queueDuration.labels(name);
    this.#workDuration = state.workDuration.labels(name);
    // Like client-go, a queue's series exist (at 0) from its creation, not from its first add.
    this.#depth.inc(0);
    this.#adds.inc(0);
    this.#retries.inc(0);
    state.names.add(name);
    state.trackers.add(this);
  }

  add(item: unknown): void {
    this.#adds.inc();
    this.#depth.inc();
    // Keep the first add: queue duration measures the longest wait, as in client-go.
    if (!this.#addTimes.has(item)) this.#addTimes.set(item, this.now());
  }

  get(item: unknown): void {
    this.#depth.dec();
    this.processingStarts.set(item, this.now());
    const added = this.#addTimes.get(item);
    if (added !== undefined) {
      this.#queueDuration.observe((this.now() - added) / 1000);
      this.#addTimes.delete(item);
    }
  }

  done(item: unknown): void {
    const started = this.processingStarts.get(item);
    if (started === undefined) return;
    this.#workDuration.observe((this.now() - started) / 1000);
    this.processingStarts.delete(item);
  }

  retry(): void {
    this.#retries.inc();
  }

  close(): void {
    this.#state.trackers.delete(this);
  }
}

/** Registers the workqueue metrics (label `name` = queue name) in the given registry. */
export class WorkQueueMetricsProvider implements QueueMetricsProvider {
  readonly #state: RegistryMetrics;

  constructor(registry: Registry) {
    this.#state = metricsFor(registry);
  }

  forQueue(name: string, now: () => number): QueueMetrics {
    return new QueueTracker(name, now, this.#state);
  }
}
