// Per-object metrics of a device operator, one series per object (labels namespace and name), so
// a dashboard can show one object or sum over all of them. They are set from the status every
// reconcile computes (also when nothing needs writing) and deleted when the object is gone.
// `<prefix>_condition` follows kube-state-metrics: per condition type, one series per possible
// status, 1 for the current one and 0 for the others.
import { Gauge, type Registry } from 'prom-client';
import type { ObjectKey } from '../../runtime/object.ts';
import type { DeviceObject } from './driver.ts';
import type { DeviceStatus } from './status-schema.ts';

const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;
export const UPGRADE_STATES = [['done', 'done'], ['in_progress', 'inProgress'], ['pending', 'pending'], ['failed', 'failed']] as const;

type Labels = 'namespace' | 'name';

export class DeviceMetrics {
  readonly consumersDesired: Gauge<Labels>;
  readonly consumersReady: Gauge<Labels>;
  readonly moduleNodesDesired: Gauge<Labels>;
  readonly moduleNodesAvailable: Gauge<Labels>;
  readonly condition: Gauge<Labels | 'type' | 'status'>;
  /** Selected nodes by upgrade state (done, in_progress, pending, failed), for versioned objects. */
  readonly upgradeNodes: Gauge<Labels | 'state'>;
  /** Nodes where KMM's worker pod for the module is failing. */
  readonly loadFailures: Gauge<Labels>;
  /** Condition types with series, per `namespace/name`. */
  readonly #conditionTypes = new Map<string, Set<string>>();

  static readonly #byRegistry = new WeakMap<Registry, Map<string, DeviceMetrics>>();

  /** The metrics `<prefix>_*` registered in `registry` (created on first use; one set per registry and prefix). */
  static for(registry: Registry, prefix: string, kind: string): DeviceMetrics {
    let byPrefix = DeviceMetrics.#byRegistry.get(registry);
    if (!byPrefix) DeviceMetrics.#byRegistry.set(registry, (byPrefix = new Map<string, DeviceMetrics>()));
    let metrics = byPrefix.get(prefix);
    if (!metrics) byPrefix.set(prefix, (metrics = new DeviceMetrics(registry, prefix, kind)));
    return metrics;
  }

  private constructor(registry: Registry, prefix: string, kind: string) {
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Gauge<L>({ name, help, labelNames, registers: [registry] });
    const labels = ['namespace', 'name'] as const;
    this.consumersDesired = gauge(`${prefix}_consumers_desired`, 'Consumer pods that should run (nodes where the module and the device plugin are ready).', labels);
    this.consumersReady = gauge(`${prefix}_consumers_ready`, 'Consumer pods that are running and ready.', labels);
    this.moduleNodesDesired = gauge(`${prefix}_module_nodes_desired`, 'Nodes where KMM should load the kernel module.', labels);
    this.moduleNodesAvailable = gauge(`${prefix}_module_nodes_available`, 'Nodes where KMM reports the kernel module loader as available.', labels);
    this.condition = gauge(`${prefix}_condition`, `The current status of each condition of a ${kind}: 1 for the status it has, 0 for the others.`,
      ['namespace', 'name', 'type', 'status'] as const);
    this.upgradeNodes = gauge(`${prefix}_upgrade_nodes`, `Selected nodes of a versioned ${kind} by upgrade state: done, in_progress, pending, failed.`, ['namespace', 'name', 'state'] as const);
    this.loadFailures = gauge(`${prefix}_module_load_failures`, 'Nodes where KMM\'s worker pod for the kernel module is failing (load or unload).', labels);
  }

  /** Sets the series of one object from the status the reconciler computed. */
  observe(obj: DeviceObject, status: DeviceStatus): void {
    const labels = { namespace: obj.metadata.namespace ?? '', name: obj.metadata.name ?? '' };
    this.consumersDesired.set(labels, status.consumersDesired ?? 0);
    this.consumersReady.set(labels, status.consumersReady ?? 0);
    this.moduleNodesDesired.set(labels, status.module?.loader.desired ?? 0);
    this.moduleNodesAvailable.set(labels, status.module?.loader.available ?? 0);
    this.loadFailures.set(labels, status.loadFailures?.length ?? 0);
    const up = status.upgrade;
    for (const [state, value] of UPGRADE_STATES) {
      if (up) this.upgradeNodes.set({ ...labels, state }, up[value]);
      else this.upgradeNodes.remove({ ...labels, state });
    }
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

  /** Deletes every series of an object that is gone. */
  forget(key: ObjectKey): void {
    const labels = { namespace: key.namespace ?? '', name: key.name };
    for (const gauge of [this.consumersDesired, this.consumersReady, this.moduleNodesDesired, this.moduleNodesAvailable, this.loadFailures]) gauge.remove(labels);
    for (const [state] of UPGRADE_STATES) this.upgradeNodes.remove({ ...labels, state });
    const mapKey = `${labels.namespace}/${labels.name}`;
    for (const type of this.#conditionTypes.get(mapKey) ?? []) this.#removeCondition(labels, type);
    this.#conditionTypes.delete(mapKey);
  }

  #removeCondition(labels: { namespace: string; name: string }, type: string): void {
    for (const s of CONDITION_STATUSES) this.condition.remove({ ...labels, type, status: s });
  }
}
