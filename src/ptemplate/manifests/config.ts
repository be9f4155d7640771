// The config/ tree (kustomize layout): which objects go into which file, with what comment, the
// kustomization.yaml files, the default install in apply order, and writing it all to disk.
import { moduleCrd } from '../../kmm/crd.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { ptemplateCrd } from '../api/crd.ts';
import { prometheusRule } from '../monitoring.ts';
import { DEFAULT_IMAGE, DEFAULT_NAMESPACE, labels, LEADER_ELECTION_ID, OPERATOR_NAME, WEBHOOK_CERT_SECRET } from './constants.ts';
import { managerDeployment, metricsService, namespaceObject, podDisruptionBudget } from './deployment.ts';
import { apiVersionsFor, DEFAULT_KUBE_VERSION } from './kube-version.ts';
import { grafanaDashboardConfigMap, serviceMonitor } from './monitoring.ts';
import { leaderElectionRbac, managerRbac, metricsReaderRole, serviceAccount, userRoles } from './rbac.ts';
import { renderFile, writeGenerated, type ManifestFile } from './render.ts';
import { samplePtemplate } from './sample.ts';
import { webhookConfiguration, webhookService } from './webhook.ts';

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
   * The Kubernetes release to generate for (`1.28`, `v1.20.2`). Default DEFAULT_KUBE_VERSION (1.28):
   * every API at its current version (policy/v1 PodDisruptionBudget). `1.20` gives what the test
   * control plane serves (policy/v1beta1, which Kubernetes 1.25 removed).
   */
  kubeVersion?: string;
}

function kustomization(name: string, body: Record<string, unknown>): KubeObject {
  return { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', metadata: { name }, ...body };
}

function resourcesOf(files: ManifestFile[], dir: string): string[] {
  return files.filter((f) => f.path.startsWith(`${dir}/`)).map((f) => f.path.slice(dir.length + 1));
}


/** Every file of config/, kustomization.yaml files included. */
export function generateManifests(options: ManifestOptions = {}): ManifestFile[] {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const image = options.image ?? DEFAULT_IMAGE;
  const { watchNamespace } = options;
  const kubeVersion = options.kubeVersion ?? DEFAULT_KUBE_VERSION;
  const pdbApiVersion = apiVersionsFor(kubeVersion).podDisruptionBudget;
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
        `${pdbApiVersion}, for Kubernetes ${kubeVersion}: ` + (pdbApiVersion === 'policy/v1beta1'
        ? 'the only version 1.20 serves; 1.25 removed it.'
        : 'served from 1.21 on (`ptemplate-operator manifests --kube-version 1.20` for 1.20).'),
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

/**
 * (Re)writes config/ under `dir`: every generated file (only when its content changed), and removes
 * files that carry the generated header but are no longer generated. Returns the paths written.
 */
export async function writeConfig(dir: string, options: ManifestOptions = {}): Promise<string[]> {
  return writeGenerated(dir, generateManifests(options).map((f) => ({ path: f.path, text: renderFile(f) })));
}
