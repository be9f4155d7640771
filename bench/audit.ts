// Counts one client's requests from outside it: kube-apiserver's audit log (Metadata level, only
// the user the policy names), followed as the API server appends to it. The counts do not depend
// on the operator's own request counters, so they also see requests its counters would miss.
import { open, type FileHandle } from 'node:fs/promises';
import type { Client } from '../src/runtime/client/client.ts';
import { sleep } from './report.ts';

/** One audited request. `time` is when the API server received it (ms since the epoch). */
export interface AuditRecord {
  time: number;
  verb: string;
  /** `resource[/subresource]`, or the path of a non-resource request (`/healthz`). */
  resource: string;
  namespace: string | undefined;
  code: number;
  userAgent: string;
}

/** Requests by `verb resource`. */
export type RequestCounts = Map<string, number>;

export const MARKER_AGENT = 'bench-audit-marker';
const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** A Metadata-level policy for the given users only; everything else is not audited (and costs nothing). */
export function auditPolicy(users: readonly string[]): string {
  return JSON.stringify({
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    // One event per request: ResponseComplete, plus ResponseStarted for watches (counted once, see below).
    omitStages: ['RequestReceived'],
    rules: [{ level: 'Metadata', users }, { level: 'None' }],
  });
}

export const isWrite = (key: string) => WRITE_VERBS.has(key.split(' ')[0]!);

interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
}

export class AuditLog {
  readonly #path: string;
  #file: FileHandle | undefined;
  #offset = 0;
  #partial = '';
  readonly #started = new Set<string>();
  readonly records: AuditRecord[] = [];
  #markers = 0;

  constructor(path: string) {
    this.#path = path;
  }

  /** Reads what the API server appended since the last call. */
  async read(): Promise<void> {
    this.#file ??= await open(this.#path, 'r').catch(() => undefined);
    if (!this.#file) return;
    const buffer = Buffer.alloc(1 << 20);
    for (;;) {
      const { bytesRead } = await this.#file.read(buffer, 0, buffer.length, this.#offset);
      if (bytesRead === 0) return;
      this.#offset += bytesRead;
      const lines = (this.#partial + buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
      this.#partial = lines.pop()!;
      for (const line of lines) if (line) this.#add(JSON.parse(line) as AuditEvent);
    }
  }

  #add(event: AuditEvent): void {
    // A watch logs ResponseStarted when it opens and ResponseComplete when it ends: count it once.
    if (event.stage === 'ResponseStarted') this.#started.add(event.auditID);
    else if (event.stage !== 'ResponseComplete' || this.#started.delete(event.auditID)) return;
    if (event.userAgent === MARKER_AGENT) {
      this.#markers++;
      return;
    }
    const ref = event.objectRef;
    this.records.push({
      time: Date.parse(event.requestReceivedTimestamp),
      verb: event.verb,
      resource: ref?.resource ? `${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}` : event.requestURI.split('?')[0]!,
      namespace: ref?.namespace,
      code: event.responseStatus?.code ?? 0,
      userAgent: event.userAgent ?? '',
    });
  }

  /**
   * Waits until every request the audited user sent before this call is in `records`: sends a
   * marker request with that user's client (a GET that may well be refused; it is audited either
   * way) and reads until the marker shows up. The log is written as requests complete, so a fixed
   * delay would be a guess.
   */
  async barrier(client: Client, timeoutMs = 30_000): Promise<void> {
    const want = this.#markers + 1;
    await client.request({ method: 'GET', path: '/api/v1/namespaces/bench-audit-marker', verb: 'GET' }).catch(() => {});
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      await this.read();
      if (this.#markers >= want) return;
      if (performance.now() > deadline) throw new Error(`audit log ${this.#path}: marker request not logged within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** Requests received in [from, to) (ms since the epoch), by `verb resource`, optionally filtered. */
  count(from: number, to: number, filter: (r: AuditRecord) => boolean = () => true): RequestCounts {
    const out: RequestCounts = new Map();
    for (const r of this.records) {
      if (r.time < from || r.time >= to || !filter(r)) continue;
      const key = `${r.verb} ${r.resource}`;
      out.set(key, (out.get(key) ?? 0) + 1);
    }
    return out;
  }

  /** Responses other than 2xx in [from, to), by `verb resource code` (429s, conflicts...). */
  failures(from: number, to: number, filter: (r: AuditRecord) => boolean = () => true): RequestCounts {
    const out: RequestCounts = new Map();
    for (const r of this.records) {
      if (r.time < from || r.time >= to || !filter(r) || (r.code >= 200 && r.code < 300)) continue;
      const key = `${r.verb} ${r.resource} ${r.code}`;
      out.set(key, (out.get(key) ?? 0) + 1);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#file?.close();
    this.#file = undefined;
  }
}

export function total(counts: RequestCounts, filter: (key: string) => boolean = () => true): number {
  let sum = 0;
  for (const [key, n] of counts) if (filter(key)) sum += n;
  return sum;
}
