// An HTTPS server for admission webhooks: the API server POSTs an `admission.k8s.io/v1`
// AdmissionReview to a path, the handler registered for that path decides, and the server answers
// with an AdmissionReview carrying the request's uid, the decision and a metav1.Status the API
// server passes on to the client (422 Invalid with one cause per field for field errors).
// Whatever arrives (no body, a huge body, bad JSON, a handler that throws) the server answers
// and keeps running. The certificate comes from a source that may rotate it: new connections get
// the new one without a restart.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { silentLogger } from '../log.ts';
import { reuseMetric } from '../metrics.ts';
import { listenOn, parseAddress } from '../serving.ts';
import type { CertSource } from '../tls/cert-source.ts';
import {
  ADMISSION_API_VERSION, ADMISSION_REVIEW_KIND, DEFAULT_MAX_BODY_BYTES, REASONS, admissionResponse, admissionReviewProblem, deny,
  type AdmissionHandler, type AdmissionResult, type AdmissionReview,
} from './admission.ts';

// Handlers and their types are written against admission.ts; the server's importers get both.
export * from './admission.ts';

// ---- the server ----

export interface WebhookServerOptions {
  /** `host:port`; port 0 picks a free one. */
  address: string;
  /** The serving certificate; a renewed one is served to new connections without a restart. */
  certSource: Pick<CertSource, 'tlsOptions' | 'attach'>;
  /** Handlers by URL path, e.g. `/validate-example-com-v1-widget`. */
  handlers: Readonly<Record<string, AdmissionHandler>>;
  log?: Logger;
  /** Registers controller-runtime's `controller_runtime_webhook_*` metrics here when given. */
  registry?: Registry;
  /** Default DEFAULT_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
}

export interface WebhookServer {
  /** `https://host:port`, without a path. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

interface WebhookMetrics {
  requests: Counter<'webhook' | 'code'>;
  latency: Histogram<'webhook'>;
  inFlight: Gauge<'webhook'>;
}

function webhookMetrics(registry: Registry): WebhookMetrics {
  const registers = [registry];
  return {
    requests: reuseMetric(registry, 'controller_runtime_webhook_requests_total', Counter, () => new Counter({
      name: 'controller_runtime_webhook_requests_total', help: 'Admission requests answered, by webhook path and HTTP status code.',
      labelNames: ['webhook', 'code'], registers,
    })),
    latency: reuseMetric(registry, 'controller_runtime_webhook_latency_seconds', Histogram, () => new Histogram({
      name: 'controller_runtime_webhook_latency_seconds', help: 'Seconds from receiving an admission request to answering it, by webhook path.',
      labelNames: ['webhook'], registers,
    })),
    inFlight: reuseMetric(registry, 'controller_runtime_webhook_requests_in_flight', Gauge, () => new Gauge({
      name: 'controller_runtime_webhook_requests_in_flight', help: 'Admission requests being answered right now, by webhook path.',
      labelNames: ['webhook'], registers,
    })),
  };
}

class BodyTooLarge extends Error {}

/** How long the rest of a refused, too large body is read and dropped before the connection is cut. */
const LINGER_MS = 5_000;
/** A request must arrive completely within this time (the API server waits at most 30 s for a webhook). */
const REQUEST_TIMEOUT_MS = 60_000;

/** Reads the whole body, or throws BodyTooLarge as soon as it passes `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => { cleanup(); resolve(Buffer.concat(chunks)); };
    const onError = (err: Error) => { cleanup(); reject(err); };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function statusBody(code: number, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, reason: REASONS[code] ?? 'BadRequest', message });
}

/**
 * Starts the HTTPS server and resolves once it listens. Register it with the API server through a
 * ValidatingWebhookConfiguration whose caBundle is the certificate's CA (see ca-bundle.ts).
 */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const log = (options.log ?? silentLogger).child({ component: 'webhook' });
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const metrics = options.registry ? webhookMetrics(options.registry) : undefined;
  const handlers = new Map(Object.entries(options.handlers));
  for (const path of handlers.keys()) {
    if (!path.startsWith('/')) throw new Error(`webhook path "${path}" must start with "/"`);
  }
  const { host, port } = parseAddress(options.address);

