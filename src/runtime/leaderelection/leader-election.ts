// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics:
//
// - Every candidate reads the Lease each retry period. A lease counts as held while its holder is
//   set and `leaseDurationSeconds` have not passed since *this process* last saw the record
//   change: decisions use the local clock only, never the remote timestamps, so clock skew
//   between replicas does not matter.
// - Writes are updates carrying the resourceVersion that was read: of two candidates racing for
//   an expired lease, one gets 409 Conflict and simply lost that round.
// - The leader renews every retry period. If no renewal has succeeded within the renew deadline
//   (measured from the start of the last successful attempt), leadership is lost: `lost` aborts,
//   so the work stops before any other replica can consider the lease expired (renew deadline <
//   lease duration). Losing is final: the process is expected to exit and start again.
// - release() (graceful shutdown) writes an empty holder and a 1 s duration, so another replica
//   takes over at its next retry instead of waiting for the lease to expire.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { Client, DEFAULT_FIELD_MANAGER } from '../client/client.ts';
import { isAlreadyExists, isConflict } from '../client/errors.ts';
import { silentLogger } from '../log.ts';
import { reuseMetric } from '../metrics.ts';
import { microTime } from '../time.ts';
import type { LeaderGate } from '../manager/manager.ts';
import { permission, type Permission } from '../rbac.ts';
import { Leases } from '../resource.ts';
import { clientLeaseStore, type Lease, type LeaseSpec, type LeaseStore } from './lease-store.ts';

import { defaultIdentity } from './identity.ts';

export { clientLeaseStore, type Lease, type LeaseSpec, type LeaseStore } from './lease-store.ts';
export { SERVICE_ACCOUNT_NAMESPACE_FILE, defaultIdentity, defaultLeaseNamespace } from './identity.ts';

export interface ElectorClock {
  /** Milliseconds on a monotonic scale: observations and deadlines. */
  now(): number;
  /** Wall-clock time written into the lease (renewTime, acquireTime), for people reading it. */
  wallNow(): Date;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

export const realElectorClock: ElectorClock = {
  now: () => performance.now(),
  wallNow: () => new Date(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, Math.ceil(ms)));
    return { cancel: () => clearTimeout(timer) };
  },
};

export interface LeaderElectorOptions {
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease (the election's id); also the `name` label of the metric. */
  name: string;
  /** Default: POD_NAME or the host name, '_', a random UUID (unique per process). */
  identity?: string;
  /** How long others wait, from their last observed change, before taking the lease. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before giving up. Default 10 s; must be < leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Between attempts to acquire (with jitter up to 1.2x) and to renew. Default 2 s. */
  retryPeriodMs?: number;
  /** The client for lease requests. Default: a dedicated client built from kubeConfig. */
  client?: Client;
  kubeConfig?: KubeConfig;
  /** User agent of the dedicated client built from kubeConfig. Default `operator-runtime/leader-election`. */
  userAgent?: string;
  /** Overrides client/kubeConfig (tests). */
  leases?: LeaseStore;
  /** Registers `leader_election_master_status{name}` here. */
  registry?: Registry;
  log?: Logger;
  clock?: ElectorClock;
  /** Source of the acquire jitter, in [0, 1). Default Math.random. */
  random?: () => number;
}

/** What the elector needs RBAC for: reading and writing its Lease. */
export function leaderElectionPermissions(): Permission[] {
  // watch: a standby follows the lease's renewals as they happen (see LeaseStore.watch).
  return [permission(Leases, ['get', 'create', 'update', 'watch'])];
}

const JITTER_FACTOR = 1.2;
/** A standby following the lease's watch still reads it at least every this many retry periods. */
const MAX_FOLLOWING_SLEEP_RETRIES = 4;

/** Lets the lease watch cut the acquire loop's sleep short. */
interface Waker {
  wake: (() => void) | undefined;
}
const METRIC = 'leader_election_master_status';

export { microTime };

function recordKey(spec: LeaseSpec | undefined): string {
  const s = spec ?? {};
  return JSON.stringify([s.holderIdentity ?? '', s.leaseDurationSeconds ?? 0, s.acquireTime ?? '', s.renewTime ?? '', s.leaseTransitions ?? 0]);
}

export class LeaderElector implements LeaderGate {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly #leases: LeaseStore;
  readonly #log: Logger;
  readonly #clock: ElectorClock;
  readonly #random: () => number;
  readonly #gauge: Gauge<'name'> | undefined;
  readonly #lost = new AbortController();
  /** Aborted by release(): ends acquiring and renewing. */
  readonly #stop = new AbortController();

