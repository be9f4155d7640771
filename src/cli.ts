// Entry point: `ptemplate-operator <command> [flags]`. Flags have environment equivalents so the
// Deployment can be configured either way; flags win.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { runOperator } from './commands/run.ts';
import { shutdownSignal } from './commands/signals.ts';
import { Client, loadKubeConfig } from './runtime/client/client.ts';
import { ApiError } from './runtime/client/errors.ts';
import type { RateLimitPolicy } from './runtime/client/ratelimit.ts';
import { defaultLeaseNamespace } from './runtime/leaderelection/leader-election.ts';
import { createLogger, type LogFormat } from './runtime/log.ts';

const USAGE = `Usage: ptemplate-operator <command> [flags]

Commands:
  run          run the operator against the cluster of the current kubeconfig (or in-cluster)
  start        'run' when a cluster is reachable, otherwise 'playground' (what npm start does)
  playground   a local control plane with simulated nodes, KMM and kubelet, the operator and a sample
  manifests    print the install manifests (CRD, RBAC, Deployment) as YAML, for current Kubernetes
               (--kube-version 1.20 for Kubernetes 1.20, e.g. the test control plane)
  help         this text

Flags (environment variable in brackets):
  --kubeconfig PATH                 kubeconfig file [KUBECONFIG]; default ~/.kube/config, then in-cluster
  --context NAME                    kubeconfig context
  --namespace NS                    manage Ptemplates in this namespace only [WATCH_NAMESPACE]; default all
  --metrics-bind-address ADDR       Prometheus metrics, host:port or 0 to disable [METRICS_BIND_ADDRESS]; default 127.0.0.1:8080
  --metrics-secure[=true|false]     serve metrics over HTTPS to bearer tokens allowed to GET /metrics (TokenReview and
                                    SubjectAccessReview) [METRICS_SECURE]; default true in a cluster, false otherwise
  --no-metrics-secure               same as --metrics-secure=false
  --metrics-cert-dir DIR            tls.crt and tls.key for secure metrics, reloaded when they change [METRICS_CERT_DIR];
                                    default a generated self-signed certificate
  --health-probe-bind-address ADDR  /healthz and /readyz, host:port or 0 [HEALTH_PROBE_BIND_ADDRESS]; default :8081
  --max-concurrent-reconciles N     parallel reconciles [MAX_CONCURRENT_RECONCILES]; default 16 (reconciles wait on the
                                    API server, they rarely use the CPU)
  --kube-api-qps N                  client-side limit on API requests per second [KUBE_API_QPS]; 0 for none; default: none
                                    while the API server paces requests itself (Priority and Fairness), else 100
  --kube-api-burst N                requests allowed at once above --kube-api-qps [KUBE_API_BURST]; default 2 x qps
  --leader-elect[=true|false]       reconcile only while holding the leader Lease, so replicas can stand by [LEADER_ELECT];
                                    default true in a cluster, false otherwise
  --no-leader-elect                 same as --leader-elect=false
  --leader-election-namespace NS    namespace of the Lease; default POD_NAMESPACE, else the pod's namespace, else default
  --leader-election-id NAME         name of the Lease; default ptemplate-operator.pt.example.com
  --leader-election-lease-duration D  how long standby replicas wait before taking a lease that is not renewed; default 15s
  --leader-election-renew-deadline D  how long the leader tries to renew before it stops and exits; default 10s
  --leader-election-retry-period D    between attempts to acquire or renew the lease; default 2s
  --webhook-bind-address ADDR       HTTPS admission webhook, host:port or 0 [WEBHOOK_BIND_ADDRESS]; default :9443 in a cluster, 0 otherwise
  --webhook-cert-dir DIR            tls.crt and tls.key for the webhook (cert-manager), reloaded when they change [WEBHOOK_CERT_DIR];
                                    default a generated self-signed certificate, whose CA the operator patches into the
                                    ValidatingWebhookConfiguration
  --webhook-service NAME            the webhook's Service, named in a generated certificate [WEBHOOK_SERVICE];
                                    default ptemplate-operator-webhook (in POD_NAMESPACE)
  --log-level LEVEL                 trace|debug|info|warn|error [LOG_LEVEL]; default info
  --log-format FORMAT               json|text [LOG_FORMAT]; default json in a cluster or when not a terminal
  --kube-version VERSION            manifests: the Kubernetes release to generate for; default 1.28 (every API at its
                                    current version), 1.20 at the oldest
`;

