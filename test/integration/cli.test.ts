// The CLI as users and pods run it: a separate process, real flags, real signals.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { moduleCrd } from '../../src/kmm/crd.ts';
import { Modules } from '../../src/kmm/resource.ts';
import { ptemplateCrd } from '../../src/ptemplate/api/crd.ts';
import { Ptemplates, type Ptemplate } from '../../src/ptemplate/api/schema.ts';
import { DEFAULT_NAMESPACE } from '../../src/ptemplate/manifests.ts';
import { Client } from '../../src/runtime/client/client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { CustomResourceDefinitions, Namespaces } from '../../src/runtime/resource.ts';
import { generateSelfSigned } from '../../src/runtime/tls/selfsigned.ts';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { operatorIdentity } from '../support/service-account.ts';
import { waitFor } from '../support/wait.ts';

const root = new URL('../../', import.meta.url).pathname;
const node = join(root, 'node_modules/.bin/node');
const bin = join(root, 'bin/ptemplate-operator.js');
/** The memory settings the bin adds (bin/node-settings.json). */
const settings = JSON.parse(readFileSync(join(root, 'bin/node-settings.json'), 'utf8')) as { flags: string[]; glibc: Record<string, string> };

let cp: ControlPlane;
let admin: Client;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether bin/ would run the sources rather than the bundle (its rule: a file under src/, tests aside, newer than dist/). */
function bundleIsStale(): boolean {
  const bundle = join(root, 'dist/ptemplate-operator.js');
  if (!existsSync(bundle)) return true;
  const built = statSync(bundle).mtimeMs;
  return readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })
    .some((e) => e.isFile() && !e.name.endsWith('.test.ts') && statSync(join(e.parentPath, e.name)).mtimeMs > built);
}

interface Running { child: ChildProcess; output: () => string; exit: Promise<number | null> }