  /** The last lease object read or written (its resourceVersion guards the next write). */
  #lease: Lease | undefined;
  #observedKey: string | undefined;
  /** Local time at which the record was last seen to change. */
  #observedTime = 0;
  #leading = false;
  #acquiring: Promise<boolean> | undefined;
  #renewing: Promise<void> | undefined;
  #deadline: { cancel(): void } | undefined;
  #released: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions) {
    this.namespace = options.namespace;
    this.name = options.name;
    this.identity = options.identity ?? defaultIdentity();
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!this.namespace || !this.name) throw new Error('leader election: the lease namespace and name are required');
    if (!this.identity) throw new Error('leader election: the identity must not be empty');
    if (!(this.retryPeriodMs > 0)) throw new Error('leader election: the retry period must be positive');
    if (!(this.leaseDurationMs > this.renewDeadlineMs)) {
      throw new Error(`leader election: the lease duration (${this.leaseDurationMs} ms) must be greater than the renew deadline (${this.renewDeadlineMs} ms)`);
    }
    if (!(this.renewDeadlineMs > JITTER_FACTOR * this.retryPeriodMs)) {
      throw new Error(`leader election: the renew deadline (${this.renewDeadlineMs} ms) must be greater than ${JITTER_FACTOR} x the retry period (${this.retryPeriodMs} ms)`);
    }
    if (options.leases) this.#leases = options.leases;
    else if (options.client) this.#leases = clientLeaseStore(options.client);
    else if (options.kubeConfig) {
      // A client of its own: a per-request timeout that leaves room for a retry before the
      // deadline, and no waiting out 429s (the next attempt comes soon anyway).
      this.#leases = clientLeaseStore(new Client(options.kubeConfig, {
        maxRetries: 0, requestTimeoutMs: Math.max(this.renewDeadlineMs / 2, 1), userAgent: options.userAgent ?? `${DEFAULT_FIELD_MANAGER}/leader-election`,
        ...(options.registry ? { registry: options.registry } : {}),
      }));
    } else throw new Error('leader election needs a kubeConfig, a client or a lease store');
    this.#log = (options.log ?? silentLogger).child({ lease: `${this.namespace}/${this.name}`, identity: this.identity });
    this.#clock = options.clock ?? realElectorClock;
    this.#random = options.random ?? Math.random;
    if (options.registry) {
      const registry = options.registry;
      this.#gauge = reuseMetric(registry, METRIC, Gauge, () => new Gauge({
        name: METRIC,
        help: 'Whether this process leads the election named by `name`: 1 leading, 0 standing by.',
        labelNames: ['name'],
        registers: [registry],
      }));
      this.#gauge.set({ name: this.name }, 0);
    }
  }

  /** Aborted when leadership is lost (never after a graceful release). */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  isLeader(): boolean {
    return this.#leading;
  }

  /** The holder of the lease as last observed ('' when released or not yet read). */
  get leader(): string {
    return this.#lease?.spec?.holderIdentity ?? '';
  }

  /**
   * Tries to acquire the lease every retry period (with jitter) until it succeeds — then keeps
   * renewing it until release() or loss — or until the signal aborts. After a loss it resolves
   * false at once: a lost elector does not run again.
   */
  acquire(signal: AbortSignal): Promise<boolean> {
    if (this.#leading) return Promise.resolve(true);
    if (this.#lost.signal.aborted || this.#stop.signal.aborted) return Promise.resolve(false);
    const acquiring = this.#acquire(signal);
    this.#acquiring = acquiring;
    return acquiring;
  }

  async #acquire(signal: AbortSignal): Promise<boolean> {
    const until = AbortSignal.any([signal, this.#stop.signal]);
    this.#log.info('attempting to acquire the leader lease');
    const following = new AbortController();
    const wake: Waker = { wake: undefined };
    if (this.#leases.watch) void this.#follow(AbortSignal.any([until, following.signal]), wake);
    try {
      while (!until.aborted) {
        const started = this.#clock.now();
        if (await this.#tryAcquireOrRenew(until)) {
          this.#becomeLeader(started);
          return true;
        }
        await this.#sleep(this.#untilNextAttempt(), until, wake);
      }
      return false;
    } finally {
      following.abort();
    }
  }

  /**
   * The next attempt: a jittered retry period, but never later than the moment the observed lease
   * expires. A standby that follows the lease's watch sees every renewal as it happens, so it
   * sleeps right up to the expiry (bounded, should the watch be broken).
   */
  #untilNextAttempt(): number {
    const retry = this.retryPeriodMs * (1 + this.#random() * JITTER_FACTOR);
    const holder = this.leader;
    if (!holder || holder === this.identity) return retry;
    const validMs = (this.#lease?.spec?.leaseDurationSeconds ?? 0) * 1000 || this.leaseDurationMs;
    const expiresIn = Math.max(0, this.#observedTime + validMs - this.#clock.now()) + 1;
    return this.#leases.watch ? Math.min(expiresIn, MAX_FOLLOWING_SLEEP_RETRIES * retry) : Math.min(expiresIn, retry);
  }

  /** Observes every version of the lease while standing by; a release wakes the acquire loop at once. */
  async #follow(signal: AbortSignal, wake: Waker): Promise<void> {
    try {
      for await (const lease of this.#leases.watch!({ namespace: this.namespace, name: this.name }, signal)) {
        if (signal.aborted) return;
        this.#observe(lease);
        if (!lease.spec?.holderIdentity) wake.wake?.();
      }
    } catch (err) {
      this.#log.debug({ err }, 'lease watch ended; polling on');
    }
  }

  /**
   * Stops renewing and, when still leading, gives the lease up so that another replica takes
   * over at once. Call it only after the work that needed leadership has stopped. Never throws.
   */
  release(): Promise<void> {
    this.#released ??= this.#release();
    return this.#released;
  }

  async #release(): Promise<void> {
    this.#stop.abort();
    await this.#acquiring;
    // An in-flight renewal finishes first, so the release carries the newest resourceVersion.
    await this.#renewing;
    this.#deadline?.cancel();
    if (!this.#leading || this.#lost.signal.aborted) return;
    this.#setLeading(false);
    const lease = this.#lease;
    if (!lease) return;
    const now = microTime(this.#clock.wallNow());
    const timeout = new AbortController();
    const timer = this.#clock.setTimeout(() => timeout.abort(new Error('release timed out')), this.renewDeadlineMs);
    try {
      const released = await this.#leases.update({
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: lease.spec?.leaseTransitions ?? 0 },
      }, timeout.signal);
      this.#observe(released);
      this.#log.info('released the leader lease');
    } catch (err) {
      this.#log.warn({ err }, 'could not release the leader lease; another replica takes over once it expires');
    } finally {
      timer.cancel();
    }
  }

  #becomeLeader(attemptStarted: number): void {
    this.#setLeading(true);
    this.#log.info('acquired the leader lease');
    this.#armDeadline(attemptStarted);
    this.#renewing = this.#renewLoop().catch((err: unknown) => this.#lose(`renewal failed: ${(err as Error).message}`));
  }

  async #renewLoop(): Promise<void> {
    const lost = this.#lost.signal;
    const until = AbortSignal.any([lost, this.#stop.signal]);
    for (;;) {
      await this.#sleep(this.retryPeriodMs, until);
      if (until.aborted) return;
      const started = this.#clock.now();
      // Not aborted by release(): a renewal in flight completes (or hits the deadline).
      const renewed = await this.#tryAcquireOrRenew(lost);
      if (lost.aborted) return;
      if (renewed) {
        this.#armDeadline(started);
        this.#log.debug('renewed the leader lease');
      } else if (this.leader && this.leader !== this.identity) {
        this.#lose(`the lease is now held by ${this.leader}`);
        return;
      }
    }
  }

  /** (Re)starts the renew deadline, counted from the start of the last successful attempt. */
  #armDeadline(attemptStarted: number): void {
    this.#deadline?.cancel();
    const remaining = attemptStarted + this.renewDeadlineMs - this.#clock.now();
    this.#deadline = this.#clock.setTimeout(() => this.#lose(`no successful renewal within the renew deadline (${this.renewDeadlineMs} ms)`), remaining);
  }

  #lose(reason: string): void {
    if (this.#lost.signal.aborted || !this.#leading) return;
    this.#deadline?.cancel();
    this.#setLeading(false);
    this.#log.error({ reason }, 'lost the leader lease');
    this.#lost.abort(new Error(`leader election lost: ${reason}`));
  }

  #setLeading(leading: boolean): void {
    this.#leading = leading;
    this.#gauge?.set({ name: this.name }, leading ? 1 : 0);
  }

  /** Remembers the lease; when its record differs from the last one seen, restarts the local observation time. */
  #observe(lease: Lease): void {
    const key = recordKey(lease.spec);
    const previousHolder = this.leader;
    this.#lease = lease;
    if (key !== this.#observedKey) {
      this.#observedKey = key;
      this.#observedTime = this.#clock.now();
    }
    const holder = this.leader;
    if (holder !== previousHolder && holder && holder !== this.identity) this.#log.info({ leader: holder }, 'new leader observed');
  }

  /** One round, as client-go's tryAcquireOrRenew: true when we hold the lease after it. */
  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const key = { namespace: this.namespace, name: this.name };
    const now = microTime(this.#clock.wallNow());
    const durationSeconds = Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
    try {
      const current = await this.#leases.get(key, signal);
      if (!current) {
        const created = await this.#leases.create({
          metadata: key,
          spec: { holderIdentity: this.identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        }, signal);
        this.#observe(created);
        return true;
      }
      this.#observe(current);
      const spec = current.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const weHold = holder === this.identity;
      const validMs = (spec.leaseDurationSeconds || durationSeconds) * 1000;
      if (holder && !weHold && this.#clock.now() < this.#observedTime + validMs) {
        this.#log.debug({ leader: holder }, 'the lease is held by another candidate and has not expired');
        return false;
      }
      const next: LeaseSpec = {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: now,
        acquireTime: weHold && spec.acquireTime ? spec.acquireTime : now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (weHold ? 0 : 1),
      };
      const updated = await this.#leases.update({ ...current, spec: next }, signal);
      this.#observe(updated);
      return true;
    } catch (err) {
      if (signal.aborted) return false;
      if (isConflict(err) || isAlreadyExists(err)) this.#log.debug('another candidate wrote the lease first');
      else this.#log.warn({ err }, this.#leading ? 'failed to renew the leader lease' : 'failed to acquire the leader lease');
      return false;
    }
  }

  #sleep(ms: number, signal: AbortSignal, waker?: Waker): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const finish = () => {
        timer.cancel();
        signal.removeEventListener('abort', finish);
        if (waker) waker.wake = undefined;
        resolve();
      };
      const timer = this.#clock.setTimeout(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
      if (waker) waker.wake = finish;
    });
  }
}
