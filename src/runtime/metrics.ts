// "Reuse the metric if it is already registered": several parts (clients, controllers, queues,
// electors, webhook servers) share one registry, and prom-client throws on a second registration
// of a name. Written once, with a check that the name is not taken by another kind of metric.
import type { Registry } from 'prom-client';

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
