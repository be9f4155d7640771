// HTTP to the API server on node:http(s), with client-node's KubeConfig for what it is good at:
// loading kubeconfig and in-cluster config and producing credentials (token, token file, exec
// plugin, client certificates, OIDC, basic auth). client-node's own HTTP layer (undici's fetch)
// is not used: undici alone costs the process about 25 MB of memory, and Node's https with a
// keep-alive agent does the same job.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export interface HttpRequest {
  method: HttpMethod;
  url: URL;
  headers: Record<string, string>;
  body?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** A response whose body is read once: as text, or as a stream of chunks (watches). */
export interface HttpResponse {
  httpStatusCode: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: { text(): Promise<string>; stream(): AsyncIterable<Uint8Array> };
}

/** The TLS material, headers and agent the kubeconfig yields for one request (client-node's applyToHTTPSOptions). */
interface RequestOptions extends https.RequestOptions {
  headers?: Record<string, string>;
}

export interface KubeTransportOptions {
  /**
   * A keep-alive connection no request has used for this long is closed (Go's
   * Transport.IdleConnTimeout; client-go's default). A burst of parallel requests opens one
   * connection per request it ran at once, and an HTTP/1.1 agent would otherwise keep them all
   * until the server closes them. Watches and requests in flight are not idle. Default 90 s.
   */
  idleConnectionTimeoutMs?: number | undefined;
}

export class KubeTransport {
  readonly #kubeConfig: KubeConfig;
  readonly #idleTimeoutMs: number;
  #agent: { key: string; agent: http.Agent } | undefined;

  constructor(kubeConfig: KubeConfig, options: KubeTransportOptions = {}) {
    this.#kubeConfig = kubeConfig;
    this.#idleTimeoutMs = options.idleConnectionTimeoutMs ?? 90_000;
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    const opts: RequestOptions = { headers: {} };
    // Per request, as client-node does: tokens from files and exec plugins expire and rotate.
    await this.#kubeConfig.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = { ...req.headers, ...opts.headers };
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    if (req.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(req.body));
    const secure = req.url.protocol === 'https:';
    const agent = this.#agentFor(secure, opts);
    const request = (secure ? https : http).request(req.url, { method: req.method, headers, agent, ...(req.signal ? { signal: req.signal } : {}) });
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      // `on`, not `once`: a later socket error must not go unhandled (the body stream reports it).
      request.on('error', reject);
      request.end(req.body);
    });
    const responseHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return {
      httpStatusCode: response.statusCode ?? 0,
      headers: responseHeaders,
      body: {
        async text() {
          const chunks: Buffer[] = [];
          for await (const chunk of response) chunks.push(chunk as Buffer);
          return Buffer.concat(chunks).toString('utf8');
        },
        stream: () => response,
      },
    };
  }

  /**
   * One keep-alive agent per TLS identity, rebuilt when the material changes (an exec plugin's
   * rotated client certificate, a new CA). A proxy in the kubeconfig gets client-node's proxy agent.
   */
  #agentFor(secure: boolean, opts: RequestOptions): http.Agent {
    if (this.#kubeConfig.getCurrentCluster()?.proxyUrl) return opts.agent as http.Agent;
    const material: TlsMaterial = {
      ca: opts.ca, cert: opts.cert, key: opts.key, pfx: opts.pfx, passphrase: opts.passphrase,
      servername: opts.servername, rejectUnauthorized: opts.rejectUnauthorized,
    };
    const key = JSON.stringify([secure, ...Object.values(material).map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : v))]);
    if (this.#agent?.key !== key) {
      // Requests in flight (watches end within their 10-minute server timeout) finish on the old agent.
      const old = this.#agent?.agent;
      if (old) setTimeout(() => old.destroy(), 11 * 60_000).unref();
      // Keep-alive probes at 30 s, as client-go, so idle connections through load balancers stay up.
      // `timeout` is the socket's inactivity timeout: the agent closes a pooled (free) socket when it
      // fires; on a socket in use it only emits 'timeout', which nothing here acts on.
      const pool = { keepAlive: true, keepAliveMsecs: 30_000, timeout: this.#idleTimeoutMs };
      const agent = secure ? new https.Agent({ ...pool, ...tlsOptions(material) }) : new http.Agent(pool);
      this.#agent = { key, agent };
    }
    return this.#agent.agent;
  }
}

type TlsMaterial = Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'servername' | 'rejectUnauthorized'>;

/**
 * One secure context (OpenSSL's SSL_CTX with the parsed CA, certificate and key) for every
 * connection of an agent, as client-go shares one tls.Config. Given only `ca`/`cert`/`key`,
 * tls.connect builds a new context per connection: about 100 KB of native memory each for as long
 * as the connection lives, and the parsing on every handshake.
 */
function tlsOptions(material: TlsMaterial): https.AgentOptions {
  const { servername, rejectUnauthorized, ...context } = material;
  const defined = Object.fromEntries(Object.entries(context).filter(([, v]) => v !== undefined));
  return {
    // Through the module object, as tls.connect calls it: a test replaces it there to count contexts.
    secureContext: tls.createSecureContext(defined),
    ...(servername !== undefined ? { servername } : {}),
    ...(rejectUnauthorized !== undefined ? { rejectUnauthorized } : {}),
  };
}
