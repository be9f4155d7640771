// Leader election between managers on a real control plane: one leader at a time, hand-over on
// graceful shutdown, a leader that cannot renew stops before anyone else starts, and a killed
// leader is replaced once its lease expires.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Registry, type Gauge } from 'prom-client';
import { aborted } from '../../src/runtime/abort.ts';
import { Client, type RawRequest } from '../../src/runtime/client/client.ts';
import { LeaderElector, type Lease } from '../../src/runtime/leaderelection/leader-election.ts';
import { Manager } from '../../src/runtime/manager/manager.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { ConfigMaps, Leases, Namespaces } from '../../src/runtime/resource.ts';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { waitFor } from '../support/wait.ts';

const NS = 'default';
const fast = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

/** A client whose requests can be made to hang (until their signal aborts), like a partitioned network. */
class BreakableClient extends Client {
  broken = false;

  override async request<T>(req: RawRequest): Promise<T> {
    if (this.broken) {
      await new Promise<void>((resolve) => {
        if (req.signal?.aborted) resolve();
        req.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
      throw new Error(`${req.verb ?? req.method} ${req.path}: the network is down`);
    }
    return super.request<T>(req);
  }
}

interface Candidate {
  name: string;
  elector: LeaderElector;
  manager: Manager;
  registry: Registry;
  abort: AbortController;
  /** How manager.start() ended: 'resolved' or the rejection's message. */
  done: Promise<string>;
}

let cp: ControlPlane;
let admin: Client;
const children: ChildProcess[] = [];

before(async () => {
  cp = await ControlPlane.start({ controllerManager: false, scheduler: false });
  admin = new Client(cp.kubeConfig());
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await cp?.stop();
});

/**
 * A manager with one leader-only runnable that logs `<name> started` / `<name> stopped` into
 * `events`, gated by an elector for `lease`; the elector's loss is logged as `<name> lost`.
 */
function candidate(name: string, lease: string, events: string[], options: { client?: Client; leaseDurationMs?: number } = {}): Candidate {
  const registry = new Registry();
  const elector = new LeaderElector({
    namespace: NS, name: lease, identity: name, registry, ...fast,
    ...(options.leaseDurationMs ? { leaseDurationMs: options.leaseDurationMs } : {}),
    ...(options.client ? { client: options.client } : { kubeConfig: cp.kubeConfig() }),
  });
  elector.lost.addEventListener('abort', () => events.push(`${name} lost`));
  const manager = new Manager({ kubeConfig: cp.kubeConfig(), registry, leaderGate: elector });
  manager.add({
    async start(signal) {
      events.push(`${name} started`);
      await aborted(signal);
      events.push(`${name} stopped`);
    },
  });
  const abort = new AbortController();
  const done = manager.start(abort.signal).then(() => 'resolved', (err: unknown) => (err as Error).message);
  return { name, elector, manager, registry, abort, done };
}

async function masterStatus(c: Candidate, lease: string): Promise<number | undefined> {
  const gauge = c.registry.getSingleMetric('leader_election_master_status') as Gauge | undefined;
  return (await gauge?.get())?.values.find((v) => v.labels.name === lease)?.value;
}

const getLease = (name: string) => admin.get<Lease>(Leases, { namespace: NS, name });

describe('leader election', () => {
  it('lets exactly one of two managers run its leader-only work, and hands over at once on graceful shutdown', async () => {
    const lease = 'handover';
    const events: string[] = [];
    // A lease far longer than the test's deadline: the other side can only take over this
    // quickly because the leader released the lease.
    const a = candidate('a', lease, events, { leaseDurationMs: 120_000 });
    const b = candidate('b', lease, events, { leaseDurationMs: 120_000 });
    try {
      await waitFor(() => events.some((e) => e.endsWith(' started')), { what: 'a leader' });
      const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];
      await waitFor(() => follower.elector.leader === leader.name, { what: 'the follower to see the leader' });
      const first = (await getLease(lease)).spec?.renewTime;
      await waitFor(async () => {
        const renewed = (await getLease(lease)).spec?.renewTime;
        return renewed !== first && renewed;
      }, { what: 'a renewal' });
      assert.deepEqual(events, [`${leader.name} started`]);
      assert.equal(await masterStatus(leader, lease), 1);
      assert.equal(await masterStatus(follower, lease), 0);

      leader.abort.abort();
      assert.equal(await leader.done, 'resolved');
      await waitFor(() => events.includes(`${follower.name} started`), { what: 'the follower to take over' });
      assert.deepEqual(events, [`${leader.name} started`, `${leader.name} stopped`, `${follower.name} started`]);
      const spec = (await getLease(lease)).spec;
      assert.equal(spec?.holderIdentity, follower.name);
      assert.equal(spec?.leaseTransitions, 1);
      assert.equal(leader.elector.lost.aborted, false);
      assert.equal(await masterStatus(leader, lease), 0);
      assert.equal(await masterStatus(follower, lease), 1);
    } finally {
      a.abort.abort();
      b.abort.abort();
      await Promise.all([a.done, b.done]);
    }
  });

  it('stops a leader that cannot renew before another candidate may take the lease', async () => {
    const lease = 'partition';
    const events: string[] = [];
    const brokenClient = new BreakableClient(cp.kubeConfig(), { maxRetries: 0 });
    const a = candidate('a', lease, events, { client: brokenClient });
    let b: Candidate | undefined;
    try {
      await waitFor(() => events.includes('a started'), { what: 'a to lead' });
      b = candidate('b', lease, events);
      const follower = b;
      await waitFor(() => follower.elector.leader === 'a', { what: 'b to see a leading' });

      brokenClient.broken = true;
      await waitFor(() => events.includes('b started'), { what: 'b to take over' });
      assert.equal(await a.done, 'leader election lost');
      assert.ok(events.indexOf('a lost') >= 0, `events: ${events.join(', ')}`);
      assert.ok(events.indexOf('a lost') < events.indexOf('b started'), `events: ${events.join(', ')}`);
      assert.ok(events.indexOf('a stopped') < events.indexOf('b started'), `events: ${events.join(', ')}`);
      assert.equal((await getLease(lease)).spec?.holderIdentity, 'b');
    } finally {
      a.abort.abort();
      b?.abort.abort();
      await Promise.all([a.done, b?.done]);
    }
  });

  it('takes over from a killed leader once its lease expires and converges the work left pending', async () => {
    const lease = 'killed';
    const ns = 'sigkill';
    await admin.create(Namespaces, { metadata: { name: ns } });
    const events: string[] = [];

    const child = spawnLeader(lease);
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    await waitFor(() => output.includes('LEADING\n') || child.exitCode !== null, { what: 'the child to lead' });
    assert.ok(output.includes('LEADING\n'), `child output:\n${output}`);

    const registry = new Registry();
    const elector = new LeaderElector({ kubeConfig: cp.kubeConfig(), namespace: NS, name: lease, identity: 'survivor', registry, ...fast });
    const manager = new Manager({ kubeConfig: cp.kubeConfig(), registry, namespace: ns, leaderGate: elector });
    manager.add({ start: async () => { events.push('survivor started'); } });
    manager.controller('marker').for(ConfigMaps).complete(async ({ namespace, name }) => {
      const cm = manager.cache.get(ConfigMaps, { namespace, name });
      if (!cm || cm.metadata.annotations?.['processed-by']) return;
      await manager.client.patch(ConfigMaps, { namespace, name }, { metadata: { annotations: { 'processed-by': 'survivor' } } }, 'merge');
    });
    const abort = new AbortController();
    const done = manager.start(abort.signal);
    try {
      await waitFor(() => manager.cache.synced && elector.leader === 'child', { what: 'the survivor to see the child leading' });
      await admin.create(ConfigMaps, { metadata: { name: 'before-kill', namespace: ns } });
      await waitFor(() => manager.cache.get(ConfigMaps, { namespace: ns, name: 'before-kill' }), { what: 'the survivor to cache before-kill' });
      assert.equal(manager.cache.get(ConfigMaps, { namespace: ns, name: 'before-kill' })?.metadata.annotations?.['processed-by'], undefined,
        'a follower does not reconcile');

      child.kill('SIGKILL');
      await once(child, 'exit');
      events.push('child killed');
      await admin.create(ConfigMaps, { metadata: { name: 'after-kill', namespace: ns } });

      for (const name of ['before-kill', 'after-kill']) {
        await waitFor(async () => (await admin.get<KubeObject>(ConfigMaps, { namespace: ns, name })).metadata.annotations?.['processed-by'] === 'survivor',
          { what: `ConfigMap ${name} processed after the take-over` });
      }
      assert.deepEqual(events, ['child killed', 'survivor started']);
      const spec = (await getLease(lease)).spec;
      assert.equal(spec?.holderIdentity, 'survivor');
      assert.equal(spec?.leaseTransitions, 1);
    } finally {
      abort.abort();
      await done;
    }
  });
});

/** A separate Node process running a manager + elector on the same lease; prints LEADING when it leads. */
function spawnLeader(lease: string): ChildProcess {
  const src = (path: string) => JSON.stringify(new URL(`../../src/${path}`, import.meta.url).href);
  const script = `
    import { loadKubeConfig } from ${src('runtime/client/client.ts')};
    import { LeaderElector } from ${src('runtime/leaderelection/leader-election.ts')};
    import { Manager } from ${src('runtime/manager/manager.ts')};
    // Exit with the test process: its end closes our stdin.
    process.stdin.on('close', () => process.exit(0));
    process.stdin.resume();
    const kubeConfig = loadKubeConfig({ kubeconfig: process.env.LE_KUBECONFIG });
    const elector = new LeaderElector({
      kubeConfig, namespace: ${JSON.stringify(NS)}, name: ${JSON.stringify(lease)}, identity: 'child',
      leaseDurationMs: ${fast.leaseDurationMs}, renewDeadlineMs: ${fast.renewDeadlineMs}, retryPeriodMs: ${fast.retryPeriodMs},
    });
    const manager = new Manager({ kubeConfig, leaderGate: elector });
    manager.add({ start: (signal) => { process.stdout.write('LEADING\\n'); return new Promise((resolve) => signal.addEventListener('abort', resolve)); } });
    await manager.start(new AbortController().signal);
  `;
  const child = spawn(new URL('../../node_modules/.bin/node', import.meta.url).pathname, ['--input-type=module', '-e', script], {
    env: { ...process.env, LE_KUBECONFIG: cp.kubeconfigPath },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}
