// Per-object metrics of a device operator, one series per object (labels namespace and name), so
// a dashboard can show one object or sum over all of them. They follow the status every reconcile
// computes (also when nothing needs writing) and are deleted when the object is gone.
// `<prefix>_condition` follows kube-state-metrics: per condition type, one series per possible
// status, 1 for the current one and 0 for the others.
// At fleet scale prom-client's Gauges cost a hash key and a labels object per series (14+ per
// object); so each object keeps one small record and the series are computed at scrape time.
import type { Registry } from 'prom-client';
import type { ObjectKey } from '../../runtime/object.ts';
import { ScrapedGauge, type AddSample } from '../../runtime/metrics.ts';
import type { DeviceObject } from './driver.ts';
import type { DeviceStatus } from './status-schema.ts';

const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;
export const UPGRADE_STATES = [['done', 'done'], ['in_progress', 'inProgress'], ['pending', 'pending'], ['failed', 'failed']] as const;

/** What one object's series are computed from. */
interface Observed {
  readonly namespace: string;
  readonly name: string;
  readonly consumersDesired: number;
  readonly consumersReady: number;
  readonly moduleNodesDesired: number;
  readonly moduleNodesAvailable: number;
  readonly loadFailures: number;
  /** The conditions' types and statuses, flat (type, status, type, status, …): one array per object. */
  readonly conditions: readonly string[];
  /** Nodes per upgrade state, in UPGRADE_STATES order; none for an object without spec.version. */
  readonly upgrade: readonly number[] | undefined;
}

type Labels = 'namespace' | 'name';

export class DeviceMetrics {
  /** Per `namespace/name`, in the order the objects were first observed (the series' order). */
  readonly #observed = new Map<string, Observed>();

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
    const gauge = <L extends string>(name: string, help: string, series: (o: Observed, add: AddSample<L>) => void) =>
      new ScrapedGauge<Observed, L>(registry, `${prefix}_${name}`, help, this.#observed, series);
    const count = (name: string, help: string, value: (o: Observed) => number) =>
      gauge<Labels>(name, help, (o, add) => add({ namespace: o.namespace, name: o.name }, value(o)));
    // Registration order is the exposition's order.
    count('consumers_desired', 'Consumer pods that should run (nodes where the module and the device plugin are ready).', (o) => o.consumersDesired);
    count('consumers_ready', 'Consumer pods that are running and ready.', (o) => o.consumersReady);
    count('module_nodes_desired', 'Nodes where KMM should load the kernel module.', (o) => o.moduleNodesDesired);
    count('module_nodes_available', 'Nodes where KMM reports the kernel module loader as available.', (o) => o.moduleNodesAvailable);
    gauge<Labels | 'type' | 'status'>('condition', `The current status of each condition of a ${kind}: 1 for the status it has, 0 for the others.`, (o, add) => {
      for (let i = 0; i < o.conditions.length; i += 2) {
        const type = o.conditions[i]!, current = o.conditions[i + 1];
        for (const status of CONDITION_STATUSES) add({ namespace: o.namespace, name: o.name, type, status }, current === status ? 1 : 0);
      }
    });
    gauge<Labels | 'state'>('upgrade_nodes', `Selected nodes of a versioned ${kind} by upgrade state: done, in_progress, pending, failed.`, (o, add) => {
      if (o.upgrade) UPGRADE_STATES.forEach(([state], i) => add({ namespace: o.namespace, name: o.name, state }, o.upgrade![i]!));
    });
    count('module_load_failures', 'Nodes where KMM\'s worker pod for the kernel module is failing (load or unload).', (o) => o.loadFailures);
  }

  /** Sets the series of one object from the status the reconciler computed. */
  observe(obj: DeviceObject, status: DeviceStatus): void {
    const namespace = obj.metadata.namespace ?? '', name = obj.metadata.name ?? '';
    const up = status.upgrade;
    this.#observed.set(`${namespace}/${name}`, {
      namespace,
      name,
      consumersDesired: status.consumersDesired ?? 0,
      consumersReady: status.consumersReady ?? 0,
      moduleNodesDesired: status.module?.loader.desired ?? 0,
      moduleNodesAvailable: status.module?.loader.available ?? 0,
      loadFailures: status.loadFailures?.length ?? 0,
      // slice: flatMap's array keeps spare capacity (about 70 bytes an object); this copy has none.
      conditions: (status.conditions ?? []).flatMap((c) => [c.type, c.status]).slice(),
      upgrade: up && UPGRADE_STATES.map(([, field]) => up[field]),
    });
  }

  /** Deletes every series of an object that is gone. */
  forget(key: ObjectKey): void {
    this.#observed.delete(`${key.namespace ?? ''}/${key.name}`);
  }
}
