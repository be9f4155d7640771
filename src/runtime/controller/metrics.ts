// controller-runtime's reconcile metrics, under the same names so existing dashboards work.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { reuseMetric } from '../metrics.ts';

export interface ControllerMetrics {
  reconcileTotal: Counter<'controller' | 'result'>;
  reconcileErrors: Counter<'controller'>;
  terminalErrors: Counter<'controller'>;
  reconcileTime: Histogram<'controller'>;
  maxConcurrent: Gauge<'controller'>;
  activeWorkers: Gauge<'controller'>;
}

const cache = new WeakMap<Registry, ControllerMetrics>();

export function controllerMetrics(registry: Registry): ControllerMetrics {
  let m = cache.get(registry);
  if (m) return m;
  const registers = [registry];
  m = {
    reconcileTotal: reuseMetric(registry, 'controller_runtime_reconcile_total', Counter, () => new Counter({
      name: 'controller_runtime_reconcile_total', help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'], registers })),
    reconcileErrors: reuseMetric(registry, 'controller_runtime_reconcile_errors_total', Counter, () => new Counter({
      name: 'controller_runtime_reconcile_errors_total', help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'], registers })),
    terminalErrors: reuseMetric(registry, 'controller_runtime_terminal_reconcile_errors_total', Counter, () => new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total', help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'], registers })),
    reconcileTime: reuseMetric(registry, 'controller_runtime_reconcile_time_seconds', Histogram, () => new Histogram({
      name: 'controller_runtime_reconcile_time_seconds', help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
        1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60] })),
    maxConcurrent: reuseMetric(registry, 'controller_runtime_max_concurrent_reconciles', Gauge, () => new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles', help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'], registers })),
    activeWorkers: reuseMetric(registry, 'controller_runtime_active_workers', Gauge, () => new Gauge({
      name: 'controller_runtime_active_workers', help: 'Number of currently used workers per controller',
      labelNames: ['controller'], registers })),
  };
  cache.set(registry, m);
  return m;
}
