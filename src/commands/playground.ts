// `ptemplate-operator playground`: a complete local system for trying the operator without a
// cluster — a throwaway control plane, the CRDs, three simulated worker nodes, simulated KMM and
// kubelet, the operator, and the sample Ptemplate. Development only.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { Logger } from 'pino';
import { moduleCrd } from '../kmm/crd.ts';
import { Modules } from '../kmm/resource.ts';
import { upgradeStepKey } from '../kmm/workload/names.ts';
import { createSimulatedNodes, SIM_FAIL_LOAD_ANNOTATION, startSimulators, type SimDeviceKind } from '../playground/index.ts';
import { ptemplateCrd } from '../ptemplate/api/crd.ts';
import { Ptemplates, type Ptemplate } from '../ptemplate/api/schema.ts';
import { NAMES } from '../ptemplate/names.ts';
import { Client } from '../runtime/client/client.ts';
import type { KubeObject } from '../runtime/object.ts';
import { CustomResourceDefinitions } from '../runtime/resource.ts';
import { ControlPlane } from '../testenv/control-plane.ts';
import { runOperator } from './run.ts';

export const SAMPLE_PATH = new URL('../../config/samples/pt_v1alpha1_ptemplate.yaml', import.meta.url);
const WORKER_LABEL = 'node-role.kubernetes.io/worker';

export interface PlaygroundOptions {
  log: Logger;
  signal: AbortSignal;
  metricsAddress: string;
  probeAddress: string;
  /** The simulated devices (resource and count per kmod). Default: the ptemplate driver's `example.com/ptemplate` = `max_dev`. */
  devices?: readonly SimDeviceKind[];
}

export async function runPlayground(options: PlaygroundOptions): Promise<void> {
  const { log, signal } = options;
  const progress = (line: string) => log.info(line);
  progress('starting a local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)...');
  const cp = await ControlPlane.start({ log: progress });
  let sims: Awaited<ReturnType<typeof startSimulators>> | undefined;
  try {
    const admin = new Client(cp.kubeConfig(), { fieldManager: 'ptemplate-playground' });
    progress('installing the Ptemplate CRD and a development copy of the KMM Module CRD...');
    await admin.apply(CustomResourceDefinitions, ptemplateCrd());
    await admin.apply(CustomResourceDefinitions, moduleCrd());
    await waitUntil(async () => (await admin.list(Ptemplates)).items && (await admin.list(Modules)).items, signal);
    progress('creating three simulated worker nodes...');
    await createSimulatedNodes(admin, ['worker-0', 'worker-1', 'worker-2'].map((name) => ({ name, labels: { [WORKER_LABEL]: '' } })));
    // The simulators' own chatter only at debug level: the operator's logs are what a newcomer reads.
    const simLog = log.isLevelEnabled('debug') ? log : log.child({}, { level: 'warn' });
    sims = await startSimulators({ kubeConfig: cp.kubeConfig(), log: simLog, loadDelayMs: 2000, ...(options.devices ? { devices: options.devices } : {}) });
    const sample = await loadSample();
    await admin.apply(Ptemplates, sample);
    printWelcome(cp.kubeconfigPath, sample);
    await runOperator({ kubeConfig: cp.kubeConfig(), log, signal, metricsAddress: options.metricsAddress, probeAddress: options.probeAddress });
  } finally {
    progress('stopping the playground...');
    await sims?.stop().catch(() => {});
    await cp.stop();
  }
}

async function loadSample(): Promise<Ptemplate> {
  const docs = parseAllDocuments(await readFile(SAMPLE_PATH, 'utf8')).map((d) => d.toJS() as unknown);
  const sample = docs.find((d): d is Ptemplate => (d as KubeObject | null)?.kind === 'Ptemplate');
  if (!sample) throw new Error(`no Ptemplate in ${SAMPLE_PATH.pathname}`);
  return sample;
}

async function waitUntil(check: () => Promise<unknown>, signal: AbortSignal): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (signal.aborted) throw new Error('interrupted');
    try {
      if (await check()) return;
    } catch (err) {
      if (attempt > 200) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function printWelcome(kubeconfig: string, sample: Ptemplate) {
  const ns = sample.metadata.namespace ?? 'default';
  const name = sample.metadata.name!;
  const step = upgradeStepKey(NAMES, ns, name);
  process.stdout.write(`
  The playground is running (simulated nodes, KMM and kubelet; nothing touches a real kernel).
  In another terminal:

    export KUBECONFIG=${kubeconfig}
    kubectl get ptemplates -A                       # Ready, module and consumer counts
    kubectl describe ptemplate -n ${ns} ${name}     # conditions and events
    kubectl get modules.kmm.sigs.x-k8s.io -n ${ns} -o yaml
    kubectl get daemonset,pods -n ${ns} -o wide
    kubectl get nodes --show-labels                 # KMM's ready labels
    kubectl patch ptemplate -n ${ns} ${name} --type merge -p '{"spec":{"moduleState":"Unloaded"}}'

  A node whose module load fails (the simulated modprobe fails while the annotation stays; the
  next load there, e.g. during an upgrade or after Unloaded/Loaded, shows in KMM's worker pod):

    kubectl annotate node worker-1 ${SIM_FAIL_LOAD_ANNOTATION}='could not insert module: Invalid argument'
    kubectl get pods -n ${ns} -l kmm.node.kubernetes.io/worker-action -o wide   # restarts, CrashLoopBackOff
    kubectl annotate node worker-1 ${SIM_FAIL_LOAD_ANNOTATION}-                  # the next retry succeeds

  A driver upgrade, node by node (set a version, then change it with the image):

    kubectl patch ptemplate -n ${ns} ${name} --type merge -p '{"spec":{"version":"v1"}}'
    kubectl patch ptemplate -n ${ns} ${name} --type merge -p '{"spec":{"version":"v2","driverImage":"registry.example.com/pt-char-dev:v2-\${KERNEL_FULL_VERSION}"}}'
    kubectl get nodes -w -L ${step} -L kmm.node.kubernetes.io/${ns}.${name}.version.ready
    kubectl get ptemplate -n ${ns} ${name} -o jsonpath='{.status.upgrade}'

  A failed node during an upgrade: fail its load, upgrade to v3, watch it marked Failed (after
  nodeTimeout; shorten it with "upgradePolicy":{"nodeTimeout":"20s"}), then fix and retry it:

    kubectl annotate node worker-1 ${SIM_FAIL_LOAD_ANNOTATION}='could not insert module: Exec format error'
    kubectl patch ptemplate -n ${ns} ${name} --type merge -p '{"spec":{"version":"v3","upgradePolicy":{"nodeTimeout":"20s"}}}'
    kubectl get ptemplate -n ${ns} ${name} -o jsonpath='{.status.upgrade.failedNodes}'
    kubectl annotate node worker-1 ${SIM_FAIL_LOAD_ANNOTATION}-
    kubectl label node worker-1 ${step}=Retry --overwrite

  Press Ctrl-C to stop; everything is removed.

`);
}
