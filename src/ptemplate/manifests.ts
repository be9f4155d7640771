// The operator's deployment manifests, generated from code: the CRD from the API schema, the
// manager's RBAC from the permissions its controllers declare, the Deployment from the options,
// the Services, the PodDisruptionBudget, the validating webhook, and the Prometheus and Grafana
// objects (src/ptemplate/monitoring.ts). `writeConfig` renders them into config/ (kustomize
// layout); `allManifests` is the default install `ptemplate-operator manifests` prints. config/ is
// never edited by hand. The OLM bundle (olm.ts) is built from the same objects.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { stringify } from 'yaml';
import { moduleCrd } from '../kmm/crd.ts';
import * as kmmResources from '../kmm/resource.ts';
import * as authResources from '../runtime/manager/auth.ts';
import type { KubeObject } from '../runtime/object.ts';
import { policyRules, type Permission, type PolicyRule } from '../runtime/rbac.ts';
import * as runtimeResources from '../runtime/resource.ts';
import { Leases, type ResourceType } from '../runtime/resource.ts';
import * as webhookResources from '../runtime/webhook/ca-bundle.ts';
import { ptemplateCrd } from './api/crd.ts';
import * as ptemplateApi from './api/schema.ts';
import {
  DEFAULT_DEFAULTMSG, DEFAULT_MAXDEV, DEFAULT_REQUIRED_DEVICES, ModuleState, Ptemplates, type PtemplateSpecInput,
} from './api/schema.ts';
import { grafanaDashboard, prometheusRule } from './monitoring.ts';
import { operatorPermissions as featurePermissions, type OperatorFeatures } from './operator.ts';
import { PTEMPLATE_WEBHOOK_PATH, ptemplateWebhookConfiguration } from './webhook.ts';

export const DEFAULT_NAMESPACE = 'ptemplate-operator-system';
export const DEFAULT_IMAGE = 'quay.io/example/ptemplate-operator:0.1.0';

export const OPERATOR_NAME = 'ptemplate-operator';
export const SERVICE_ACCOUNT_NAME = OPERATOR_NAME;
export const DEPLOYMENT_NAME = OPERATOR_NAME;
export const MANAGER_ROLE_NAME = `${OPERATOR_NAME}-manager`;
export const EDITOR_ROLE_NAME = 'ptemplate-editor';
export const VIEWER_ROLE_NAME = 'ptemplate-viewer';
export const LEADER_ELECTION_ROLE_NAME = `${OPERATOR_NAME}-leader-election`;
export const METRICS_READER_ROLE_NAME = `${OPERATOR_NAME}-metrics-reader`;
export const SAMPLE_NAME = 'ptemplate-sample';
export const REPLICAS = 2;
/** HTTPS, every request authenticated and authorized by the API server (TokenReview, SubjectAccessReview). */
export const METRICS_PORT = 8443;
export const HEALTH_PORT = 8081;
export const WEBHOOK_PORT = 9443;
export const WEBHOOK_SERVICE_PORT = 443;
export const METRICS_SERVICE_NAME = `${OPERATOR_NAME}-metrics`;
export const WEBHOOK_SERVICE_NAME = `${OPERATOR_NAME}-webhook`;
/**
 * Optional Secrets (type kubernetes.io/tls: tls.crt, tls.key) with the serving certificates, e.g.
 * written by cert-manager. Without them the operator serves a self-signed certificate (and, for the
 * webhook, puts its CA into the configuration's caBundle itself).
 */
export const WEBHOOK_CERT_SECRET = `${OPERATOR_NAME}-webhook-cert`;
export const METRICS_CERT_SECRET = `${OPERATOR_NAME}-metrics-cert`;
/** controller-runtime's conventional folders; OLM mounts its webhook certificate at the first one too. */
export const WEBHOOK_CERT_DIR = '/tmp/k8s-webhook-server/serving-certs';
export const METRICS_CERT_DIR = '/tmp/k8s-metrics-server/metrics-certs';
/** The volume names OLM uses for the webhook certificate it manages (it replaces ours when it installs the bundle). */
export const WEBHOOK_CERT_VOLUME = 'webhook-cert';
export const METRICS_CERT_VOLUME = 'metrics-cert';
/** Set by OLM on the pod template: the namespaces of the OperatorGroup ("" for all namespaces). */
export const OLM_TARGET_NAMESPACES_ANNOTATION = 'olm.targetNamespaces';
/** The leader-election Lease's name (`--leader-election-id`), in the operator's namespace; the alerts select on it. */
export const LEADER_ELECTION_ID = `${OPERATOR_NAME}.${Ptemplates.group}`;

