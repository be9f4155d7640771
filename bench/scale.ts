// `npm run bench -- scale`: the operator at scale, measured from outside, against the direct-client
// lower bound on the same control plane in the same run (issue 7, "The benchmark"). The operator runs
// as a separate process with its default flags and its generated RBAC; its requests are counted from
// kube-apiserver's audit log. Then the wide case (wide.ts): one Ptemplate on many simulated nodes.
//
// Order: the direct client converges N Ptemplates in namespace bench-direct before any operator runs,
// and that namespace is deleted (and gone) before the operator starts, so the operator never sees
// those objects and keeps its default, all-namespace watch. Then, in namespace bench-op: operator idle;
// N created at concurrency 8 -> converged; a quiet window; spec changes one by one; a restart
// (SIGTERM, start, ready, a window); two replicas with --leader-elect, the leader SIGKILLed.
//
// Environment: BENCH_N (default 1000; 0 skips this part), BENCH_QUIET_MS (each counting window,
// default 30000), BENCH_SPEC_CHANGES (200), BENCH_SPEC_GAP_MS (100), BENCH_CONVERGE_TIMEOUT_MS
// (120 s + 0.6 s per Ptemplate), BENCH_READY_TIMEOUT_MS (120000), BENCH_OPERATOR_CMD (default
// `node bin/ptemplate-operator.js run`), BENCH_WIDE_NODES (see wide.ts). A timeout or failure prints
// the figures collected so far.
import { Modules } from '../src/kmm/resource.ts';
import type { Client, ListOptions } from '../src/runtime/client/client.ts';
import type { KubeObject } from '../src/runtime/object.ts';
import { DaemonSets, Nodes, Pods, Secrets, type ResourceType } from '../src/runtime/resource.ts';
import { Ptemplates } from '../src/ptemplate/api/schema.ts';
import { CONSUMER_SUFFIX } from '../src/ptemplate/api/validate.ts';
import type { DaemonSet } from '../src/kmm/workload/children.ts';
import { consumerPodSelector } from '../src/kmm/workload/names.ts';
import { NAMES } from '../src/ptemplate/names.ts';
import { benchPtemplate, CONCURRENCY, pool, runDirectClient } from './direct-client.ts';
import { buildBundleIfDefault, OperatorProcess } from './operator-process.ts';
import { deadline, progress, sleep } from './report.ts';
import { envNumber, startScaleEnv, type ScaleEnv } from './scale-env.ts';
import { printScale, type ScaleResults } from './scale-print.ts';
import { ConvergenceTracker } from './tracker.ts';
import { benchWide } from './wide.ts';

const CONSUMER_POD_SELECTOR = consumerPodSelector(NAMES);

const DIRECT_NS = 'bench-direct';
const OP_NS = 'bench-op';

export async function benchScale(): Promise<void> {
  const n = Math.floor(envNumber('BENCH_N', 1000));
  const wideNodes = Math.floor(envNumber('BENCH_WIDE_NODES', 1000));
  buildBundleIfDefault();
  // The wide case runs on a control plane of its own, also when the first part failed.
  let failure: Error | undefined;
  if (n > 0) await scaleRun(n).catch((err: unknown) => { failure = err instanceof Error ? err : new Error(String(err)); });
  if (failure !== undefined) progress(`scale: failed (${failure.message}); the wide case runs anyway`);
  if (wideNodes > 0) await benchWide(wideNodes);
  if (failure !== undefined) throw failure;
}

async function scaleRun(n: number): Promise<void> {
  const results: ScaleResults = { n };
  const env = await startScaleEnv('scale');
  const running: Running = { operators: [] };
  try {
    await runPhases(env, n, results, running);
  } finally {
    running.tracker?.stop();
    await Promise.all(running.operators.map((op) => op.stop('SIGTERM', 10_000)));
    // Watches are logged when they end: count again now that every operator has stopped.
    await env.recount().catch((err: unknown) => progress(`scale: recount failed: ${(err as Error).message}`));
    printScale(results, env.logDir);
    await env.stop();
  }
}

/** What runPhases started, for the caller to stop however runPhases ends. */
interface Running {
  operators: OperatorProcess[];
  tracker?: ConvergenceTracker;
}

