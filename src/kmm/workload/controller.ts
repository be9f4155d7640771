// Wires a device driver to the shared cache: what the workload layer watches, how each event finds
// the device objects it concerns, and the permissions it needs (the source of the generated RBAC).
import type { Cache } from '../../runtime/cache/cache.ts';
import { LABELS_INDEX, labelsIndex } from '../../runtime/cache/store.ts';
import type { Controller } from '../../runtime/controller/controller.ts';
import { deletionOrFinalizersChanged, generationChanged, labelsChanged, or } from '../../runtime/controller/predicate.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import type { Manager } from '../../runtime/manager/manager.ts';
import { keyOf, type KubeObject } from '../../runtime/object.ts';
import { permission } from '../../runtime/rbac.ts';
import { DaemonSets, Events, Nodes, Pods, Secrets } from '../../runtime/resource.ts';
import type { StatusPacer } from '../../runtime/status-pacer.ts';
import { Modules } from '../resource.ts';
import { childTransform, nodeTransformKeeping, podTransform, secretTransform } from './cache-transforms.ts';
import type { DeviceDriver, DeviceObject } from './driver.ts';
import { DeviceMetrics } from './metrics.ts';
import { nodeToOwners, SELECTOR_INDEX, selectorIndex } from './node-owners.ts';
import { consumerPodSelector, workloadNames, type WorkloadNames } from './names.ts';
import { DeviceReconciler } from './reconciler.ts';
import { NODE_MARKS_INDEX, nodeMarksIndex, UpgradeRunner } from './upgrade-runner.ts';
import { StatusWriter } from './status-writer.ts';

/**
 * Default 16. A reconcile spends its time waiting for one to four API round trips and little on
 * the CPU, so workers overlap that waiting; the API server's Priority and Fairness queues whatever
 * exceeds its share. A key is never reconciled by two workers at once, whatever the number.
 */
export const DEFAULT_MAX_CONCURRENT_RECONCILES = 16;

export interface DeviceControllerOptions {
  /** Records the events (reportingController is the operator's). */
  recorder: EventRecorder;
  /** Parallel reconciles. Default DEFAULT_MAX_CONCURRENT_RECONCILES (16). */
  maxConcurrentReconciles?: number | undefined;
  /** Paces progress-only status writes. Default: a StatusPacer with its defaults (250 ms .. 10 s). */
  statusPacer?: StatusPacer | undefined;
}

export interface DeviceController {
  controller: Controller;
  names: WorkloadNames;
}

const PULL_SECRET_INDEX = 'kmm.workload/pull-secret';

/**
 * Declares the node informer of the layer named `names` and returns its watch options (a watch of
 * nodes must pass the same). Node labels carry KMM's "loaded" and "device plugin ready" marks, so
 * metadata is all it needs: a node's labels, and the upgrade notes we annotate it with (see
 * upgrade.ts). Reconciles read nodes by the selector's labels; unloading reads the nodes that
 * carry the layer's marks (see UpgradeRunner.clearNodes).
 */
export function declareNodes(cache: Cache, names: WorkloadNames) {
  const watch = { metadataOnly: true, transform: nodeTransformKeeping(names.upgradeLabelPrefix) };
  const nodes = cache.informer(Nodes, watch);
  nodes.addIndex(LABELS_INDEX, labelsIndex);
  nodes.addIndex(NODE_MARKS_INDEX, nodeMarksIndex(names));
  return watch;
}
// Only whether a pull secret exists: metadata, never the secret's data (nor its annotations).
const SECRET_WATCH = { metadataOnly: true, transform: secretTransform };
const PRIMARY_WATCH = { deflate: true };

/** Adds the controller of `driver`'s resource to the manager. */
export function addDeviceController<R extends DeviceObject>(manager: Manager, driver: DeviceDriver<R>, options: DeviceControllerOptions): DeviceController {
  const { cache } = manager;
  const type = driver.resource;
  const names = workloadNames(type, driver.names);
  const specOf = (obj: R) => driver.withDefaults?.(obj.spec) ?? obj.spec;
  // A reconcile reads its own object and children one at a time, and at scale they are most of
  // the cache: kept deflated once settled (a tenth of their JSON). Nodes and pods are read in bulk.
  const objects = cache.informer(type, PRIMARY_WATCH);
  objects.addIndex(SELECTOR_INDEX, selectorIndex((obj) => driver.selector(specOf(obj))));
  const podWatch = { labelSelector: consumerPodSelector(names), transform: podTransform };
  const childWatch = { transform: childTransform(names.fieldManager), deflate: true };
  const NODE_WATCH = declareNodes(cache, names);
  // Reconciles read pods by the owner's UID label.
  cache.informer(Pods, podWatch).addIndex(LABELS_INDEX, labelsIndex);
  manager.declarePermissions(
    // Children: server-side apply creates or patches; unloading deletes.
    permission(Modules, ['create', 'patch', 'delete']),
    permission(DaemonSets, ['create', 'patch', 'delete']),
    // The finalizer (JSON patch) and status (apply to /status).
    permission(type, ['patch']),
    permission(type, ['patch'], 'status'),
    // blockOwnerDeletion on the children's owner references needs this where the
    // OwnerReferencesPermissionEnforcement admission plugin runs (OpenShift).
    permission(type, ['update'], 'finalizers'),
    // The events it records (created, then patched as a series).
    permission(Events, ['create', 'patch']),
    // The upgrade: node labels (version, step), the cordon check, consumer pods on a node before a
    // label changes, KMM's worker pods (read for failures; deleted on a person's retry).
    permission(Nodes, ['get', 'patch']),
    permission(Pods, ['list', 'delete']),
  );
  const reconciler = new DeviceReconciler<R>({
    client: manager.client, cache, recorder: options.recorder, driver, names,
    upgrades: new UpgradeRunner({ client: manager.client, cache, recorder: options.recorder, type, names }),
    status: new StatusWriter<R>({ client: manager.client, type, pacer: options.statusPacer, observer: DeviceMetrics.for(manager.registry, names.metricsPrefix, type.kind) }),
  });
  const builder = manager.controller(names.controller)
    // Our own status writes change neither generation nor finalizers, so they do not come back as work.
    .for(type, { ...PRIMARY_WATCH, predicates: [or(generationChanged, deletionOrFinalizersChanged)] })
    .owns(Modules, childWatch)
    .owns(DaemonSets, childWatch)
    .watches(Pods, podToOwner(names), podWatch)
    .watches(Nodes, nodeToOwners(objects, (obj) => driver.selector(specOf(obj))), { ...NODE_WATCH, predicates: [labelsChanged] });
  if (driver.pullSecret) {
    const pullSecret = driver.pullSecret.bind(driver);
    objects.addIndex(PULL_SECRET_INDEX, (obj) => {
      const secret = pullSecret(specOf(obj));
      return secret ? [`${obj.metadata.namespace}/${secret.name}`] : [];
    });
    builder.watches(Secrets, (secret) => objects.keysByIndex(PULL_SECRET_INDEX, keyOf(secret)), SECRET_WATCH);
  }
  const controller = builder
    .withOptions({ maxConcurrentReconciles: options.maxConcurrentReconciles ?? DEFAULT_MAX_CONCURRENT_RECONCILES })
    .complete(reconciler.reconcile);
  return { controller, names };
}

function podToOwner(names: WorkloadNames) {
  return (pod: KubeObject): string[] => {
    const name = pod.metadata.annotations?.[names.ownerNameAnnotation];
    return name && pod.metadata.namespace ? [`${pod.metadata.namespace}/${name}`] : [];
  };
}