/** `policy/v1beta1` is all Kubernetes 1.20 serves; `policy/v1` exists from 1.21, and 1.25 removes v1beta1. */
export type PodDisruptionBudgetApiVersion = 'policy/v1beta1' | 'policy/v1';
export const DEFAULT_PDB_API_VERSION: PodDisruptionBudgetApiVersion = 'policy/v1beta1';

export interface ManifestOptions {
  /** Namespace the operator runs in. Default `ptemplate-operator-system`. */
  namespace?: string;
  /** The operator's image. Default `quay.io/example/ptemplate-operator:0.1.0`. */
  image?: string;
  /**
   * Namespace-scoped mode: the operator manages Ptemplates in this namespace only. Its namespaced
   * permissions become a Role + RoleBinding there; only cluster-scoped ones (nodes, token and access reviews,
   * the webhook configuration) stay in a ClusterRole. The leader-election Lease stays in the operator's namespace.
   */
  watchNamespace?: string;
  /**
   * API version of the PodDisruptionBudget. Default `policy/v1beta1`, the only one Kubernetes 1.20
   * (the oldest supported version) serves; use `policy/v1` on 1.21 and later (1.25 removed v1beta1).
   */
  podDisruptionBudgetApiVersion?: PodDisruptionBudgetApiVersion;
}

export interface ManifestFile {
  /** Relative to config/, e.g. `crd/pt.example.com_ptemplates.yaml`. */
  path: string;
  objects: KubeObject[];
  /** Printed as a YAML comment below the generated-file header. */
  comment?: string;
}

export interface RenderOptions {
  /** Printed as a YAML comment below the generated-file header, one `#` line per line. */
  comment?: string;
}

const HEADER = [
  '# Generated by `ptemplate-operator manifests` (src/ptemplate/manifests.ts). DO NOT EDIT:',
  '# change the code and run `npm run manifests` instead.',
];

const NAME_LABEL = 'app.kubernetes.io/name';
const COMPONENT_LABEL = 'app.kubernetes.io/component';

function labels(component: string): Record<string, string> {
  return { [NAME_LABEL]: OPERATOR_NAME, [COMPONENT_LABEL]: component };
}

/** The first line of every generated YAML file: what tells a generated file from a hand-written one. */
export const GENERATED_HEADER = HEADER[0]!;

/** Multi-document YAML with the generated-file header; keys keep the order the objects were built in. */
export function renderYaml(objects: readonly object[], options: RenderOptions = {}): string {
  const lines = [...HEADER];
  if (options.comment) for (const line of options.comment.split('\n')) lines.push(line ? `# ${line}` : '#');
  // YAML 1.1 output quotes strings that YAML 1.1 readers (kubectl, go-yaml) would take for
  // booleans or numbers ("yes", "on", "0755"); no anchors or aliases for shared sub-objects.
  const docs = objects.map((o) => `---\n${stringify(o, { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false })}`);
  return `${lines.join('\n')}\n${docs.join('')}`;
}

/** A file's YAML, exactly as `writeConfig` writes it. */
export function renderFile(file: ManifestFile): string {
  return renderYaml(file.objects, file.comment ? { comment: file.comment } : {});
}

/** What the generated Deployment turns on (its flags): each feature declares the permissions it needs. */
export const DEPLOYMENT_FEATURES: Readonly<OperatorFeatures> = Object.freeze({ leaderElection: true, secureMetrics: true, webhook: true });

/**
 * The permissions the deployed operator needs, as its code declares them (nothing is started,
 * nothing is sent): what its controllers watch and write, plus what the Deployment's features need
 * (the Lease of leader election, the reviews of the secure metrics endpoint, the webhook
 * configuration whose caBundle it keeps).
 */
