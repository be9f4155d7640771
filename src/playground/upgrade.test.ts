// The simulated KMM's ordered upgrade on a real control plane, as KMM v2.6.0 does it: a versioned
// Module loads only where the node's version-module label equals its version; changing that label
// removes the device plugin, unloads the old version (refused while a pod holds the device), loads
// the new one and labels the node with `version.ready`; a node whose new load fails is left without
// the module until the failure is cleared.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../runtime/client/client.ts';
import { Namespaces, Nodes, Pods } from '../runtime/resource.ts';
import { waitFor } from '../../test/support/wait.ts';
import { SIM_DEVICE_RESOURCE, SIM_FAIL_LOAD_ANNOTATION, type SimPod } from './index.ts';
import { SimModules as Modules } from './kmm-api.ts';
import {
  assertKmmLabels, EL9, firstRv, getNode, handModule, L, patchNodeLabels, recordHistory, runningPods, startSimEnv, waitModuleGone, workerPod, workerStatus,
  type SimEnv,
} from './sim-test-env.ts';

const SELECTOR = 'example.com/kmod-host';
const NODES = ['up-a', 'up-b', 'up-c'].map((name) => ({ name, labels: { [SELECTOR]: 'true' }, kernelVersion: EL9 }));

let env: SimEnv;
let admin: Client;

const image = (version: string) => `registry.example.com/kmod:${version}-\${KERNEL_FULL_VERSION}`;
const loadedImage = (version: string) => `registry.example.com/kmod:${version}-${EL9}`;

function versionedModule(namespace: string, name: string, version: string) {
  return handModule({
    namespace, name, selector: { [SELECTOR]: 'true' }, moduleName: 'ptemplate_char_dev', parameters: ['max_dev=2'], version,
    image: image(version), devicePlugin: true,
  });
}

/** Every KMM label of a node running `version` with its device plugin. */
const running = (version: string) => ({
  ready: '', versionReady: version, devicePlugin: '', versionModule: version, workerPodVersion: version, devicePluginVersion: version,
});

async function waitLabels(namespace: string, name: string, nodeName: string, expected: Parameters<typeof assertKmmLabels>[3], what: string) {
  return waitFor(async () => {
    const node = await getNode(admin, nodeName);
    assertKmmLabels(node, namespace, name, expected);
    return node;
  }, { what: `${nodeName}: ${what}` });
}

function devicePod(namespace: string, name: string, nodeName: string): SimPod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { app: 'user' } },
    spec: { nodeName, containers: [{ name: 'main', image: 'registry.example.com/user:1', resources: { limits: { [SIM_DEVICE_RESOURCE]: '1' } } }] },
  };
}

before(async () => {
  env = await startSimEnv(NODES);
  admin = env.admin;
});

after(async () => {
  await env?.stop();
});

