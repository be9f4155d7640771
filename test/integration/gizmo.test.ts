// The second device operator (test/gizmo/operator.ts), built on the KMM workload layer, passes the
// same scenarios as Ptemplate on the real control plane with the simulators: load, gating on
// KMM's node labels, update, both unload paths, and a bad spec.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { moduleCrd } from '../../src/kmm/crd.ts';
import { moduleReadyLabel } from '../../src/kmm/labels.ts';
import { Modules } from '../../src/kmm/resource.ts';
import type { Module } from '../../src/kmm/types.ts';
import type { DaemonSet } from '../../src/kmm/workload/children.ts';
import { createSimulatedNodes, SIM_DEFAULT_DEVICE, simCountFromParameter, startSimulators, type RunningSimulators } from '../../src/playground/index.ts';
import type { Client } from '../../src/runtime/client/client.ts';
import { Client as ApiClient } from '../../src/runtime/client/client.ts';
import { isNotFound } from '../../src/runtime/client/errors.ts';
import type { KubeObject, ObjectKey } from '../../src/runtime/object.ts';
import { permissionKeys } from '../../src/runtime/rbac.ts';
import { CustomResourceDefinitions, DaemonSets, Namespaces, Pods, type ResourceType } from '../../src/runtime/resource.ts';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { createGizmoOperator, GIZMO_RESOURCE, gizmoCrd, Gizmos, type Gizmo, type GizmoOperator } from '../gizmo/operator.ts';
import { waitFor } from '../support/wait.ts';

const NS = 'gizmos';
const CARD = 'example.com/gizmo-card';
let cp: ControlPlane;
let admin: Client;
let sims: RunningSimulators;
let gizmo: GizmoOperator;
const stop = new AbortController();
let running: Promise<void>;

before(async () => {
  cp = await ControlPlane.start();
  admin = new ApiClient(cp.kubeConfig());
  await admin.create(CustomResourceDefinitions, gizmoCrd());
  await admin.create(CustomResourceDefinitions, moduleCrd());
  await waitFor(async () => (await admin.list(Gizmos)).items && (await admin.list(Modules)).items, { what: 'CRDs served' });
  await createSimulatedNodes(admin, [{ name: 'card-1', labels: { [CARD]: 'yes' } }, { name: 'card-2', labels: { [CARD]: 'yes' } }, { name: 'plain' }]);
  sims = await startSimulators({
    kubeConfig: cp.kubeConfig(), loadDelayMs: 100,
    devices: [{ resource: GIZMO_RESOURCE, count: simCountFromParameter('channels', 1), moduleName: 'gizmo_drv' }, SIM_DEFAULT_DEVICE],
  });
  await admin.create(Namespaces, { metadata: { name: NS } });
  gizmo = createGizmoOperator({ kubeConfig: cp.kubeConfig(), registry: new Registry() });
  running = gizmo.manager.start(stop.signal);
  await waitFor(() => gizmo.manager.cache.synced, { what: 'gizmo operator synced' });
});

after(async () => {
  stop.abort();
  await running;
  await sims?.stop();
  await cp?.stop();
});

const get = <T extends KubeObject>(rt: ResourceType<T>, key: ObjectKey) => admin.get<T>(rt, key).catch((e: unknown) => {
  if (isNotFound(e)) return undefined;
  throw e;
});

async function waitForReady(name: string, status: 'True' | 'False', reason?: string): Promise<Gizmo> {
  let last: Gizmo | undefined;
  return waitFor(async () => {
    last = await get(Gizmos, { namespace: NS, name });
    const ready = last?.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === status && (!reason || ready.reason === reason) && ready.observedGeneration === last!.metadata.generation ? last : undefined;
  }, { what: `Gizmo ${name} Ready=${status}${reason ? ` (${reason})` : ''}`, timeoutMs: 60_000 }).catch((err: Error) => {
    throw new Error(`${err.message}; last status: ${JSON.stringify(last?.status)}`);
  });
}

const appPods = async () => (await admin.list(Pods, { namespace: NS, labelSelector: 'app.kubernetes.io/managed-by=gizmo-operator' })).items as (KubeObject & { spec?: { nodeName?: string } })[];

