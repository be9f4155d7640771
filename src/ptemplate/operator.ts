// Assembles the operator: a manager with the Ptemplate controller and an event recorder.
// Entry points (CLI, tests, the playground) all build it here, and the manifests generator
// reads its declared permissions from the same object.
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RateLimitPolicy } from '../runtime/client/ratelimit.ts';
import { EventRecorder } from '../runtime/events.ts';
import { silentLogger } from '../runtime/log.ts';
import { delegatedAuthPermissions } from '../runtime/manager/auth.ts';
import { Manager, type LeaderElectionOptions, type LeaderGate, type MetricsServerOptions, type WebhookServerSettings } from '../runtime/manager/manager.ts';
import type { Controller } from '../runtime/controller/controller.ts';
import type { Permission } from '../runtime/rbac.ts';
import { leaderElectionPermissions } from '../runtime/leaderelection/leader-election.ts';
import type { CertSource } from '../runtime/tls/cert-source.ts';
import { addCaBundleInjector, caBundlePermissions } from '../runtime/webhook/ca-bundle.ts';
import { PTEMPLATE_WEBHOOK_CONFIGURATION_NAME } from './webhook.ts';
import { addDeviceController } from '../kmm/workload/controller.ts';
import { ptemplateDriver } from './driver.ts';
import { FIELD_MANAGER } from './names.ts';

export const REPORTING_CONTROLLER = 'pt.example.com/ptemplate-operator';

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  log?: Logger;
  registry?: Registry;
  /** Watch and manage Ptemplates in this namespace only. Default: all namespaces. */
  namespace?: string;
  /** Names this replica in events. Default: POD_NAME or the host name. */
  instance?: string;
  /** Parallel reconciles. Default 16 (see DeviceControllerOptions). */
  maxConcurrentReconciles?: number;
  /** The manager client's rate limit. Default `'server'` (see ManagerOptions.rateLimit). */
  rateLimit?: RateLimitPolicy;
  /** Runs the controllers only while this replica leads (declares the Lease permissions). */
  leaderGate?: LeaderGate;
  /** Metrics are served with delegated authentication and authorization: declares the TokenReview and SubjectAccessReview permissions. */
  secureMetrics?: boolean;
  /** The admission webhook serves this certificate; the operator keeps the webhook configuration's caBundle in step. */
  webhookCertSource?: CertSource;
  /** The manager's metrics server (see ManagerOptions). Default: none. */
  metrics?: MetricsServerOptions;
  /** The manager's health probes (see ManagerOptions). Default: none. */
  healthProbeBindAddress?: string;
  /** The manager's admission webhook server; its certificate also feeds the caBundle injector. Default: none. */
  webhookServer?: WebhookServerSettings;
  /** Leader election run by the manager (see ManagerOptions). Default: none. */
  leaderElection?: LeaderElectionOptions;
}

/**
 * The features a deployment runs with, each declaring the permissions it needs. The manifests
 * generator builds the operator with these to derive the RBAC of the shipped Deployment.
 */
export interface OperatorFeatures {
  leaderElection: boolean;
  secureMetrics: boolean;
  webhook: boolean;
}

export interface Operator {
  manager: Manager;
  recorder: EventRecorder;
  controller: Controller;
}

export function createOperator(options: OperatorOptions): Operator {
  const log = options.log ?? silentLogger;
  const manager = new Manager({
    kubeConfig: options.kubeConfig, log, fieldManager: FIELD_MANAGER,
    metrics: options.metrics, healthProbeBindAddress: options.healthProbeBindAddress, webhookServer: options.webhookServer,
    leaderElection: options.leaderElection,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.leaderGate ? { leaderGate: options.leaderGate } : {}),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
  });
  const recorder = new EventRecorder({
    client: manager.client, controller: REPORTING_CONTROLLER,
    instance: options.instance ?? process.env.POD_NAME ?? hostname(), log: log.child({ component: 'events' }),
  });
  if (options.secureMetrics) manager.declarePermissions(...delegatedAuthPermissions());
  if (options.leaderGate) manager.declarePermissions(...leaderElectionPermissions());
  const webhookCerts = options.webhookServer?.certSource ?? options.webhookCertSource;
  if (webhookCerts) {
    addCaBundleInjector(manager, { configurationName: PTEMPLATE_WEBHOOK_CONFIGURATION_NAME, certSource: webhookCerts });
  }
  const { controller } = addDeviceController(manager, ptemplateDriver, { recorder, maxConcurrentReconciles: options.maxConcurrentReconciles });
  return { manager, recorder, controller };
}

/** Everything an operator deployed with `features` may do: the source of the generated RBAC. */
export function operatorPermissions(features: OperatorFeatures, namespace?: string): Permission[] {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'none', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'none' }], contexts: [{ name: 'none', cluster: 'none', user: 'none' }], currentContext: 'none',
  });
  const { manager } = createOperator({ kubeConfig, ...(namespace ? { namespace } : {}), secureMetrics: features.secureMetrics });
  // Declared here rather than by building the real parts, which would start timers and servers.
  if (features.leaderElection) manager.declarePermissions(...leaderElectionPermissions());
  if (features.webhook) manager.declarePermissions(...caBundlePermissions());
  return manager.permissions();
}
