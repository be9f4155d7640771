// The names, ports, folders and labels the generated manifests share: the Deployment's flags, the
// Services, the RBAC objects, the OLM bundle and the alerts all refer to these.
import { Ptemplates } from '../api/schema.ts';
import { APP_COMPONENT_LABEL, APP_NAME_LABEL } from '../../runtime/labels.ts';

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

const NAME_LABEL = APP_NAME_LABEL;
const COMPONENT_LABEL = APP_COMPONENT_LABEL;

/** The labels of every generated object: the operator's name and the object's component. */
export function labels(component: string): Record<string, string> {
  return { [NAME_LABEL]: OPERATOR_NAME, [COMPONENT_LABEL]: component };
}
