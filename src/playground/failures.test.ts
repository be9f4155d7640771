// Failure injection and device options of the simulators on a real control plane: a load made to
// fail on one node shows only in KMM's worker pod there (failed container, growing restartCount),
// the node never becomes ready while the annotation stays, and recovers once it is removed; a
// second device kind (another kmod, parameter and resource) works beside the default one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../runtime/client/client.ts';
import { Namespaces, Nodes, Pods } from '../runtime/resource.ts';
import { waitFor } from '../../test/support/wait.ts';
import {
  SIM_DEFAULT_DEVICE, SIM_DEVICE_RESOURCE, SIM_FAIL_LOAD_ANNOTATION, simCountFromParameter, simFailLoadAnnotation, startSimulators, type SimPod,
} from './index.ts';
import { SimModules as Modules } from './kmm-api.ts';
import {
  assertKmmLabels, EL9, firstRv, getNode, handModule, L, labelsOf, recordHistory, runningPods, startSimEnv, waitModuleGone, workerPod, workerStatus,
  type SimEnv,
} from './sim-test-env.ts';

const SELECTOR = 'example.com/kmod-host';
const WIDGET = { resource: 'example.com/widget', count: simCountFromParameter('num_ports', 1), moduleName: 'widget_drv' };

let env: SimEnv;
let admin: Client;

const annotate = (node: string, annotations: Record<string, string | null>) => admin.patch(Nodes, { name: node }, { metadata: { annotations } }, 'merge');

function kmod(namespace: string, name: string, extra: Partial<Parameters<typeof handModule>[0]> = {}) {
  return handModule({ namespace, name, selector: { [SELECTOR]: 'true' }, moduleName: 'ptemplate_char_dev', image: 'registry.example.com/kmod:1', ...extra });
}

/** Waits for a failing loader pod on the node that has restarted at least `restarts` times. */
async function failingLoader(namespace: string, node: string, name: string, restarts: number): Promise<SimPod> {
  return waitFor(async () => {
    const pod = await workerPod(admin, namespace, node, name);
    return pod && pod.metadata.labels?.['kmm.node.kubernetes.io/worker-action'] === 'Load' && (workerStatus(pod)?.restartCount ?? 0) >= restarts && pod;
  }, { what: `${node}: loader of ${name} failing, ${restarts} restarts` });
}

before(async () => {
  env = await startSimEnv(['f-a', 'f-b'].map((name) => ({ name, labels: { [SELECTOR]: 'true' }, kernelVersion: EL9 })), {
    devices: [WIDGET, SIM_DEFAULT_DEVICE],
  });
  admin = env.admin;
});

after(async () => {
  await env?.stop();
});

void describe('failing a load on a chosen node', () => {
  void it('shows in the worker pod, keeps the node unready while annotated, and the next retry after removal succeeds', async () => {
    const [ns, name] = ['fail', 'kmod'];
    await admin.create(Namespaces, { metadata: { name: ns } });
    await annotate('f-b', { [SIM_FAIL_LOAD_ANNOTATION]: 'insmod: ERROR: could not insert module: Unknown symbol in module' });
    const history = await recordHistory(env, 'f-b');
    let removedAt: number | undefined;
    try {
      await admin.create(Modules, kmod(ns, name, { devicePlugin: true }));
      const pod = await failingLoader(ns, 'f-b', name, 2);
      assert.equal(pod.metadata.labels?.['kmm.node.kubernetes.io/module.name'], name);
      assert.equal(pod.spec?.nodeName, 'f-b');
      assert.equal(pod.spec?.restartPolicy, 'OnFailure');
      assert.equal(pod.status?.phase, 'Running', 'the kubelet keeps restarting the container');
      const status = workerStatus(pod)!;
      assert.equal(status.state?.waiting?.reason, 'CrashLoopBackOff');
      assert.deepEqual([status.lastState?.terminated?.exitCode, status.lastState?.terminated?.reason], [1, 'Error']);
      // As with KMM v2.6.0: the worker writes no termination message; the error is in its log only.
      assert.equal(status.lastState?.terminated?.message, undefined);

      assertKmmLabels(await getNode(admin, 'f-a'), ns, name, { ready: '', devicePlugin: '' });
      assertKmmLabels(await getNode(admin, 'f-b'), ns, name, {});
      assert.deepEqual((await admin.get(Modules, { namespace: ns, name })).status?.moduleLoader,
        { nodesMatchingSelectorNumber: 2, desiredNumber: 2, availableNumber: 1 });
      const more = await failingLoader(ns, 'f-b', name, (workerStatus(pod)?.restartCount ?? 0) + 1);
      assert.equal(more.metadata.uid, pod.metadata.uid, 'the same pod restarts: KMM does not replace it while its template is current');

      removedAt = Number((await annotate('f-b', { [SIM_FAIL_LOAD_ANNOTATION]: null })).metadata.resourceVersion);
      await waitFor(async () => {
        assertKmmLabels(await getNode(admin, 'f-b'), ns, name, { ready: '', devicePlugin: '' });
        return true;
      }, { what: 'f-b ready after the annotation was removed' });
      assert.equal(await workerPod(admin, ns, 'f-b', name), undefined, 'worker pod deleted after success');
    } finally {
      history.stop();
    }
    const firstReady = firstRv(history.seen, 'f-b ready', (o) => o.kind === 'node' && L.ready(ns, name) in o.labels);
    assert.ok(removedAt !== undefined && firstReady > removedAt, 'never ready while the annotation was there');

    await admin.delete(Modules, { namespace: ns, name });
    await waitModuleGone(admin, ns, name);
  });

  void it('with the per-Module annotation fails only that Module on that node', async () => {
    const ns = 'fail-one';
    await admin.create(Namespaces, { metadata: { name: ns } });
    await annotate('f-a', { [simFailLoadAnnotation(ns, 'broken')]: '' });
    try {
      await admin.create(Modules, kmod(ns, 'broken'));
      await admin.create(Modules, kmod(ns, 'fine'));
      await failingLoader(ns, 'f-a', 'broken', 1);
      await waitFor(async () => {
        const a = labelsOf(await getNode(admin, 'f-a')), b = labelsOf(await getNode(admin, 'f-b'));
        return L.ready(ns, 'fine') in a && L.ready(ns, 'broken') in b && L.ready(ns, 'fine') in b;
      }, { what: 'every other Module and node loaded' });
      assert.ok(!(L.ready(ns, 'broken') in labelsOf(await getNode(admin, 'f-a'))), 'the failing one is not ready');
    } finally {
      await annotate('f-a', { [simFailLoadAnnotation(ns, 'broken')]: null });
    }
    await waitFor(async () => L.ready(ns, 'broken') in labelsOf(await getNode(admin, 'f-a')), { what: 'recovered' });
    for (const name of ['broken', 'fine']) await admin.delete(Modules, { namespace: ns, name });
    for (const name of ['broken', 'fine']) await waitModuleGone(admin, ns, name);
  });
});

