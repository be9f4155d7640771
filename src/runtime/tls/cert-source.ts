// Where a TLS server's certificate comes from: a directory holding `tls.crt` and `tls.key` (a
// cert-manager or service-ca Secret mounted as a volume), kept current as the files change, or a
// self-signed certificate generated at start-up. Servers attach to the source and get each new
// pair through setSecureContext, so renewed certificates are served without a restart.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type Server } from 'node:tls';
import type { Logger } from 'pino';
import { silentLogger } from '../log.ts';
import { generateSelfSigned, type CertificatePair, type SelfSignedOptions } from './selfsigned.ts';

export const CERT_FILE = 'tls.crt';
export const KEY_FILE = 'tls.key';

export interface DirectorySourceOptions {
  /** Default `tls.crt`. */
  certFile?: string;
  /** Default `tls.key`. */
  keyFile?: string;
  /**
   * Re-read the files this often as well, in case a file-system event was missed. Default 30 s;
   * 0 relies on file-system events alone.
   */
  pollIntervalMs?: number;
  /** Watch the folder for file-system events. Default true; turn off where events are unreliable (network file systems). */
  watch?: boolean;
  log?: Logger;
}

export interface LoadCertSourceOptions extends DirectorySourceOptions {
  /** Folder with the certificate and key; empty or undefined: generate a self-signed certificate. */
  certDir?: string | undefined;
  /** For the generated certificate. Default: CN `localhost` with the host name, localhost, 127.0.0.1 and ::1. */
  selfSigned?: SelfSignedOptions;
}

type Listener = (pair: CertificatePair) => void;

export class CertSource {
  /** For logs: the folder, or `self-signed`. */
  readonly description: string;
  /**
   * The CA bundle clients need, when the source generated its own certificate. Undefined for a
   * directory: its issuer's CA is distributed elsewhere (e.g. cert-manager's CA injector).
   */
  readonly caPem: string | undefined;
  #pair: CertificatePair;
  readonly #listeners = new Set<Listener>();
  readonly #dir: string | undefined;
  readonly #certPath: string;
  readonly #keyPath: string;
  readonly #log: Logger;
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #reloading: Promise<boolean> | undefined;
  #again = false;
  #closed = false;

  private constructor(pair: CertificatePair, init: { description: string; caPem?: string; dir?: string; certFile?: string; keyFile?: string; log?: Logger | undefined }) {
    this.#pair = pair;
    this.description = init.description;
    this.caPem = init.caPem;
    this.#dir = init.dir;
    this.#certPath = init.dir ? join(init.dir, init.certFile ?? CERT_FILE) : '';
    this.#keyPath = init.dir ? join(init.dir, init.keyFile ?? KEY_FILE) : '';
    this.#log = init.log ?? silentLogger;
  }

  /** A freshly generated self-signed certificate; it never changes. */
  static selfSigned(options: SelfSignedOptions, log?: Logger): CertSource {
    const generated = generateSelfSigned(options);
    return new CertSource({ certPem: generated.certPem, keyPem: generated.keyPem }, { description: 'self-signed', caPem: generated.caPem, log });
  }

  /**
   * Loads the pair from `dir` (it must be there and valid) and watches the folder: a changed
   * pair is loaded as soon as both files match each other; an invalid or half-written one is
   * ignored and the previous pair stays in use.
   */
  static async fromDirectory(dir: string, options: DirectorySourceOptions = {}): Promise<CertSource> {
    const source = new CertSource({ certPem: '', keyPem: '' }, { description: dir, dir, certFile: options.certFile, keyFile: options.keyFile, log: options.log });
    source.#pair = await source.#read();
    source.#watch(options.watch ?? true, options.pollIntervalMs ?? 30_000);
    return source;
  }

  /** The pair in use now. */
  current(): CertificatePair {
    return this.#pair;
  }

