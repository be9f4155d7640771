// Integration tests of the throwaway control plane. They need the binaries: run
// `node src/testenv/ensure-binaries.ts` first (npm test does).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '../runtime/client/client.ts';
import { GoneError, NotFoundError } from '../runtime/client/errors.ts';
import type { KubeObject } from '../runtime/object.ts';
import { ConfigMaps, Namespaces, Nodes, Pods } from '../runtime/resource.ts';
import { resolveBinaries } from './binaries.ts';
import { ControlPlane, reapLeftovers, TEMP_DIR_PREFIX } from './control-plane.ts';
import { waitFor } from '../../test/support/wait.ts';

const node = process.execPath;
const controlPlaneModule = fileURLToPath(new URL('./control-plane.ts', import.meta.url));

/** `waitFor` with the description first, as these tests read best. */
const waitUntil = <T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> =>
  waitFor(check, { what, timeoutMs, intervalMs: 100 });

/** Pids of live processes whose command line names `dir` (Linux /proc). */
async function processesMentioning(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.replaceAll('\0', ' ').includes(dir)) pids.push(Number(entry));
  }
  return pids;
}

const exists = (path: string) => stat(path).then(() => true, () => false);

/** Resolves with the first event of a configmap watch in `default`, or rejects with its error. */
async function firstEvent(client: Client, resourceVersion: string): Promise<unknown> {
  for await (const event of client.watch(ConfigMaps, { namespace: 'default', resourceVersion, timeoutSeconds: 60 })) return event;
  throw new Error('the watch ended without an event');
}

function configMap(name: string, namespace: string, data: Record<string, string>, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, ...extra }, data };
}

void describe('ControlPlane', () => {
  let cp: ControlPlane;
  let client: Client;
  before(async () => {
    cp = await ControlPlane.start();
    client = new Client(cp.kubeConfig());
  });
  after(async () => {
    await cp?.stop();
  });

  void it('serves the API through the admin kubeconfig: a ConfigMap created through Client reads back', async () => {
    assert.match(cp.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(client.server, cp.server);
    await client.create(ConfigMaps, configMap('hello', 'default', { greeting: 'hi' }));
    const got = await client.get(ConfigMaps, { namespace: 'default', name: 'hello' });
    assert.deepEqual(got.data, { greeting: 'hi' });
  });

  void it('stopApiServer makes requests fail, startApiServer brings the API back with the data intact', async () => {
    await client.create(ConfigMaps, configMap('survivor', 'default', { kept: 'yes' }));
    await cp.stopApiServer();
    await assert.rejects(client.get(ConfigMaps, { namespace: 'default', name: 'survivor' }));
    await cp.startApiServer();
    const got = await client.get(ConfigMaps, { namespace: 'default', name: 'survivor' });
    assert.deepEqual(got.data, { kept: 'yes' });
  });

  void it('after compactEtcd and an API server restart, a watch from an older resourceVersion fails with GoneError', async () => {
    const old = await client.create(ConfigMaps, configMap('before-compaction', 'default', { v: '1' }));
    const revision = await cp.compactEtcd();
    assert.ok(revision > Number(old.metadata.resourceVersion), `compacted to ${revision}`);
    // The watch cache serves its own window until it restarts at the compacted revision.
    await cp.stopApiServer({ graceMs: 0 });
    await cp.startApiServer();
    await assert.rejects(firstEvent(client, old.metadata.resourceVersion!), GoneError);
  });

  void it('runs kube-controller-manager, still after API server restarts: a dependent is garbage-collected once its owner is deleted', async () => {
    await client.create(Namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gc' } });
    const owner = await client.create(ConfigMaps, configMap('owner', 'gc', {}));
    await client.create(ConfigMaps, configMap('dependent', 'gc', {}, {
      ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid! }],
    }));
    await client.delete(ConfigMaps, { namespace: 'gc', name: 'owner' });
    await waitUntil('the dependent to be garbage-collected', async () => {
      try {
        await client.get(ConfigMaps, { namespace: 'gc', name: 'dependent' });
        return false;
      } catch (err) {
        if (err instanceof NotFoundError) return true;
        throw err;
      }
    });
  });

  void it('runs kube-scheduler: a pod is bound to a node', async () => {
    await client.create(Nodes, {
      apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' },
      status: { capacity: { cpu: '4', memory: '8Gi', pods: '110' }, allocatable: { cpu: '4', memory: '8Gi', pods: '110' } },
    });
    await client.create(Pods, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'scheduled', namespace: 'default' },
      spec: {
        containers: [{ name: 'c', image: 'example.com/none:1' }],
        // No kubelet and no node-lifecycle controller: nothing ever clears the not-ready taint.
        tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists' }],
      },
    });
    const nodeName = await waitUntil('the pod to be bound', async () =>
      ((await client.get(Pods, { namespace: 'default', name: 'scheduled' })).spec as { nodeName?: string }).nodeName);
    assert.equal(nodeName, 'node-1');
  });
});

