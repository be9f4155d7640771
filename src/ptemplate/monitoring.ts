// Monitoring generated from code: the Grafana dashboard and the Prometheus alerts for the metrics
// the operator exports (src/kmm/workload/metrics.ts and the runtime's controller-runtime names).
// Every query names its metrics from KNOWN_METRICS, and the tests parse each query to hold them
// to that list, so a renamed metric cannot leave a silently empty panel or an alert that never fires.
import type { KubeObject } from '../runtime/object.ts';
import { NAMES } from './names.ts';

const CONTROLLER_NAME = NAMES.controller;

/** The operator's own per-Ptemplate series (labels namespace and name). */
export const PTEMPLATE_METRICS = [
  'ptemplate_consumers_desired',
  'ptemplate_consumers_ready',
  'ptemplate_module_nodes_desired',
  'ptemplate_module_nodes_available',
  'ptemplate_condition',
  'ptemplate_upgrade_nodes',
  'ptemplate_module_load_failures',
] as const;

/** controller-runtime's names, exported by the runtime under the same names. */
export const RUNTIME_METRICS = [
  'controller_runtime_reconcile_total',
  'controller_runtime_reconcile_errors_total',
  'controller_runtime_reconcile_time_seconds_bucket',
  'workqueue_depth',
  'leader_election_master_status',
] as const;

/** Every metric a dashboard panel or an alert may query. */
export const KNOWN_METRICS: ReadonlySet<string> = new Set([...PTEMPLATE_METRICS, ...RUNTIME_METRICS]);

export interface MonitoringOptions {
  /**
   * The name of the operator's leader-election Lease (`--leader-election-id`): the `name` label of
   * leader_election_master_status, which tells the operator's series from other operators'.
   */
  leaseName: string;
  /** The Ptemplate controller's name: the `controller` label and the workqueue's `name`. Default `ptemplate`. */
  controller?: string;
}

// --- PromQL -------------------------------------------------------------------------------

const PROMQL_KEYWORDS = new Set([
  'and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2',
]);
/** Aggregation operators: `sum by (a) (x)` puts the modifier between the name and its parenthesis. */
const AGGREGATIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
]);
/** Keywords followed by a parenthesised list of label names (not metrics). */
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/**
 * The metric names a PromQL expression selects: every identifier that is not a function or
 * aggregation (followed by `(`), a keyword, or a label name (inside `{...}` or after by/without/on...).
 * Strings, label matchers and ranges (`[5m]`, `[$__rate_interval]`) are skipped.
 */
export function metricNamesIn(expr: string): Set<string> {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' "" ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  // Identifiers (a `$` or a digit before one makes it a Grafana variable or part of a number), parentheses, the rest.
  const tokens = stripped.match(/[$0-9.]*[A-Za-z_:][A-Za-z0-9_:]*|[()]|[^\sA-Za-z_:()]+/g) ?? [];
  const names = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (!/^[A-Za-z_:]/.test(token)) continue;
    const word = token.toLowerCase();
    if (LABEL_LIST_KEYWORDS.has(word)) {
      // `by (a, b)`: skip the label names up to the closing parenthesis.
      if (tokens[i + 1] === '(') while (i < tokens.length && tokens[i] !== ')') i++;
      continue;
    }
    if (PROMQL_KEYWORDS.has(word) || AGGREGATIONS.has(word)) continue;
    if (tokens[i + 1] === '(') continue; // a function or an aggregation
    names.add(token);
  }
  return names;
}

// --- Grafana dashboard ---------------------------------------------------------------------

export interface DashboardTarget {
  expr: string;
  legendFormat: string;
  refId: string;
  instant?: boolean;
}

export interface DashboardPanel {
  id: number;
  type: 'stat' | 'timeseries';
  title: string;
  description: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource: { type: 'prometheus'; uid: string };
  targets: DashboardTarget[];
  fieldConfig: { defaults: Record<string, unknown>; overrides: unknown[] };
  options: Record<string, unknown>;
}

export interface DashboardVariable {
  name: string;
  label: string;
  type: 'datasource' | 'query';
  [field: string]: unknown;
}

