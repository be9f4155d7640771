// End to end on a real control plane (etcd, kube-apiserver, controller-manager, scheduler) with the
// simulated nodes, KMM and kubelet, and the operator running with its generated RBAC
// (test/support/operator-env.ts): N Ptemplates in N namespaces, time to Ready, the operator's API
// requests and reconciles per Ptemplate, the requests of a steady state, and time to delete all.
//
// Capacity: a simulated node advertises `example.com/ptemplate` = max_dev (at most 5), and two
// device-plugin Modules on one node overwrite each other's advertisement. So each Ptemplate gets a
// simulated node of its own (label `bench.pt.example.com/slot=<i>`, selected by that Ptemplate
// only), with maxdev 5 and requiredDevices 1: every consumer fits, and Ready=True is reachable for
// any N. The three nodes the environment creates are selected by no benchmark Ptemplate.
import { Modules } from '../src/kmm/resource.ts';
import { createSimulatedNodes, type SimNode } from '../src/playground/index.ts';
import { Ptemplates, type Ptemplate } from '../src/ptemplate/api/schema.ts';
import type { DaemonSet } from '../src/ptemplate/driver.ts';
import type { KubeObject } from '../src/runtime/object.ts';
import { DaemonSets, Nodes } from '../src/runtime/resource.ts';
import { startOperatorEnv, type OperatorEnv } from '../test/support/operator-env.ts';
import { fmtBytes, fmtInt, fmtMs, heapUsed, printTable, progress, sleep } from './report.ts';

const SLOT_LABEL = 'bench.pt.example.com/slot';
const NAMESPACE_PREFIX = 'bench-';
const POLL_MS = 250;

interface RequestSnapshot {
  byKey: Record<string, number>;
  byPermission: Record<string, number>;
  total: number;
}

interface Phase {
  name: string;
  /** Show a per-Ptemplate column next to the total. */
  perPtemplate: boolean;
  requests: RequestSnapshot;
  reconciles: number;
  /** CPU time of this process (operator, simulators, benchmark client) during the phase. */
  cpuMs: number;
}

interface MemoryPoint {
  stage: string;
  rss: number;
  heap: number;
}

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return value;
}

