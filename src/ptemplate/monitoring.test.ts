import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { dashboardJson, LEADER_ELECTION_ID, monitoringFiles } from './manifests.ts';
import {
  alertRules, grafanaDashboard, KNOWN_METRICS, metricNamesIn, prometheusRule, type DashboardPanel, type GrafanaDashboard,
} from './monitoring.ts';

const repoDir = fileURLToPath(new URL('../..', import.meta.url));
const options = { leaseName: LEADER_ELECTION_ID };

void describe('metricNamesIn', () => {
  const names = (expr: string) => [...metricNamesIn(expr)].sort();

  void it('finds the selected metrics and skips functions, aggregations and their by/without label lists', () => {
    assert.deepEqual(names('sum by (result, le) (rate(a_total{x="y"}[5m]))'), ['a_total']);
    assert.deepEqual(names('histogram_quantile(0.99, sum(rate(b_bucket[$__rate_interval])) by (le))'), ['b_bucket']);
    assert.deepEqual(names('max without (pod) (c) / on (namespace) group_left (name) d offset 5m'), ['c', 'd']);
  });

  void it('skips label names and values, including braces and keywords inside strings', () => {
    assert.deepEqual(names('e{name=~"$name", msg="sum(f) or {g}", job!="by"}'), ['e']);
  });

  void it('sees every operand of a binary or set operation', () => {
    assert.deepEqual(names('max(h) == 0 or absent(i{a="b"}) and j > bool 1e3 unless k'), ['h', 'i', 'j', 'k']);
  });
});

function panelsOf(dashboard: GrafanaDashboard): DashboardPanel[] {
  return dashboard.panels;
}

void describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(dashboardJson()) as GrafanaDashboard;

  void it('is valid JSON that equals the dashboard the code builds', () => {
    assert.deepEqual(dashboard, grafanaDashboard(options));
  });

  void it('has the panels the runbook relies on', () => {
    assert.deepEqual(panelsOf(dashboard).map((p) => p.title), [
      'Ready by Ptemplate',
      'Module nodes: available / desired',
      'Consumers: ready / desired',
      'Reconciles and errors',
      'Reconcile latency p99',
      'Workqueue depth',
      'Leader',
      'Driver upgrade: nodes by state',
    ]);
  });

  void it('queries only metrics the operator exports, at least one per target', () => {
    for (const panel of panelsOf(dashboard)) {
      assert.ok(panel.targets.length > 0, panel.title);
      for (const target of panel.targets) {
        const used = metricNamesIn(target.expr);
        assert.ok(used.size > 0, `${panel.title}: ${target.expr}`);
        for (const name of used) assert.ok(KNOWN_METRICS.has(name), `${panel.title}: unknown metric ${name} in ${target.expr}`);
      }
    }
  });

  void it('plots reconcile rate by result, errors, p99 latency, workqueue depth and leader status from controller-runtime\'s metrics', () => {
    const exprs = panelsOf(dashboard).flatMap((p) => p.targets.map((t) => t.expr));
    const using = (metric: string) => exprs.filter((e) => metricNamesIn(e).has(metric));
    assert.ok(using('controller_runtime_reconcile_total').some((e) => /by \(result\)/.test(e)));
    assert.equal(using('controller_runtime_reconcile_errors_total').length, 1);
    assert.ok(using('controller_runtime_reconcile_time_seconds_bucket').some((e) => e.startsWith('histogram_quantile(0.99,')));
    assert.equal(using('workqueue_depth').length, 1);
    assert.equal(using('leader_election_master_status').length, 1);
    assert.ok(using('leader_election_master_status')[0]!.includes(`name="${LEADER_ELECTION_ID}"`));
  });

  void it('filters every per-Ptemplate query by the namespace and name variables', () => {
    const variables = dashboard.templating.list.map((v) => v.name);
    for (const name of ['namespace', 'name']) assert.ok(variables.includes(name), `variable ${name}`);
    for (const panel of panelsOf(dashboard)) {
      for (const target of panel.targets) {
        if (![...metricNamesIn(target.expr)].some((m) => m.startsWith('ptemplate_'))) continue;
        assert.match(target.expr, /namespace=~"\$namespace"/, target.expr);
        assert.match(target.expr, /name=~"\$name"/, target.expr);
      }
    }
    for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
      const query = (variable.query as { query: string }).query;
      const inner = /^label_values\((.*),\s*\w+\)$/.exec(query)?.[1];
      assert.ok(inner, query);
      for (const name of metricNamesIn(inner)) assert.ok(KNOWN_METRICS.has(name), `variable ${variable.name}: ${name}`);
    }
  });

  void it('gives each panel its own id and place, with the Prometheus data source variable', () => {
    const panels = panelsOf(dashboard);
    assert.equal(new Set(panels.map((p) => p.id)).size, panels.length);
    for (const [i, a] of panels.entries()) {
      assert.equal(a.datasource.uid, '${datasource}');
      assert.ok(a.gridPos.x + a.gridPos.w <= 24, `${a.title} fits the 24-column grid`);
      for (const b of panels.slice(i + 1)) {
        const overlap = a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
        assert.ok(!overlap, `${a.title} and ${b.title} overlap`);
      }
    }
  });
});

