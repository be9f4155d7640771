// The wide case: one Ptemplate on many simulated nodes (BENCH_WIDE_NODES, default 1000). The
// simulated KMM, kubelet and node agent run in this process (src/playground); KMM's ready labels
// appear node after node, the DaemonSet controller and scheduler place one consumer per node, the
// simulated kubelet makes it ready. Measured: time to Ready=True after the last node got KMM's
// labels, the operator's reconciles (its /metrics) and status writes (audit log) during the
// rollout, and its CPU (/proc). The simulated KMM writes with a client of its own at KMM's pace:
// KMM's manager (cmd/manager/main.go) sets no QPS, so it runs on controller-runtime's default client,
// 20 qps with a burst of 30, and it labels nodes one after another at about that pace divided by its
// writes per node. Environment: BENCH_WIDE_NODES, BENCH_WIDE_LOAD_DELAY_MS (simulated module load
// time, default 1000), BENCH_WIDE_KMM_QPS (default 20; 0: KMM unpaced, labels in one burst the
// DaemonSet controller then needs minutes for), BENCH_WIDE_KMM_BURST (30), BENCH_WIDE_TIMEOUT_MS,
// BENCH_WIDE_SETTLE_MS (window after Ready, default 10000), BENCH_READY_TIMEOUT_MS.
import { devicePluginReadyLabel, moduleReadyLabel } from '../src/kmm/labels.ts';
import { createSimulatedNodes, startSimulators, type RunningSimulators, type SimNode } from '../src/playground/index.ts';
import { Cache } from '../src/runtime/cache/cache.ts';
import { silentLogger } from '../src/runtime/log.ts';
import { Nodes, Pods } from '../src/runtime/resource.ts';
import { Ptemplates, type Ptemplate } from '../src/ptemplate/api/schema.ts';
import { isPodReady, type Pod } from '../src/kmm/workload/status.ts';
import { CONSUMER_SUFFIX } from '../src/ptemplate/api/validate.ts';
import { isWrite, type RequestCounts } from './audit.ts';
import { CONCURRENCY, pool } from './direct-client.ts';
import { OperatorProcess } from './operator-process.ts';
import { deadline, fmtInt, fmtMs, printTable, progress, sleep } from './report.ts';
import { envNumber, startScaleEnv, totals } from './scale-env.ts';

const WIDE_LABEL = 'bench.pt.example.com/wide';
const NS = 'bench-wide';
const NAME = 'wide';

interface WideResults {
  nodes: number;
  loadDelayMs: number;
  /** The simulated KMM's client rate limit; undefined: unpaced. */
  kmmRate?: { qps: number; burst: number } | undefined;
  /** performance.now() marks, relative to the Ptemplate's create. */
  firstLabelled?: number;
  lastLabelled?: number;
  /** The DaemonSet controller created the last consumer pod, the scheduler bound it (first seen by our watch). */
  lastPodCreated?: number;
  lastPodBound?: number;
  lastPodReady?: number;
  firstReady?: number;
  allReady?: number;
  reconciles?: number;
  cpuMs?: number;
  counts?: RequestCounts;
  settleMs?: number;
  settleCounts?: RequestCounts;
  benchCpuMs?: number;
  status?: string;
}