void describe('simulated KMM with a versioned Module', () => {
  void it('loads only where the version-module label equals the version: not where it differs or is missing', async () => {
    const [ns, name] = ['ver-labels', 'kmod'];
    await admin.create(Namespaces, { metadata: { name: ns } });
    await patchNodeLabels(admin, 'up-a', { [L.versionModule(ns, name)]: 'v1' });
    await patchNodeLabels(admin, 'up-b', { [L.versionModule(ns, name)]: 'v0' });
    await admin.create(Modules, versionedModule(ns, name, 'v1'));

    const a = await waitLabels(ns, name, 'up-a', running('v1'), 'v1 loaded with its device plugin');
    assert.equal(a.status?.capacity?.[SIM_DEVICE_RESOURCE], '2', 'devices advertised');
    assert.equal(env.sims.kmm.loaded('up-a', ns, name)?.config.containerImage, loadedImage('v1'));
    await waitFor(async () => {
      assert.deepEqual((await admin.get(Modules, { namespace: ns, name })).status?.moduleLoader,
        { nodesMatchingSelectorNumber: 3, desiredNumber: 1, availableNumber: 1 });
      return true;
    }, { what: 'counts: 3 targeted, 1 desired and loaded' });
    // The reconcile that counted covered every node: the others are settled.
    // A different value: KMM copies it to its internal labels, loads nothing.
    assertKmmLabels(await getNode(admin, 'up-b'), ns, name, { versionModule: 'v0', workerPodVersion: 'v0', devicePluginVersion: 'v0' });
    assertKmmLabels(await getNode(admin, 'up-c'), ns, name, {});
    for (const node of ['up-b', 'up-c']) {
      assert.equal(await workerPod(admin, ns, node, name), undefined, `${node}: no worker pod`);
      assert.equal(env.sims.kmm.loaded(node, ns, name), undefined, `${node}: nothing loaded`);
    }

    // Labelling a node loads it; removing the label unloads it (device plugin first).
    await patchNodeLabels(admin, 'up-c', { [L.versionModule(ns, name)]: 'v1' });
    await waitLabels(ns, name, 'up-c', running('v1'), 'v1 loaded once labelled');
    await patchNodeLabels(admin, 'up-a', { [L.versionModule(ns, name)]: null });
    const unlabelled = await waitLabels(ns, name, 'up-a', {}, 'unloaded once the label is gone');
    assert.equal(unlabelled.status?.capacity?.[SIM_DEVICE_RESOURCE], undefined, 'devices withdrawn');

    await admin.delete(Modules, { namespace: ns, name });
    await waitModuleGone(admin, ns, name);
    for (const node of ['up-b', 'up-c']) await patchNodeLabels(admin, node, { [L.versionModule(ns, name)]: null });
    for (const node of ['up-b', 'up-c']) await waitLabels(ns, name, node, {}, 'clean');
  });

  void it('upgrades a node when its label changes: device plugin off, old version unloaded (refused while in use), new one loaded, version.ready set', async () => {
    const [ns, name] = ['upgrade', 'kmod'];
    await admin.create(Namespaces, { metadata: { name: ns } });
    for (const node of ['up-a', 'up-b']) await patchNodeLabels(admin, node, { [L.versionModule(ns, name)]: 'v1' });
    await admin.create(Modules, versionedModule(ns, name, 'v1'));
    for (const node of ['up-a', 'up-b']) await waitLabels(ns, name, node, running('v1'), 'v1 loaded');
    await admin.create(Pods, devicePod(ns, 'user', 'up-a'));
    await waitFor(async () => (await runningPods(admin, ns, { app: 'user' })).length === 1, { what: 'device user running on up-a' });

    // The Module moves to v2 (version and image in one update); labelled nodes keep v1.
    await admin.patch(Modules, { namespace: ns, name }, { spec: { moduleLoader: { container: {
      version: 'v2', kernelMappings: [{ regexp: '^.+$', containerImage: image('v2') }] } } } }, 'merge');
    // Sync point: a node labelled v2 loads v2, so the update has been seen.
    await patchNodeLabels(admin, 'up-c', { [L.versionModule(ns, name)]: 'v2' });
    await waitLabels(ns, name, 'up-c', running('v2'), 'v2 loaded on a node labelled v2');
    assert.equal(env.sims.kmm.loaded('up-c', ns, name)?.config.containerImage, loadedImage('v2'));
    for (const node of ['up-a', 'up-b']) {
      assertKmmLabels(await getNode(admin, node), ns, name, running('v1'));
      assert.deepEqual(env.sims.kmm.loaded(node, ns, name), { config: env.sims.kmm.loaded(node, ns, name)!.config, version: 'v1' });
      assert.equal(env.sims.kmm.loaded(node, ns, name)?.config.containerImage, loadedImage('v1'), `${node}: previous version keeps running`);
      assert.equal(await workerPod(admin, ns, node, name), undefined, `${node}: no worker pod`);
    }

    // up-a moves to v2 while a pod holds a device there.
    const history = await recordHistory(env, 'up-a');
    try {
      await patchNodeLabels(admin, 'up-a', { [L.versionModule(ns, name)]: 'v2' });
      const refused = await waitFor(async () => {
        const pod = await workerPod(admin, ns, 'up-a', name);
        return pod && pod.metadata.labels?.['kmm.node.kubernetes.io/worker-action'] === 'Unload' && (workerStatus(pod)?.restartCount ?? 0) >= 2 && pod;
      }, { what: 'the unload refused and retried' });
      assert.equal(workerStatus(refused)?.lastState?.terminated?.exitCode, 1);
      assert.equal(refused.status?.phase, 'Running', 'restartPolicy OnFailure: the pod restarts its container');
      const a = await getNode(admin, 'up-a');
      assertKmmLabels(a, ns, name, { ready: '', versionReady: 'v1', versionModule: 'v2' });
      assert.equal(a.status?.capacity?.[SIM_DEVICE_RESOURCE], undefined, 'device plugin gone: devices withdrawn');
      assert.equal(env.sims.kmm.loaded('up-a', ns, name)?.version, 'v1', 'v1 still loaded');
      assertKmmLabels(await getNode(admin, 'up-b'), ns, name, running('v1'));

      await admin.delete(Pods, { namespace: ns, name: 'user' });
      const done = await waitLabels(ns, name, 'up-a', running('v2'), 'v2 loaded after the device user left');
      assert.equal(done.status?.capacity?.[SIM_DEVICE_RESOURCE], '2', 'devices back');
      assert.equal(env.sims.kmm.loaded('up-a', ns, name)?.config.containerImage, loadedImage('v2'));
      assert.equal(await workerPod(admin, ns, 'up-a', name), undefined, 'worker pod deleted after success');
    } finally {
      history.stop();
    }

    // The order, by etcd revision.
    const seen = history.seen;
    const start = firstRv(seen, 'label changed', (o) => o.kind === 'node' && o.labels[L.versionModule(ns, name)] === 'v2');
    const dpOff = firstRv(seen, 'device plugin removed', (o) => o.kind === 'node' && !(L.devicePlugin(ns, name) in o.labels) &&
      o.capacity?.[SIM_DEVICE_RESOURCE] === undefined, start);
    const unloader = firstRv(seen, 'unloader created', (o) => o.kind === 'worker' && o.labels['kmm.node.kubernetes.io/worker-action'] === 'Unload', start);
    const unloaded = firstRv(seen, 'ready label removed', (o) => o.kind === 'node' && !(L.ready(ns, name) in o.labels), start);
    const loader = firstRv(seen, 'loader created', (o) => o.kind === 'worker' && o.labels['kmm.node.kubernetes.io/worker-action'] === 'Load', start);
    const ready = firstRv(seen, 'v2 ready', (o) => o.kind === 'node' && o.labels[L.versionReady(ns, name)] === 'v2', start);
    assert.ok(dpOff < unloader, 'device plugin removed before the unload started');
    assert.ok(unloader < unloaded && unloaded < loader, 'old version unloaded before the new one is loaded');
    assert.ok(loader < ready, 'version.ready set after the load');
    const between = seen.filter((o) => o.kind === 'node' && o.rv > unloaded && o.rv < ready);
    assert.ok(between.every((o) => !(L.versionReady(ns, name) in o.labels)), 'no version.ready while nothing is loaded');

    // up-b's load of v2 fails: after the unload of v1 the node has no module until the failure is cleared.
    await admin.patch(Nodes, { name: 'up-b' }, { metadata: { annotations: { [SIM_FAIL_LOAD_ANNOTATION]: 'Unknown symbol in module' } } }, 'merge');
    await patchNodeLabels(admin, 'up-b', { [L.versionModule(ns, name)]: 'v2' });
    await waitFor(async () => {
      const pod = await workerPod(admin, ns, 'up-b', name);
      return pod?.metadata.labels?.['kmm.node.kubernetes.io/worker-action'] === 'Load' && (workerStatus(pod)?.restartCount ?? 0) >= 1;
    }, { what: 'the v2 load failing on up-b' });
    assertKmmLabels(await getNode(admin, 'up-b'), ns, name, { versionModule: 'v2', workerPodVersion: 'v2', devicePluginVersion: 'v2' });
    assert.equal(env.sims.kmm.loaded('up-b', ns, name), undefined, 'nothing loaded on up-b');
    await waitFor(async () => {
      assert.deepEqual((await admin.get(Modules, { namespace: ns, name })).status?.moduleLoader,
        { nodesMatchingSelectorNumber: 3, desiredNumber: 3, availableNumber: 2 });
      return true;
    }, { what: 'counts: 2 of 3 loaded' });
    await admin.patch(Nodes, { name: 'up-b' }, { metadata: { annotations: { [SIM_FAIL_LOAD_ANNOTATION]: null } } }, 'merge');
    await waitLabels(ns, name, 'up-b', running('v2'), 'v2 loaded once the failure is cleared');

    await admin.delete(Modules, { namespace: ns, name });
    await waitModuleGone(admin, ns, name);
    for (const node of ['up-a', 'up-b', 'up-c']) await patchNodeLabels(admin, node, { [L.versionModule(ns, name)]: null });
  });
});