  // Node's default minimum is TLS 1.2, as Kubernetes expects of webhooks.
  const server: Server = createServer({ ...options.certSource.tlsOptions(), requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    void serve(req, res);
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?')[0]!;
    const handler = handlers.get(path);
    const label = handler ? path : 'unknown';
    metrics?.inFlight.inc({ webhook: label });
    res.on('error', (err) => log.debug({ err, path }, 'writing the response failed'));
    req.on('error', (err) => log.debug({ err, path }, 'reading the request failed'));
    let code = 500;
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      code = status;
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
    };
    try {
      if (!handler) return send(404, statusBody(404, `no webhook is served at ${path}`));
      if (req.method !== 'POST') return send(405, statusBody(405, 'admission webhooks accept POST only'), { allow: 'POST' });
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') return send(415, statusBody(415, `content type must be application/json, not ${JSON.stringify(type)}`));

      let raw: Buffer;
      try {
        raw = await readBody(req, limit);
      } catch (err) {
        if (!(err instanceof BodyTooLarge)) throw err;
        // Answer at once and close the connection. The rest of the body is read and dropped for a
        // while (closing with unread data would reset the connection, and the client could lose
        // our answer), then the connection is cut.
        send(413, statusBody(413, `request body is larger than ${limit} bytes`), { connection: 'close' });
        const cut = setTimeout(() => req.destroy(), LINGER_MS).unref();
        req.once('close', () => clearTimeout(cut));
        req.resume();
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        return send(400, statusBody(400, `request body is not JSON: ${(err as Error).message}`));
      }
      const problem = admissionReviewProblem(body);
      if (problem) return send(400, statusBody(400, problem));
      const request = (body as AdmissionReview).request!;
      const reqLog = log.child({
        webhook: path, uid: request.uid, operation: request.operation, kind: request.kind?.kind,
        object: request.namespace ? `${request.namespace}/${request.name ?? ''}` : request.name,
      });

      let result: AdmissionResult;
      try {
        result = await handler(request, { log: reqLog });
        if (typeof result !== 'object' || result === null || typeof result.allowed !== 'boolean') {
          throw new Error(`handler returned ${JSON.stringify(result)} instead of { allowed, ... }`);
        }
      } catch (err) {
        reqLog.error({ err }, 'admission handler failed; refusing the request');
        result = deny(`the ${path} webhook failed: ${(err as Error)?.message ?? String(err)}`, 500, 'InternalError');
      }
      const response = admissionResponse(request, result);
      if (response.allowed) reqLog.debug('admitted');
      else reqLog.info({ code: response.status?.code, reason: response.status?.reason, message: response.status?.message }, 'denied');
      const review: AdmissionReview = { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_REVIEW_KIND, response };
      send(200, JSON.stringify(review));
    } catch (err) {
      log.error({ err, path }, 'serving an admission request failed');
      send(500, statusBody(500, 'internal error'));
    } finally {
      metrics?.inFlight.dec({ webhook: label });
      metrics?.requests.inc({ webhook: label, code: String(code) });
      metrics?.latency.observe({ webhook: label }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  // A bad TLS handshake (a scanner, a client that does not trust our CA) costs that connection only.
  server.on('tlsClientError', (err) => log.debug({ err }, 'TLS handshake failed'));
  server.on('clientError', (err, socket) => {
    log.debug({ err }, 'malformed HTTP request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const listening = await listenOn(server, { host, port }, options.certSource.attach(server));
  server.on('error', (err) => log.error({ err }, 'webhook server error'));

  const url = `https://${listening.hostPort}`;
  log.info({ url, paths: [...handlers.keys()] }, 'serving admission webhooks');
  return { url, port: listening.port, close: () => listening.close() };
}
