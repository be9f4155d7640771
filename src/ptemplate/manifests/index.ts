// The operator's deployment manifests, generated from code: the CRD from the API schema, the
// manager's RBAC from the permissions its controllers declare, the Deployment from the options,
// the Services, the PodDisruptionBudget, the validating webhook, and the Prometheus and Grafana
// objects (src/ptemplate/monitoring.ts). `writeConfig` renders them into config/ (kustomize
// layout); `allManifests` is the default install `ptemplate-operator manifests` prints. config/ is
// never edited by hand. The OLM bundle (olm.ts) is built from the same objects.
//
// One concept per file: constants.ts (names, ports, folders, labels), render.ts (YAML, headers,
// writing files), rbac.ts, deployment.ts (Namespace, Deployment, PDB, Services), webhook.ts,
// monitoring.ts, sample.ts, and config.ts (the config/ tree). This file is the public surface;
// src/ptemplate/manifests.ts re-exports it.
export {
  DEFAULT_IMAGE, DEFAULT_NAMESPACE, DEPLOYMENT_NAME, EDITOR_ROLE_NAME, HEALTH_PORT, LEADER_ELECTION_ID, LEADER_ELECTION_ROLE_NAME,
  MANAGER_ROLE_NAME, METRICS_CERT_DIR, METRICS_CERT_SECRET, METRICS_CERT_VOLUME, METRICS_PORT, METRICS_READER_ROLE_NAME,
  METRICS_SERVICE_NAME, OLM_TARGET_NAMESPACES_ANNOTATION, OPERATOR_NAME, REPLICAS, SAMPLE_NAME, SERVICE_ACCOUNT_NAME,
  VIEWER_ROLE_NAME, WEBHOOK_CERT_DIR, WEBHOOK_CERT_SECRET, WEBHOOK_CERT_VOLUME, WEBHOOK_PORT, WEBHOOK_SERVICE_NAME,
  WEBHOOK_SERVICE_PORT,
} from './constants.ts';
export { allManifests, generateManifests, writeConfig, type ManifestOptions } from './config.ts';
export { managerArgs, managerDeployment, managerSelector, metricsService } from './deployment.ts';
export {
  apiVersionsFor, DEFAULT_KUBE_VERSION, OLDEST_KUBE_VERSION, parseKubeVersion, type ApiVersions, type KubeVersion,
  type PodDisruptionBudgetApiVersion,
} from './kube-version.ts';
export { dashboardJson, GRAFANA_DASHBOARD_FILE, monitoringFiles, SERVICE_MONITOR_API_VERSION, serviceMonitor } from './monitoring.ts';
export { DEPLOYMENT_FEATURES, operatorPermissions, splitByScope, splitLeaderElection } from './rbac.ts';
export {
  GENERATED_HEADER, renderFile, renderYaml, writeGenerated, type GeneratedFile, type ManifestFile, type RenderOptions, type WriteOptions,
} from './render.ts';
export { samplePtemplate } from './sample.ts';
export { webhookConfiguration, webhookService } from './webhook.ts';
