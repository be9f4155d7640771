// The simulated nodes, KMM and kubelet against a real control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler): the real scheduler and DaemonSet controller place the
// consumer pods; the simulators play the node, KMM and kubelet parts. Without `version`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../runtime/client/client.ts';
import { DaemonSets, Namespaces, Nodes, Pods } from '../runtime/resource.ts';
import { buildModule } from '../kmm/module.ts';
import { Modules } from '../kmm/resource.ts';
import type { Module } from '../kmm/types.ts';
import { waitFor } from '../../test/support/wait.ts';
import { SIM_DEVICE_RESOURCE, SIM_OUT_OF_DEVICES_REASON, SIMULATED_NODE_LABEL, type SimPod } from './index.ts';
import {
  assertKmmLabels, consumerDaemonSet, EL9, getNode, L, labelsOf, recordHistory, runningPods, startSimEnv, waitModuleGone, workerPod, workerStatus, type SimEnv,
} from './sim-test-env.ts';

const SELECTOR_LABEL = 'playground.pt.example.com/wants-ptemplate';
// sim-a and sim-b match the selector and the kernel mapping; sim-c matches the selector only
// (another kernel); sim-d matches the kernel only.
const NODES = [
  { name: 'sim-a', labels: { [SELECTOR_LABEL]: 'true' }, kernelVersion: EL9 },
  { name: 'sim-b', labels: { [SELECTOR_LABEL]: 'true' } },
  { name: 'sim-c', labels: { [SELECTOR_LABEL]: 'true' }, kernelVersion: '6.1.0-18-amd64' },
  { name: 'sim-d', kernelVersion: EL9 },
];
const LOADED = ['sim-a', 'sim-b'];

let env: SimEnv;
let admin: Client;

const getModule = async (namespace: string, name: string) => admin.get(Modules, { namespace, name });

function ptemplateModule(namespace: string, name: string): Module {
  return buildModule({
    namespace, name,
    selector: { [SELECTOR_LABEL]: 'true' },
    moduleName: 'ptemplate_char_dev',
    parameters: ['max_dev=3'],
    kernelMappings: [{ regexp: '^5\\.14\\.0-.*\\.el9\\.x86_64$', containerImage: 'registry.example.com/ptemplate-kmod:${KERNEL_FULL_VERSION}' }],
    devicePlugin: { image: 'registry.example.com/ptemplate-device-plugin:1.0' },
  });
}

async function assertLoaded(namespace: string, name: string, nodeName: string) {
  const node = await getNode(admin, nodeName);
  assertKmmLabels(node, namespace, name, { ready: '', devicePlugin: '' });
  assert.equal(node.status?.capacity?.[SIM_DEVICE_RESOURCE], '3', `${nodeName} capacity`);
  assert.equal(node.status?.allocatable?.[SIM_DEVICE_RESOURCE], '3', `${nodeName} allocatable`);
}

async function assertUnloaded(namespace: string, name: string, nodeName: string) {
  const node = await getNode(admin, nodeName);
  assertKmmLabels(node, namespace, name, {});
  assert.equal(node.status?.capacity?.[SIM_DEVICE_RESOURCE], undefined, `${nodeName} advertises no devices`);
  assert.equal(node.status?.allocatable?.[SIM_DEVICE_RESOURCE], undefined, `${nodeName} has no allocatable devices`);
}

/** A namespace with a loaded Module and a consumer DaemonSet running on sim-a and sim-b, gated on `gate`. */
async function moduleWithConsumers(namespace: string, name: string, gate: 'ready' | 'device-plugin') {
  await admin.create(Namespaces, { metadata: { name: namespace } });
  await admin.create(Modules, ptemplateModule(namespace, name));
  await waitFor(async () => {
    for (const node of LOADED) await assertLoaded(namespace, name, node);
    return true;
  }, { what: 'module loaded on sim-a and sim-b' });
  const selector = gate === 'ready' ? { [L.ready(namespace, name)]: '' } : { [L.ready(namespace, name)]: '', [L.devicePlugin(namespace, name)]: '' };
  await admin.create(DaemonSets, consumerDaemonSet(namespace, 'consumer', selector, SIM_DEVICE_RESOURCE));
  return waitFor(async () => {
    const pods = await runningPods(admin, namespace);
    const all = (await admin.list(Pods, { namespace })).items;
    assert.equal(all.length, 2, 'one consumer pod per ready node, no worker pod left');
    assert.equal(pods.length, 2, 'both consumer pods Running and Ready');
    return pods;
  }, { what: 'consumer pods running' });
}