export interface GrafanaDashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  panels: DashboardPanel[];
  templating: { list: DashboardVariable[] };
  [field: string]: unknown;
}

export const DASHBOARD_UID = 'ptemplate-operator';
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

/** Label matchers for the per-Ptemplate series, following the dashboard's variables. */
const PT = 'namespace=~"$namespace", name=~"$name"';

/**
 * The operator's Grafana dashboard: Ready per Ptemplate, module and consumer rollout, reconcile
 * rate, errors and latency, workqueue depth and the leader. Variables: the Prometheus data source,
 * the operator's scrape job, and the Ptemplates' namespace and name (multi-value, "All" by default).
 */
export function grafanaDashboard(options: MonitoringOptions): GrafanaDashboard {
  const controller = options.controller ?? CONTROLLER_NAME;
  const op = `job=~"$job", controller="${controller}"`;
  let nextId = 1;
  const panel = (
    type: DashboardPanel['type'], title: string, description: string, gridPos: DashboardPanel['gridPos'],
    targets: Omit<DashboardTarget, 'refId'>[], defaults: Record<string, unknown> = {}, options: Record<string, unknown> = {},
  ): DashboardPanel => ({
    id: nextId++,
    type,
    title,
    description,
    gridPos,
    datasource: DATASOURCE,
    targets: targets.map((t, i) => ({ ...t, refId: String.fromCharCode(65 + i) })),
    fieldConfig: { defaults, overrides: [] },
    options: type === 'timeseries'
      ? { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'none' }, ...options }
      : options,
  });
  const count = { unit: 'short', min: 0, decimals: 0 };
  return {
    uid: DASHBOARD_UID,
    title: 'Ptemplate operator',
    description: 'Generated by src/ptemplate/monitoring.ts (npm run manifests): do not edit, change the code. ' +
      'Ptemplates (kernel module through KMM and consumer pods) and the operator that reconciles them.',
    tags: ['ptemplate', 'kmm', 'operator'],
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    timezone: 'browser',
    version: 1,
    annotations: { list: [] },
    links: [],
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '' },
        {
          name: 'job', label: 'Operator job', type: 'query', datasource: DATASOURCE,
          query: { query: `label_values(controller_runtime_reconcile_total{controller="${controller}"}, job)`, refId: 'job' },
          definition: `label_values(controller_runtime_reconcile_total{controller="${controller}"}, job)`,
          includeAll: true, multi: true, allValue: '.+', current: {}, hide: 0, refresh: 2, sort: 1, regex: '',
        },
        {
          name: 'namespace', label: 'Namespace', type: 'query', datasource: DATASOURCE,
          query: { query: 'label_values(ptemplate_consumers_desired, namespace)', refId: 'namespace' },
          definition: 'label_values(ptemplate_consumers_desired, namespace)',
          includeAll: true, multi: true, allValue: '.*', current: {}, hide: 0, refresh: 2, sort: 1, regex: '',
        },
        {
          name: 'name', label: 'Ptemplate', type: 'query', datasource: DATASOURCE,
          query: { query: 'label_values(ptemplate_consumers_desired{namespace=~"$namespace"}, name)', refId: 'name' },
          definition: 'label_values(ptemplate_consumers_desired{namespace=~"$namespace"}, name)',
          includeAll: true, multi: true, allValue: '.*', current: {}, hide: 0, refresh: 2, sort: 1, regex: '',
        },
      ],
    },
    panels: [
      panel('stat', 'Ready by Ptemplate', 'The Ready condition of each Ptemplate: the module is in the requested state and every consumer is ready.',
        { x: 0, y: 0, w: 24, h: 5 },
        [{ expr: `max by (namespace, name) (ptemplate_condition{${PT}, type="Ready", status="True"})`, legendFormat: '{{namespace}}/{{name}}', instant: true }],
        {
          mappings: [{ type: 'value', options: { 0: { text: 'Not ready', color: 'red', index: 1 }, 1: { text: 'Ready', color: 'green', index: 0 } } }],
          thresholds: { mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }] },
          color: { mode: 'thresholds' },
        },
        { colorMode: 'background', graphMode: 'none', justifyMode: 'center', orientation: 'auto', textMode: 'value_and_name',
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } }),
      panel('timeseries', 'Module nodes: available / desired', 'Nodes where KMM reports the kernel module loaded, against the nodes that should have it.',
        { x: 0, y: 5, w: 12, h: 8 },
        [
          { expr: `max by (namespace, name) (ptemplate_module_nodes_available{${PT}})`, legendFormat: '{{namespace}}/{{name}} available' },
          { expr: `max by (namespace, name) (ptemplate_module_nodes_desired{${PT}})`, legendFormat: '{{namespace}}/{{name}} desired' },
        ], count),
      panel('timeseries', 'Consumers: ready / desired', 'Consumer pods running and ready, against those that should run.',
        { x: 12, y: 5, w: 12, h: 8 },
        [
          { expr: `max by (namespace, name) (ptemplate_consumers_ready{${PT}})`, legendFormat: '{{namespace}}/{{name}} ready' },
          { expr: `max by (namespace, name) (ptemplate_consumers_desired{${PT}})`, legendFormat: '{{namespace}}/{{name}} desired' },
        ], count),
      panel('timeseries', 'Reconciles and errors', 'Reconciles per second by result (success, error, requeue, requeue_after), and reconcile errors per second.',
        { x: 0, y: 13, w: 12, h: 8 },
        [
          { expr: `sum by (result) (rate(controller_runtime_reconcile_total{${op}}[$__rate_interval]))`, legendFormat: '{{result}}' },
          { expr: `sum(rate(controller_runtime_reconcile_errors_total{${op}}[$__rate_interval]))`, legendFormat: 'errors' },
        ], { unit: 'reqps', min: 0 }),
      panel('timeseries', 'Reconcile latency p99', 'The 99th percentile of the time one reconcile takes.',
        { x: 12, y: 13, w: 12, h: 8 },
        [{
          expr: `histogram_quantile(0.99, sum by (le) (rate(controller_runtime_reconcile_time_seconds_bucket{${op}}[$__rate_interval])))`,
          legendFormat: 'p99',
        }], { unit: 's', min: 0 }),
      panel('timeseries', 'Workqueue depth', 'Ptemplates waiting to be reconciled, per operator pod.',
        { x: 0, y: 21, w: 12, h: 8 },
        [{ expr: `max by (pod) (workqueue_depth{job=~"$job", name="${controller}"})`, legendFormat: '{{pod}}' }], count),
      panel('timeseries', 'Leader', '1 for the operator pod that holds the leader-election lease; exactly one should at any time.',
        { x: 12, y: 21, w: 12, h: 8 },
        [{ expr: `max by (pod) (leader_election_master_status{job=~"$job", name="${options.leaseName}"})`, legendFormat: '{{pod}}' }],
        { unit: 'short', min: 0, max: 1, decimals: 0 }),
      panel('timeseries', 'Driver upgrade: nodes by state', 'Selected nodes of each versioned Ptemplate by upgrade state (done, in_progress, pending, failed), and nodes where KMM fails to load the module.',
        { x: 0, y: 29, w: 24, h: 8 },
        [
          { expr: `max by (namespace, name, state) (ptemplate_upgrade_nodes{${PT}})`, legendFormat: '{{namespace}}/{{name}} {{state}}' },
          { expr: `max by (namespace, name) (ptemplate_module_load_failures{${PT}})`, legendFormat: '{{namespace}}/{{name}} load failing' },
        ], count),
    ],
  };
}

