// Wires the Ptemplate reconciler to the shared cache: what it watches and how each event finds
// the Ptemplates it concerns. The same declarations feed the generated RBAC.
import { Modules } from '../../kmm/resource.ts';
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
import { daemonSetTransform, moduleTransform, nodeTransform, podTransform, secretTransform } from './cache-transforms.ts';
import { CONSUMER_POD_SELECTOR, PTEMPLATE_ANNOTATION } from './names.ts';
import { PtemplateReconciler } from './reconciler.ts';
import { nodeMatches } from './status.ts';

export const CONTROLLER_NAME = 'ptemplate';
const PULL_SECRET_INDEX = 'pt.example.com/pull-secret';

export interface PtemplateControllerOptions {
  recorder: EventRecorder;
  /** Default 2. */
  maxConcurrentReconciles?: number;
}

export function addPtemplateController(manager: Manager, options: PtemplateControllerOptions): Controller {
  const { cache } = manager;
  const ptemplates = cache.informer(Ptemplates);
  ptemplates.addIndex(PULL_SECRET_INDEX, (pt) => {
    const name = pt.spec?.imagePullSecret?.name;
    return name ? [`${pt.metadata.namespace}/${name}`] : [];
  });
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
    .owns(Modules, { transform: moduleTransform })
    .owns(DaemonSets, { transform: daemonSetTransform })
    .watches(Pods, podToPtemplate, { labelSelector: CONSUMER_POD_SELECTOR, transform: podTransform })
    // Node labels carry KMM's "loaded" and "device plugin ready" marks; metadata is all we need.
    .watches(Nodes, nodeToPtemplates(ptemplates), { metadataOnly: true, transform: nodeTransform, predicates: [labelsChanged] })
    // Only whether the pull secret exists: metadata, never the secret's data.
    .watches(Secrets, (secret) => ptemplates.byIndex(PULL_SECRET_INDEX, keyOf(secret)).map((pt) => keyOf(pt)), { metadataOnly: true, transform: secretTransform })
    .withOptions({ maxConcurrentReconciles: options.maxConcurrentReconciles ?? 2 })
    .complete(reconciler.reconcile);
}

function podToPtemplate(pod: KubeObject): string[] {
  const name = pod.metadata.annotations?.[PTEMPLATE_ANNOTATION];
  return name && pod.metadata.namespace ? [`${pod.metadata.namespace}/${name}`] : [];
}

/** Every Ptemplate whose selector matches the node, or whose KMM labels it carries. */
function nodeToPtemplates(ptemplates: Informer<Ptemplate>) {
  return (node: KubeObject): string[] => {
    const labels = Object.keys(node.metadata.labels ?? {});
    return ptemplates.list()
      .filter((pt) => nodeMatches(node, pt.spec?.selector ?? {}) ||
        labels.some((l) => l.startsWith(`kmm.node.kubernetes.io/${pt.metadata.namespace}.${pt.metadata.name}.`)))
      .map((pt) => keyOf(pt));
  };
}