void describe('ControlPlane lifecycle', () => {
  void it('stop() leaves no processes and removes the dir, and is idempotent', async () => {
    const cp = await ControlPlane.start();
    assert.ok(await exists(cp.kubeconfigPath));
    const running = await processesMentioning(cp.dir);
    // etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the watchdog.
    assert.equal(running.length, 5, `processes naming ${cp.dir}: ${running.join(', ')}`);
    await cp.stop();
    await cp.stop();
    assert.deepEqual(await processesMentioning(cp.dir), []);
    assert.equal(await exists(cp.dir), false);
  });

  void it('await using stops the control plane at the end of the scope', async () => {
    let dir: string;
    {
      await using cp = await ControlPlane.start({ controllerManager: false, scheduler: false });
      dir = cp.dir;
      assert.equal((await processesMentioning(dir)).length, 3);
    }
    assert.deepEqual(await processesMentioning(dir), []);
    assert.equal(await exists(dir), false);
  });

  void it('without the watch cache, compactEtcd alone makes a watch from an older resourceVersion fail with GoneError', async () => {
    await using cp = await ControlPlane.start({ controllerManager: false, scheduler: false, watchCache: false });
    const client = new Client(cp.kubeConfig());
    const created = await client.create(ConfigMaps, configMap('latest', 'default', { v: '1' }));
    // Before compaction, a watch from the latest resourceVersion is fine and sees the next change.
    const live = firstEvent(client, created.metadata.resourceVersion!);
    await client.apply(ConfigMaps, configMap('latest', 'default', { v: '2' }));
    assert.equal((await live as { type: string }).type, 'MODIFIED');
    const latest = await client.get(ConfigMaps, { namespace: 'default', name: 'latest' });
    await cp.compactEtcd();
    await assert.rejects(firstEvent(client, latest.metadata.resourceVersion!), GoneError);
  });

  void it('with an audit policy, kube-apiserver logs the requests it selects to auditLogPath', async () => {
    const policy = { apiVersion: 'audit.k8s.io/v1', kind: 'Policy', rules: [{ level: 'Metadata', users: ['admin'], verbs: ['create'] }, { level: 'None' }] };
    await using cp = await ControlPlane.start({ controllerManager: false, scheduler: false, auditPolicy: JSON.stringify(policy) });
    const client = new Client(cp.kubeConfig(), { userAgent: 'audit-test' });
    await client.create(ConfigMaps, configMap('audited', 'default', { v: '1' }));
    await client.get(ConfigMaps, { namespace: 'default', name: 'audited' });
    const events = await waitFor(async () => {
      const lines = (await readFile(cp.auditLogPath!, 'utf8').catch(() => '')).split('\n').filter(Boolean);
      const mine = lines.map((l) => JSON.parse(l) as { userAgent?: string; verb: string; stage: string; objectRef?: { name?: string } })
        .filter((e) => e.userAgent === 'audit-test' && e.stage === 'ResponseComplete');
      return mine.length > 0 && mine;
    }, { what: 'the audited create in the audit log' });
    // The policy selects creates only: the get is not logged.
    assert.deepEqual(events.map((e) => [e.verb, e.objectRef?.name]), [['create', 'audited']]);
  });

  void it('a start failure names the missing binaries, or the failing process with the tail of its log', async () => {
    const real = await resolveBinaries();
    const binDir = await mkdtemp(join(tmpdir(), 'fake-bin-'));
    try {
      await symlink(join(real, 'etcd'), join(binDir, 'etcd'));
      await writeFile(join(binDir, 'kube-apiserver'), '#!/bin/sh\necho "flag provided but not defined: --boom" >&2\nexit 1\n');
      await chmod(join(binDir, 'kube-apiserver'), 0o755);
      const before = new Set(await readdir(tmpdir()));
      await assert.rejects(ControlPlane.start({ binDir }), /has no executable kube-controller-manager, kube-scheduler/);
      await assert.rejects(ControlPlane.start({ binDir, controllerManager: false, scheduler: false }), (err: Error) =>
        /kube-apiserver exited/.test(err.message) && /flag provided but not defined: --boom/.test(err.message));
      // Only this process's dirs: another process on the machine may be starting a control plane too.
      const ours = async (entry: string) => {
        const state = await readFile(join(tmpdir(), entry, 'testenv.json'), 'utf8').catch(() => undefined);
        return state !== undefined && (JSON.parse(state) as { ownerPid?: number }).ownerPid === process.pid;
      };
      const fresh = (await readdir(tmpdir())).filter((e) => e.startsWith(TEMP_DIR_PREFIX) && !before.has(e));
      const leftovers = [];
      for (const entry of fresh) if (await ours(entry)) leftovers.push(entry);
      assert.deepEqual(leftovers, [], 'a failed start removes its dir');
    } finally {
      await rm(binDir, { recursive: true, force: true });
    }
  });

  void it('reaps the leftovers of an interrupted run: kills its recorded processes and removes its dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), TEMP_DIR_PREFIX));
    const orphan = spawn('sh', ['-c', 'while :; do sleep 1; done', dir], { stdio: 'ignore' });
    const exited = new Promise((resolve) => orphan.once('exit', (_code, signal) => resolve(signal)));
    const dead = spawn('true');
    const deadPid = await new Promise<number>((resolve) => dead.once('exit', () => resolve(dead.pid!)));
    await writeFile(join(dir, 'testenv.json'), JSON.stringify({ ownerPid: deadPid, pids: [orphan.pid] }));
    const lines: string[] = [];
    assert.ok(await reapLeftovers((l) => lines.push(l)) >= 1);
    assert.equal(await exited, 'SIGKILL');
    assert.equal(await exists(dir), false);
    assert.ok(lines.some((l) => l.includes(dir)), lines.join('\n'));
  });

  void it('leaves a live owner’s control plane alone when reaping', async () => {
    const dir = await mkdtemp(join(tmpdir(), TEMP_DIR_PREFIX));
    try {
      await writeFile(join(dir, 'testenv.json'), JSON.stringify({ ownerPid: process.pid, pids: [] }));
      await reapLeftovers();
      assert.equal(await exists(dir), true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

});

// A separate Node process owns a control plane and ends in different ways (concurrently: they
// wait on other processes, and this also checks that control planes do not collide).
void describe('ControlPlane cleanup when its owner ends', { concurrency: true }, () => {
  for (const [how, signal, keepAlive] of [
    ['is terminated by SIGTERM', 'SIGTERM', true],
    ['is interrupted by SIGINT', 'SIGINT', true],
    ['is killed by SIGKILL (the watchdog cleans up)', 'SIGKILL', true],
    ['exits without calling stop()', undefined, false],
  ] as const) {
    void it(`leaves no processes and no dir when the owning process ${how}`, async () => {
      const binDir = await resolveBinaries();
      const script = `
        import { ControlPlane } from ${JSON.stringify(controlPlaneModule)};
        const cp = await ControlPlane.start({ controllerManager: false, scheduler: false, binDir: ${JSON.stringify(binDir)} });
        process.stdout.write(JSON.stringify({ dir: cp.dir }) + '\\n');
        ${keepAlive ? 'setInterval(() => {}, 1000);' : ''}
      `;
      const child = spawn(node, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exit = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, sig) => resolve(sig ?? code)));
      let out = '';
      child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
      const { dir } = await waitUntil('the child to start a control plane', async () =>
        out.includes('\n') ? JSON.parse(out.slice(0, out.indexOf('\n'))) as { dir: string } : undefined);
      if (keepAlive) assert.equal((await processesMentioning(dir)).length, 3);
      if (signal) child.kill(signal);
      assert.equal(await exit, signal ?? 0);
      await waitUntil('no process to name the dir', async () => (await processesMentioning(dir)).length === 0, 20_000);
      await waitUntil('the dir to be removed', async () => !(await exists(dir)), 20_000);
    });
  }
});
