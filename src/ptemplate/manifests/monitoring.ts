// Monitoring objects around the operator's metrics: the ServiceMonitor, the alerts and the Grafana
// dashboard (their content is in src/ptemplate/monitoring.ts), in config/ and as the plain files of monitoring/.
import type { KubeObject } from '../../runtime/object.ts';
import { grafanaDashboard, prometheusRule } from '../monitoring.ts';
import { DEFAULT_NAMESPACE, labels, LEADER_ELECTION_ID, OPERATOR_NAME } from './constants.ts';
import { renderYaml, type GeneratedFile } from './render.ts';

export const SERVICE_MONITOR_API_VERSION = 'monitoring.coreos.com/v1';

/** A Prometheus Operator ServiceMonitor for the metrics Service. */
export function serviceMonitor(namespace: string): KubeObject {
  return {
    apiVersion: SERVICE_MONITOR_API_VERSION,
    kind: 'ServiceMonitor',
    metadata: { name: OPERATOR_NAME, namespace, labels: labels('metrics') },
    spec: {
      selector: { matchLabels: labels('metrics') },
      endpoints: [{
        port: 'https',
        scheme: 'https',
        path: '/metrics',
        interval: '30s',
        // The ptemplate_* series carry the Ptemplate's own `namespace` label: keep it rather than
        // renaming it to exported_namespace in favour of the operator pod's namespace.
        honorLabels: true,
        // Prometheus's own ServiceAccount token; bind it to the metrics-reader ClusterRole.
        bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
        // The certificate is self-signed unless the metrics-cert Secret provides one: then set
        // `ca` and `serverName` (${METRICS_SERVICE_NAME}.<namespace>.svc) instead.
        tlsConfig: { insecureSkipVerify: true },
      }],
    },
  };
}

/** The dashboard as a ConfigMap for Grafana's dashboard sidecar. */
export function grafanaDashboardConfigMap(namespace: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    // The label Grafana's dashboard sidecar (kube-prometheus-stack, the Grafana Helm chart) looks for.
    metadata: { name: `${OPERATOR_NAME}-dashboard`, namespace, labels: { ...labels('monitoring'), grafana_dashboard: '1' } },
    data: { [GRAFANA_DASHBOARD_FILE]: dashboardJson() },
  };
}

export const GRAFANA_DASHBOARD_FILE = 'ptemplate-operator.json';

/** The Grafana dashboard as the JSON file Grafana imports (also written to monitoring/grafana/). */
export function dashboardJson(): string {
  return `${JSON.stringify(grafanaDashboard({ leaseName: LEADER_ELECTION_ID }), null, 2)}\n`;
}

/**
 * The monitoring files outside config/, relative to the repository: the Grafana dashboard as JSON to
 * import by hand, and the alerts as a plain Prometheus rule file (for a Prometheus without the operator).
 */
export function monitoringFiles(): GeneratedFile[] {
  const rule = prometheusRule({ name: OPERATOR_NAME, namespace: DEFAULT_NAMESPACE, leaseName: LEADER_ELECTION_ID });
  return [
    { path: `monitoring/grafana/${GRAFANA_DASHBOARD_FILE}`, text: dashboardJson() },
    {
      path: 'monitoring/prometheus/ptemplate-operator.rules.yaml',
      text: renderYaml([rule.spec as object], {
        comment: 'The operator\'s alerts as a Prometheus rule file (`rule_files:`). With the Prometheus Operator, use config/prometheus/ instead.\n' +
          'Scrape the operator with honor_labels: true, so the ptemplate_* series keep their Ptemplate\'s namespace label.',
      }),
    },
  ];
}
