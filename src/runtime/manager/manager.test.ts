// The manager's own servers (metrics, probes) and leader election, from its options: served from
// start until the runnables stopped, a taken port fails the start, permissions declared.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { Counter } from 'prom-client';
import { permissionKeys } from '../rbac.ts';
import { Manager, type ManagerOptions } from './manager.ts';

const kubeConfig = new KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
  users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
});

/** Starts a manager (no informers, so it syncs at once) with a runnable; resolves once the runnable runs. */
async function running(options: Omit<ManagerOptions, 'kubeConfig'>) {
  const manager = new Manager({ kubeConfig, ...options });
  const abort = new AbortController();
  let started!: () => void;
  const runnableStarted = new Promise<void>((resolve) => { started = resolve; });
  manager.add({ needLeaderElection: false, start: async (signal) => { started(); await once(signal, 'abort'); } });
  const done = manager.start(abort.signal);
  await Promise.race([runnableStarted, done]);
  return { manager, stop: async () => { abort.abort(); await done; } };
}

describe('Manager servers', () => {
  it('serves metrics and probes from before the runnables start until they stopped', async () => {
    const { manager, stop } = await running({ metrics: { bindAddress: '127.0.0.1:0' }, healthProbeBindAddress: '127.0.0.1:0' });
    new Counter({ name: 'manager_test_total', help: 'a test counter', registers: [manager.registry] }).inc();
    const { metrics, readyz } = manager.serving;
    assert.ok(metrics && readyz, 'both servers report where they listen');
    assert.equal((await fetch(readyz)).status, 200);
    assert.match(await (await fetch(metrics)).text(), /manager_test_total 1/);
    assert.equal(manager.serving.webhook, undefined, 'no webhook server unless configured');
    await stop();
    await assert.rejects(fetch(readyz), 'closed once the manager stopped');
    await assert.rejects(fetch(metrics));
  });

  it('serves nothing by default, or for the address 0', async () => {
    const { manager, stop } = await running({ metrics: { bindAddress: '0' }, healthProbeBindAddress: '0' });
    assert.deepEqual(manager.serving, {});
    await stop();
  });

  it('fails to start when a port is taken, closing the servers it had opened', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as { port: number };
    const manager = new Manager({ kubeConfig, metrics: { bindAddress: '127.0.0.1:0' }, healthProbeBindAddress: `127.0.0.1:${port}` });
    try {
      await assert.rejects(manager.start(new AbortController().signal), { code: 'EADDRINUSE' });
      assert.ok(manager.serving.metrics);
      await assert.rejects(fetch(manager.serving.metrics));
    } finally {
      squatter.close();
    }
  });
});

describe('Manager permissions and leader election', () => {
  it('declares the review permissions for secure metrics and the Lease permissions for leader election', () => {
    const plain = permissionKeys(new Manager({ kubeConfig }).permissions());
    assert.equal(plain.size, 0);
    const keys = permissionKeys(new Manager({
      kubeConfig, metrics: { bindAddress: '0', secure: true }, leaderElection: { namespace: 'ops', name: 'op-lock' },
    }).permissions());
    for (const key of ['create authentication.k8s.io/tokenreviews', 'create authorization.k8s.io/subjectaccessreviews', 'update coordination.k8s.io/leases']) {
      assert.ok(keys.has(key), key);
    }
  });

  it('refuses leader election without a kubeConfig for the elector', () => {
    const { client } = new Manager({ kubeConfig });
    assert.throws(() => new Manager({ client, leaderElection: { namespace: 'ops', name: 'op-lock' } }), /leaderElection needs kubeConfig/);
  });
});