export function operatorPermissions(watchNamespace?: string): Permission[] {
  return featurePermissions(DEPLOYMENT_FEATURES, watchNamespace);
}

const isLeasePermission = (p: Permission) => p.group === Leases.group && p.resource.split('/')[0] === Leases.plural;

/**
 * Splits the operator's permissions into those of its leader election (Leases, granted by a Role in
 * the operator's own namespace only: a ClusterRole would let it take over any lease of the cluster,
 * kube-controller-manager's included) and all the others.
 */
export function splitLeaderElection(perms: readonly Permission[]): { leaderElection: Permission[]; manager: Permission[] } {
  return { leaderElection: perms.filter(isLeasePermission), manager: perms.filter((p) => !isLeasePermission(p)) };
}

/** Every ResourceType the code defines, by `group/plural`, to tell namespaced permissions from cluster-scoped ones. */
function knownResourceTypes(): Map<string, ResourceType> {
  const out = new Map<string, ResourceType>();
  for (const mod of [runtimeResources, kmmResources, ptemplateApi, authResources, webhookResources] as Record<string, unknown>[]) {
    for (const value of Object.values(mod)) {
      if (isResourceType(value)) out.set(`${value.group}/${value.plural}`, value);
    }
  }
  return out;
}

function isResourceType(value: unknown): value is ResourceType {
  if (!value || typeof value !== 'object') return false;
  const v = value as Partial<ResourceType>;
  return typeof v.group === 'string' && typeof v.plural === 'string' && typeof v.kind === 'string' && typeof v.namespaced === 'boolean';
}

/** Splits permissions into namespaced and cluster-scoped ones (a subresource follows its resource). */
export function splitByScope(perms: readonly Permission[]): { namespaced: Permission[]; cluster: Permission[] } {
  const types = knownResourceTypes();
  const namespaced: Permission[] = [];
  const cluster: Permission[] = [];
  for (const p of perms) {
    const plural = p.resource.split('/')[0]!;
    const type = types.get(`${p.group}/${plural}`);
    if (!type) throw new Error(`manifests: no ResourceType defines ${p.group || 'core'}/${plural}, so its scope is unknown`);
    (type.namespaced ? namespaced : cluster).push(p);
  }
  return { namespaced, cluster };
}

// --- objects ---------------------------------------------------------------------------------

function namespaceObject(namespace: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespace,
      labels: {
        ...labels('manager'),
        // The manager pod meets the "restricted" Pod Security Standard; clusters that enforce it keep it so.
        'pod-security.kubernetes.io/enforce': 'restricted',
      },
    },
  };
}

function serviceAccount(namespace: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SERVICE_ACCOUNT_NAME, namespace, labels: labels('rbac') } };
}

function role(kind: 'ClusterRole' | 'Role', name: string, rules: PolicyRule[], namespace?: string, extraLabels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}), labels: { ...labels('rbac'), ...extraLabels } },
    rules,
  };
}

function binding(
  kind: 'ClusterRoleBinding' | 'RoleBinding', roleKind: 'ClusterRole' | 'Role', operatorNamespace: string, bindingNamespace?: string,
  name = MANAGER_ROLE_NAME,
): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name, ...(bindingNamespace ? { namespace: bindingNamespace } : {}), labels: labels('rbac') },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name },
    subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT_NAME, namespace: operatorNamespace }],
  };
}

/** The manager's roles and bindings: exactly the rules derived from what the code declares, leases aside. */
function managerRbac(namespace: string, watchNamespace: string | undefined): KubeObject[] {
  const perms = splitLeaderElection(operatorPermissions(watchNamespace)).manager;
  if (!watchNamespace) {
    return [role('ClusterRole', MANAGER_ROLE_NAME, policyRules(perms)), binding('ClusterRoleBinding', 'ClusterRole', namespace)];
  }
  const { namespaced, cluster } = splitByScope(perms);
  const out: KubeObject[] = [];
  if (cluster.length) out.push(role('ClusterRole', MANAGER_ROLE_NAME, policyRules(cluster)));
  if (namespaced.length) out.push(role('Role', MANAGER_ROLE_NAME, policyRules(namespaced), watchNamespace));
  if (cluster.length) out.push(binding('ClusterRoleBinding', 'ClusterRole', namespace));
  if (namespaced.length) out.push(binding('RoleBinding', 'Role', namespace, watchNamespace));
  return out;
}

