// `ptemplate-operator run`: the operator against a cluster (kubeconfig or in-cluster).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { RateLimitPolicy } from '../runtime/client/ratelimit.ts';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createOperator } from '../ptemplate/operator.ts';
import { LeaderElector } from '../runtime/leaderelection/leader-election.ts';
import { startHttpEndpoints, type HttpEndpoints } from '../runtime/manager/http.ts';
import { loadCertSource, type CertSource } from '../runtime/tls/cert-source.ts';
import { startWebhookServer } from '../runtime/webhook/server.ts';
import { ptemplateWebhookHandlers } from '../ptemplate/webhook.ts';
import { FIELD_MANAGER } from '../ptemplate/names.ts';

export interface RunOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  namespace?: string | undefined;
  metricsAddress: string;
  probeAddress: string;
  /** HTTPS metrics for callers whose bearer token the API server authenticates and authorizes for GET /metrics. */
  metricsSecure?: boolean | undefined;
  /** tls.crt and tls.key for the secure metrics server; default: a generated self-signed certificate. */
  metricsCertDir?: string | undefined;
  maxConcurrentReconciles?: number | undefined;
  /** Client-side rate limit; default `'server'` (see ManagerOptions.rateLimit). */
  rateLimit?: RateLimitPolicy | undefined;
  /** The validating admission webhook; absent: not served. */
  webhook?: WebhookSettings | undefined;
  /** Reconcile only while holding a Lease (replicas stand by); absent or disabled: always reconcile. */
  leaderElection?: LeaderElectionSettings | undefined;
  signal: AbortSignal;
}

export interface WebhookSettings {
  /** `host:port` of the HTTPS server the API server calls. */
  address: string;
  /** tls.crt/tls.key (e.g. from cert-manager), reloaded when they change; default: generated self-signed. */
  certDir?: string | undefined;
  /** The Service in front of the webhook, named in the generated certificate. */
  serviceName: string;
  serviceNamespace: string;
}

export interface LeaderElectionSettings {
  enabled: boolean;
  /** Namespace and name of the Lease. */
  namespace: string;
  id: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** Runs until the signal aborts; resolves once every reconcile has finished. */
export async function runOperator(options: RunOptions): Promise<void> {
  const { log } = options;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const election = options.leaderElection;
  const leaderGate = election?.enabled
    ? new LeaderElector({
      kubeConfig: options.kubeConfig, registry, log: log.child({ component: 'leader-election' }), userAgent: `${FIELD_MANAGER}/leader-election`,
      namespace: election.namespace, name: election.id,
      leaseDurationMs: election.leaseDurationMs, renewDeadlineMs: election.renewDeadlineMs, retryPeriodMs: election.retryPeriodMs,
    })
    : undefined;
  // The webhook serves on every replica (the API server may call any); only the leader patches the caBundle.
  const hook = options.webhook;
  const webhookCerts = hook
    ? await loadCertSource({
      certDir: hook.certDir, log: log.child({ component: 'webhook-tls' }),
      selfSigned: { commonName: `${hook.serviceName}.${hook.serviceNamespace}.svc`, dnsNames: [`${hook.serviceName}.${hook.serviceNamespace}.svc`, `${hook.serviceName}.${hook.serviceNamespace}.svc.cluster.local`] },
    })
    : undefined;
  const { manager, recorder } = createOperator({
    ...(webhookCerts ? { webhookCertSource: webhookCerts } : {}),
    kubeConfig: options.kubeConfig, log, registry, secureMetrics: !!options.metricsSecure,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.maxConcurrentReconciles ? { maxConcurrentReconciles: options.maxConcurrentReconciles } : {}),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(leaderGate ? { leaderGate } : {}),
  });
  log.info({ server: manager.client.server, namespace: options.namespace ?? '(all)' }, 'starting ptemplate-operator');

  const endpoints: HttpEndpoints[] = [];
  let certSource: CertSource | undefined;
  try {
    if (hook && webhookCerts) {
      const webhook = await startWebhookServer({ address: hook.address, certSource: webhookCerts, handlers: ptemplateWebhookHandlers(), log, registry });
      endpoints.push(webhook);
      log.info({ url: webhook.url, certificate: webhookCerts.description }, 'serving the admission webhook');
    }
    if (options.metricsAddress && options.metricsAddress !== '0') {
      if (options.metricsSecure) certSource = await loadCertSource({ certDir: options.metricsCertDir, log: log.child({ component: 'metrics-tls' }) });
      const metrics = await startHttpEndpoints({
        address: options.metricsAddress, registry, log: log.child({ component: 'metrics' }),
        ...(certSource ? { secure: { certSource, client: manager.client } } : {}),
      });
      endpoints.push(metrics);
      log.info({ url: `${metrics.url}/metrics`, ...(certSource ? { certificate: certSource.description, authorization: 'TokenReview+SubjectAccessReview' } : {}) }, 'serving metrics');
    }
    if (options.probeAddress && options.probeAddress !== '0') {
      const probes = await startHttpEndpoints({ address: options.probeAddress, ready: () => manager.cache.synced });
      endpoints.push(probes);
      log.info({ url: `${probes.url}/readyz` }, 'serving health probes');
    }
    await manager.start(options.signal);
    await recorder.flush();
  } finally {
    await Promise.all(endpoints.map((e) => e.close()));
    certSource?.close();
    webhookCerts?.close();
  }
  log.info('stopped');
}