function requestSnapshot(env: OperatorEnv): RequestSnapshot {
  const requests = env.operator.manager.client.requests;
  const byPermission: Record<string, number> = {};
  for (const permission of requests.permissionsUsed) byPermission[permission] = requests.countFor(permission);
  return { byKey: requests.snapshot(), byPermission, total: requests.total };
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const d = value - (before[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

/** A condition's status, only when it was computed from the current generation. */
function conditionStatus(pt: Ptemplate, type: string): string | undefined {
  const c = pt.status?.conditions?.find((cond) => cond.type === type);
  if (!c || (c.observedGeneration !== undefined && c.observedGeneration !== pt.metadata.generation)) return undefined;
  return c.status;
}

/** Polls until `check` says done, with a progress line every 5 s; throws with the last status at the deadline. */
async function until(what: string, timeoutMs: number, check: () => Promise<{ done: boolean; status: string }>): Promise<void> {
  const start = performance.now();
  let lastReport = start;
  let status: string;
  for (;;) {
    try {
      const result = await check();
      status = result.status;
      if (result.done) return;
    } catch (err) {
      status = `check failed: ${(err as Error).message}`;
    }
    const now = performance.now();
    if (now - start > timeoutMs) throw new Error(`timed out after ${fmtMs(timeoutMs)} waiting for ${what}; last status: ${status}`);
    if (now - lastReport >= 5_000) {
      progress(`operator: waiting for ${what} (${fmtMs(now - start)}): ${status}`);
      lastReport = now;
    }
    await sleep(POLL_MS);
  }
}

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

const benchItems = <T extends KubeObject>(items: T[]) => items.filter((o) => o.metadata.namespace?.startsWith(NAMESPACE_PREFIX));

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

export async function benchOperator(): Promise<void> {
  const n = Math.floor(envNumber('BENCH_PTEMPLATES', 30));
  const steadyMs = envNumber('BENCH_STEADY_MS', 10_000);
  const timeoutMs = envNumber('BENCH_TIMEOUT_MS', 60_000 + 3_000 * n);
  if (n < 1) throw new Error('BENCH_PTEMPLATES must be at least 1');
  const memory: MemoryPoint[] = [];
  const remember = (stage: string) => memory.push({ stage, rss: process.memoryUsage().rss, heap: heapUsed() });
  const timings: [string, number, string][] = [];

  remember('before the environment');
  progress('operator: starting the control plane, simulators and operator');
  let start = performance.now();
  const env = await startOperatorEnv();
  timings.push(['start control plane, CRDs, simulators, operator (caches synced)', performance.now() - start, '']);
  try {
    const phases: Phase[] = [];
    let before: RequestSnapshot = { byKey: {}, byPermission: {}, total: 0 };
    let reconcilesBefore = 0;
    let cpuBefore = process.cpuUsage();
    const endPhase = async (name: string, perPtemplate: boolean) => {
      const after = requestSnapshot(env);
      const reconciles = await env.reconciles();
      const cpu = process.cpuUsage(cpuBefore);
      phases.push({
        name, perPtemplate,
        requests: { byKey: diff(after.byKey, before.byKey), byPermission: diff(after.byPermission, before.byPermission), total: after.total - before.total },
        reconciles: reconciles - reconcilesBefore,
        cpuMs: (cpu.user + cpu.system) / 1000,
      });
      before = after;
      reconcilesBefore = reconciles;
      cpuBefore = process.cpuUsage();
    };
    // Checks and heap snapshots between phases (gc, lists by the admin client) are kept out of the next phase's CPU.
    const restartCpu = () => { cpuBefore = process.cpuUsage(); };
    remember('operator started, idle');
    const namespaces = Array.from({ length: n }, (_, i) => `${NAMESPACE_PREFIX}${i}`);

    progress(`operator: ${n} simulated nodes and namespaces`);
    start = performance.now();
    await createSimulatedNodes(env.admin, namespaces.map((_, i) => ({ name: `bench-node-${i}`, labels: { [SLOT_LABEL]: String(i) } })));
    await inBatches(namespaces, 10, (ns) => env.createNamespace(ns));
    await until(`${n} bench nodes untainted`, timeoutMs, async () => {
      const nodes = (await env.admin.list<SimNode>(Nodes, { labelSelector: SLOT_LABEL })).items;
      const clean = nodes.filter((node) => (node.spec?.taints ?? []).length === 0).length;
      return { done: clean === n, status: `${clean}/${n} untainted` };
    });
    timings.push([`create ${n} simulated nodes + ${n} namespaces`, performance.now() - start, 'setup, not the operator']);

    await endPhase('start + setup', false);

    // ---- create and converge ----
    progress(`operator: creating ${n} Ptemplates`);
    const createdAt = new Map<string, number>();
    const readyAt = new Map<string, number>();
    let allModuleLoaded = NaN;
    start = performance.now();
    await inBatches(namespaces, 10, async (namespace) => {
      const i = namespaces.indexOf(namespace);
      createdAt.set(namespace, performance.now());
      await env.admin.create(Ptemplates, {
        apiVersion: 'pt.example.com/v1alpha1', kind: 'Ptemplate',
        metadata: { name: 'pt', namespace },
        spec: { selector: { [SLOT_LABEL]: String(i) }, maxdev: 5, requiredDevices: 1 },
      } as unknown as Ptemplate);
    });
    timings.push([`create ${n} Ptemplates (admin requests, 10 at a time)`, performance.now() - start, '']);
    await until(`${n} Ptemplates Ready=True`, timeoutMs, async () => {
      const items = benchItems((await env.admin.list(Ptemplates)).items);
      const now = performance.now();
      let loaded = 0;
      for (const pt of items) {
        if (conditionStatus(pt, 'ModuleLoaded') === 'True') loaded++;
        const ns = pt.metadata.namespace!;
        if (!readyAt.has(ns) && conditionStatus(pt, 'Ready') === 'True') readyAt.set(ns, now);
      }
      if (loaded === n && Number.isNaN(allModuleLoaded)) allModuleLoaded = now - start;
      return { done: readyAt.size === n, status: `ModuleLoaded ${loaded}/${n}, Ready ${readyAt.size}/${n}` };
    });
    const converged = performance.now() - start;
    await endPhase('create -> all Ready', true);
    timings.push([`all ${n} ModuleLoaded=True (from the first create)`, allModuleLoaded, `polled every ${POLL_MS} ms`]);
    timings.push([`all ${n} Ready=True (from the first create)`, converged, `polled every ${POLL_MS} ms`]);
    const perPt = namespaces.map((ns) => readyAt.get(ns)! - createdAt.get(ns)!).sort((a, b) => a - b);
    timings.push(['one Ptemplate: create -> Ready, p50 / max', percentile(perPt, 0.5), `max ${fmtMs(perPt.at(-1)!)}`]);
    const modules = benchItems((await env.admin.list(Modules)).items).length;
    const daemonSets = benchItems((await env.admin.list<DaemonSet>(DaemonSets)).items);
    const readyConsumers = daemonSets.filter((ds) => (ds.status?.numberReady ?? 0) >= 1).length;
    remember(`${n} Ptemplates Ready`);

    // ---- steady state ----
    progress(`operator: steady state for ${fmtMs(steadyMs)}`);
    restartCpu();
    await sleep(steadyMs);
    await endPhase(`steady ${fmtMs(steadyMs)}`, false);
    remember('after the steady state');

    // ---- delete ----
    progress(`operator: deleting ${n} Ptemplates`);
    restartCpu();
    start = performance.now();
    await inBatches(namespaces, 10, (namespace) => env.admin.delete(Ptemplates, { namespace, name: 'pt' }));
    await until(`${n} Ptemplates, Modules and DaemonSets gone`, timeoutMs, async () => {
      const pts = benchItems((await env.admin.list(Ptemplates)).items).length;
      const mods = benchItems((await env.admin.list(Modules)).items).length;
      const dss = benchItems((await env.admin.list(DaemonSets)).items).length;
      return { done: pts + mods + dss === 0, status: `left: ${pts} Ptemplates, ${mods} Modules, ${dss} DaemonSets` };
    });
    timings.push([`delete ${n} Ptemplates: all gone (ordered unload by the finalizer)`, performance.now() - start, '']);
    await endPhase('delete -> all gone', true);
    remember('after deleting all');

    // ---- report ----
    printTable({
      title: `Operator end to end: ${n} Ptemplates, one dedicated simulated node each (real control plane, simulated KMM/kubelet)`,
      headers: ['phase', 'time', 'note'],
      rows: timings.map(([name, ms, note]) => [name, fmtMs(ms), note]),
      notes: [
        `At convergence: ${modules} Modules and ${daemonSets.length} consumer DaemonSets exist, ${readyConsumers} with a ready pod.`,
        'Layout: each Ptemplate selects its own simulated node (maxdev 5, requiredDevices 1), so all consumers fit (see bench/operator.ts).',
      ],
    });

    const phaseColumns = phases.flatMap((p) => (p.perPtemplate ? [p.name, 'per PT'] : [p.name]));
    const cells = (p: Phase, v: number) => (p.perPtemplate ? [fmtInt(v), (v / n).toFixed(2)] : [fmtInt(v)]);
    const requestRows = (pick: (p: Phase) => Record<string, number>): string[][] => {
      const keys = [...new Set(phases.flatMap((p) => Object.keys(pick(p))))].sort();
      return keys.map((key) => [key, ...phases.flatMap((p) => cells(p, pick(p)[key] ?? 0))]);
    };
    const totalsRow = (label: string, value: (p: Phase) => number) => [label, ...phases.flatMap((p) => cells(p, value(p)))];
    printTable({
      title: 'Operator API requests by verb and status code, and reconciles (its own client only)',
      headers: ['request', ...phaseColumns],
      rows: [
        ...requestRows((p) => p.requests.byKey),
        totalsRow('TOTAL requests', (p) => p.requests.total),
        totalsRow('reconciles (ptemplate)', (p) => p.reconciles),
        ['CPU of this process', ...phases.flatMap((p) => (p.perPtemplate ? [fmtMs(p.cpuMs), fmtMs(p.cpuMs / n)] : [fmtMs(p.cpuMs)]))],
      ],
      notes: [
        'start + setup = from the operator start until the first Ptemplate is created (informer LIST + WATCH, reactions to',
        'the benchmark nodes and namespaces); per PT = phase total / Ptemplates.',
        'WATCH rows count watch (re)connections; the requests of the event recorder are included (create events).',
        'The steady window starts right after the last Ptemplate was seen Ready: late status events may still land in it.',
        'CPU of this process = operator + simulated KMM/kubelet/nodes + benchmark client (the control plane is not included).',
      ],
    });
    printTable({
      title: 'Operator API requests by permission (verb group/resource)',
      headers: ['permission', ...phaseColumns],
      rows: requestRows((p) => p.requests.byPermission),
    });
    printTable({
      title: 'Memory of the benchmark process (operator + simulators + benchmark client; the control plane runs in child processes)',
      headers: ['stage', 'RSS', 'heap used'],
      rows: memory.map((m) => [m.stage, fmtBytes(m.rss), fmtBytes(m.heap)]),
    });
  } finally {
    progress('operator: stopping the environment');
    await env.stop();
  }
}