void describe('device options', () => {
  void it('advertise a second kind by its own resource and parameter, admit its pods and refuse its unload while one runs', async () => {
    const ns = 'widgets';
    await admin.create(Namespaces, { metadata: { name: ns } });
    await admin.create(Modules, kmod(ns, 'widget', { moduleName: 'widget_drv', parameters: ['num_ports=4', 'max_dev=2'], devicePlugin: true }));
    await admin.create(Modules, kmod(ns, 'pt', { parameters: ['max_dev=2'], devicePlugin: true }));
    const node = await waitFor(async () => {
      const n = await getNode(admin, 'f-a');
      return L.devicePlugin(ns, 'widget') in labelsOf(n) && L.devicePlugin(ns, 'pt') in labelsOf(n) && n;
    }, { what: 'both device plugins ready on f-a' });
    assert.equal(node.status?.allocatable?.[WIDGET.resource], '4', 'num_ports widgets');
    assert.equal(node.status?.allocatable?.[SIM_DEVICE_RESOURCE], '2', 'max_dev ptemplate devices');

    const user = (name: string, resource: string, count: string): SimPod => ({
      apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app: 'user' } },
      spec: { nodeName: 'f-a', containers: [{ name: 'main', image: 'registry.example.com/user:1', resources: { limits: { [resource]: count } } }] },
    });
    await admin.create(Pods, user('widget-user', WIDGET.resource, '4'));
    await admin.create(Pods, user('too-many', WIDGET.resource, '1'));
    await waitFor(async () => (await runningPods(admin, ns)).some((p) => p.metadata.name === 'widget-user'), { what: 'widget user running' });
    await waitFor(async () => ((await admin.get(Pods, { namespace: ns, name: 'too-many' })) as SimPod).status?.reason === `OutOf${WIDGET.resource}`,
      { what: 'a fifth widget refused' });
    await admin.delete(Pods, { namespace: ns, name: 'too-many' });

    // The ptemplate Module unloads: nothing uses its devices. The widget one is held by its user.
    await admin.delete(Modules, { namespace: ns, name: 'pt' });
    await waitModuleGone(admin, ns, 'pt');
    await admin.delete(Modules, { namespace: ns, name: 'widget' });
    await waitFor(async () => {
      const pod = await workerPod(admin, ns, 'f-a', 'widget');
      return pod?.metadata.labels?.['kmm.node.kubernetes.io/worker-action'] === 'Unload' && (workerStatus(pod)?.restartCount ?? 0) >= 1;
    }, { what: 'widget unload refused on f-a' });
    assert.ok(L.ready(ns, 'widget') in labelsOf(await getNode(admin, 'f-a')), 'widget still loaded on f-a');
    await admin.delete(Pods, { namespace: ns, name: 'widget-user' });
    await waitModuleGone(admin, ns, 'widget');
    const after = await getNode(admin, 'f-a');
    assert.equal(after.status?.allocatable?.[WIDGET.resource], undefined, 'widgets withdrawn');
  });

  void it('refuse a device kind whose resource is not an extended resource name, naming the field', async () => {
    await assert.rejects(startSimulators({ kubeConfig: env.cp.kubeConfig(), devices: [{ resource: 'widget', count: () => 1 }] }),
      /devices\[0\]\.resource "widget"/);
  });
});
