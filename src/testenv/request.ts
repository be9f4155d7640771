// A minimal HTTP(S) client for the control plane's own probes and calls (etcd's health and
// JSON gateway, kube-apiserver's /readyz), without agents or keep-alive, with a 5 s timeout.
import http from 'node:http';
import https from 'node:https';

/** Sends one request (JSON when `body` is given) and resolves with the status and body; `ca` is trusted for https. */
export function request(url: string, opts: { method?: string; body?: string; ca?: string; headers?: Record<string, string> }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    }
    const options = { method: opts.method ?? 'GET', headers, timeout: 5_000 };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    const req = u.protocol === 'https:'
      ? https.request(u, { ...options, ca: opts.ca, agent: false }, onResponse)
      : http.request(u, { ...options, agent: false }, onResponse);
    req.on('timeout', () => req.destroy(new Error(`${url}: no response within 5 s`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
