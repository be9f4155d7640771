// The manager owns what controllers share (client, cache, metrics registry, logger) and
// runs them: start its servers (metrics, probes, webhook) and the cache, wait for the cache to
// sync, then start the runnables; on abort, stop them and wait, then stop the servers. Leader
// election gates the runnables that need it.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { aborted } from '../abort.ts';
import { Cache } from '../cache/cache.ts';
import { Client } from '../client/client.ts';
import type { RateLimitPolicy } from '../client/ratelimit.ts';
import { ControllerBuilder } from '../controller/builder.ts';
import { LeaderElector, leaderElectionPermissions, type LeaderElectorOptions } from '../leaderelection/leader-election.ts';
import { silentLogger } from '../log.ts';
import type { Permission } from '../rbac.ts';
import { delegatedAuthPermissions } from './auth.ts';
import { startServers, type ServerOptions, type ServingUrls } from './servers.ts';

export type { MetricsServerOptions, ServerOptions, ServingUrls, WebhookServerSettings } from './servers.ts';

export interface Runnable {
  start(signal: AbortSignal): Promise<void>;
  /** Default true: only the leader runs it. */
  readonly needLeaderElection?: boolean;
  /** False while it has work in hand (a controller: queued or running reconciles); absent: never busy. */
  readonly idle?: boolean;
}

/** Decides when leader-only runnables may start; see leader election. */
export interface LeaderGate {
  /** Resolves once this process leads; false if the signal aborted first. */
  acquire(signal: AbortSignal): Promise<boolean>;
  /** Aborted when leadership is lost. */
  readonly lost: AbortSignal;
  /**
   * Gives leadership up (graceful shutdown). The manager calls it once the signal aborted and
   * every leader-only runnable has stopped, so no other replica starts while this one works.
   */
  release?(): Promise<void>;
}

/** Leader election by a Lease (see LeaderElectorOptions for every default). */
export type LeaderElectionOptions = Pick<LeaderElectorOptions,
  'namespace' | 'name' | 'identity' | 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs' | 'userAgent'>;

/**
 * What the manager is built from. Servers (metrics, probes, webhook) and leader election are
 * off unless configured; see ServerOptions.
 */
export interface ManagerOptions extends ServerOptions {
  /** The cluster; the manager builds its client from it. One of kubeConfig and client is required. */
  kubeConfig?: KubeConfig;
  /** Use this client instead of building one (fieldManager, userAgent and rateLimit are then ignored). */
  client?: Client;
  /** Default: silent. */
  log?: Logger;
  /** Where every metric of the manager's parts registers and what /metrics serves. Default: a new Registry. */
  registry?: Registry;
  /** Restrict namespaced informers to one namespace. Default: all namespaces. */
  namespace?: string;
  /** Field manager of the manager's client (ignored with `client`). Default `operator-runtime`. */
  fieldManager?: string;
  /** User agent of the manager's client (ignored with `client`). Default: the field manager. */
  userAgent?: string;
  /** Decides when leader-only runnables start (e.g. a LeaderElector). Default: from `leaderElection`, else none (always lead). */
  leaderGate?: LeaderGate;
  /**
   * Elect a leader by this Lease before starting leader-only runnables; declares the Lease
   * permissions. Needs kubeConfig (the elector has a client of its own). Ignored with leaderGate.
   * Default: no leader election.
   */
  leaderElection?: LeaderElectionOptions | undefined;
  /**
   * Client-side rate limit of the manager's client. Default `'server'`: no client-side bucket once
   * the API server shows it paces requests (Priority and Fairness), 100 qps / burst 200 before that
   * and for servers without it. controller-runtime's fixed 20 qps / burst 30 turns a burst of work
   * (a restart, a thousand new objects) into minutes of waiting on a server that is idle.
   */
  rateLimit?: RateLimitPolicy;
}

export const DEFAULT_RATE_LIMIT: RateLimitPolicy = 'server';

export class Manager {
  readonly client: Client;
  readonly cache: Cache;
  readonly registry: Registry;
  readonly log: Logger;
  readonly #runnables: Runnable[] = [];
  readonly #leaderGate: LeaderGate | undefined;
  readonly #servers: ServerOptions;
  readonly #urls: ServingUrls = {};
  readonly #declared: Permission[] = [];
  #started = false;