before(async () => {
  env = await startSimEnv(NODES);
  admin = env.admin;
});

after(async () => {
  await env?.stop();
});

void describe('simulated nodes', () => {
  void it('become Ready and lose the not-ready taint the API server puts on new Nodes', async () => {
    for (const spec of NODES) {
      const node = await waitFor(async () => {
        const n = await getNode(admin, spec.name);
        const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'True' && !(n.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/not-ready') && n;
      }, { what: `${spec.name} Ready without the not-ready taint` });
      assert.equal(node.metadata.labels?.[SIMULATED_NODE_LABEL], 'true');
      assert.equal(node.status?.nodeInfo?.kernelVersion, spec.kernelVersion ?? EL9);
      assert.equal(node.status?.allocatable?.pods, '110');
      assert.ok(node.status?.addresses?.some((a) => a.type === 'InternalIP'));
    }
  });
});

void describe('simulated KMM', () => {
  void it('loads a Module on the nodes matching its selector and a kernel mapping, advertises the devices and counts them', async () => {
    const [namespace, name] = ['sim-load', 'ptemplate'];
    await admin.create(Namespaces, { metadata: { name: namespace } });
    await admin.create(Modules, ptemplateModule(namespace, name));

    const loaded = await waitFor(async () => {
      const module = await getModule(namespace, name);
      // KMM: the device plugin's desired number is every targeted node (its DaemonSet's selector is the ready label).
      assert.deepEqual(module.status, {
        moduleLoader: { nodesMatchingSelectorNumber: 3, desiredNumber: 2, availableNumber: 2 },
        devicePlugin: { nodesMatchingSelectorNumber: 3, desiredNumber: 3, availableNumber: 2 },
      });
      return module;
    }, { what: 'Module status counts' });
    assert.ok(loaded.metadata.finalizers?.includes('kmm.node.kubernetes.io/module-finalizer'), 'KMM finalizer added');
    for (const node of LOADED) await assertLoaded(namespace, name, node);
    for (const node of ['sim-c', 'sim-d']) await assertUnloaded(namespace, name, node);
    for (const node of LOADED) assert.equal(await workerPod(admin, namespace, node, name), undefined, `${node}: worker pod deleted once it succeeded`);
    assert.deepEqual(env.sims.kmm.loaded('sim-a', namespace, name)?.config.containerImage, `registry.example.com/ptemplate-kmod:${EL9}`);

    // A node that stops matching the selector is unloaded.
    await admin.patch(Nodes, { name: 'sim-b' }, { metadata: { labels: { [SELECTOR_LABEL]: null } } }, 'merge');
    await waitFor(async () => {
      await assertUnloaded(namespace, name, 'sim-b');
      assert.deepEqual((await getModule(namespace, name)).status?.moduleLoader,
        { nodesMatchingSelectorNumber: 2, desiredNumber: 1, availableNumber: 1 });
      return true;
    }, { what: 'sim-b unloaded after losing the selector label' });
    await assertLoaded(namespace, name, 'sim-a');

    // Without consumers, deletion unloads everywhere and releases the finalizer.
    await admin.delete(Modules, { namespace, name });
    await waitModuleGone(admin, namespace, name);
    for (const node of LOADED) await assertUnloaded(namespace, name, node);
    await admin.patch(Nodes, { name: 'sim-b' }, { metadata: { labels: { [SELECTOR_LABEL]: 'true' } } }, 'merge');
  });

  void it('removes the labels of a Module that no longer exists', async () => {
    const [namespace, name] = ['sim-ghost', 'gone'];
    await admin.patch(Nodes, { name: 'sim-d' }, { metadata: { labels: { [L.ready(namespace, name)]: '', [L.devicePlugin(namespace, name)]: '' } } }, 'merge');
    await waitFor(async () => {
      const labels = labelsOf(await getNode(admin, 'sim-d'));
      return !(L.ready(namespace, name) in labels) && !(L.devicePlugin(namespace, name) in labels);
    }, { what: 'labels of the missing Module removed' });
  });
  void it('reloads in place when a Module without version changes: unload (refused while in use), load, the ready label kept', async () => {
    const [namespace, name] = ['sim-reload', 'ptemplate'];
    await admin.create(Namespaces, { metadata: { name: namespace } });
    await admin.create(Modules, ptemplateModule(namespace, name));
    await waitFor(async () => { await assertLoaded(namespace, name, 'sim-a'); return true; }, { what: 'loaded' });
    await admin.create(Pods, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'user', namespace }, spec: { nodeName: 'sim-a',
      containers: [{ name: 'main', image: 'registry.example.com/user:1', resources: { limits: { [SIM_DEVICE_RESOURCE]: '1' } } }] } });
    await waitFor(async () => (await runningPods(admin, namespace)).length === 1, { what: 'device user running' });
    const history = await recordHistory(env, 'sim-a');
    try {
      await admin.patch(Modules, { namespace, name }, { spec: { moduleLoader: { container: { modprobe: { parameters: ['max_dev=2'] } } } } }, 'merge');
      await waitFor(async () => {
        const pod = await workerPod(admin, namespace, 'sim-a', name);
        return pod?.metadata.labels?.['kmm.node.kubernetes.io/worker-action'] === 'Unload' && (workerStatus(pod)?.restartCount ?? 0) >= 1;
      }, { what: 'the unload of the old config refused on sim-a' });
      assert.deepEqual(env.sims.kmm.loaded('sim-a', namespace, name)?.config.parameters, ['max_dev=3'], 'old config still loaded');
      await admin.delete(Pods, { namespace, name: 'user' });
      await waitFor(async () => {
        assert.deepEqual(env.sims.kmm.loaded('sim-a', namespace, name)?.config.parameters, ['max_dev=2']);
        assert.equal((await getNode(admin, 'sim-a')).status?.allocatable?.[SIM_DEVICE_RESOURCE], '2');
        assert.equal(await workerPod(admin, namespace, 'sim-a', name), undefined);
        return true;
      }, { what: 'new config loaded on sim-a' });
    } finally {
      history.stop();
    }
    assert.ok(history.seen.some((o) => o.kind === 'worker' && o.labels['kmm.node.kubernetes.io/worker-action'] === 'Load'), 'reloaded');
    assert.ok(history.seen.every((o) => o.kind === 'worker' || L.ready(namespace, name) in o.labels), 'ready label kept throughout');
    await admin.delete(Modules, { namespace, name });
    await waitModuleGone(admin, namespace, name);
  });
});