async function runPhases(env: ScaleEnv, n: number, r: ScaleResults, running: Running): Promise<void> {
  const quietMs = envNumber('BENCH_QUIET_MS', 30_000);
  const convergeTimeoutMs = envNumber('BENCH_CONVERGE_TIMEOUT_MS', 120_000 + 600 * n);
  const readyTimeoutMs = envNumber('BENCH_READY_TIMEOUT_MS', 120_000);
  const { admin } = env;
  const start = (name: string, args: string[] = []) =>
    OperatorProcess.start({ name, kubeconfigPath: env.operatorKubeconfigPath, logDir: env.logDir, args }).then((op) => { running.operators.push(op); return op; });

  // ---- the direct client, alone on the control plane ----
  await env.createNamespace(DIRECT_NS);
  progress(`scale: direct client, ${n} Ptemplates at concurrency ${CONCURRENCY}`);
  let from = Date.now();
  const directMs = await runDirectClient(admin, env.operatorIdentityClient, DIRECT_NS, n, progress);
  r.direct = { ms: directMs, counts: await env.directRequests(from, Date.now()) };
  progress(`scale: direct client done in ${(directMs / 1000).toFixed(1)} s; deleting ${DIRECT_NS}`);
  const t = performance.now();
  await env.deleteNamespace(DIRECT_NS, convergeTimeoutMs);
  r.directCleanupMs = performance.now() - t;

  // ---- the operator, idle ----
  await env.createNamespace(OP_NS);
  const tracker = new ConvergenceTracker(admin, OP_NS);
  running.tracker = tracker;
  await tracker.start();
  let op = await start('operator-1');
  const idleReadyMs = await op.waitReady(readyTimeoutMs);
  const idleRssAtReady = op.rss();
  await sleep(5_000);
  const idleRss = op.rss();
  // Settled: the heap reclaimer hands back start-up's garbage once the process has been quiet 5 s.
  await sleep(10_000);
  r.idle = { readyMs: idleReadyMs, rssAtReady: idleRssAtReady, rss: idleRss, settledRss: op.rss() };

  // ---- create N, converge ----
  progress(`scale: creating ${n} Ptemplates in ${OP_NS} at concurrency ${CONCURRENCY}`);
  const reconciles0 = await op.metric('controller_runtime_reconcile_total', { controller: 'ptemplate' });
  const cpu0 = op.cpuMs();
  from = Date.now();
  const t0 = performance.now();
  let createMs = NaN;
  void pool(n, CONCURRENCY, async (i) => { await admin.create(Ptemplates, benchPtemplate(OP_NS, i)); })
    .then(() => { createMs = performance.now() - t0; }, (err: unknown) => progress(`scale: creating failed: ${(err as Error).message}`));
  const status = () => `${tracker.convergedAt.size}/${n} converged, ${tracker.cache.list(Ptemplates).length} created`;
  let convergedAt: number;
  try {
    convergedAt = await tracker.waitFor(`${n} Ptemplates converged`, convergeTimeoutMs, () => tracker.convergedAt.size >= n, status, (l) => progress(`scale: ${l}`));
  } catch (err) {
    r.converge = { ms: NaN, createMs, counts: await env.operatorRequests(from, Date.now()), failures: env.operatorFailures(from, Date.now()), cpuMs: op.cpuMs() - cpu0, reconciles: NaN, partial: status() };
    throw err;
  }
  const convergedDate = from + (convergedAt - t0);
  const reconciles = await op.metric('controller_runtime_reconcile_total', { controller: 'ptemplate' }) - reconciles0;
  r.converge = {
    ms: convergedAt - t0, createMs, cpuMs: op.cpuMs() - cpu0, reconciles,
    counts: await env.operatorRequests(from, convergedDate), failures: env.operatorFailures(from, convergedDate),
  };
  progress(`scale: converged in ${((convergedAt - t0) / 1000).toFixed(1)} s; quiet window of ${quietMs / 1000} s`);

  // ---- after convergence ----
  await sleep(Math.max(0, quietMs - (performance.now() - convergedAt)));
  r.quiet = { ms: quietMs, counts: await env.operatorRequests(convergedDate, convergedDate + quietMs) };
  r.memory = { rss: op.rss(), peak: op.peakRss(), cached: await cachedJsonSize(admin), heap: await op.heap().catch(() => undefined) };

  // ---- spec changes ----
  await specChanges(env, tracker, n, r);

  // ---- restart ----
  progress('scale: restarting the operator (SIGTERM, start, ready)');
  const { ms: stopMs } = await op.stop('SIGTERM');
  from = Date.now();
  op = await start('operator-2');
  const readyMs = await op.waitReady(readyTimeoutMs);
  await sleep(quietMs);
  r.restart = { stopMs, readyMs, windowMs: Date.now() - from, counts: await env.operatorRequests(from, Date.now()), rss: op.rss(), peak: op.peakRss() };
  r.restart.second = await op.stop('SIGTERM');
  // With no operator running, and after the restart so as not to warm the API server for it: what
  // the server takes to answer the lists a start waits for.
  r.restart.listsMs = await informerLists(env.operatorIdentityClient);

  // ---- leader change ----
  await failover(env, tracker, r, start, readyTimeoutMs, quietMs);
}

