// Wires the Ptemplate reconciler to the shared cache: what it watches and how each event finds
// the Ptemplates it concerns. The same declarations feed the generated RBAC.
import { moduleOfNodeLabel } from '../../kmm/labels.ts';
import { Modules } from '../../kmm/resource.ts';
import { LABELS_INDEX, labelIndexValue, labelsIndex } from '../../runtime/cache/store.ts';
import type { Informer } from '../../runtime/cache/informer.ts';
import type { Controller } from '../../runtime/controller/controller.ts';
import { deletionOrFinalizersChanged, generationChanged, labelsChanged, or } from '../../runtime/controller/predicate.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import type { Manager } from '../../runtime/manager/manager.ts';
import { keyOf, type KubeObject } from '../../runtime/object.ts';
import { permission } from '../../runtime/rbac.ts';
import { DaemonSets, Nodes, Pods, Secrets } from '../../runtime/resource.ts';
import { Ptemplates, type Ptemplate } from '../api/schema.ts';
import { PtemplateMetrics } from '../metrics.ts';
import { CONSUMER_POD_SELECTOR, PTEMPLATE_ANNOTATION } from './names.ts';
import { PtemplateReconciler } from './reconciler.ts';
import { nodeMatches } from './status.ts';

export const CONTROLLER_NAME = 'ptemplate';
export const DEFAULT_MAX_CONCURRENT_RECONCILES = 16;
const PULL_SECRET_INDEX = 'pt.example.com/pull-secret';
/** Ptemplates by each `key=value` of spec.selector; an empty selector (every node) under MATCH_ALL. */
const SELECTOR_INDEX = 'pt.example.com/selector';
const MATCH_ALL = '*';

export interface PtemplateControllerOptions {
  recorder: EventRecorder;
  /**
   * Default 16. A reconcile spends its time waiting for one to four API round trips and little on
   * the CPU, so workers overlap that waiting; the API server's Priority and Fairness queues whatever
   * exceeds its share. A key is never reconciled by two workers at once, whatever the number.
   */
  maxConcurrentReconciles?: number;
}

export function addPtemplateController(manager: Manager, options: PtemplateControllerOptions): Controller {
  const { cache } = manager;
  const ptemplates = cache.informer(Ptemplates);
  ptemplates.addIndex(PULL_SECRET_INDEX, (pt) => {
    const name = pt.spec?.imagePullSecret?.name;
    return name ? [`${pt.metadata.namespace}/${name}`] : [];
  });
  ptemplates.addIndex(SELECTOR_INDEX, (pt) => {
    const entries = Object.entries(pt.spec?.selector ?? {});
    return entries.length ? entries.map(([k, v]) => labelIndexValue(k, v)) : [MATCH_ALL];
  });
  // Reconciles read nodes by the selector's labels and pods by the Ptemplate's UID label.
  cache.informer(Nodes, NODE_WATCH).addIndex(LABELS_INDEX, labelsIndex);
  cache.informer(Pods, POD_WATCH).addIndex(LABELS_INDEX, labelsIndex);
  manager.declarePermissions(
    // Children: server-side apply creates or patches; unloading deletes.
    permission(Modules, ['create', 'patch', 'delete']),
    permission(DaemonSets, ['create', 'patch', 'delete']),
    // Our finalizer (JSON patch) and status (apply to /status).
    permission(Ptemplates, ['patch']),
    permission(Ptemplates, ['patch'], 'status'),
    // blockOwnerDeletion on the children's owner references needs this where the
    // OwnerReferencesPermissionEnforcement admission plugin runs (OpenShift).
    permission(Ptemplates, ['update'], 'finalizers'),
  );
  const reconciler = new PtemplateReconciler({
    client: manager.client, cache, recorder: options.recorder, statusObserver: PtemplateMetrics.for(manager.registry),
  });
  return manager.controller(CONTROLLER_NAME)
    // Our own status writes change neither generation nor finalizers, so they do not come back as work.
    .for(Ptemplates, { predicates: [or(generationChanged, deletionOrFinalizersChanged)] })
    .owns(Modules)
    .owns(DaemonSets)
    .watches(Pods, podToPtemplate, POD_WATCH)
    .watches(Nodes, nodeToPtemplates(ptemplates), { ...NODE_WATCH, predicates: [labelsChanged] })
    // Only whether the pull secret exists: metadata, never the secret's data.
    .watches(Secrets, (secret) => ptemplates.byIndex(PULL_SECRET_INDEX, keyOf(secret)).map((pt) => keyOf(pt)), { metadataOnly: true })
    .withOptions({ maxConcurrentReconciles: options.maxConcurrentReconciles ?? DEFAULT_MAX_CONCURRENT_RECONCILES })
    .complete(reconciler.reconcile);
}

const POD_WATCH = { labelSelector: CONSUMER_POD_SELECTOR };
// Node labels carry KMM's "loaded" and "device plugin ready" marks; metadata is all we need.
const NODE_WATCH = { metadataOnly: true };

function podToPtemplate(pod: KubeObject): string[] {
  const name = pod.metadata.annotations?.[PTEMPLATE_ANNOTATION];
  return name && pod.metadata.namespace ? [`${pod.metadata.namespace}/${name}`] : [];
}

/**
 * Every Ptemplate whose selector matches the node, or whose KMM labels it carries. It costs the
 * Ptemplates that share a label with the node, not a scan of all of them.
 */
function nodeToPtemplates(ptemplates: Informer<Ptemplate>) {
  return (node: KubeObject): string[] => {
    const keys = new Set<string>();
    const consider = (pt: Ptemplate) => { if (nodeMatches(node, pt.spec?.selector ?? {})) keys.add(keyOf(pt)); };
    for (const pt of ptemplates.byIndex(SELECTOR_INDEX, MATCH_ALL)) keys.add(keyOf(pt));
    for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
      for (const pt of ptemplates.byIndex(SELECTOR_INDEX, labelIndexValue(k, v))) consider(pt);
      const module = moduleOfNodeLabel(k);
      // The Module is named after its Ptemplate; a key with no Ptemplate behind it costs one cache miss.
      if (module) keys.add(`${module.namespace}/${module.name}`);
    }
    return [...keys];
  };
}