void describe('alerts', () => {
  const rules = alertRules(options);

  void it('are the six alerts, each for its duration, with a severity, a summary and a description', () => {
    assert.deepEqual(rules.map((r) => [r.alert, r.for, r.labels.severity]), [
      ['PtemplateReconcileErrors', '10m', 'warning'],
      ['PtemplateModuleNotLoaded', '15m', 'warning'],
      ['PtemplateConsumersNotReady', '15m', 'warning'],
      ['PtemplateUpgradeStuck', '5m', 'warning'],
      ['PtemplateModuleLoadFailing', '10m', 'warning'],
      ['PtemplateOperatorNoLeader', '5m', 'critical'],
    ]);
    for (const r of rules) {
      assert.ok(r.annotations.summary.length > 10, r.alert);
      assert.ok(r.annotations.description.length > 10, r.alert);
    }
  });

  void it('query only metrics the operator exports', () => {
    for (const r of rules) {
      const used = metricNamesIn(r.expr);
      assert.ok(used.size > 0, r.alert);
      for (const name of used) assert.ok(KNOWN_METRICS.has(name), `${r.alert}: unknown metric ${name}`);
    }
  });

  void it('compare what each alert names', () => {
    const expr = (alert: string) => rules.find((r) => r.alert === alert)!.expr;
    assert.match(expr('PtemplateReconcileErrors'), /rate\(controller_runtime_reconcile_errors_total\{[^}]*\}\[\w+\]\)\) > 0$/);
    assert.deepEqual([...metricNamesIn(expr('PtemplateModuleNotLoaded'))], ['ptemplate_module_nodes_available', 'ptemplate_module_nodes_desired']);
    assert.match(expr('PtemplateModuleNotLoaded'), /\) < max/);
    assert.deepEqual([...metricNamesIn(expr('PtemplateConsumersNotReady'))], ['ptemplate_consumers_ready', 'ptemplate_consumers_desired']);
    assert.match(expr('PtemplateConsumersNotReady'), /\) < max/);
    const leader = `leader_election_master_status{name="${LEADER_ELECTION_ID}"}`;
    assert.equal(expr('PtemplateOperatorNoLeader'), `max(${leader}) == 0 or absent(${leader})`);
  });

  void it('come as a PrometheusRule of the Prometheus Operator', () => {
    const rule = prometheusRule({ ...options, name: 'r', namespace: 'ns' });
    assert.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(rule.kind, 'PrometheusRule');
    assert.deepEqual(rule.metadata, { name: 'r', namespace: 'ns' });
    assert.deepEqual(rule.spec, { groups: [{ name: 'ptemplate-operator', rules }] });
  });
});

void describe('monitoring/', () => {
  void it('holds exactly what monitoringFiles renders (run `npm run manifests` after changing the code)', async () => {
    for (const file of monitoringFiles()) {
      const committed = await readFile(join(repoDir, file.path), 'utf8');
      assert.ok(committed === file.text, `${file.path} differs from what the code generates: run \`npm run manifests\``);
    }
  });

  void it('has the alerts as a plain Prometheus rule file', () => {
    const file = monitoringFiles().find((f) => f.path.endsWith('.rules.yaml'))!;
    const docs = parseAllDocuments(file.text).map((d) => d.toJS() as unknown);
    assert.deepEqual(docs, [{ groups: [{ name: 'ptemplate-operator', rules: alertRules(options) }] }]);
  });
});
