// The scale benchmark's figures as tables. Whatever was measured is printed, also when a later
// phase failed or timed out: a missing phase shows as "-".
import { loadavg } from 'node:os';
import { isWrite, total, type RequestCounts } from './audit.ts';
import { operatorCommandText } from './operator-process.ts';
import { fmtBytes, fmtInt, fmtMs, printTable } from './report.ts';
import { totals } from './scale-env.ts';

export interface ScaleResults {
  n: number;
  direct?: { ms: number; counts: RequestCounts };
  directCleanupMs?: number;
  idle?: { readyMs: number; rssAtReady: number; rss: number; settledRss: number };
  converge?: { ms: number; createMs: number; counts: RequestCounts; failures: RequestCounts; cpuMs: number; reconciles: number; partial?: string };
  quiet?: { ms: number; counts: RequestCounts };
  memory?: { rss: number; peak: number; cached: Record<string, number>; heap?: { used: number; total: number; external: number } | undefined };
  spec?: { latencies: number[]; timeouts: number; counts: RequestCounts };
  /** `second`: the SIGTERM of the restarted process, after its window (it may still be busy). */
  restart?: { stopMs: number; readyMs: number; listsMs?: number; windowMs: number; counts: RequestCounts; rss: number; peak: number; second?: { ms: number; killed: boolean } };
  failover?: { successorMs: number; takeoverCounts: RequestCounts; windowMs: number; counts: RequestCounts; successorLeads: boolean };
}

