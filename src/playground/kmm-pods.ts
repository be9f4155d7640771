// KMM's worker pods as the simulated KMM creates them (shape from KMM v2.6.0's
// internal/pod/workerpodmanager.go): `kmm-worker-<node>-<module>` in the Module's namespace, bound
// to the node, restartPolicy OnFailure, labelled with the module name and the action (Load /
// Unload), the config it applies in an annotation. The simulated worker (worker.ts) runs them.
import type { OwnerReference } from '../runtime/object.ts';
import {
  KMM_MODULE_NAME_LABEL, KMM_WORKER_ACTION_LABEL, KMM_WORKER_CONFIG_ANNOTATION, KMM_WORKER_CONTAINER, KMM_WORKER_HASH_ANNOTATION,
  KMM_WORKER_VERSION_ANNOTATION, kmmWorkerPodName, type SimToleration,
} from './kmm-api.ts';
import type { SimModuleConfig } from './kmm-rules.ts';
import { simHash, type SimNode, type SimPod } from './sim-shared.ts';

export type SimWorkerAction = 'Load' | 'Unload';

/** The image the simulated worker container claims to run (never pulled: nothing runs). */
export const SIM_WORKER_IMAGE = 'gcr.io/k8s-staging-kmm/kernel-module-management-worker:v2.6.0';

export interface SimWorkerPodInput {
  namespace: string;
  moduleName: string;
  node: SimNode;
  action: SimWorkerAction;
  config: SimModuleConfig;
  /** The Module's version (loader pods only); '' for none. */
  version: string;
  tolerations: readonly SimToleration[];
}

/** The hash KMM compares to replace a restarted worker pod whose template is outdated. */
export function simWorkerHash(input: Pick<SimWorkerPodInput, 'action' | 'config' | 'version'>): string {
  return String(simHash(JSON.stringify([input.action, input.config, input.version])));
}

export function simWorkerPod(input: SimWorkerPodInput): SimPod {
  const { namespace, moduleName, node, action, config, version } = input;
  const annotations: Record<string, string> = {
    [KMM_WORKER_CONFIG_ANNOTATION]: JSON.stringify(config),
    [KMM_WORKER_HASH_ANNOTATION]: simWorkerHash(input),
  };
  if (action === 'Load' && version) annotations[KMM_WORKER_VERSION_ANNOTATION] = version;
  // Owned by the Node (KMM: by the node's NodeModulesConfig, itself owned by the Node), so that
  // deleting a node removes its worker pods.
  const owner: OwnerReference = { apiVersion: 'v1', kind: 'Node', name: node.metadata.name!, uid: node.metadata.uid! };
  const modulesDir = `${config.dirName}/lib/modules`;
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: kmmWorkerPodName(node.metadata.name!, moduleName),
      namespace,
      labels: {
        'app.kubernetes.io/name': 'kmm', 'app.kubernetes.io/component': 'worker', 'app.kubernetes.io/part-of': 'kmm',
        [KMM_MODULE_NAME_LABEL]: moduleName,
        [KMM_WORKER_ACTION_LABEL]: action,
      },
      annotations,
      ownerReferences: node.metadata.uid ? [owner] : [],
    },
    spec: {
      nodeName: node.metadata.name!,
      restartPolicy: 'OnFailure',
      tolerations: [...input.tolerations],
      initContainers: [{
        name: 'image-extractor', image: config.containerImage, command: ['/bin/sh', '-c'],
        args: [`mkdir -p /tmp${modulesDir}; cp -R ${modulesDir}/${config.kernelVersion} /tmp${modulesDir};`],
      }],
      containers: [{
        name: KMM_WORKER_CONTAINER, image: SIM_WORKER_IMAGE,
        args: ['kmod', action === 'Load' ? 'load' : 'unload', '/etc/kmm-worker/config.yaml'],
      }],
    },
  };
}

/** The config a worker pod applies, from its annotation; undefined when missing or unreadable. */
export function simWorkerConfig(pod: SimPod): SimModuleConfig | undefined {
  const raw = pod.metadata.annotations?.[KMM_WORKER_CONFIG_ANNOTATION];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as SimModuleConfig;
  } catch {
    return undefined;
  }
}

export function simWorkerAction(pod: SimPod): SimWorkerAction | undefined {
  const action = pod.metadata.labels?.[KMM_WORKER_ACTION_LABEL];
  return action === 'Load' || action === 'Unload' ? action : undefined;
}

export function simWorkerRestarts(pod: SimPod): number {
  const statuses = pod.status?.containerStatuses as { name: string; restartCount?: number }[] | undefined;
  return statuses?.find((s) => s.name === KMM_WORKER_CONTAINER)?.restartCount ?? 0;
}