const flagSpec = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string' },
  'metrics-bind-address': { type: 'string' },
  'metrics-secure': { type: 'boolean' },
  'metrics-cert-dir': { type: 'string' },
  'health-probe-bind-address': { type: 'string' },
  'max-concurrent-reconciles': { type: 'string' },
  'kube-api-qps': { type: 'string' },
  'kube-api-burst': { type: 'string' },
  'leader-elect': { type: 'boolean' },
  'leader-election-namespace': { type: 'string' },
  'leader-election-id': { type: 'string' },
  'leader-election-lease-duration': { type: 'string' },
  'leader-election-renew-deadline': { type: 'string' },
  'leader-election-retry-period': { type: 'string' },
  'webhook-bind-address': { type: 'string' },
  'webhook-cert-dir': { type: 'string' },
  'webhook-service': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'kube-version': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: booleanFlagValues(argv), options: flagSpec, allowPositionals: true, allowNegative: true, strict: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0] ?? 'help';
  if (values.help || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const env = process.env;
  let log: Logger;
  try {
    log = createLogger({
      level: (values['log-level'] ?? env.LOG_LEVEL ?? 'info') as 'info',
      ...(values['log-format'] ?? env.LOG_FORMAT ? { format: parseFormat(values['log-format'] ?? env.LOG_FORMAT!) } : {}),
    });
  } catch (err) {
    process.stderr.write(`invalid --log-level: ${(err as Error).message}\n`);
    return 2;
  }
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection (a bug; the operator keeps running)'));

  const signal = shutdownSignal({ log });
  const common = {
    log, signal,
    metricsAddress: values['metrics-bind-address'] ?? env.METRICS_BIND_ADDRESS ?? '127.0.0.1:8080',
    probeAddress: values['health-probe-bind-address'] ?? env.HEALTH_PROBE_BIND_ADDRESS ?? ':8081',
  };
  try {
    const maxConcurrentReconciles = positiveInt(values['max-concurrent-reconciles'] ?? env.MAX_CONCURRENT_RECONCILES, '--max-concurrent-reconciles');
    const rateLimit = parseRateLimit(values['kube-api-qps'] ?? env.KUBE_API_QPS, values['kube-api-burst'] ?? env.KUBE_API_BURST);
    const namespace = values.namespace ?? env.WATCH_NAMESPACE ?? undefined;
    const metrics = {
      metricsSecure: values['metrics-secure'] ?? parseBool(env.METRICS_SECURE, 'METRICS_SECURE') ?? !!env.KUBERNETES_SERVICE_HOST,
      metricsCertDir: values['metrics-cert-dir'] ?? (env.METRICS_CERT_DIR || undefined),
    };
    const leaderElection = {
      enabled: values['leader-elect'] ?? parseBool(env.LEADER_ELECT, 'LEADER_ELECT') ?? !!env.KUBERNETES_SERVICE_HOST,
      namespace: values['leader-election-namespace'] || defaultLeaseNamespace(),
      id: values['leader-election-id'] || 'ptemplate-operator.pt.example.com',
      leaseDurationMs: parseDuration(values['leader-election-lease-duration'] ?? '15s', '--leader-election-lease-duration'),
      renewDeadlineMs: parseDuration(values['leader-election-renew-deadline'] ?? '10s', '--leader-election-renew-deadline'),
      retryPeriodMs: parseDuration(values['leader-election-retry-period'] ?? '2s', '--leader-election-retry-period'),
    };
    const webhookAddress = values['webhook-bind-address'] ?? env.WEBHOOK_BIND_ADDRESS ?? (env.KUBERNETES_SERVICE_HOST ? ':9443' : '0');
    const webhook = webhookAddress && webhookAddress !== '0' ? {
      address: webhookAddress,
      certDir: values['webhook-cert-dir'] ?? (env.WEBHOOK_CERT_DIR || undefined),
      serviceName: values['webhook-service'] ?? env.WEBHOOK_SERVICE ?? 'ptemplate-operator-webhook',
      serviceNamespace: defaultLeaseNamespace(),
    } : undefined;
    switch (command) {
      case 'run': {
        const kubeConfig = loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context });
        await runOperator({ ...common, ...metrics, kubeConfig, namespace: namespace || undefined, maxConcurrentReconciles, rateLimit, leaderElection, webhook });
        return 0;
      }
      case 'start': {
        const reason = await clusterUnavailable(values.kubeconfig, values.context);
        if (reason) {
          log.info(`${reason}: starting the local playground instead`);
          const { runPlayground } = await import('./commands/playground.ts');
          await runPlayground(common);
        } else {
          const kubeConfig = loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context });
          await runOperator({ ...common, ...metrics, kubeConfig, namespace: namespace || undefined, maxConcurrentReconciles, rateLimit, leaderElection, webhook });
        }
        return 0;
      }
      case 'playground': {
        const { runPlayground } = await import('./commands/playground.ts');
        await runPlayground(common);
        return 0;
      }
      case 'manifests': {
        const { allManifests, parseKubeVersion, renderYaml } = await import('./ptemplate/manifests.ts');
        const kubeVersion = values['kube-version'];
        if (kubeVersion !== undefined) {
          try {
            parseKubeVersion(kubeVersion);
          } catch (err) {
            throw new UsageError(`--kube-version: ${(err as Error).message}`);
          }
        }
        process.stdout.write(renderYaml(allManifests({ ...(namespace ? { watchNamespace: namespace } : {}), ...(kubeVersion ? { kubeVersion } : {}) })));
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    log.fatal({ err }, (err as Error).message);
    return 1;
  }
}