async function specChanges(env: ScaleEnv, tracker: ConvergenceTracker, n: number, r: ScaleResults): Promise<void> {
  const count = Math.min(n, Math.floor(envNumber('BENCH_SPEC_CHANGES', 200)));
  const gapMs = envNumber('BENCH_SPEC_GAP_MS', 100);
  const timeoutMs = envNumber('BENCH_SPEC_TIMEOUT_MS', 60_000);
  progress(`scale: ${count} spec changes, one at a time, ${gapMs} ms apart`);
  const latencies: number[] = [];
  let timeouts = 0;
  const from = Date.now();
  r.spec = { latencies, timeouts, counts: new Map() };
  for (let k = 0; k < count; k++) {
    const name = `pt-${Math.floor((k * n) / count)}`;
    const image = `quay.io/example/bench-consumer:change-${k}`;
    const dsImage = () => {
      const ds = tracker.cache.get<DaemonSet>(DaemonSets, { namespace: OP_NS, name: `${name}${CONSUMER_SUFFIX}` });
      const containers = (ds?.spec?.template as { spec?: { containers?: { image?: string }[] } } | undefined)?.spec?.containers;
      return containers?.[0]?.image;
    };
    const seen = tracker.when(() => dsImage() === image);
    await env.admin.patch(Ptemplates, { namespace: OP_NS, name }, { spec: { consumer: image } }, 'merge');
    const patched = performance.now();
    const at = await Promise.race([seen.promise, deadline(timeoutMs, undefined)]);
    if (at === undefined) {
      seen.cancel();
      timeouts++;
      r.spec.timeouts = timeouts;
    } else {
      latencies.push(Math.max(0, at - patched));
    }
    await sleep(gapMs);
  }
  r.spec.counts = await env.operatorRequests(from, Date.now());
}

async function failover(env: ScaleEnv, tracker: ConvergenceTracker, r: ScaleResults, start: (name: string, args: string[]) => Promise<OperatorProcess>,
  readyTimeoutMs: number, quietMs: number): Promise<void> {
  progress('scale: two replicas with --leader-elect');
  const leader = await start('replica-a', ['--leader-elect']);
  await leader.waitReady(readyTimeoutMs);
  await waitUntil('replica-a leads', readyTimeoutMs, () => leader.isLeader());
  const standby = await start('replica-b', ['--leader-elect']);
  await standby.waitReady(readyTimeoutMs);
  // Let the standby see the held Lease at least once (retry period 2 s) before the leader dies.
  await sleep(3_000);
  if (await standby.isLeader()) throw new Error('replica-b leads too: leader election is broken');
  progress('scale: SIGKILL the leader, create a Ptemplate');
  const killDate = Date.now();
  const killed = performance.now();
  leader.child.kill('SIGKILL');
  await leader.exited;
  const key = `${OP_NS}/pt-failover`;
  const seen = tracker.when(() => tracker.convergedAt.has(key));
  await env.admin.create(Ptemplates, { ...benchPtemplate(OP_NS, 0), metadata: { name: 'pt-failover', namespace: OP_NS } });
  const at = await Promise.race([seen.promise, deadline(readyTimeoutMs, undefined)]);
  if (at === undefined) {
    seen.cancel();
    throw new Error(`the successor did not reconcile ${key} within ${readyTimeoutMs} ms of the leader's SIGKILL`);
  }
  const takeoverDate = killDate + (at - killed);
  const takeoverCounts = await env.operatorRequests(killDate, takeoverDate);
  await sleep(quietMs);
  r.failover = {
    successorMs: at - killed, takeoverCounts, windowMs: quietMs,
    counts: await env.operatorRequests(takeoverDate, takeoverDate + quietMs), successorLeads: await standby.isLeader(),
  };
  await standby.stop('SIGTERM');
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(100);
  }
}

/** What the operator's informers list (types, selectors, metadata-only where it is), by the names the bench prints. */
const INFORMER_LISTS: [string, ResourceType<KubeObject>, ListOptions][] = [
  ['Ptemplates', Ptemplates, {}],
  ['Modules', Modules, {}],
  ['DaemonSets', DaemonSets, {}],
  ['Pods (consumer selector)', Pods, { labelSelector: CONSUMER_POD_SELECTOR }],
  ['Nodes (metadata)', Nodes, { metadataOnly: true }],
  ['Secrets (metadata)', Secrets, { metadataOnly: true }],
];

/**
 * The lower bound of a start: the informers' lists, with resourceVersion "0" and the page size of
 * their reflectors, all at once from one bare client with the operator's identity, each body
 * parsed, nothing stored.
 */
async function informerLists(client: Client): Promise<number> {
  const t = performance.now();
  await Promise.all(INFORMER_LISTS.map(([, type, opts]) => client.listAll(type, { ...opts, resourceVersion: '0', limit: 500 })));
  return performance.now() - t;
}

/** JSON size (managedFields stripped) of what the operator caches, listed as its informers do. */
async function cachedJsonSize(admin: Client): Promise<Record<string, number>> {
  const size = (items: KubeObject[]) => items.reduce((sum, o) => sum + JSON.stringify(o, (k, v: unknown) => (k === 'managedFields' ? undefined : v)).length, 0);
  const sizes: Record<string, number> = {};
  for (const [name, type, opts] of INFORMER_LISTS) sizes[name] = size((await admin.listAll(type, opts)).items);
  return sizes;
}