export async function benchWide(nodes: number): Promise<void> {
  const kmmQps = envNumber('BENCH_WIDE_KMM_QPS', 20);
  const r: WideResults = {
    nodes, loadDelayMs: envNumber('BENCH_WIDE_LOAD_DELAY_MS', 1000),
    kmmRate: kmmQps > 0 ? { qps: kmmQps, burst: envNumber('BENCH_WIDE_KMM_BURST', 30) } : undefined,
  };
  const env = await startScaleEnv('wide');
  const abort = new AbortController();
  let sims: RunningSimulators | undefined;
  let op: OperatorProcess | undefined;
  try {
    const { admin } = env;
    progress(`wide: creating ${nodes} simulated nodes`);
    await pool(nodes, CONCURRENCY, async (i) => { await createSimulatedNodes(admin, [{ name: `wide-${i}`, labels: { [WIDE_LABEL]: 'true' } }]); },
      (done) => progress(`wide: ${done}/${nodes} nodes`));
    sims = await startSimulators({ kubeConfig: env.cp.kubeConfig(), loadDelayMs: r.loadDelayMs, kmmRateLimit: r.kmmRate });

    const watch = new Cache({ client: admin, log: silentLogger, namespace: NS });
    const nodeInformer = watch.informer<SimNode>(Nodes, { labelSelector: WIDE_LABEL, metadataOnly: true });
    const labelledAt = new Map<string, number>();
    const podReadyAt = new Map<string, number>();
    const ready = Promise.withResolvers<void>();
    const [loaded, plugin] = [moduleReadyLabel(NS, NAME), devicePluginReadyLabel(NS, NAME)];
    const onNode = (node: SimNode) => {
      const labels = node.metadata.labels ?? {};
      if (loaded in labels && plugin in labels && !labelledAt.has(node.metadata.name!)) labelledAt.set(node.metadata.name!, performance.now());
    };
    nodeInformer.addHandler({ add: onNode, update: (_o, node) => onNode(node) });
    const podCreatedAt = new Map<string, number>();
    const podBoundAt = new Map<string, number>();
    const consumerPrefix = `${NAME}${CONSUMER_SUFFIX}-`;
    const onPod = (pod: Pod) => {
      const name = pod.metadata.name!;
      if (!name.startsWith(consumerPrefix)) return;
      const now = performance.now();
      if (!podCreatedAt.has(name)) podCreatedAt.set(name, now);
      if (pod.spec?.nodeName && !podBoundAt.has(name)) podBoundAt.set(name, now);
      if (isPodReady(pod) && !podReadyAt.has(name)) podReadyAt.set(name, now);
    };
    watch.informer<Pod>(Pods).addHandler({ add: onPod, update: (_o, pod) => onPod(pod) });
    const onPt = (pt: Ptemplate) => {
      const c = pt.status?.conditions?.find((cond) => cond.type === 'Ready');
      if (c?.status !== 'True' || c.observedGeneration !== pt.metadata.generation) return;
      r.firstReady ??= performance.now();
      if ((pt.status?.consumersReady ?? 0) >= nodes && r.allReady === undefined) {
        r.allReady = performance.now();
        ready.resolve();
      }
    };
    watch.informer(Ptemplates).addHandler({ add: onPt, update: (_o, pt) => onPt(pt) });
    watch.start(abort.signal);
    await watch.waitForSync(abort.signal);
    await waitUntil(`${nodes} nodes untainted`, 300_000, () => nodeInformer.list().length >= nodes, async () => (await admin.listAll<SimNode>(Nodes, { labelSelector: WIDE_LABEL })).items.every((node) => !(node.spec?.taints ?? []).length));

    op = await OperatorProcess.start({ name: 'operator-wide', kubeconfigPath: env.operatorKubeconfigPath, logDir: env.logDir });
    await op.waitReady(envNumber('BENCH_READY_TIMEOUT_MS', 120_000));
    await env.createNamespace(NS);
    const reconciles0 = await op.metric('controller_runtime_reconcile_total', { controller: 'ptemplate' });
    const cpu0 = op.cpuMs();
    const benchCpu0 = process.cpuUsage();
    const from = Date.now();
    const t0 = performance.now();
    progress(`wide: creating one Ptemplate selecting ${nodes} nodes`);
    await admin.create(Ptemplates, {
      apiVersion: 'pt.example.com/v1alpha1', kind: 'Ptemplate', metadata: { name: NAME, namespace: NS },
      spec: { selector: { [WIDE_LABEL]: 'true' }, maxdev: 5, requiredDevices: 1 },
    } as unknown as Ptemplate);
    const timeoutMs = envNumber('BENCH_WIDE_TIMEOUT_MS', 300_000 + 500 * nodes);
    const status = () => `${labelledAt.size}/${nodes} nodes labelled, ${podReadyAt.size}/${nodes} consumers ready, Ready=True ${r.firstReady !== undefined ? 'seen' : 'not seen'}`;
    const timer = setInterval(() => progress(`wide: ${status()}`), 10_000);
    const snapshot = async (end: number) => {
      r.firstLabelled = Math.min(...labelledAt.values()) - t0;
      r.lastLabelled = Math.max(...labelledAt.values()) - t0;
      r.lastPodCreated = Math.max(...podCreatedAt.values()) - t0;
      r.lastPodBound = Math.max(...podBoundAt.values()) - t0;
      r.lastPodReady = Math.max(...podReadyAt.values()) - t0;
      r.reconciles = await op!.metric('controller_runtime_reconcile_total', { controller: 'ptemplate' }) - reconciles0;
      r.cpuMs = op!.cpuMs() - cpu0;
      const bench = process.cpuUsage(benchCpu0);
      r.benchCpuMs = (bench.user + bench.system) / 1000;
      r.counts = await env.operatorRequests(from, end);
    };
    try {
      const done = await Promise.race([ready.promise.then(() => true), deadline(timeoutMs, false)]);
      if (!done) {
        r.status = status();
        await snapshot(Date.now());
        throw new Error(`wide: timed out after ${timeoutMs} ms; ${status()}`);
      }
    } finally {
      clearInterval(timer);
    }
    const readyDate = from + (r.allReady! - t0);
    await snapshot(readyDate);
    r.allReady! -= t0;
    if (r.firstReady !== undefined) r.firstReady -= t0;
    r.settleMs = envNumber('BENCH_WIDE_SETTLE_MS', 10_000);
    await sleep(r.settleMs);
    r.settleCounts = await env.operatorRequests(readyDate, readyDate + r.settleMs);
  } finally {
    abort.abort();
    await op?.stop('SIGTERM', 10_000);
    await env.recount().catch((err: unknown) => progress(`wide: recount failed: ${(err as Error).message}`));
    printWide(r);
    await sims?.stop();
    await env.stop();
  }
}

