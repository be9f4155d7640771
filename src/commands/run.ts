// `ptemplate-operator run`: the operator against a cluster (kubeconfig or in-cluster).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { RateLimitPolicy } from '../runtime/client/ratelimit.ts';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createOperator } from '../ptemplate/operator.ts';
import { loadCertSource } from '../runtime/tls/cert-source.ts';
import { ptemplateWebhookHandlers } from '../ptemplate/webhook.ts';
import { FIELD_MANAGER } from '../ptemplate/names.ts';
import { HeapReclaimer } from '../runtime/heap-reclaimer.ts';

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
  // Loaded here rather than by the manager: the caBundle injector serves the same certificate.
  const hook = options.webhook;
  const service = hook ? `${hook.serviceName}.${hook.serviceNamespace}.svc` : '';
  const webhookCerts = hook
    ? await loadCertSource({
      certDir: hook.certDir, log: log.child({ component: 'webhook-tls' }),
      selfSigned: { commonName: service, dnsNames: [service, `${service}.cluster.local`] },
    })
    : undefined;
  try {
    const { manager, recorder } = createOperator({
      kubeConfig: options.kubeConfig, log, registry,
      metrics: { bindAddress: options.metricsAddress, secure: !!options.metricsSecure, certDir: options.metricsCertDir },
      healthProbeBindAddress: options.probeAddress,
      ...(hook && webhookCerts ? { webhookServer: { address: hook.address, certSource: webhookCerts, handlers: ptemplateWebhookHandlers() } } : {}),
      ...(election?.enabled ? {
        leaderElection: {
          namespace: election.namespace, name: election.id, userAgent: `${FIELD_MANAGER}/leader-election`,
          leaseDurationMs: election.leaseDurationMs, renewDeadlineMs: election.renewDeadlineMs, retryPeriodMs: election.retryPeriodMs,
        },
      } : {}),
      ...(options.namespace ? { namespace: options.namespace } : {}),
      ...(options.maxConcurrentReconciles ? { maxConcurrentReconciles: options.maxConcurrentReconciles } : {}),
      ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    });
    // A process of its own: give the memory of a burst (start-up, a fleet-wide change) back after it.
    manager.add(new HeapReclaimer({ busy: () => !manager.idle, log }));
    log.info({ server: manager.client.server, namespace: options.namespace ?? '(all)' }, 'starting ptemplate-operator');
    await manager.start(options.signal);
    await recorder.flush();
  } finally {
    webhookCerts?.close();
  }
  log.info('stopped');
}