/** The leader election's Role and RoleBinding, in the operator's namespace (where its Lease is). */
function leaderElectionRbac(namespace: string, watchNamespace: string | undefined): KubeObject[] {
  const perms = splitLeaderElection(operatorPermissions(watchNamespace)).leaderElection;
  if (!perms.length) return [];
  return [
    role('Role', LEADER_ELECTION_ROLE_NAME, policyRules(perms), namespace),
    binding('RoleBinding', 'Role', namespace, namespace, LEADER_ELECTION_ROLE_NAME),
  ];
}

/** For whoever scrapes the metrics (Prometheus's ServiceAccount): the metrics endpoint authorizes `get /metrics`. */
function metricsReaderRole(): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: METRICS_READER_ROLE_NAME, labels: labels('metrics') },
    rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }],
  };
}

/** For people, not the operator: folded into the built-in `edit`/`admin` and `view` ClusterRoles. */
function userRoles(): KubeObject[] {
  const group = [Ptemplates.group];
  return [
    role('ClusterRole', EDITOR_ROLE_NAME, [
      { apiGroups: group, resources: [Ptemplates.plural], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
      { apiGroups: group, resources: [`${Ptemplates.plural}/status`], verbs: ['get'] },
    ], undefined, {
      'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
      'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
    }),
    role('ClusterRole', VIEWER_ROLE_NAME, [
      { apiGroups: group, resources: [Ptemplates.plural], verbs: ['get', 'list', 'watch'] },
      { apiGroups: group, resources: [`${Ptemplates.plural}/status`], verbs: ['get'] },
    ], undefined, { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' }),
  ];
}

/** The manager's pod labels: the Deployment's selector, and the Services'. */
export function managerSelector(): Record<string, string> {
  return labels('manager');
}

/** The arguments of `ptemplate-operator run` in the Deployment. */
export function managerArgs(): string[] {
  return [
    'run',
    '--log-format=json',
    '--leader-elect',
    `--leader-election-id=${LEADER_ELECTION_ID}`,
    `--metrics-bind-address=:${METRICS_PORT}`,
    '--metrics-secure',
    `--metrics-cert-dir=${METRICS_CERT_DIR}`,
    `--health-probe-bind-address=:${HEALTH_PORT}`,
    `--webhook-bind-address=:${WEBHOOK_PORT}`,
    `--webhook-cert-dir=${WEBHOOK_CERT_DIR}`,
    `--webhook-service=${WEBHOOK_SERVICE_NAME}`,
  ];
}

/**
 * The manager Deployment: two replicas (one leads, the other stands by) spread over nodes, the
 * image's entrypoint (`node bin/ptemplate-operator.js`) with `run` and its flags, the optional
 * certificate Secrets mounted read-only, nothing written to the root file system.
 */
export function managerDeployment(namespace: string, image: string, watchNamespace?: string): KubeObject {
  const selector = managerSelector();
  const env: Record<string, unknown>[] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    // Installed by OLM, the OperatorGroup's namespaces ("" = all, as without OLM, where the annotation is absent).
    watchNamespace
      ? { name: 'WATCH_NAMESPACE', value: watchNamespace }
      : { name: 'WATCH_NAMESPACE', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${OLM_TARGET_NAMESPACES_ANNOTATION}']` } } },
  ];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: DEPLOYMENT_NAME, namespace, labels: labels('manager') },
    spec: {
      replicas: REPLICAS,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: selector, annotations: { 'kubectl.kubernetes.io/default-container': 'manager' } },
        spec: {
          serviceAccountName: SERVICE_ACCOUNT_NAME,
          terminationGracePeriodSeconds: 30,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          affinity: {
            podAntiAffinity: {
              // Preferred, not required: a one-node cluster still runs both replicas.
              preferredDuringSchedulingIgnoredDuringExecution: [{
                weight: 100,
                podAffinityTerm: { labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' },
              }],
            },
          },
          containers: [{
            name: 'manager',
            image,
            args: managerArgs(),
            env,
            ports: [
              { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
              { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
              { name: 'webhook-server', containerPort: WEBHOOK_PORT, protocol: 'TCP' },
            ],
            livenessProbe: { httpGet: { path: '/healthz', port: HEALTH_PORT }, initialDelaySeconds: 15, periodSeconds: 20 },
            readinessProbe: { httpGet: { path: '/readyz', port: HEALTH_PORT }, initialDelaySeconds: 5, periodSeconds: 10 },
            resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [
              { name: WEBHOOK_CERT_VOLUME, mountPath: WEBHOOK_CERT_DIR, readOnly: true },
              { name: METRICS_CERT_VOLUME, mountPath: METRICS_CERT_DIR, readOnly: true },
            ],
          }],
          volumes: [
            { name: WEBHOOK_CERT_VOLUME, secret: { secretName: WEBHOOK_CERT_SECRET, optional: true } },
            { name: METRICS_CERT_VOLUME, secret: { secretName: METRICS_CERT_SECRET, optional: true } },
          ],
        },
      },
    },
  };
}

function podDisruptionBudget(namespace: string, apiVersion: PodDisruptionBudgetApiVersion): KubeObject {
  return {
    apiVersion,
    kind: 'PodDisruptionBudget',
    metadata: { name: OPERATOR_NAME, namespace, labels: labels('manager') },
    spec: { minAvailable: 1, selector: { matchLabels: managerSelector() } },
  };
}

function service(name: string, namespace: string, component: string, port: { name: string; port: number; targetPort: string }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: labels(component) },
    spec: { selector: managerSelector(), ports: [{ ...port, protocol: 'TCP' }] },
  };
}