function start(args: string[], env: NodeJS.ProcessEnv = {}, command = node, prefix: string[] = []): Running {
  const child = spawn(command, [...prefix, bin, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}

/** SIGTERM, and the process must exit 0 (its output tells why not). */
async function terminate(run: Running): Promise<void> {
  run.child.kill('SIGTERM');
  assert.equal(await run.exit, 0, run.output());
}

async function readyz(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
  } catch {
    return false;
  }
}

before(async () => {
  cp = await ControlPlane.start({ scheduler: false });
  admin = new Client(cp.kubeConfig());
  await admin.create(CustomResourceDefinitions, ptemplateCrd());
  await admin.create(CustomResourceDefinitions, moduleCrd());
  await waitFor(async () => (await admin.list(Ptemplates)).items && (await admin.list(Modules)).items, { what: 'CRDs served' });
});
after(async () => { await cp?.stop(); });

async function createPtemplate(namespace: string): Promise<void> {
  await admin.create(Namespaces, { metadata: { name: namespace } });
  await admin.create(Ptemplates, { metadata: { name: 'pt', namespace }, spec: { selector: { a: 'b' } } } as unknown as Ptemplate);
}

describe('ptemplate-operator CLI', () => {
  it('prints the install manifests as YAML', () => {
    const result = spawnSync(node, [bin, 'manifests'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const kinds = parseAllDocuments(result.stdout).map((d) => (d.toJS() as KubeObject).kind);
    for (const kind of ['Namespace', 'CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Deployment']) {
      assert.ok(kinds.includes(kind), `${kind} in the output`);
    }
  });

  it('refuses a bad flag value naming the flag', () => {
    const result = spawnSync(node, [bin, 'run', '--max-concurrent-reconciles', 'many'], { encoding: 'utf8' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--max-concurrent-reconciles/);
    for (const [args, flag] of [[['--kube-api-qps', 'fast'], '--kube-api-qps'], [['--kube-api-qps', '5', '--kube-api-burst', '0'], '--kube-api-burst'], [['--kube-api-burst', '5'], '--kube-api-burst needs']] as const) {
      const bad = spawnSync(node, [bin, 'run', ...args], { encoding: 'utf8' });
      assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, new RegExp(flag));
    }
  });

  it('runs against a kubeconfig, becomes ready, reconciles, and exits 0 on SIGTERM', async () => {
    const probe = await freePort();
    const run = start(['run', '--kubeconfig', cp.kubeconfigPath, '--health-probe-bind-address', `127.0.0.1:${probe}`, '--metrics-bind-address', '0', '--webhook-bind-address', '0']);
    try {
      await waitFor(() => readyz(probe), { what: `/readyz; output so far:\n${run.output()}` });
      // The bin re-executes itself with its V8 flags in the same process: the PID we started now runs them.
      const cmdline = readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8').split('\0');
      // Every setting of bin/node-settings.json reaches the process; the ones the README's figures rest on, by name.
      for (const flag of settings.flags) assert.ok(cmdline.includes(flag), `${flag} in ${cmdline.join(' ')}`);
      assert.ok(cmdline.some((a) => a.startsWith('--max-semi-space-size=')), `young generation capped: ${cmdline.join(' ')}`);
      assert.ok(cmdline.includes('--max-opt=1'), `optimising JIT tiers off: ${cmdline.join(' ')}`);
      assert.ok(cmdline.includes('--bytecode-old-age=1') && cmdline.includes('--flush-baseline-code'), `unused code flushed: ${cmdline.join(' ')}`);
      const env = readFileSync(`/proc/${run.child.pid}/environ`, 'utf8').split('\0');
      const glibc = Object.entries(settings.glibc).map(([name, value]) => `${name}=${value}`);
      for (const setting of glibc) assert.ok(env.includes(setting), `${setting} in ${env.filter((e) => e.startsWith('MALLOC_')).join(' ')}`);
      assert.ok(env.includes('MALLOC_MMAP_THRESHOLD_=32768') && env.includes('MALLOC_ARENA_MAX=2'), `glibc settings: ${glibc.join(' ')}`);
      await createPtemplate('cli');
      await waitFor(async () => admin.get(Modules, { namespace: 'cli', name: 'pt' }).catch(() => undefined), { what: 'Module created by the CLI' });
      await terminate(run);
      const lines = run.output().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: string });
      assert.ok(lines.some((l) => l.msg === 'stopped'), 'logs its stop, as JSON when not on a terminal');
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('does not load fs/promises (and the readline and streams it brings) unless a certificate file needs it', async (t) => {
    // Each built-in loaded costs every pod memory (their code, and what they load in turn). A preload
    // writes the process's list of loaded built-ins when it exits; it runs in the re-executed process too.
    // The bundle's figure (what the image runs): the bin runs the sources when one is newer.
    if (bundleIsStale()) return t.skip('dist/ is older than src/: `npm run build` first');
    const dir = await mkdtemp(join(tmpdir(), 'ptemplate-cli-modules-'));
    try {
      const preload = join(dir, 'modules.cjs');
      const list = join(dir, 'modules.txt');
      await writeFile(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
      const probe = await freePort();
      const run = start(['run', '--kubeconfig', cp.kubeconfigPath, '--health-probe-bind-address', `127.0.0.1:${probe}`, '--metrics-bind-address', '0', '--webhook-bind-address', '0'], {}, node, [`--require=${preload}`]);
      try {
        await waitFor(() => readyz(probe), { what: `/readyz; output so far:\n${run.output()}` });
        await terminate(run);
      } finally {
        run.child.kill('SIGKILL');
      }
      const loaded = new Set((await readFile(list, 'utf8')).split('\n').map((m) => m.replace(/^NativeModule /, '')));
      assert.ok(loaded.has('https'), 'the list is the operator\'s own');
      for (const name of ['fs/promises', 'internal/fs/streams', 'internal/readline/interface']) assert.ok(!loaded.has(name), `${name} not loaded`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serves secure metrics with the certificate of --metrics-cert-dir (read through fs/promises, loaded on first use)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ptemplate-cli-certs-'));
    try {
      const cert = generateSelfSigned({ commonName: 'metrics', ipAddresses: ['127.0.0.1'] });
      await writeFile(join(dir, 'tls.crt'), cert.certPem);
      await writeFile(join(dir, 'tls.key'), cert.keyPem);
      const [probe, metrics] = [await freePort(), await freePort()];
      const run = start(['run', '--kubeconfig', cp.kubeconfigPath, '--health-probe-bind-address', `127.0.0.1:${probe}`,
        '--metrics-bind-address', `127.0.0.1:${metrics}`, '--metrics-secure', '--metrics-cert-dir', dir, '--webhook-bind-address', '0']);
      try {
        await waitFor(() => readyz(probe), { what: `/readyz; output so far:\n${run.output()}` });
        // Trusting only our CA: the handshake succeeds only with the certificate from the directory.
        const served = await new Promise<string>((resolve, reject) => {
          const socket = tlsConnect({ host: '127.0.0.1', port: metrics, ca: cert.caPem }, () => {
            resolve(socket.getPeerX509Certificate()!.fingerprint256);
            socket.end();
          }).on('error', reject);
        });
        assert.equal(served, new X509Certificate(cert.certPem).fingerprint256);
        await terminate(run);
      } finally {
        run.child.kill('SIGKILL');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('adds only the V8 flags the command line does not set: a flag of the user\'s own stays', async () => {
    const probe = await freePort();
    const run = start(['run', '--kubeconfig', cp.kubeconfigPath, '--health-probe-bind-address', `127.0.0.1:${probe}`, '--metrics-bind-address', '0', '--webhook-bind-address', '0'], {}, node, ['--max-opt=999', '--no-flush-baseline-code']);
    try {
      await waitFor(() => readyz(probe), { what: `/readyz; output so far:\n${run.output()}` });
      const cmdline = readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8').split('\0');
      assert.ok(cmdline.includes('--max-opt=999') && !cmdline.includes('--max-opt=1'), `the user's tier kept: ${cmdline.join(' ')}`);
      assert.ok(!cmdline.includes('--flush-baseline-code'), `the user's --no- form kept: ${cmdline.join(' ')}`);
      assert.ok(cmdline.some((a) => a.startsWith('--max-semi-space-size=')), `the missing flag added: ${cmdline.join(' ')}`);
      await terminate(run);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('reaches the API server through the kubeconfig\'s proxy-url (proxy support the bundle loads on first use)', async () => {
    // An HTTP CONNECT proxy that records where it tunnels to.
    const tunnels: string[] = [];
    const sockets = new Set<{ destroy(): void }>();
    const proxy = createHttpServer().on('connect', (req, client, head) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      sockets.add(client).add(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const dir = await mkdtemp(join(tmpdir(), 'pt-proxy-'));
    const probe = await freePort();
    const config = parse(await readFile(cp.kubeconfigPath, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[] };
    config.clusters[0]!.cluster['proxy-url'] = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    await writeFile(join(dir, 'kubeconfig'), stringify(config));
    const run = start(['run', '--kubeconfig', join(dir, 'kubeconfig'), '--health-probe-bind-address', `127.0.0.1:${probe}`, '--metrics-bind-address', '0', '--webhook-bind-address', '0']);
    try {
      await waitFor(() => readyz(probe), { what: `/readyz through the proxy; output so far:\n${run.output()}` });
      await createPtemplate('proxied');
      await waitFor(async () => admin.get(Modules, { namespace: 'proxied', name: 'pt' }).catch(() => undefined), { what: 'Module created through the proxy' });
      assert.ok(tunnels.length > 0 && tunnels.every((t) => t === new URL(cp.server).host), `tunnels to the API server: ${tunnels.join(', ')}`);
      await terminate(run);
    } finally {
      run.child.kill('SIGKILL');
      // A tunnel stays open on the API server's side (keep-alive): close() waits for every socket.
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs two replicas with leader election: both ready, exactly one leading', async () => {
    const replicas = await Promise.all([0, 1].map(async () => {
      const probe = await freePort();
      const metrics = await freePort();
      const run = start(['run', '--kubeconfig', cp.kubeconfigPath, '--leader-elect', '--leader-election-namespace', 'default',
        '--health-probe-bind-address', `127.0.0.1:${probe}`, '--metrics-bind-address', `127.0.0.1:${metrics}`, '--webhook-bind-address', '0']);
      return { run, probe, metrics };
    }));
    const leading = async (port: number) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return /^leader_election_master_status\{name="ptemplate-operator.pt.example.com"\} 1$/m.test(text);
    };
    try {
      for (const r of replicas) await waitFor(() => readyz(r.probe), { what: `/readyz of a replica; output:\n${r.run.output()}` });
      await waitFor(async () => (await Promise.all(replicas.map((r) => leading(r.metrics)))).filter(Boolean).length === 1, { what: 'one leader' });
      const states = await Promise.all(replicas.map((r) => leading(r.metrics)));
      assert.deepEqual(states.filter(Boolean).length, 1, 'exactly one replica leads; the standby is ready all the same');
    } finally {
      for (const r of replicas) r.run.child.kill('SIGKILL');
    }
  });

  it('runs in-cluster from the service account files and KUBERNETES_SERVICE_HOST/PORT, like a pod', async (t) => {
    if (spawnSync('unshare', ['--mount', 'true']).status !== 0) {
      t.skip('needs mount namespaces (unshare) to place the service account files where client-node reads them');
      return;
    }
    // The operator's own identity, bound to the generated RBAC.
    const sa = await operatorIdentity(admin, cp.kubeConfig());
    const dir = await mkdtemp(join(tmpdir(), 'pt-sa-'));
    try {
      await writeFile(join(dir, 'token'), sa.getCurrentUser()!.token!);
      await writeFile(join(dir, 'ca.crt'), await readFile(join(cp.dir, 'certs', 'apiserver.crt')).catch(() => Buffer.from(cp.kubeConfig().getCurrentCluster()!.caData!, 'base64')));
      await writeFile(join(dir, 'namespace'), DEFAULT_NAMESPACE);
      const url = new URL(cp.server);
      const probe = await freePort();
      const saDir = '/var/run/secrets/kubernetes.io/serviceaccount';
      const script = `mkdir -p ${saDir} && mount --bind ${dir} ${saDir} && exec "$0" "$@"`;
      const run = start(['run', '--health-probe-bind-address', `127.0.0.1:${probe}`, '--metrics-bind-address', '0', '--webhook-bind-address', '0'],
        { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
        'unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, node]);
      try {
        await waitFor(() => readyz(probe), { what: `/readyz in-cluster; output so far:\n${run.output()}` });
        await createPtemplate('incluster');
        await waitFor(async () => admin.get(Modules, { namespace: 'incluster', name: 'pt' }).catch(() => undefined), { what: 'Module created in-cluster' });
        await terminate(run);
      } finally {
        run.child.kill('SIGKILL');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
