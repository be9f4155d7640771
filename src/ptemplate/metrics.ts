// The operator's own metrics, one series per Ptemplate (labels namespace and name), so a
// dashboard can show one Ptemplate or sum over all of them. They are set from the status every
// reconcile computes (also when nothing needs writing) and deleted when the Ptemplate is gone.
// ptemplate_condition follows kube-state-metrics: per condition type, one series per possible
// status, 1 for the current one and 0 for the others.
import { Gauge, type Registry } from 'prom-client';
import type { ObjectKey } from '../runtime/object.ts';
import type { Ptemplate, PtemplateStatus } from './api/schema.ts';

const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

type Labels = 'namespace' | 'name';

export class PtemplateMetrics {
  readonly consumersDesired: Gauge<Labels>;
  readonly consumersReady: Gauge<Labels>;
  readonly moduleNodesDesired: Gauge<Labels>;
  readonly moduleNodesAvailable: Gauge<Labels>;
  readonly condition: Gauge<Labels | 'type' | 'status'>;
  /** Condition types with series, per `namespace/name`. */
  readonly #conditionTypes = new Map<string, Set<string>>();

  static readonly #byRegistry = new WeakMap<Registry, PtemplateMetrics>();

  /** The metrics registered in `registry` (created on first use; one set per registry). */
  static for(registry: Registry): PtemplateMetrics {
    let metrics = PtemplateMetrics.#byRegistry.get(registry);
    if (!metrics) PtemplateMetrics.#byRegistry.set(registry, (metrics = new PtemplateMetrics(registry)));
    return metrics;
  }

  private constructor(registry: Registry) {
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Gauge<L>({ name, help, labelNames, registers: [registry] });
    const labels = ['namespace', 'name'] as const;
    this.consumersDesired = gauge('ptemplate_consumers_desired', 'Consumer pods that should run (nodes where the module and the device plugin are ready).', labels);
    this.consumersReady = gauge('ptemplate_consumers_ready', 'Consumer pods that are running and ready.', labels);
    this.moduleNodesDesired = gauge('ptemplate_module_nodes_desired', 'Nodes where KMM should load the kernel module.', labels);
    this.moduleNodesAvailable = gauge('ptemplate_module_nodes_available', 'Nodes where KMM reports the kernel module loader as available.', labels);
    this.condition = gauge('ptemplate_condition', 'The current status of each condition of a Ptemplate: 1 for the status it has, 0 for the others.',
      ['namespace', 'name', 'type', 'status'] as const);
  }

  /** Sets the series of one Ptemplate from the status the reconciler computed. */
  observe(pt: Ptemplate, status: PtemplateStatus): void {
    const labels = { namespace: pt.metadata.namespace ?? '', name: pt.metadata.name ?? '' };
    this.consumersDesired.set(labels, status.consumersDesired ?? 0);
    this.consumersReady.set(labels, status.consumersReady ?? 0);
    this.moduleNodesDesired.set(labels, status.module?.loader.desired ?? 0);
    this.moduleNodesAvailable.set(labels, status.module?.loader.available ?? 0);
    const key = `${labels.namespace}/${labels.name}`;
    const before = this.#conditionTypes.get(key) ?? new Set<string>();
    const now = new Set<string>();
    for (const c of status.conditions ?? []) {
      now.add(c.type);
      for (const s of CONDITION_STATUSES) this.condition.set({ ...labels, type: c.type, status: s }, c.status === s ? 1 : 0);
    }
    for (const type of before) if (!now.has(type)) this.#removeCondition(labels, type);
    if (now.size) this.#conditionTypes.set(key, now);
    else this.#conditionTypes.delete(key);
  }

  /** Deletes every series of a Ptemplate that is gone. */
  forget(key: ObjectKey): void {
    const labels = { namespace: key.namespace ?? '', name: key.name };
    for (const gauge of [this.consumersDesired, this.consumersReady, this.moduleNodesDesired, this.moduleNodesAvailable]) gauge.remove(labels);
    const mapKey = `${labels.namespace}/${labels.name}`;
    for (const type of this.#conditionTypes.get(mapKey) ?? []) this.#removeCondition(labels, type);
    this.#conditionTypes.delete(mapKey);
  }

  #removeCondition(labels: { namespace: string; name: string }, type: string): void {
    for (const s of CONDITION_STATUSES) this.condition.remove({ ...labels, type, status: s });
  }
}
