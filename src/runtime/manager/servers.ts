// The servers every operator runs beside its controllers, owned by the Manager (as
// controller-runtime's manager.Options owns them): Prometheus metrics, the kubelet's health
// probes, the admission webhook. They serve on every replica, leader or not, from before the
// caches sync until the manager stops.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Client } from '../client/client.ts';
import { loadCertSource, type CertSource } from '../tls/cert-source.ts';
import { startWebhookServer, type AdmissionHandler } from '../webhook/server.ts';
import type { DelegatingAuthOptions } from './auth.ts';
import { startHttpEndpoints } from './http.ts';

export interface MetricsServerOptions {
  /** `host:port` of /metrics; port 0 picks a free one; `0` or empty: not served. */
  bindAddress: string;
  /**
   * HTTPS, and every request needs a bearer token the API server authenticates (TokenReview) and
   * authorizes for GET on the path (SubjectAccessReview); the manager declares both permissions.
   * Default false: plain HTTP, no checks (local runs).
   */
  secure?: boolean | undefined;
  /** tls.crt and tls.key for the secure server, reloaded when they change. Default: a generated self-signed certificate. */
  certDir?: string | undefined;
  /** Cache lifetimes of the delegated decisions. Default 60 s allowed, 10 s denied. */
  auth?: Omit<DelegatingAuthOptions, 'client' | 'log'>;
}

export interface WebhookServerSettings {
  /** `host:port` of the HTTPS server the API server calls; port 0 picks a free one. */
  address: string;
  /** The serving certificate (see loadCertSource); the caller owns it and closes it. */
  certSource: CertSource;
  /** Handlers by URL path. */
  handlers: Readonly<Record<string, AdmissionHandler>>;
  /** Default DEFAULT_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
}

export interface ServerOptions {
  /** Default: no metrics server. */
  metrics?: MetricsServerOptions | undefined;
  /** `host:port` of /healthz, /livez and /readyz (ready once the caches synced); `0` or empty: not served. Default: not served. */
  healthProbeBindAddress?: string | undefined;
  /** Default: no webhook server. */
  webhookServer?: WebhookServerSettings | undefined;
}

interface Context {
  registry: Registry;
  client: Client;
  log: Logger;
  ready: () => boolean;
}

const enabled = (address: string | undefined): address is string => !!address && address !== '0';

/** Where the manager's servers listen, once started (the real port when 0 was asked for). */
export interface ServingUrls {
  /** e.g. `http://127.0.0.1:8080/metrics` */
  metrics?: string;
  /** e.g. `http://0.0.0.0:8081/readyz`; /healthz and /livez beside it. */
  readyz?: string;
  /** e.g. `https://0.0.0.0:9443`, without a path. */
  webhook?: string;
}

/** Starts the configured servers, reporting where into `urls`; the returned function stops them. Rejects (stopping what started) when one cannot listen. */
export async function startServers(options: ServerOptions, ctx: Context, urls: ServingUrls = {}): Promise<() => Promise<void>> {
  const { log, registry } = ctx;
  const closers: (() => Promise<void>)[] = [];
  const stop = async () => {
    await Promise.all(closers.map((close) => close()));
  };
  try {
    const hook = options.webhookServer;
    if (hook) {
      const webhook = await startWebhookServer({
        address: hook.address, certSource: hook.certSource, handlers: hook.handlers, log, registry,
        ...(hook.maxBodyBytes ? { maxBodyBytes: hook.maxBodyBytes } : {}),
      });
      closers.push(() => webhook.close());
      urls.webhook = webhook.url;
      log.info({ url: webhook.url, certificate: hook.certSource.description }, 'serving the admission webhook');
    }
    const metrics = options.metrics;
    if (metrics && enabled(metrics.bindAddress)) {
      let certSource: CertSource | undefined;
      if (metrics.secure) {
        certSource = await loadCertSource({ certDir: metrics.certDir, log: log.child({ component: 'metrics-tls' }) });
        const source = certSource;
        closers.push(async () => source.close());
      }
      const server = await startHttpEndpoints({
        address: metrics.bindAddress, registry, log: log.child({ component: 'metrics' }),
        ...(certSource ? { secure: { certSource, client: ctx.client, ...(metrics.auth ? { auth: metrics.auth } : {}) } } : {}),
      });
      closers.push(() => server.close());
      urls.metrics = `${server.url}/metrics`;
      log.info({ url: `${server.url}/metrics`, ...(certSource ? { certificate: certSource.description, authorization: 'TokenReview+SubjectAccessReview' } : {}) }, 'serving metrics');
    }
    if (enabled(options.healthProbeBindAddress)) {
      const probes = await startHttpEndpoints({ address: options.healthProbeBindAddress, ready: ctx.ready });
      closers.push(() => probes.close());
      urls.readyz = `${probes.url}/readyz`;
      log.info({ url: `${probes.url}/readyz` }, 'serving health probes');
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}