void describe('simulated KMM, kubelet, scheduler and DaemonSet controller together', () => {
  void it('run a device-consuming DaemonSet on exactly the nodes where the module is ready', async () => {
    const [namespace, name] = ['sim-consumers', 'ptemplate'];
    const pods = await moduleWithConsumers(namespace, name, 'device-plugin');
    assert.deepEqual(pods.map((p) => p.spec?.nodeName).sort(), LOADED);
    for (const pod of pods) {
      assert.ok(pod.status?.podIP, 'pod has an IP');
      assert.ok(pod.status?.startTime, 'pod has a start time');
      for (const type of ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled']) {
        assert.equal(pod.status?.conditions?.find((c) => c.type === type)?.status, 'True', type);
      }
      const statuses = pod.status?.containerStatuses as { ready: boolean }[] | undefined;
      assert.ok(statuses?.length === 1 && statuses[0]!.ready, 'container ready');
    }

    await admin.delete(DaemonSets, { namespace, name: 'consumer' });
    await waitFor(async () => (await admin.list(Pods, { namespace })).items.length === 0, { what: 'consumer pods deleted' });
    await admin.delete(Modules, { namespace, name });
    await waitModuleGone(admin, namespace, name);
  });

  void it('on Module deletion remove the device plugin first, so consumers gated on it go and the unload proceeds', async () => {
    const [namespace, name] = ['sim-dp-first', 'ptemplate'];
    await moduleWithConsumers(namespace, name, 'device-plugin');
    await admin.delete(Modules, { namespace, name });
    // KMM deletes the device plugin DaemonSets of a terminating Module: the DaemonSet controller then
    // removes the consumers from nodes that lost the device-plugin-ready label.
    await waitModuleGone(admin, namespace, name);
    for (const node of LOADED) await assertUnloaded(namespace, name, node);
    assert.equal((await runningPods(admin, namespace)).length, 0, 'consumers gone');
    await admin.delete(DaemonSets, { namespace, name: 'consumer' });
  });

  void it('hold a Module deletion while a consumer uses the device, and complete it once the consumers are gone', async () => {
    const [namespace, name] = ['sim-teardown', 'ptemplate'];
    await moduleWithConsumers(namespace, name, 'ready');

    await admin.delete(Modules, { namespace, name });
    // Each node's unloading worker pod fails (the device is in use) and is restarted.
    await waitFor(async () => {
      for (const node of LOADED) {
        const worker = await workerPod(admin, namespace, node, name);
        assert.equal(worker?.metadata.labels?.['kmm.node.kubernetes.io/worker-action'], 'Unload', `${node}: unloader`);
        assert.ok((workerStatus(worker)?.restartCount ?? 0) >= 1, `${node}: unloader restarted`);
      }
      return true;
    }, { what: 'unloads refused and retried' });
    const terminating = await getModule(namespace, name);
    assert.ok(terminating.metadata.deletionTimestamp && terminating.metadata.finalizers?.includes('kmm.node.kubernetes.io/module-finalizer'), 'finalizer still held');
    for (const node of LOADED) assert.equal(labelsOf(await getNode(admin, node))[L.ready(namespace, name)], '', `${node} still module-ready`);
    assert.equal((await runningPods(admin, namespace, { app: 'consumer' })).length, 2, 'consumers still running');

    // The DaemonSet's pods are deleted by the garbage collector and completed by the simulated kubelet.
    await admin.delete(DaemonSets, { namespace, name: 'consumer' }, { propagationPolicy: 'Background' });
    await waitModuleGone(admin, namespace, name);
    for (const node of LOADED) await assertUnloaded(namespace, name, node);
    assert.equal((await admin.list(Pods, { namespace })).items.length, 0, 'no pods left, worker pods included');
  });
});