const percentile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : NaN);
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}x` : '-');
const ms = (v: number | undefined) => (v === undefined ? '-' : fmtMs(v));

export function printScale(r: ScaleResults, logDir: string): void {
  const { n } = r;
  const c = r.converge;
  printTable({
    title: `Scale: ${fmtInt(n)} Ptemplates in one namespace, operator as a process: \`${operatorCommandText()} --kubeconfig FILE\` (default flags)`,
    headers: ['figure', 'direct client', 'operator', 'operator / direct'],
    rows: [
      ['time to converge all', ms(r.direct?.ms), c ? (Number.isFinite(c.ms) ? fmtMs(c.ms) : `timed out (${c.partial})`) : '-', ratio(c?.ms, r.direct?.ms)],
      ['Ptemplates per second', r.direct ? (n / (r.direct.ms / 1000)).toFixed(1) : '-', c && Number.isFinite(c.ms) ? (n / (c.ms / 1000)).toFixed(1) : '-', ''],
      ['creator finished its creates after', '', ms(c?.createMs), ''],
      ['writes per Ptemplate (audit; creates of Ptemplates excluded)', r.direct ? (totals(r.direct.counts).writes / n).toFixed(2) : '-', c ? (totals(c.counts).writes / n).toFixed(2) : '-', ''],
      ['operator reconciles per Ptemplate (its /metrics)', '', c && Number.isFinite(c.reconciles) ? (c.reconciles / n).toFixed(2) : '-', ''],
      ['operator CPU while converging (user+sys)', '', c ? fmtMs(c.cpuMs) : '-', c && Number.isFinite(c.ms) ? `${((c.cpuMs / c.ms) * 100).toFixed(0)} % of a core` : ''],
    ],
    notes: [
      'converged = status.observedGeneration == generation, the Module and the DaemonSet exist (seen by a watch of the namespace).',
      'direct client: admin creates the Ptemplate, then Module apply, DaemonSet apply, status apply with the operator\'s identity and',
      `its objects (desired.ts, status.ts), ${8} at a time, no client-side rate limit; run alone first, its namespace deleted before the operator starts` +
        (r.directCleanupMs !== undefined ? ` (deletion took ${fmtMs(r.directCleanupMs)}).` : '.'),
      'operator: Ptemplates created by the admin at concurrency 8 while the operator runs; time from the first create to the last converged.',
      `load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' / ')} (1 / 5 / 15 min; the machine may be shared).`,
    ],
  });

  const windows: [string, RequestCounts | undefined, boolean][] = [
    ['direct: converge', r.direct?.counts, true],
    ['operator: converge', c?.counts, true],
    [`after convergence ${fmtMs(r.quiet?.ms ?? NaN)}`, r.quiet?.counts, false],
    [`${r.spec ? r.spec.latencies.length + r.spec.timeouts : 0} spec changes`, r.spec?.counts, false],
    [`restart: start + ready + ${r.restart ? fmtMs(r.restart.windowMs - r.restart.readyMs) : '-'}`, r.restart?.counts, false],
    ['failover: kill -> successor reconciled', r.failover?.takeoverCounts, false],
    [`failover: successor, next ${fmtMs(r.failover?.windowMs ?? NaN)}`, r.failover?.counts, false],
  ];
  const keys = [...new Set(windows.flatMap(([, counts]) => [...(counts?.keys() ?? [])]))]
    .sort((a, b) => Number(isWrite(b)) - Number(isWrite(a)) || a.localeCompare(b));
  const headers = ['request (verb resource)', ...windows.flatMap(([name, , per]) => (per ? [name, 'per PT'] : [name]))];
  const cell = (counts: RequestCounts | undefined, per: boolean, v: (counts: RequestCounts) => number) => {
    if (!counts) return per ? ['-', '-'] : ['-'];
    const value = v(counts);
    return per ? [fmtInt(value), (value / n).toFixed(2)] : [fmtInt(value)];
  };
  const row = (label: string, v: (counts: RequestCounts) => number) => [label, ...windows.flatMap(([, counts, per]) => cell(counts, per, v))];
  printTable({
    title: 'Requests by verb and resource (kube-apiserver audit log, the operator\'s ServiceAccount; events included)',
    headers,
    rows: [
      ...keys.map((key) => row(key, (counts) => counts.get(key) ?? 0)),
      row('WRITES', (counts) => totals(counts).writes),
      row('WRITES without leases', (counts) => totals(counts).writesNoLease),
      row('ALL requests', (counts) => total(counts)),
    ],
    notes: [
      'watch rows count watches opened; leases are leader election (renewals every 2 s while leading, polls while standing by).',
      ...(c && c.failures.size ? [`non-2xx responses while converging: ${[...c.failures].map(([k, v]) => `${k} x${v}`).join(', ')}`] : []),
    ],
  });

  const lat = [...(r.spec?.latencies ?? [])].sort((a, b) => a - b);
  printTable({
    title: 'Latencies and start-up',
    headers: ['figure', 'value', 'note'],
    rows: [
      ['spec change -> DaemonSet updated, p50', ms(percentile(lat, 0.5)), `${lat.length} changes, one at a time${r.spec?.timeouts ? `, ${r.spec.timeouts} timed out` : ''}`],
      ['spec change -> DaemonSet updated, p90', ms(percentile(lat, 0.9)), 'patch response -> the watch shows the new consumer image'],
      ['spec change -> DaemonSet updated, p99', ms(percentile(lat, 0.99)), ''],
      ['spec change -> DaemonSet updated, max', ms(lat.at(-1)), ''],
      ['start -> ready (/readyz), no Ptemplates', ms(r.idle?.readyMs), 'process spawn -> first 200'],
      [`start -> ready (/readyz), ${fmtInt(n)} converged Ptemplates`, ms(r.restart?.readyMs), 'after SIGTERM of the first operator'],
      ['  the same lists from a bare client, nothing else running', ms(r.restart?.listsMs), 'after the restart; types, selectors, resourceVersion "0" as the informers'],
      ['SIGTERM -> exit of a converged operator', ms(r.restart?.stopMs), 'the first operator, after the spec changes'],
      ['SIGTERM -> exit of the restarted operator', ms(r.restart?.second?.ms),
        r.restart?.second?.killed ? 'did not exit: SIGKILLed after 30 s (Kubernetes\' default grace period)' : 'after its counting window'],
      ['leader SIGKILLed -> successor converged a new Ptemplate', ms(r.failover?.successorMs),
        r.failover ? `lease duration 15 s (default); successor leads: ${r.failover.successorLeads}` : ''],
    ],
  });

  const cached = r.memory ? Object.values(r.memory.cached).reduce((a, b) => a + b, 0) : NaN;
  printTable({
    title: 'Operator memory (VmRSS of the operator process)',
    headers: ['stage', 'RSS', 'note'],
    rows: [
      ['idle, at ready', r.idle ? fmtBytes(r.idle.rssAtReady) : '-', 'no Ptemplates'],
      ['idle, 5 s after ready', r.idle ? fmtBytes(r.idle.rss) : '-', ''],
      ['idle, settled (15 s after ready)', r.idle ? fmtBytes(r.idle.settledRss) : '-', 'after the heap reclaimer\'s start-up compaction (5 s quiet)'],
      [`${fmtInt(n)} converged (same process, after the quiet window)`, r.memory ? fmtBytes(r.memory.rss) : '-', ''],
      [`${fmtInt(n)} converged, restarted process after its window`, r.restart ? fmtBytes(r.restart.rss) : '-', ''],
      ['peak (VmHWM): converging / restarted', r.memory && r.restart ? `${fmtBytes(r.memory.peak)} / ${fmtBytes(r.restart.peak)}` : '-',
        'the highest RSS of each process so far: what the Deployment\'s memory limit must leave room for'],
      ['V8 heap used / total, external (same process)', r.memory?.heap ? `${fmtBytes(r.memory.heap.used)} / ${fmtBytes(r.memory.heap.total)}` : '-',
        r.memory?.heap ? `external ${fmtBytes(r.memory.heap.external)} (nodejs_heap_size_*_bytes of its /metrics)` : ''],
      ['JSON size of the cached objects', r.memory ? fmtBytes(cached) : '-',
        r.memory ? Object.entries(r.memory.cached).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${fmtBytes(v)}`).join(', ') : ''],
      ['converged RSS - settled idle RSS', r.memory && r.idle ? fmtBytes(r.memory.rss - r.idle.settledRss) : '-', r.memory && r.idle && cached > 0 ? `${((r.memory.rss - r.idle.settledRss) / cached).toFixed(2)}x the JSON size` : ''],
    ],
    notes: [
      'JSON size: the objects the operator\'s informers hold, listed by the admin as they would (Nodes and Secrets as metadata),',
      'JSON.stringify length with managedFields removed. Operator logs (JSON lines): ' + logDir,
    ],
  });
}