  /** Options for `tls.createServer`/`https.createServer` with the current pair. */
  tlsOptions(): { cert: string; key: string } {
    return { cert: this.#pair.certPem, key: this.#pair.keyPem };
  }

  /** Called after every change of the pair; returns the unsubscribe function. */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  /** Keeps the server's certificate current (new connections get the new pair); returns detach. */
  attach(server: Server): () => void {
    const apply = () => server.setSecureContext(this.tlsOptions());
    apply();
    return this.onChange(apply);
  }

  /** Re-reads the files now (a no-op for a self-signed source); resolves true when the pair changed. */
  async reload(): Promise<boolean> {
    if (!this.#dir || this.#closed) return false;
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      let changed = false;
      try {
        do {
          this.#again = false;
          changed = (await this.#reloadOnce()) || changed;
        } while (this.#again && !this.#closed);
      } finally {
        this.#reloading = undefined;
      }
      return changed;
    })();
    return this.#reloading;
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = undefined;
    this.#listeners.clear();
  }

  async #reloadOnce(): Promise<boolean> {
    let pair: CertificatePair;
    try {
      pair = await this.#read();
    } catch (err) {
      // Typically a rotation caught half-way (new certificate, old key): the next event completes it.
      this.#log.debug({ err, dir: this.#dir }, 'TLS certificate not reloaded: keeping the current one');
      return false;
    }
    if (this.#closed || (pair.certPem === this.#pair.certPem && pair.keyPem === this.#pair.keyPem)) return false;
    this.#pair = pair;
    const cert = new X509Certificate(pair.certPem);
    this.#log.info({ dir: this.#dir, subject: cert.subject, notAfter: cert.validTo }, 'TLS certificate reloaded');
    for (const listener of this.#listeners) {
      try {
        listener(pair);
      } catch (err) {
        this.#log.error({ err }, 'applying the reloaded TLS certificate failed');
      }
    }
    return true;
  }

  async #read(): Promise<CertificatePair> {
    const [certPem, keyPem] = await Promise.all([readFile(this.#certPath, 'utf8'), readFile(this.#keyPath, 'utf8')]);
    validatePair(certPem, keyPem, this.#dir ?? '');
    return { certPem, keyPem };
  }

  #watch(events: boolean, pollIntervalMs: number): void {
    const onEvent = () => { this.reload().catch((err: unknown) => this.#log.error({ err }, 'TLS certificate reload failed')); };
    if (events) {
      try {
        // The folder, not the files: Secret volumes swap a `..data` symlink, which replaces the files.
        this.#watcher = watch(this.#dir!, { persistent: false }, onEvent);
        this.#watcher.on('error', (err) => {
          this.#log.warn({ err, dir: this.#dir }, 'watching the TLS certificate folder failed; relying on periodic checks');
          this.#watcher?.close();
          this.#watcher = undefined;
        });
      } catch (err) {
        this.#log.warn({ err, dir: this.#dir }, 'cannot watch the TLS certificate folder; relying on periodic checks');
      }
    }
    if (pollIntervalMs > 0) {
      this.#poll = setInterval(onEvent, pollIntervalMs);
      this.#poll.unref();
    }
  }
}

/** Throws unless the certificate parses and belongs to the key. */
export function validatePair(certPem: string, keyPem: string, where = ''): void {
  const at = where ? ` in ${where}` : '';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new Error(`TLS certificate${at} does not parse: ${(err as Error).message}`, { cause: err });
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new Error(`TLS private key${at} does not parse: ${(err as Error).message}`, { cause: err });
  }
  if (!cert.checkPrivateKey(key)) throw new Error(`TLS certificate and private key${at} do not belong together`);
  createSecureContext({ cert: certPem, key: keyPem });
}

/**
 * The certificate of `certDir` when it holds one, otherwise a generated self-signed one. An empty
 * or missing folder is the normal case of an optional Secret that was not created (no cert-manager).
 */
export async function loadCertSource(options: LoadCertSourceOptions = {}): Promise<CertSource> {
  if (options.certDir) {
    const certFile = join(options.certDir, options.certFile ?? 'tls.crt');
    if (existsSync(certFile)) return CertSource.fromDirectory(options.certDir, options);
    options.log?.info({ certDir: options.certDir }, `no ${certFile}: serving a generated self-signed certificate`);
  }
  const host = hostname();
  return CertSource.selfSigned(options.selfSigned ?? {
    commonName: 'localhost', dnsNames: [...new Set([host, 'localhost'])], ipAddresses: ['127.0.0.1', '::1'],
  }, options.log);
}
