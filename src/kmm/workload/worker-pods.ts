// KMM reports a failed load or unload only through its worker pods (one per node and Module,
// `kmm-worker-<node>-<module>`, restartPolicy OnFailure, labelled with the Module's name and the
// action): Module status holds counts only. This reads what a person needs from them: the node,
// the action and the error, as precisely as the pod says it.
import type { KubeObject } from '../../runtime/object.ts';
import { KMM_MODULE_NAME_LABEL, KMM_WORKER_ACTION_LABEL } from '../labels.ts';
import type { NodeFailure } from './status-schema.ts';

interface ContainerStatus {
  name?: string;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; terminated?: { exitCode?: number; reason?: string; message?: string } };
  lastState?: { terminated?: { exitCode?: number; reason?: string; message?: string } };
}

export interface WorkerPod extends KubeObject {
  spec?: { nodeName?: string };
  status?: { phase?: string; containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] };
}

/** Selects a Module's worker pods in its namespace. */
export function workerPodSelector(moduleName: string): string {
  return `${KMM_MODULE_NAME_LABEL}=${moduleName},${KMM_WORKER_ACTION_LABEL}`;
}

const MAX_MESSAGE = 900;
// Waiting reasons that mean the pod cannot do its work (not merely starting).
const STUCK = new Set(['CrashLoopBackOff', 'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/** Why a worker pod is failing, or undefined while it is working or done. */
export function workerFailure(pod: WorkerPod): NodeFailure | undefined {
  const node = pod.spec?.nodeName;
  if (!node || pod.metadata.deletionTimestamp) return undefined;
  const action = pod.metadata.labels?.[KMM_WORKER_ACTION_LABEL] === 'Unload' ? 'Unload' : 'Load';
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  let detail: string | undefined;
  for (const c of statuses) {
    const last = c.state?.terminated?.exitCode ? c.state.terminated : c.lastState?.terminated;
    const waiting = c.state?.waiting;
    if (last && last.exitCode) {
      // KMM's worker sets no termination message (v2.6): then the log is where the modprobe error is.
      const said = last.message?.trim();
      detail = `${said ? said : `exit code ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}`}${c.restartCount ? ` after ${c.restartCount} restart(s)` : ''}`;
      break;
    }
    if (waiting?.reason && STUCK.has(waiting.reason)) {
      detail = `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
      break;
    }
  }
  if (!detail && pod.status?.phase === 'Failed') detail = 'the worker pod failed';
  if (!detail) return undefined;
  const where = `${pod.metadata.namespace}/${pod.metadata.name}`;
  const message = `KMM could not ${action.toLowerCase()} the kernel module on ${node}: ${detail}. See \`kubectl logs -n ${pod.metadata.namespace} ${pod.metadata.name}\` (worker pod ${where})`;
  return { node, reason: action === 'Load' ? 'LoadFailed' : 'UnloadFailed', message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message };
}

/** The failing worker pods' failures, one per node, sorted by node. */
export function workerFailures(pods: readonly WorkerPod[]): NodeFailure[] {
  const byNode = new Map<string, NodeFailure>();
  for (const pod of pods) {
    const failure = workerFailure(pod);
    if (failure) byNode.set(failure.node, failure);
  }
  return [...byNode.values()].sort((a, b) => (a.node < b.node ? -1 : 1));
}