void describe('simulated kubelet', () => {
  void it('leaves Pending a pod that asks for more devices than its node has, and runs one that asks for none', async () => {
    const namespace = 'sim-kubelet';
    await admin.create(Namespaces, { metadata: { name: namespace } });
    const pod = (name: string, devices?: string): SimPod => ({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, namespace },
      spec: {
        nodeName: 'sim-c',
        containers: [{
          name: 'main', image: 'registry.example.com/ptemplate-consumer:1.0',
          ...(devices ? { resources: { requests: { [SIM_DEVICE_RESOURCE]: devices }, limits: { [SIM_DEVICE_RESOURCE]: devices } } } : {}),
        }],
      },
    });
    await admin.create(Pods, pod('greedy', '1'));
    await admin.create(Pods, pod('plain'));

    const refused = await waitFor(async () => {
      const p = await admin.get(Pods, { namespace, name: 'greedy' }) as SimPod;
      return p.status?.reason === SIM_OUT_OF_DEVICES_REASON && p;
    }, { what: 'greedy pod refused' });
    assert.equal(refused.status?.phase, 'Pending');
    assert.equal(refused.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
    await waitFor(async () => (await runningPods(admin, namespace)).some((p) => p.metadata.name === 'plain'), { what: 'plain pod running' });

    // Deleting completes at once: the simulated kubelet finishes the graceful deletion.
    await admin.delete(Pods, { namespace, name: 'greedy' });
    await admin.delete(Pods, { namespace, name: 'plain' });
    await waitFor(async () => (await admin.list(Pods, { namespace })).items.length === 0, { what: 'pods deleted' });
  });

  void it('admits pods arriving together one at a time, never handing out more devices than the node has', async () => {
    const namespace = 'sim-admission';
    await admin.create(Namespaces, { metadata: { name: namespace } });
    await admin.patch(Nodes, { name: 'sim-d' }, { status: { capacity: { [SIM_DEVICE_RESOURCE]: '2' }, allocatable: { [SIM_DEVICE_RESOURCE]: '2' } } },
      'merge', { subresource: 'status' });
    const pod = (name: string): SimPod => ({
      apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace },
      spec: { nodeName: 'sim-d', containers: [{ name: 'main', image: 'registry.example.com/user:1', resources: { limits: { [SIM_DEVICE_RESOURCE]: '1' } } }] },
    });
    await Promise.all(['p1', 'p2', 'p3'].map((name) => admin.create(Pods, pod(name))));
    await waitFor(async () => {
      const pods = (await admin.list(Pods, { namespace })).items as SimPod[];
      const running = pods.filter((p) => p.status?.phase === 'Running').length;
      assert.ok(running <= 2, `${running} pods running on 2 devices`);
      return running === 2 && pods.filter((p) => p.status?.reason === SIM_OUT_OF_DEVICES_REASON).length === 1;
    }, { what: 'two running, one refused' });
    for (const name of ['p1', 'p2', 'p3']) await admin.delete(Pods, { namespace, name });
    await admin.patch(Nodes, { name: 'sim-d' }, { status: { capacity: { [SIM_DEVICE_RESOURCE]: null }, allocatable: { [SIM_DEVICE_RESOURCE]: null } } },
      'merge', { subresource: 'status' });
  });
});