  constructor(options: ManagerOptions) {
    this.log = options.log ?? silentLogger;
    this.registry = options.registry ?? new Registry();
    if (options.client) this.client = options.client;
    else if (options.kubeConfig) {
      this.client = new Client(options.kubeConfig, {
        registry: this.registry, fieldManager: options.fieldManager, userAgent: options.userAgent, rateLimit: options.rateLimit ?? DEFAULT_RATE_LIMIT,
      });
    }
    else throw new Error('Manager needs a kubeConfig or a client');
    this.cache = new Cache({ client: this.client, log: this.log, namespace: options.namespace });
    this.#leaderGate = options.leaderGate ?? this.#elector(options);
    this.#servers = { metrics: options.metrics, healthProbeBindAddress: options.healthProbeBindAddress, webhookServer: options.webhookServer };
    if (options.metrics?.secure) this.declarePermissions(...delegatedAuthPermissions());
  }

  #elector(options: ManagerOptions): LeaderGate | undefined {
    const election = options.leaderElection;
    if (!election) return undefined;
    if (!options.kubeConfig) throw new Error('Manager: leaderElection needs kubeConfig');
    this.declarePermissions(...leaderElectionPermissions());
    return new LeaderElector({ ...election, kubeConfig: options.kubeConfig, registry: this.registry, log: this.log.child({ component: 'leader-election' }) });
  }

  /** Where the metrics, probe and webhook servers listen once the manager started (empty before; kept after it stopped). */
  get serving(): Readonly<ServingUrls> {
    return this.#urls;
  }

  controller(name: string): ControllerBuilder {
    return new ControllerBuilder(this, name);
  }

  /** Records permissions the code needs beyond its cache (writes, leases, events...). */
  declarePermissions(...perms: Permission[]): void {
    this.#declared.push(...perms);
  }

  /** Everything this manager's controllers read and write: the source of the generated RBAC. */
  permissions(): Permission[] {
    return [...this.cache.permissions(), ...this.#declared];
  }

  /** No runnable has work in hand (e.g. every controller's queue is empty and nothing reconciles). */
  get idle(): boolean {
    return this.#runnables.every((r) => r.idle !== false);
  }

  add(runnable: Runnable): void {
    if (this.#started) throw new Error('add runnables before starting the manager');
    this.#runnables.push(runnable);
  }

  /**
   * Runs until the signal aborts (or leadership is lost). Resolves when every runnable has
   * stopped; rejects only when leadership was lost, so the caller can exit and restart.
   */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error('manager already started');
    this.#started = true;
    const stopServers = await startServers(this.#servers, { registry: this.registry, client: this.client, log: this.log, ready: () => this.cache.synced }, this.#urls);
    try {
      await this.#run(signal);
    } finally {
      await stopServers();
    }
  }

  async #run(signal: AbortSignal): Promise<void> {
    const started = performance.now();
    this.cache.start(signal);
    this.log.info('waiting for caches to sync');
    if (!(await this.cache.waitForSync(signal))) return;
    this.log.info({ durationMs: Math.round(performance.now() - started) }, 'caches synced');
    const always = this.#runnables.filter((r) => r.needLeaderElection === false);
    const leaderOnly = this.#runnables.filter((r) => r.needLeaderElection !== false);
    const running = always.map((r) => guard(r.start(signal), this.log));
    const gate = this.#leaderGate;
    if (!gate) {
      running.push(...leaderOnly.map((r) => guard(r.start(signal), this.log)));
      await Promise.all(running);
      return;
    }
    if (await gate.acquire(signal)) {
      const leading = AbortSignal.any([signal, gate.lost]);
      const leaders = Promise.all(leaderOnly.map((r) => guard(r.start(leading), this.log)));
      running.push(leaders.then(async () => {
        await aborted(leading);
        if (gate.release) await guard(gate.release(), this.log);
      }));
    }
    await Promise.all(running);
    if (gate.lost.aborted && !signal.aborted) throw new Error('leader election lost');
  }
}

async function guard(run: Promise<void>, log: Logger): Promise<void> {
  try {
    await run;
  } catch (err) {
    log.error({ err }, 'runnable failed');
  }
}
