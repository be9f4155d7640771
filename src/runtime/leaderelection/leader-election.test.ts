import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Registry, type Gauge } from 'prom-client';
import { AlreadyExistsError, ConflictError, ServerError } from '../client/errors.ts';
import { defaultLeaseNamespace, LeaderElector, leaderElectionPermissions, microTime, type Lease, type LeaseStore } from './leader-election.ts';
import { FakeClock, settle } from '../testing/fake-clock.ts';

const EPOCH = Date.parse('2024-05-01T12:00:00Z');

const PATH = '/apis/coordination.k8s.io/v1/namespaces/ns/leases/lock';

/** One Lease in memory, with resourceVersions, conflicts, and switchable failures. */
class FakeLeases implements LeaseStore {
  lease: Lease | undefined;
  #rv = 0;
  /** When set, every call fails with it. */
  failure: Error | undefined;
  /** When true, every call waits until its signal aborts. */
  hang = false;
  /** Signals of calls that were held by `hang` and then aborted. */
  abortedCalls = 0;
  /** Runs between an update's arrival and its resourceVersion check (a competing writer). */
  beforeUpdate: (() => void) | undefined;
  updates = 0;

  async #enter(signal: AbortSignal): Promise<void> {
    if (this.hang) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      this.abortedCalls++;
      throw signal.reason as Error;
    }
    if (this.failure) throw this.failure;
  }

  async get(_key: unknown, signal: AbortSignal): Promise<Lease | undefined> {
    await this.#enter(signal);
    return this.lease && structuredClone(this.lease);
  }

  async create(lease: Lease, signal: AbortSignal): Promise<Lease> {
    await this.#enter(signal);
    if (this.lease) throw new AlreadyExistsError(409, { reason: 'AlreadyExists' }, 'CREATE', PATH);
    this.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.#rv) } };
    return structuredClone(this.lease);
  }

  async update(lease: Lease, signal: AbortSignal): Promise<Lease> {
    await this.#enter(signal);
    this.beforeUpdate?.();
    if (!this.lease || lease.metadata.resourceVersion !== this.lease.metadata.resourceVersion) {
      throw new ConflictError(409, { reason: 'Conflict' }, 'UPDATE', PATH);
    }
    this.updates++;
    this.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.#rv) } };
    return structuredClone(this.lease);
  }

  /** Another writer sets the spec (a bumped resourceVersion, as the API server does). */
  write(spec: Lease['spec']): void {
    this.lease = { metadata: { name: 'lock', namespace: 'ns', resourceVersion: String(++this.#rv) }, spec };
  }
}

/** FakeLeases whose writes by another writer are also streamed to watchers, as the API server's watch does. */
class WatchedLeases extends FakeLeases {
  readonly #watchers = new Set<(lease: Lease) => void>();

  override write(spec: Lease['spec']): void {
    super.write(spec);
    for (const push of this.#watchers) push(structuredClone(this.lease!));
  }

  async *watch(_key: unknown, signal: AbortSignal): AsyncGenerator<Lease> {
    const queue: Lease[] = [];
    let notify: (() => void) | undefined;
    const push = (lease: Lease) => { queue.push(lease); notify?.(); };
    this.#watchers.add(push);
    try {
      while (!signal.aborted) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => { notify = resolve; signal.addEventListener('abort', () => resolve(), { once: true }); });
        notify = undefined;
      }
    } finally {
      this.#watchers.delete(push);
    }
  }
}

const timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

function elector(identity: string, leases: LeaseStore, clock: FakeClock, registry?: Registry): LeaderElector {
  return new LeaderElector({
    namespace: 'ns', name: 'lock', identity, leases, clock, random: () => 0, ...timing,
    ...(registry ? { registry } : {}),
  });
}

async function masterStatus(registry: Registry): Promise<number | undefined> {
  const gauge = registry.getSingleMetric('leader_election_master_status') as Gauge | undefined;
  return (await gauge?.get())?.values.find((v) => v.labels.name === 'lock')?.value;
}

/** Starts acquire() and reports whether it has resolved yet. */
function track(promise: Promise<boolean>): { done: boolean; result: boolean | undefined } {
  const state = { done: false, result: undefined as boolean | undefined };
  void promise.then((r) => { state.done = true; state.result = r; });
  return state;
}

describe('LeaderElector', () => {
  it('creates a missing lease and leads at once', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new FakeLeases();
    const registry = new Registry();
    const a = elector('a', leases, clock, registry);
    assert.equal(await masterStatus(registry), 0);

    assert.equal(await a.acquire(new AbortController().signal), true);
    assert.equal(a.isLeader(), true);
    assert.equal(await masterStatus(registry), 1);
    const spec = leases.lease?.spec;
    assert.equal(spec?.holderIdentity, 'a');
    assert.equal(spec?.leaseDurationSeconds, 3);
    assert.equal(spec?.leaseTransitions, 0);
    assert.equal(spec?.acquireTime, microTime(new Date(EPOCH)));
    assert.equal(spec?.renewTime, spec?.acquireTime);
    await a.release();
  });

  it('writes MicroTime timestamps with microseconds', () => {
    assert.equal(microTime(new Date('2024-05-01T12:00:00.123Z')), '2024-05-01T12:00:00.123000Z');
  });

  it('renews every retry period and keeps the acquire time', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new FakeLeases();
    const a = elector('a', leases, clock);
    await a.acquire(new AbortController().signal);
    const acquired = leases.lease?.spec?.acquireTime;

    await clock.advanceSettling(500);
    assert.equal(leases.updates, 1);
    assert.equal(leases.lease?.spec?.renewTime, microTime(new Date(EPOCH + 500)));
    await clock.advanceSettling(500);
    assert.equal(leases.updates, 2);
    assert.equal(leases.lease?.spec?.acquireTime, acquired);
    assert.equal(leases.lease?.spec?.leaseTransitions, 0);
    await a.release();
  });

  it('does not take a lease another candidate keeps renewing', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new FakeLeases();
    const a = elector('a', leases, clock);
    const b = elector('b', leases, clock);
    await a.acquire(new AbortController().signal);
    const abortB = new AbortController();
    const bAcquire = track(b.acquire(abortB.signal));

    await clock.advanceSettling(10 * timing.leaseDurationMs);
    assert.equal(bAcquire.done, false);
    assert.equal(b.isLeader(), false);
    assert.equal(b.leader, 'a');
    assert.equal(leases.lease?.spec?.holderIdentity, 'a');

    abortB.abort();
    await settle();
    assert.deepEqual(bAcquire, { done: true, result: false });
    await a.release();
  });

  it('counts expiry from its own observation of the last change, not from the remote renewTime', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new FakeLeases();
    // Written by a holder whose clock is far behind: by the timestamps it expired long ago.
    leases.write({ holderIdentity: 'ghost', leaseDurationSeconds: 3, renewTime: '2000-01-01T00:00:00.000000Z', leaseTransitions: 4 });
    const b = elector('b', leases, clock);
    const bAcquire = track(b.acquire(new AbortController().signal));
    await settle();
    assert.equal(bAcquire.done, false, 'a lease seen for the first time counts as freshly renewed');

    await clock.advanceSettling(2500);
    assert.equal(bAcquire.done, false);
    // The holder renews: the record changed, so the lease duration starts again from now.
    leases.write({ holderIdentity: 'ghost', leaseDurationSeconds: 3, renewTime: '2000-01-01T00:00:02.000000Z', leaseTransitions: 4 });
    await clock.advanceSettling(1000);
    assert.equal(bAcquire.done, false, 'a renewal observed at 3000 ms keeps the lease until 6000 ms');
    await clock.advanceSettling(2000);
    assert.equal(bAcquire.done, false);
    await clock.advanceSettling(1000);
    assert.deepEqual(bAcquire, { done: true, result: true });
    assert.equal(leases.lease?.spec?.holderIdentity, 'b');
    assert.equal(leases.lease?.spec?.leaseTransitions, 5);
    await b.release();
  });

  it('uses the lease duration written in the lease', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new FakeLeases();
    leases.write({ holderIdentity: 'ghost', leaseDurationSeconds: 1, leaseTransitions: 0 });
    const b = elector('b', leases, clock);
    const bAcquire = track(b.acquire(new AbortController().signal));
    await clock.advanceSettling(500);
    assert.equal(bAcquire.done, false);
    await clock.advanceSettling(500);
    assert.deepEqual(bAcquire, { done: true, result: true });
    await b.release();
  });

  it('loses a round to a competing writer (409) without taking the lease', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new FakeLeases();
    leases.write({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2 });
    let raced = false;
    leases.beforeUpdate = () => {
      if (raced) return;
      raced = true;
      leases.write({ holderIdentity: 'c', leaseDurationSeconds: 3, leaseTransitions: 3 });
    };
    const b = elector('b', leases, clock);
    const abortB = new AbortController();
    const bAcquire = track(b.acquire(abortB.signal));
    await settle();
    assert.equal(raced, true);
    assert.equal(bAcquire.done, false);
    assert.equal(leases.lease?.spec?.holderIdentity, 'c');

    await clock.advanceSettling(500);
    assert.equal(b.leader, 'c', 'the next round sees the winner');
    assert.equal(bAcquire.done, false);
    abortB.abort();
  });

  it('loses leadership when no renewal succeeds within the renew deadline, before the lease expires for others', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new FakeLeases();
    const registry = new Registry();
    const a = elector('a', leases, clock, registry);
    await a.acquire(new AbortController().signal);
    await clock.advanceSettling(500); // a renewal whose attempt started at 500 ms succeeds
    assert.equal(leases.updates, 1);
    leases.failure = new ServerError(500, { message: 'etcd is gone' }, 'GET', PATH);

    // Others saw that renewal no earlier than 500 ms, so they may take over from 3500 ms.
    await clock.advanceSettling(500 + timing.renewDeadlineMs - 1 - 500);
    assert.equal(a.lost.aborted, false);
    assert.equal(a.isLeader(), true);
    await clock.advanceSettling(1);
    assert.equal(a.lost.aborted, true);
    assert.equal(clock.now(), 500 + timing.renewDeadlineMs);
    assert.ok(clock.now() < 500 + timing.leaseDurationMs);
    assert.match((a.lost.reason as Error).message, /leader election lost/);
    assert.equal(a.isLeader(), false);
    assert.equal(await masterStatus(registry), 0);

    // Lost is final, and a lost elector does not release.
    leases.failure = undefined;
    assert.equal(await a.acquire(new AbortController().signal), false);
    await a.release();
    assert.equal(leases.lease?.spec?.holderIdentity, 'a');
  });

  it('loses leadership at the deadline even while a renewal hangs, and aborts that request', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new FakeLeases();
    const a = elector('a', leases, clock);
    await a.acquire(new AbortController().signal);
    leases.hang = true;

    await clock.advanceSettling(timing.renewDeadlineMs - 1);
    assert.equal(a.lost.aborted, false);
    await clock.advanceSettling(1);
    assert.equal(a.lost.aborted, true);
    assert.equal(leases.abortedCalls, 1);
  });

  it('loses leadership at once when it sees another holder', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new FakeLeases();
    const a = elector('a', leases, clock);
    await a.acquire(new AbortController().signal);
    leases.write({ holderIdentity: 'usurper', leaseDurationSeconds: 3, leaseTransitions: 1 });

    await clock.advanceSettling(500);
    assert.equal(a.lost.aborted, true);
    assert.equal(a.leader, 'usurper');
    assert.equal(leases.lease?.spec?.holderIdentity, 'usurper');
  });

  it('releases on request so that another candidate takes over without waiting for expiry', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new FakeLeases();
    const registry = new Registry();
    const a = elector('a', leases, clock, registry);
    const b = elector('b', leases, clock);
    await a.acquire(new AbortController().signal);
    const bAcquire = track(b.acquire(new AbortController().signal));
    await clock.advanceSettling(1000);
    assert.equal(bAcquire.done, false);

    await a.release();
    assert.equal(a.lost.aborted, false, 'a graceful release is not a loss');
    assert.equal(a.isLeader(), false);
    assert.equal(await masterStatus(registry), 0);
    assert.equal(leases.lease?.spec?.holderIdentity, '');
    assert.equal(leases.lease?.spec?.leaseDurationSeconds, 1);
    assert.equal(leases.lease?.spec?.leaseTransitions, 0);

    await clock.advanceSettling(timing.retryPeriodMs);
    assert.deepEqual(bAcquire, { done: true, result: true });
    assert.equal(leases.lease?.spec?.holderIdentity, 'b');
    assert.equal(leases.lease?.spec?.leaseTransitions, 1);

    // The released elector renews no more (a renewal would now see b and report a loss).
    await clock.advanceSettling(5 * timing.retryPeriodMs);
    assert.equal(leases.lease?.spec?.holderIdentity, 'b');
    assert.equal(a.lost.aborted, false);
    await b.release();
  });

  it('keeps renewing after the acquire signal aborts, until release', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new FakeLeases();
    const a = elector('a', leases, clock);
    const abort = new AbortController();
    await a.acquire(abort.signal);
    abort.abort();
    await clock.advanceSettling(2 * timing.leaseDurationMs);
    assert.equal(a.lost.aborted, false);
    assert.equal(a.isLeader(), true);
    assert.equal(leases.lease?.spec?.holderIdentity, 'a');
    await a.release();
    assert.equal(leases.lease?.spec?.holderIdentity, '');
  });

  it('refuses timings where the renew deadline does not end before the lease', () => {
    const leases = new FakeLeases();
    assert.throws(() => new LeaderElector({ namespace: 'ns', name: 'lock', leases, leaseDurationMs: 2000, renewDeadlineMs: 2000, retryPeriodMs: 500 }),
      /must be greater than the renew deadline/);
    assert.throws(() => new LeaderElector({ namespace: 'ns', name: 'lock', leases, leaseDurationMs: 3000, renewDeadlineMs: 1000, retryPeriodMs: 1000 }),
      /x the retry period/);
  });

  it('names itself after the pod and adds a random suffix', () => {
    const previous = process.env.POD_NAME;
    process.env.POD_NAME = 'operator-7d9f';
    try {
      const leases = new FakeLeases();
      const one = new LeaderElector({ namespace: 'ns', name: 'lock', leases });
      const two = new LeaderElector({ namespace: 'ns', name: 'lock', leases });
      assert.match(one.identity, /^operator-7d9f_[0-9a-f-]{36}$/);
      assert.notEqual(one.identity, two.identity);
    } finally {
      if (previous === undefined) delete process.env.POD_NAME;
      else process.env.POD_NAME = previous;
    }
  });

  it('puts the lease in the pod namespace, else the service account namespace, else default', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'le-ns-'));
    try {
      const file = join(dir, 'namespace');
      await writeFile(file, 'operators\n');
      assert.equal(defaultLeaseNamespace({ POD_NAMESPACE: 'from-env' }, file), 'from-env');
      assert.equal(defaultLeaseNamespace({}, file), 'operators');
      assert.equal(defaultLeaseNamespace({}, join(dir, 'missing')), 'default');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes an abandoned lease right when it expires when it follows the lease watch, not at its next retry', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new WatchedLeases();
    leases.write({ holderIdentity: 'gone', leaseDurationSeconds: 3, renewTime: microTime(new Date(EPOCH)) });
    const b = elector('b', leases, clock);
    const state = track(b.acquire(new AbortController().signal));
    await clock.advanceSettling(1234);
    // The last renewal of the leader, which then dies: seen through the watch as it happens.
    leases.write({ holderIdentity: 'gone', leaseDurationSeconds: 3, renewTime: microTime(clock.wallNow()) });
    await clock.advanceSettling(3000);
    assert.equal(state.done, false, 'not before the lease expired');
    await clock.advanceSettling(10);
    assert.equal(state.result, true, 'within milliseconds of 1234 + 3000 ms; polling alone would have seen the renewal only at 1500');
    assert.equal(leases.lease?.spec?.holderIdentity, 'b');
    await b.release();
  });

  it('wakes up at once when the watch shows the lease released', async () => {
    const clock = new FakeClock(EPOCH);
    const leases = new WatchedLeases();
    leases.write({ holderIdentity: 'other', leaseDurationSeconds: 3, renewTime: microTime(new Date(EPOCH)) });
    const b = elector('b', leases, clock);
    const state = track(b.acquire(new AbortController().signal));
    await clock.advanceSettling(100);
    leases.write({ holderIdentity: '', leaseDurationSeconds: 1 });
    await settle();
    assert.equal(state.result, true, 'no waiting for the retry period');
    await b.release();
  });

  it('needs get, create, update and watch on leases', () => {
    assert.deepEqual(leaderElectionPermissions(), [{ group: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'update', 'watch'] }]);
  });
});
