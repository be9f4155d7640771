// Metric helpers shared by the runtime's parts and the operators built on it.
// "Reuse the metric if it is already registered": several parts (clients, controllers, queues,
// electors, webhook servers) share one registry, and prom-client throws on a second registration
// of a name. Written once, with a check that the name is not taken by another kind of metric.
// ScrapedGauge: series per object computed at scrape time, so a fleet of objects costs one small
// record each between scrapes instead of prom-client's hash key and labels object per series.
import type { Metric, Registry } from 'prom-client';

/**
 * The metric `registry` holds under `name`, or the one `make` creates (registering it there).
 * Throws when the name is taken by a metric of another kind (e.g. a Gauge where a Counter is wanted).
 */
export function reuseMetric<M extends object>(registry: Registry, name: string, kind: abstract new (...args: never[]) => object, make: () => M): M {
  const metric: unknown = registry.getSingleMetric(name);
  if (metric === undefined) return make();
  if (!(metric instanceof kind)) throw new Error(`metric ${name} is already registered with another type`);
  return metric as M;
}

/** One series as prom-client's registry reads it from a metric's `get()`. */
export interface Sample<L extends string> {
  value: number;
  labels: Record<L, string>;
}

/** Adds one series to the scrape being built. */
export type AddSample<L extends string> = (labels: Record<L, string>, value: number) => void;

/**
 * A gauge whose series are computed from `records` at every scrape: `series` adds each record's
 * series. Nothing per series lives between scrapes; the values array is garbage after the scrape.
 * It is registered in `registry` and read through it like a Gauge (metrics(), getMetricsAsJSON(),
 * getSingleMetric(); series in the records' order). `reset()` (registry.resetMetrics()) clears
 * `records`, as resetting a Gauge drops its series: with several gauges on one map, all of them.
 */
export class ScrapedGauge<R, L extends string> {
  readonly type = 'gauge';
  /** prom-client's default for gauges, used when a cluster's workers' metrics are aggregated. */
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly #records: Map<unknown, R>;
  readonly #series: (record: R, add: AddSample<L>) => void;

  constructor(registry: Registry, name: string, help: string, records: Map<unknown, R>, series: (record: R, add: AddSample<L>) => void) {
    this.name = name;
    this.help = help;
    this.#records = records;
    this.#series = series;
    // The registry only calls name, help, type, aggregator, get() and reset(); its types list the
    // built-in metric classes only.
    registry.registerMetric(this as unknown as Metric);
  }

  get(): Promise<{ name: string; help: string; type: 'gauge'; values: Sample<L>[]; aggregator: 'sum' }> {
    const values: Sample<L>[] = [];
    const add: AddSample<L> = (labels, value) => void values.push({ value, labels });
    for (const record of this.#records.values()) this.#series(record, add);
    return Promise.resolve({ help: this.help, name: this.name, type: this.type, values, aggregator: this.aggregator });
  }

  reset(): void {
    this.#records.clear();
  }
}
