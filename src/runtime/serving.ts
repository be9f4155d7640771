// Listening, written once for the manager's HTTP endpoints and the webhook server: parse a
// `host:port`, listen without an unhandled 'error', and close (detaching the certificate
// reloads) without waiting for idle keep-alive connections.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpDate } from './time.ts';

/** `host:port` (IPv6 in brackets) or a bare port; no host means every interface. */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = colon > 0 ? address.slice(0, colon).replace(/^\[|\]$/g, '') : '0.0.0.0';
  const port = Number(colon >= 0 ? address.slice(colon + 1) : address);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid address "${address}": expected host:port`);
  return { host: host || '0.0.0.0', port };
}

/** Starts listening; rejects (instead of emitting 'error') when the address is taken. */
export function listen(server: Pick<Server, 'once' | 'off' | 'listen'>, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
}

export interface Listening {
  /** `host:port` as bound (the real port when 0 was asked for), IPv6 in brackets. */
  readonly hostPort: string;
  readonly port: number;
  /** Detaches, stops accepting and drops open connections; resolves once closed. Idempotent. */
  close(): Promise<void>;
}

/** Listens on `host:port`; when that fails, runs `detach` (e.g. a certificate subscription) and rethrows. */
export async function listenOn(
  server: Pick<Server, 'once' | 'off' | 'listen' | 'address' | 'close' | 'closeAllConnections' | 'prependListener'>,
  at: { host: string; port: number },
  detach: () => void = () => {},
): Promise<Listening> {
  writeOwnDate(server);
  try {
    await listen(server, at.port, at.host);
  } catch (err) {
    detach();
    throw err;
  }
  const bound = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    hostPort: `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
    port: bound.port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        detach();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * Every response gets its Date header from httpDate instead of Node's, which renders it with
 * Date#toUTCString: V8 works out the local time zone for that, and the first probe or scrape would
 * make ICU load its time-zone data (about 0.7 MiB) into a process that never needs it (time.ts).
 */
function writeOwnDate(server: Pick<Server, 'prependListener'>): void {
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    res.sendDate = false;
    res.setHeader('date', httpDate(Date.now()));
  });
}
