// Keeps a ValidatingWebhookConfiguration's `webhooks[].clientConfig.caBundle` equal to the CA of
// the certificate our webhook server presents, so the API server trusts it: on start, whenever the
// certificate changes, and whenever the configuration is (re)created or edited (a `kubectl apply`
// of manifests without a caBundle). It watches that one configuration by name; when there is none,
// nothing is registered and nothing needs patching: the operator works on without its webhook.
import { Buffer } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { Backoff } from '../backoff.ts';
import { Informer } from '../cache/informer.ts';
import type { Client } from '../client/client.ts';
import { ConflictError, NotFoundError } from '../client/errors.ts';
import { silentLogger } from '../log.ts';
import type { Manager, Runnable } from '../manager/manager.ts';
import { permission, type Permission } from '../rbac.ts';
import type { CertSource } from '../tls/cert-source.ts';
import { ValidatingWebhookConfigurations, type ValidatingWebhookConfiguration } from './configuration.ts';

/** The caBundle field's value for a PEM CA bundle: its base64 (the field is bytes). */
export function encodeCaBundle(caPem: string): string {
  return Buffer.from(caPem, 'utf8').toString('base64');
}

/**
 * The strategic-merge patch that sets `caBundle` (base64 of `caPem`) on every webhook of `config`
 * (or only those named in `webhookNames`) whose caBundle differs, guarded by the configuration's
 * resourceVersion; undefined when nothing differs. Webhooks are merged by name, so other fields
 * and other webhooks are left alone.
 */
export function caBundlePatch(config: ValidatingWebhookConfiguration, caPem: string, webhookNames?: readonly string[]): Record<string, unknown> | undefined {
  const want = encodeCaBundle(caPem);
  const stale = (config.webhooks ?? []).filter((w) => (!webhookNames || webhookNames.includes(w.name)) && w.clientConfig?.caBundle !== want);
  if (stale.length === 0) return undefined;
  const metadata = config.metadata.resourceVersion ? { resourceVersion: config.metadata.resourceVersion } : {};
  return { metadata, webhooks: stale.map((w) => ({ name: w.name, clientConfig: { caBundle: want } })) };
}

/**
 * The CA clients need to trust the source's certificate: the CA it generated, else the serving
 * certificate itself when it is a self-issued CA; undefined when the certificate was issued by a CA
 * we do not hold (cert-manager and the like distribute that CA themselves).
 */
export function servingCa(source: Pick<CertSource, 'caPem' | 'current'>): string | undefined {
  if (source.caPem) return source.caPem;
  const { certPem } = source.current();
  try {
    const cert = new X509Certificate(certPem);
    return cert.ca && cert.checkIssued(cert) && cert.verify(cert.publicKey) ? certPem : undefined;
  } catch {
    return undefined;
  }
}

// ---- the injector ----

export interface CaBundleInjectorOptions {
  client: Client;
  /** Name of the ValidatingWebhookConfiguration to keep up to date. */
  configurationName: string;
  /** The webhook server's certificate source; its CA is what the configuration must trust (see servingCa). */
  certSource: Pick<CertSource, 'caPem' | 'current' | 'onChange'>;
  /** Only these webhooks of the configuration. Default: all of them. */
  webhookNames?: readonly string[];
  log?: Logger;
  /**
   * Default true: only the leader patches, so replicas that (wrongly) each generated their own
   * certificate cannot take turns overwriting each other's CA. Replicas sharing a mounted
   * certificate serve the same CA anyway.
   */
  needLeaderElection?: boolean;
  /** Waits between failed patches. Default 0.8 s .. 30 s, jittered. */
  backoff?: Backoff;
}

export class CaBundleInjector implements Runnable {
  readonly needLeaderElection: boolean;
  readonly #o: CaBundleInjectorOptions;
  readonly #log: Logger;
  #dirty = true;
  #wake: (() => void) | undefined;
  #missingLogged = false;
  #noCaLogged = false;
  #patches = 0;

  constructor(options: CaBundleInjectorOptions) {
    this.#o = options;
    this.needLeaderElection = options.needLeaderElection ?? true;
    this.#log = (options.log ?? silentLogger).child({ component: 'ca-bundle', configuration: options.configurationName });
  }