function parseFormat(value: string): LogFormat {
  if (value !== 'json' && value !== 'text') throw new UsageError(`--log-format must be json or text, not "${value}"`);
  return value;
}

/** Go-style `--flag=true|false` for boolean flags, which parseArgs only knows as `--flag` and `--no-flag`. */
function booleanFlagValues(argv: string[]): string[] {
  return argv.map((arg) => {
    const match = /^--(metrics-secure|leader-elect)=(.*)$/.exec(arg);
    if (!match) return arg;
    const value = parseBool(match[2], `--${match[1]}`);
    return value === false ? `--no-${match[1]}` : `--${match[1]}`;
  });
}

function parseBool(value: string | undefined, what: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  throw new UsageError(`${what} must be true or false, not "${value}"`);
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go-style duration (`15s`, `500ms`, `1m30s`) in milliseconds; must be positive. */
function parseDuration(value: string, flag: string): number {
  const parts = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(value) ? [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)] : [];
  const ms = parts.reduce((sum, [, n, unit]) => sum + Number(n) * durationUnits[unit!]!, 0);
  if (!(ms > 0)) throw new UsageError(`${flag} must be a positive duration such as 15s, 500ms or 1m30s, not "${value}"`);
  return ms;
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number of at least 1, not "${value}"`);
  return n;
}

/** `--kube-api-qps` / `--kube-api-burst`: unset means let the server pace us; 0 means no limit. */
function parseRateLimit(qpsValue: string | undefined, burstValue: string | undefined): RateLimitPolicy {
  if (qpsValue === undefined || qpsValue === '') {
    if (burstValue !== undefined && burstValue !== '') throw new UsageError('--kube-api-burst needs --kube-api-qps');
    return 'server';
  }
  const qps = Number(qpsValue);
  if (!Number.isFinite(qps) || qps < 0) throw new UsageError(`--kube-api-qps must be a number of at least 0, not "${qpsValue}"`);
  if (qps === 0) return 'none';
  const burst = positiveInt(burstValue, '--kube-api-burst') ?? Math.max(1, Math.ceil(2 * qps));
  return { qps, burst };
}

/** Why `start` should not use a cluster, or undefined when one answers. */
async function clusterUnavailable(kubeconfig: string | undefined, context: string | undefined): Promise<string | undefined> {
  const inCluster = !!process.env.KUBERNETES_SERVICE_HOST;
  const file = kubeconfig ?? process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
  if (!inCluster && !kubeconfig && !process.env.KUBECONFIG && !existsSync(file)) return 'no kubeconfig found';
  try {
    const client = new Client(loadKubeConfig({ kubeconfig, context }), { requestTimeoutMs: 5000, maxRetries: 0 });
    await client.request({ method: 'GET', path: '/version' });
    return undefined;
  } catch (err) {
    if (err instanceof ApiError) return undefined; // it answered, even if only to refuse /version
    return `the cluster of the current kubeconfig does not answer (${(err as Error).message})`;
  }
}

/** Runs the CLI and exits with its code (idle HTTP keep-alive sockets must not hold the process). */
export function runCli(): void {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}

if (import.meta.main) runCli();