async function waitUntil(what: string, timeoutMs: number, cheap: () => boolean, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cheap() || !(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(1_000);
  }
}

function printWide(r: WideResults): void {
  const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : fmtMs(v));
  const status = r.counts?.get('patch ptemplates/status') ?? 0;
  const rollout = r.allReady ?? NaN;
  printTable({
    title: `Wide: one Ptemplate on ${fmtInt(r.nodes)} simulated nodes (simulated KMM: load time ${fmtMs(r.loadDelayMs)}, ${r.kmmRate ? `client at ${r.kmmRate.qps} qps, burst ${r.kmmRate.burst}, as KMM's` : 'unpaced client'})`,
    headers: ['figure', 'value', 'note'],
    rows: [
      ['create -> first node labelled by KMM', ms(r.firstLabelled), 'module ready + device-plugin ready labels'],
      ['create -> last node labelled by KMM', ms(r.lastLabelled), r.firstLabelled !== undefined && r.lastLabelled !== undefined && r.lastLabelled > r.firstLabelled
        ? `${(r.nodes / ((r.lastLabelled - r.firstLabelled) / 1000)).toFixed(1)} nodes/s after the first` : ''],
      ['create -> last consumer pod created', ms(r.lastPodCreated), 'by the DaemonSet controller (kube-controller-manager, its client at 20 qps)'],
      ['create -> last consumer pod bound', ms(r.lastPodBound), 'by the scheduler'],
      ['create -> last consumer pod ready', ms(r.lastPodReady), 'by the simulated kubelet'],
      ['create -> first Ready=True', ms(r.firstReady), 'may come before the last node is labelled'],
      [`create -> Ready=True with ${fmtInt(r.nodes)} consumers ready`, ms(r.allReady), r.status ?? ''],
      ['Ready=True after the last node was labelled', ms((r.allReady ?? NaN) - (r.lastLabelled ?? NaN)), 'includes the consumers\' pods becoming ready'],
      ['Ready=True after the last consumer pod was ready', ms((r.allReady ?? NaN) - (r.lastPodReady ?? NaN)), 'the operator\'s own reaction'],
      ['reconciles during the rollout', r.reconciles === undefined ? '-' : fmtInt(r.reconciles), 'create -> Ready (operator /metrics)'],
      ['status writes during the rollout', r.counts ? fmtInt(status) : '-', 'patch ptemplates/status (audit log)'],
      ['all writes during the rollout', r.counts ? fmtInt(totals(r.counts).writes) : '-',
        r.counts ? [...r.counts].filter(([k]) => isWrite(k)).map(([k, v]) => `${k} ${v}`).join(', ') : ''],
      ['all requests during the rollout', r.counts ? fmtInt(totals(r.counts).all) : '-', ''],
      [`writes in the ${ms(r.settleMs)} after Ready`, r.settleCounts ? fmtInt(totals(r.settleCounts).writes) : '-',
        r.settleCounts ? [...r.settleCounts].filter(([k]) => isWrite(k)).map(([k, v]) => `${k} ${v}`).join(', ') : ''],
      ['operator CPU during the rollout', ms(r.cpuMs), r.cpuMs !== undefined && Number.isFinite(rollout) ? `${((r.cpuMs / rollout) * 100).toFixed(0)} % of a core` : ''],
      ['benchmark process CPU (simulators) during the rollout', ms(r.benchCpuMs), 'shares the 2 cores with the operator and the control plane'],
    ],
  });
}
