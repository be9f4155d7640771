// The manager's HTTP endpoints: /metrics for Prometheus, /healthz and /readyz for the kubelet.
// In secure mode (for metrics in a cluster) the server speaks HTTPS and every request needs a
// bearer token that the API server authenticates and authorizes for the request's path (see
// auth.ts); plain HTTP stays for local runs and for the kubelet's probes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { silentLogger } from '../log.ts';
import { exposition } from '../metrics.ts';
import { listenOn, parseAddress } from '../serving.ts';
import type { CertSource } from '../tls/cert-source.ts';
import { DelegatingAuth, verbOf, type DelegatingAuthOptions, type ReviewClient } from './auth.ts';

export { listen, parseAddress } from '../serving.ts';

export interface SecureServingOptions {
  /** The server's certificate; the server follows its reloads. */
  certSource: CertSource;
  /** Sends the TokenReviews and SubjectAccessReviews (needs `create` on both). */
  client: ReviewClient;
  /** Cache lifetimes of the delegated decisions (defaults: 60 s allowed, 10 s denied). */
  auth?: Omit<DelegatingAuthOptions, 'client' | 'log'>;
}

export interface HttpEndpointsOptions {
  /** `host:port`; port 0 picks a free one; `0` or empty disables the server. */
  address: string;
  registry?: Registry | undefined;
  /** Readiness, e.g. caches synced. Liveness is the process answering at all. */
  ready?: () => boolean;
  /** HTTPS with delegated authentication and authorization of every request. Default: plain HTTP, no checks. */
  secure?: SecureServingOptions | undefined;
  log?: Logger;
}

export interface HttpEndpoints {
  readonly url: string;
  close(): Promise<void>;
}

export async function startHttpEndpoints(options: HttpEndpointsOptions): Promise<HttpEndpoints> {
  const { host, port } = parseAddress(options.address);
  const log = options.log ?? silentLogger;
  const route = (req: IncomingMessage, res: ServerResponse) => {
    const path = pathOf(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
    } else if (path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (path === '/readyz') {
      const ready = options.ready?.() ?? true;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ok' : 'caches not synced');
    } else if (path === '/metrics' && options.registry) {
      // Written metric by metric: the whole exposition is never one string.
      exposition(options.registry).then(
        (parts) => {
          res.writeHead(200, { 'content-type': options.registry!.contentType });
          for (const part of parts) res.write(part);
          res.end();
        },
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else {
      res.writeHead(404).end();
    }
  };

  let server: Server;
  let detach = () => {};
  const { secure } = options;
  if (secure) {
    const auth = new DelegatingAuth({ ...secure.auth, client: secure.client, log });
    const guarded = (req: IncomingMessage, res: ServerResponse) => {
      auth.check(req.headers.authorization, { path: pathOf(req), verb: verbOf(req.method) }).then((decision) => {
        if (decision.allowed) return route(req, res);
        if (decision.code !== 500) log.debug({ path: pathOf(req), code: decision.code, reason: decision.message }, 'request refused');
        const headers: Record<string, string> = { 'content-type': 'text/plain' };
        if (decision.code === 401) headers['www-authenticate'] = 'Bearer';
        res.writeHead(decision.code, headers).end(`${decision.message}\n`);
      }, (err: unknown) => {
        log.error({ err }, 'authorizing a request failed');
        res.writeHead(500).end();
      });
    };
    const httpsServer = createHttpsServer(secure.certSource.tlsOptions(), guarded);
    detach = secure.certSource.attach(httpsServer);
    server = httpsServer;
  } else {
    server = createServer(route);
  }
  const listening = await listenOn(server, { host, port }, detach);
  return { url: `${secure ? 'https' : 'http'}://${listening.hostPort}`, close: () => listening.close() };
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0]!;
}