/** The metrics Service (HTTPS): what the ServiceMonitor scrapes. */
export function metricsService(namespace: string): KubeObject {
  return service(METRICS_SERVICE_NAME, namespace, 'metrics', { name: 'https', port: METRICS_PORT, targetPort: 'metrics' });
}

/** The Service the API server calls the webhook through (443 -> the pods' 9443). */
export function webhookService(namespace: string): KubeObject {
  return service(WEBHOOK_SERVICE_NAME, namespace, 'webhook', { name: 'https', port: WEBHOOK_SERVICE_PORT, targetPort: 'webhook-server' });
}

/** The ValidatingWebhookConfiguration; its caBundle is filled in by the operator (or by cert-manager's CA injector). */
export function webhookConfiguration(namespace: string): KubeObject {
  return ptemplateWebhookConfiguration({
    serviceName: WEBHOOK_SERVICE_NAME, namespace, path: PTEMPLATE_WEBHOOK_PATH, port: WEBHOOK_SERVICE_PORT, labels: labels('webhook'),
  });
}

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

function grafanaDashboardConfigMap(namespace: string): KubeObject {
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

/** A Ptemplate showing the fields a reader most likely changes, at their default values. */
export function samplePtemplate(): KubeObject & { spec: PtemplateSpecInput } {
  return {
    apiVersion: `${Ptemplates.group}/${Ptemplates.version}`,
    kind: Ptemplates.kind,
    metadata: { name: SAMPLE_NAME, namespace: 'default' },
    spec: {
      selector: { 'node-role.kubernetes.io/worker': '' },
      maxdev: DEFAULT_MAXDEV,
      defaultmsg: DEFAULT_DEFAULTMSG,
      requiredDevices: DEFAULT_REQUIRED_DEVICES,
      moduleState: ModuleState.Loaded,
    },
  };
}

function kustomization(name: string, body: Record<string, unknown>): KubeObject {
  return { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', metadata: { name }, ...body };
}

function resourcesOf(files: ManifestFile[], dir: string): string[] {
  return files.filter((f) => f.path.startsWith(`${dir}/`)).map((f) => f.path.slice(dir.length + 1));
}

// --- files -----------------------------------------------------------------------------------

/** Every file of config/, kustomization.yaml files included. */
export function generateManifests(options: ManifestOptions = {}): ManifestFile[] {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const image = options.image ?? DEFAULT_IMAGE;
  const { watchNamespace } = options;
  const pdbApiVersion = options.podDisruptionBudgetApiVersion ?? DEFAULT_PDB_API_VERSION;
  const crd = ptemplateCrd();
  const [editor, viewer] = userRoles() as [KubeObject, KubeObject];
  const leaderElection = leaderElectionRbac(namespace, watchNamespace);
  const files: ManifestFile[] = [
    { path: `crd/${crd.spec.group}_${crd.spec.names.plural}.yaml`, objects: [crd] },
    { path: 'rbac/service_account.yaml', objects: [serviceAccount(namespace)] },
    {
      path: 'rbac/manager_role.yaml',
      objects: managerRbac(namespace, watchNamespace),
      comment: 'The operator\'s own permissions, derived from what its code watches and writes.',
    },
    ...(leaderElection.length ? [{
      path: 'rbac/leader_election_role.yaml',
      objects: leaderElection,
      comment: 'Leader election: the replicas share a Lease in the operator\'s namespace, and may touch no other.',
    }] : []),
    {
      path: 'rbac/metrics_reader_role.yaml',
      objects: [metricsReaderRole()],
      comment: 'Grants `get /metrics`: bind it to the ServiceAccount that scrapes the operator (e.g. Prometheus\'s).',
    },
    { path: 'rbac/ptemplate_editor_role.yaml', objects: [editor], comment: 'For users who create and change Ptemplates (aggregated into the built-in admin and edit roles).' },
    { path: 'rbac/ptemplate_viewer_role.yaml', objects: [viewer], comment: 'For users who read Ptemplates (aggregated into the built-in view role).' },
    { path: 'manager/namespace.yaml', objects: [namespaceObject(namespace)] },
    { path: 'manager/manager.yaml', objects: [managerDeployment(namespace, image, watchNamespace)] },
    {
      path: 'manager/pdb.yaml',
      objects: [podDisruptionBudget(namespace, pdbApiVersion)],
      comment: 'Keeps one replica running through voluntary disruptions (node drains).\n' +
        `${pdbApiVersion}: ` + (pdbApiVersion === 'policy/v1beta1'
        ? 'the only version Kubernetes 1.20 serves. policy/v1 exists from 1.21, and 1.25 removes v1beta1:\n' +
          'on 1.21 and later, generate with podDisruptionBudgetApiVersion \'policy/v1\' (or patch the apiVersion).'
        : 'served from Kubernetes 1.21 on.'),
    },
    {
      path: 'manager/metrics_service.yaml',
      objects: [metricsService(namespace)],
      comment: 'The metrics endpoint: HTTPS, every request authenticated and authorized by the API server (bearer token, `get /metrics`).',
    },
    { path: 'webhook/service.yaml', objects: [webhookService(namespace)] },
    {
      path: 'webhook/validating_webhook_configuration.yaml',
      objects: [webhookConfiguration(namespace)],
      comment: 'No caBundle here: the operator puts the CA of its serving certificate in (self-signed unless the\n' +
        `${WEBHOOK_CERT_SECRET} Secret exists; with cert-manager, annotate it with cert-manager.io/inject-ca-from instead).`,
    },
    {
      path: 'prometheus/monitor.yaml',
      objects: [serviceMonitor(namespace)],
      comment: 'Needs the Prometheus Operator (monitoring.coreos.com CRDs). Not part of config/default.',
    },
    {
      path: 'prometheus/rules.yaml',
      objects: [prometheusRule({ name: OPERATOR_NAME, namespace, labels: labels('metrics'), leaseName: LEADER_ELECTION_ID })],
      comment: 'Alerts on the operator\'s metrics. Needs the Prometheus Operator; add the labels your Prometheus\'s ruleSelector expects.',
    },
    {
      path: 'grafana/dashboard.yaml',
      objects: [grafanaDashboardConfigMap(namespace)],
      comment: 'The Grafana dashboard, for Grafana\'s dashboard sidecar (label grafana_dashboard: "1").\n' +
        'The same JSON is in monitoring/grafana/ for importing by hand. Not part of config/default.',
    },
    {
      path: 'samples/pt_v1alpha1_ptemplate.yaml',
      objects: [samplePtemplate()],
      comment: 'A sample Ptemplate: loads the ptemplate kernel module on every worker node and runs a consumer there.\n' +
        'maxdev, defaultmsg, requiredDevices and moduleState are shown at their default values;\n' +
        'see `kubectl explain ptemplate.spec` for the other fields.',
    },
    {
      path: 'dev/kmm-module-crd.yaml',
      objects: [moduleCrd()],
      comment: 'For development and test clusters WITHOUT KMM only: a stand-in for the Module CRD that KMM installs.\n' +
        'Never apply it to a cluster that runs (or will run) Kernel Module Management. Not part of config/default.',
    },
  ];
  const kustomizations: ManifestFile[] = ['crd', 'rbac', 'manager', 'webhook', 'prometheus', 'grafana', 'samples', 'dev'].map((dir) => ({
    path: `${dir}/kustomization.yaml`,
    objects: [kustomization(dir, { resources: resourcesOf(files, dir) })],
  }));
  kustomizations.push({
    path: 'default/kustomization.yaml',
    // Every object already carries its namespace. In namespace-scoped mode kustomize's `namespace`
    // would move the Role and RoleBinding out of the watched namespace, so it is left out there.
    objects: [kustomization('default', { ...(watchNamespace ? {} : { namespace }), resources: DEFAULT_INSTALL.map((dir) => `../${dir}`) })],
    comment: 'The default install: `kubectl apply -k config/default`. KMM must already run on the cluster.\n' +
      'With the Prometheus Operator, add ../prometheus (ServiceMonitor, alerts); with Grafana\'s sidecar, ../grafana.',
  });
  return [...files, ...kustomizations];
}

/** The folders of config/ that config/default installs. */
const DEFAULT_INSTALL = ['crd', 'rbac', 'manager', 'webhook'];

const applyOrder = [
  'Namespace', 'CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding',
  'Service', 'Deployment', 'PodDisruptionBudget', 'ValidatingWebhookConfiguration',
];

/** The default install (crd, rbac, manager, webhook) in apply order: what `ptemplate-operator manifests` prints. */
export function allManifests(options: ManifestOptions = {}): KubeObject[] {
  const objects = generateManifests(options)
    .filter((f) => DEFAULT_INSTALL.includes(f.path.split('/')[0]!) && !f.path.endsWith('/kustomization.yaml'))
    .flatMap((f) => f.objects);
  const rank = (o: KubeObject) => {
    const i = applyOrder.indexOf(o.kind ?? '');
    if (i < 0) throw new Error(`manifests: no apply order for kind ${o.kind}`);
    return i;
  };
  return objects.map((o, i) => ({ o, i, r: rank(o) })).sort((a, b) => a.r - b.r || a.i - b.i).map(({ o }) => o);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

/** A generated file's path (relative to the folder it is written to) and content. */
export interface GeneratedFile {
  path: string;
  text: string;
}

export interface WriteOptions {
  /**
   * Folders under `dir` (relative, '' for `dir` itself) where files that carry the generated header
   * but are no longer generated are removed. Default: `dir` itself.
   */
  prune?: readonly string[];
}

/**
 * Writes `files` under `dir`, each only when its content changed, and removes stale generated files
 * (those with the generated header) from the `prune` folders; hand-written files stay. Returns the paths written.
 */
export async function writeGenerated(dir: string, files: readonly GeneratedFile[], options: WriteOptions = {}): Promise<string[]> {
  const generated = new Set(files.map((f) => f.path));
  for (const folder of options.prune ?? ['']) {
    for (const under of await filesUnder(join(dir, folder))) {
      const path = folder ? `${folder}/${under}` : under;
      if (generated.has(path)) continue;
      const text = await readFile(join(dir, path), 'utf8');
      if (text.startsWith(GENERATED_HEADER)) await rm(join(dir, path));
    }
  }
  const written: string[] = [];
  for (const file of files) {
    const target = join(dir, file.path);
    const current = await readFile(target, 'utf8').catch(() => undefined);
    if (current === file.text) continue;
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.text);
    written.push(file.path);
  }
  return written;
}

/**
 * (Re)writes config/ under `dir`: every generated file (only when its content changed), and removes
 * files that carry the generated header but are no longer generated. Returns the paths written.
 */
export async function writeConfig(dir: string, options: ManifestOptions = {}): Promise<string[]> {
  return writeGenerated(dir, generateManifests(options).map((f) => ({ path: f.path, text: renderFile(f) })));
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