describe('a second device operator on the workload layer', () => {
  it('loads its own kmod with its own parameters, gates its consumers on KMM\'s labels and reports Ready', async () => {
    await admin.create(Gizmos, { metadata: { name: 'g1', namespace: NS }, spec: { selector: { [CARD]: 'yes' }, channels: 3, perConsumer: 2 } } as unknown as Gizmo);
    const module = await waitFor(() => get<Module>(Modules, { namespace: NS, name: 'g1' }), { what: 'Module' });
    assert.deepEqual(module.spec.moduleLoader!.container.modprobe.parameters, ['channels=3']);
    assert.equal(module.spec.moduleLoader!.container.modprobe.moduleName, 'gizmo_drv');
    const ds = (await waitFor(() => get<DaemonSet>(DaemonSets, { namespace: NS, name: 'g1-app' }), { what: 'consumers' }));
    const nodeSelector = (ds.spec as { template: { spec: { nodeSelector: Record<string, string> } } }).template.spec.nodeSelector;
    assert.equal(nodeSelector[moduleReadyLabel(NS, 'g1')], '', 'consumers wait for KMM\'s ready label');
    const ready = await waitForReady('g1', 'True');
    assert.equal(ready.status?.consumersReady, 2);
    assert.deepEqual((await appPods()).map((p) => p.spec?.nodeName).sort(), ['card-1', 'card-2'], 'only where the module is loaded');
  });

  it('updates the Module and the consumers in place on a spec change', async () => {
    const before = (await get<Module>(Modules, { namespace: NS, name: 'g1' }))!;
    await admin.patch(Gizmos, { namespace: NS, name: 'g1' }, { spec: { channels: 4, perConsumer: 1 } }, 'merge');
    const module = await waitFor(async () => {
      const m = await get<Module>(Modules, { namespace: NS, name: 'g1' });
      return m?.spec.moduleLoader?.container.modprobe.parameters?.[0] === 'channels=4' ? m : undefined;
    }, { what: 'Module updated' });
    assert.equal(module.metadata.uid, before.metadata.uid);
    await waitFor(async () => JSON.stringify((await get<DaemonSet>(DaemonSets, { namespace: NS, name: 'g1-app' }))?.spec).includes(`"${GIZMO_RESOURCE}":"1"`), { what: 'consumers updated' });
    await waitForReady('g1', 'True');
  });

  it('unloads when disabled (consumers first, then the Module) and never recreates it, and comes back when enabled', async () => {
    await admin.patch(Gizmos, { namespace: NS, name: 'g1' }, { spec: { enabled: false } }, 'merge');
    let podsAtModuleDeletion = -1;
    await waitFor(async () => {
      const m = await get<Module>(Modules, { namespace: NS, name: 'g1' });
      if (m && !m.metadata.deletionTimestamp) return false;
      if (podsAtModuleDeletion < 0) podsAtModuleDeletion = (await appPods()).length;
      return true;
    }, { what: 'Module deleted', intervalMs: 5 });
    assert.equal(podsAtModuleDeletion, 0, 'no consumer pod was left when the Module went');
    const unloaded = await waitForReady('g1', 'True', 'Unloaded');
    assert.equal(unloaded.status?.conditions?.find((c) => c.type === 'ModuleLoaded')?.status, 'False');
    assert.equal(await get(Modules, { namespace: NS, name: 'g1' }), undefined, 'not recreated while disabled');
    await admin.patch(Gizmos, { namespace: NS, name: 'g1' }, { spec: { enabled: true } }, 'merge');
    await waitForReady('g1', 'True', 'Ready');
  });

  it('unloads in order when deleted, then lets the object go', async () => {
    await admin.delete(Gizmos, { namespace: NS, name: 'g1' });
    await waitFor(async () => (await get(Gizmos, { namespace: NS, name: 'g1' })) === undefined, { what: 'Gizmo gone', timeoutMs: 60_000 });
    assert.equal(await get(Modules, { namespace: NS, name: 'g1' }), undefined);
    assert.equal((await appPods()).length, 0);
  });

  it('refuses a bad spec naming the field, writes nothing, and recovers when fixed', async () => {
    await admin.create(Gizmos, { metadata: { name: 'bad', namespace: NS }, spec: { selector: { [CARD]: 'yes' }, channels: 1, perConsumer: 3 } } as unknown as Gizmo);
    const bad = await waitForReady('bad', 'False', 'InvalidSpec');
    assert.match(bad.status!.conditions!.find((c) => c.type === 'Ready')!.message, /spec\.perConsumer/);
    assert.equal(await get(Modules, { namespace: NS, name: 'bad' }), undefined);
    await admin.patch(Gizmos, { namespace: NS, name: 'bad' }, { spec: { perConsumer: 1 } }, 'merge');
    await waitForReady('bad', 'True');
  });

  it('declares every permission it used', () => {
    const declared = permissionKeys(gizmo.manager.permissions());
    const missing = [...gizmo.manager.client.requests.permissionsUsed].filter((p) => !declared.has(p));
    assert.deepEqual(missing, []);
  });
});