  /** Patches sent so far (successful or not): lets tests see that a no-op check sends nothing. */
  get patches(): number {
    return this.#patches;
  }

  /** Runs until the signal aborts. Never rejects. */
  async start(signal: AbortSignal): Promise<void> {
    const name = this.#o.configurationName;
    const informer = new Informer(this.#o.client, ValidatingWebhookConfigurations, { fieldSelector: `metadata.name=${name}` }, this.#log);
    informer.addHandler({
      add: () => this.#trigger(),
      update: () => this.#trigger(),
      delete: () => { this.#log.info('the ValidatingWebhookConfiguration was deleted: the webhook is no longer called'); this.#trigger(); },
    });
    const unsubscribe = this.#o.certSource.onChange(() => {
      this.#log.info('serving certificate changed: updating the caBundle');
      this.#trigger();
    });
    const onAbort = () => this.#wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    const backoff = this.#o.backoff ?? new Backoff();
    try {
      informer.start(signal);
      if (!(await informer.waitForSync(signal))) return;
      while (!signal.aborted) {
        if (!this.#dirty) {
          await this.#sleep();
          continue;
        }
        this.#dirty = false;
        const ok = await this.#sync(informer.get(name), signal);
        if (ok) {
          backoff.reset();
        } else if (!signal.aborted) {
          // Retry after a backoff, or earlier when something changes.
          this.#dirty = true;
          await this.#sleep(backoff.next());
        }
      }
    } finally {
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
    }
  }

  #trigger(): void {
    this.#dirty = true;
    this.#wake?.();
  }

  /** Resolves on a trigger, on abort, or after `ms`. */
  #sleep(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => done(), ms);
      const done = () => {
        if (timer) clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
    });
  }

  /** One comparison (and patch when needed). False when it should be retried. */
  async #sync(config: ValidatingWebhookConfiguration | undefined, signal: AbortSignal): Promise<boolean> {
    if (!config) {
      if (!this.#missingLogged) {
        this.#log.info('no ValidatingWebhookConfiguration of this name: the webhook is not registered, so objects are checked by the reconciler only');
        this.#missingLogged = true;
      }
      return true;
    }
    this.#missingLogged = false;
    const ca = servingCa(this.#o.certSource);
    if (!ca) {
      if (!this.#noCaLogged) {
        this.#log.info('the serving certificate was issued by a CA this process does not hold: leaving the caBundle to its issuer (e.g. cert-manager\'s CA injector)');
        this.#noCaLogged = true;
      }
      return true;
    }
    const patch = caBundlePatch(config, ca, this.#o.webhookNames);
    if (!patch) return true;
    const webhooks = (patch.webhooks as { name: string }[]).map((w) => w.name);
    this.#patches++;
    try {
      await this.#o.client.patch(ValidatingWebhookConfigurations, { name: config.metadata.name! }, patch, 'strategic', { signal });
      this.#log.info({ webhooks }, 'caBundle set to the serving CA');
      return true;
    } catch (err) {
      if (signal.aborted) return true;
      // Changed or deleted since the cache saw it: the watch brings the new state and triggers again.
      if (err instanceof ConflictError || err instanceof NotFoundError) {
        this.#log.debug({ err }, 'configuration changed meanwhile; waiting for the newer version');
        return false;
      }
      this.#log.warn({ err, webhooks }, 'could not patch the caBundle; retrying');
      return false;
    }
  }
}

export interface AddCaBundleInjectorOptions {
  configurationName: string;
  certSource: CaBundleInjectorOptions['certSource'];
  webhookNames?: readonly string[];
  needLeaderElection?: boolean;
}

/** Runs a CaBundleInjector in the manager and declares the permissions it needs (for the generated RBAC). */
/** A watch of the one configuration (by field selector) and a strategic-merge patch of its caBundle. */
export function caBundlePermissions(): Permission[] {
  return [permission(ValidatingWebhookConfigurations, ['list', 'watch', 'patch'])];
}

export function addCaBundleInjector(manager: Manager, options: AddCaBundleInjectorOptions): CaBundleInjector {
  manager.declarePermissions(...caBundlePermissions());
  const injector = new CaBundleInjector({ ...options, client: manager.client, log: manager.log });
  manager.add(injector);
  return injector;
}
