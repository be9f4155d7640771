// The manager's workload: its Namespace, the Deployment (replicas, flags, probes, certificate
// volumes), the PodDisruptionBudget, and the Services in front of its pods (the metrics Service here).
import type { KubeObject } from '../../runtime/object.ts';
import {
  DEPLOYMENT_NAME, HEALTH_PORT, labels, LEADER_ELECTION_ID, METRICS_CERT_DIR, METRICS_CERT_SECRET, METRICS_CERT_VOLUME, METRICS_PORT,
  METRICS_SERVICE_NAME, OLM_TARGET_NAMESPACES_ANNOTATION, OPERATOR_NAME, REPLICAS, SERVICE_ACCOUNT_NAME, WEBHOOK_CERT_DIR,
  WEBHOOK_CERT_SECRET, WEBHOOK_CERT_VOLUME, WEBHOOK_PORT, WEBHOOK_SERVICE_NAME,
} from './constants.ts';

import type { PodDisruptionBudgetApiVersion } from './kube-version.ts';

/** The operator's Namespace, labelled to enforce the "restricted" Pod Security Standard. */
export function namespaceObject(namespace: string): KubeObject {
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
            // Memory: the request is an idle operator (about 60 MiB); the limit is the start-up peak at
            // 10,000 Ptemplates (VmHWM 386 MiB: the lists of three types held side by side while they
            // are parsed and stored, README, Performance) and room to spare; 256Mi, the limit before, is below it.
            resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
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

/** Keeps one manager replica running through voluntary disruptions. */
export function podDisruptionBudget(namespace: string, apiVersion: PodDisruptionBudgetApiVersion): KubeObject {
  return {
    apiVersion,
    kind: 'PodDisruptionBudget',
    metadata: { name: OPERATOR_NAME, namespace, labels: labels('manager') },
    spec: { minAvailable: 1, selector: { matchLabels: managerSelector() } },
  };
}

/** A Service in front of the manager pods (the metrics one here, the webhook one in webhook.ts). */
export function service(name: string, namespace: string, component: string, port: { name: string; port: number; targetPort: string }): KubeObject {
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