// --- alerts --------------------------------------------------------------------------------

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: 'warning' | 'critical' };
  annotations: { summary: string; description: string };
}

/** The alerting rules, as one Prometheus rule group. */
export function alertRules(options: MonitoringOptions): AlertRule[] {
  const controller = options.controller ?? CONTROLLER_NAME;
  const leader = `leader_election_master_status{name="${options.leaseName}"}`;
  return [
    {
      alert: 'PtemplateReconcileErrors',
      expr: `sum by (controller) (rate(controller_runtime_reconcile_errors_total{controller="${controller}"}[5m])) > 0`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'The Ptemplate operator keeps failing to reconcile.',
        description: 'Reconciles of controller {{ $labels.controller }} have failed for 10 minutes ({{ $value | humanize }} errors/s). ' +
          'The operator logs and the Events of the Ptemplates say why (often a missing permission, KMM not installed, or the API server refusing a write).',
      },
    },
    {
      alert: 'PtemplateModuleNotLoaded',
      expr: 'max by (namespace, name) (ptemplate_module_nodes_available) < max by (namespace, name) (ptemplate_module_nodes_desired)',
      for: '15m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'The kernel module of a Ptemplate is not loaded on every node that needs it.',
        description: 'Ptemplate {{ $labels.namespace }}/{{ $labels.name }}: KMM has not loaded the kernel module on every selected node for 15 minutes. ' +
          'Check `kubectl describe ptemplate -n {{ $labels.namespace }} {{ $labels.name }}` (ModuleLoaded condition) and the KMM Module and its worker pods (image for the node\'s kernel, pull secret).',
      },
    },
    {
      alert: 'PtemplateConsumersNotReady',
      expr: 'max by (namespace, name) (ptemplate_consumers_ready) < max by (namespace, name) (ptemplate_consumers_desired)',
      for: '15m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Consumer pods of a Ptemplate are not ready.',
        description: 'Ptemplate {{ $labels.namespace }}/{{ $labels.name }}: fewer consumer pods are ready than should run, for 15 minutes. ' +
          'Check the ConsumersReady condition and the consumer DaemonSet\'s pods (image, device plugin, example.com/ptemplate capacity).',
      },
    },
    {
      alert: 'PtemplateUpgradeStuck',
      expr: 'max by (namespace, name) (ptemplate_upgrade_nodes{state="failed"}) > 0',
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'A driver upgrade has nodes that took longer than its nodeTimeout.',
        description: 'Ptemplate {{ $labels.namespace }}/{{ $labels.name }}: {{ $value }} node(s) failed the upgrade (a step passed spec.upgradePolicy.nodeTimeout); at maxFailedNodes the rollout stops. ' +
          'See status.upgrade.failedNodes (`kubectl get ptemplate -n {{ $labels.namespace }} {{ $labels.name }} -o yaml`), fix the cause, then retry a node with `kubectl label node <node> <status.upgrade.nodeLabel>=Retry --overwrite`.',
      },
    },
    {
      alert: 'PtemplateModuleLoadFailing',
      expr: 'max by (namespace, name) (ptemplate_module_load_failures) > 0',
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'KMM fails to load or unload the kernel module of a Ptemplate on some nodes.',
        description: 'Ptemplate {{ $labels.namespace }}/{{ $labels.name }}: KMM\'s worker pod has been failing on {{ $value }} node(s) for 10 minutes. ' +
          'status.loadFailures and the ModuleLoaded condition name each node and its error; `kubectl logs -n {{ $labels.namespace }} kmm-worker-<node>-{{ $labels.name }}` shows the modprobe output.',
      },
    },
    {
      alert: 'PtemplateOperatorNoLeader',
      expr: `max(${leader}) == 0 or absent(${leader})`,
      for: '5m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'No Ptemplate operator replica is leading: Ptemplates are not reconciled.',
        description: `No replica of the operator has held the leader-election Lease ${options.leaseName} for 5 minutes, or its metrics are not scraped at all. ` +
          'Check the operator pods, their logs (lease errors), the Lease in the operator\'s namespace, and that Prometheus scrapes the metrics Service.',
      },
    },
  ];
}

export const PROMETHEUS_RULE_API_VERSION = 'monitoring.coreos.com/v1';

/** A Prometheus Operator PrometheusRule holding alertRules(). */
export function prometheusRule(options: MonitoringOptions & { name: string; namespace: string; labels?: Record<string, string> }): KubeObject {
  return {
    apiVersion: PROMETHEUS_RULE_API_VERSION,
    kind: 'PrometheusRule',
    metadata: { name: options.name, namespace: options.namespace, ...(options.labels ? { labels: options.labels } : {}) },
    spec: { groups: [{ name: 'ptemplate-operator', rules: alertRules(options) }] },
  };
}
