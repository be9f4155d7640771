// The Ptemplate operator end to end: real API server, garbage collector, scheduler and
// DaemonSet controller, with simulated KMM and kubelet.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { devicePluginReadyLabel, moduleReadyLabel } from '../../src/kmm/labels.ts';
import { Modules } from '../../src/kmm/resource.ts';
import type { Module } from '../../src/kmm/types.ts';
import { Ptemplates, type Ptemplate } from '../../src/ptemplate/api/schema.ts';
import type { DaemonSet } from '../../src/ptemplate/driver.ts';
import { NotFoundError } from '../../src/runtime/client/errors.ts';
import type { KubeObject, ObjectKey } from '../../src/runtime/object.ts';
import { DaemonSets, defineResource, Events, Nodes, Pods, Secrets, type ResourceType } from '../../src/runtime/resource.ts';
import { DEVICE_LABEL, startOperatorEnv, type OperatorEnv } from '../support/operator-env.ts';
import { waitFor } from '../support/wait.ts';
import { permissionKeys } from '../../src/runtime/rbac.ts';

let env: OperatorEnv;

before(async () => { env = await startOperatorEnv(); });
after(async () => { await env?.stop(); });

const selector = { [DEVICE_LABEL]: 'true' };
const created: ObjectKey[] = [];

// Each test leaves the nodes as it found them: its Ptemplates are deleted and fully unloaded.
afterEach(async () => {
  for (const key of created.splice(0)) {
    await env.admin.delete(Ptemplates, key).catch(() => {});
    await waitFor(() => gone(Ptemplates, key), { what: `cleanup of ${key.namespace}/${key.name}`, timeoutMs: 60_000 });
  }
});

async function createPtemplate(namespace: string, name: string, spec: Record<string, unknown> = {}): Promise<Ptemplate> {
  await env.createNamespace(namespace).catch(() => {});
  created.push({ namespace, name });
  return env.admin.create(Ptemplates, { metadata: { name, namespace }, spec: { selector, ...spec } } as unknown as Ptemplate);
}

const get = <T extends KubeObject>(rt: ResourceType<T>, key: ObjectKey) => env.admin.get<T>(rt, key).catch((e: unknown) => {
  if (e instanceof NotFoundError) return undefined;
  throw e;
});
const gone = async (rt: ResourceType, key: ObjectKey) => (await get(rt, key)) === undefined;

function condition(pt: Ptemplate | undefined, type: string) {
  return pt?.status?.conditions?.find((c) => c.type === type);
}

async function waitForCondition(key: ObjectKey, type: string, status: string, reason?: string, timeoutMs = 60_000): Promise<Ptemplate> {
  let last: Ptemplate | undefined;
  return waitFor(async () => {
    const pt = last = await get(Ptemplates, key);
    const c = condition(pt, type);
    return c?.status === status && (!reason || c.reason === reason) && c.observedGeneration === pt!.metadata.generation ? pt : undefined;
  }, { what: `${type}=${status}${reason ? ` (${reason})` : ''} on ${key.namespace}/${key.name}`, timeoutMs }).catch((err: Error) => {
    throw new Error(`${err.message}; last status: ${JSON.stringify(last?.status)}`);
  });
}

/**
 * Starts watching for the Module of `key` to start terminating, and resolves with the number of
 * consumer pods that still existed at that moment (0 when the unload order is right).
 */
function podsLeftWhenModuleDeleted(key: ObjectKey): Promise<number> {
  let pods = -1;
  return waitFor(async () => {
    const m = await get<Module>(Modules, key);
    if (m && !m.metadata.deletionTimestamp) return false;
    pods = (await consumerPods(key.namespace!)).length;
    return true;
  }, { what: 'Module deletion', timeoutMs: 60_000, intervalMs: 5 }).then(() => pods);
}

/** The pods in the namespace except KMM's worker pods (which load and unload the module, as with KMM). */
async function consumerPods(namespace: string): Promise<KubeObject[]> {
  return (await env.admin.list(Pods, { namespace })).items.filter((p) => !p.metadata.labels?.['kmm.node.kubernetes.io/worker-action']);
}

describe('Ptemplate operator', () => {
  it('creates the Module and the consumer DaemonSet as specified and reports Ready', async () => {
    const ns = 'create';
    const pt = await createPtemplate(ns, 'pt');
    const module = await waitFor(() => get<Module>(Modules, { namespace: ns, name: 'pt' }), { what: 'Module' });
    assert.deepEqual(module.spec.selector, selector);
    const container = module.spec.moduleLoader!.container;
    assert.deepEqual(container.modprobe, { moduleName: 'ptemplate_char_dev', parameters: ['max_dev=5', 'default_msg=ptemplate'], dirName: '/opt' });
    assert.deepEqual(container.kernelMappings, [{ regexp: '^.+$', containerImage: 'quay.io/chrisp262/pt-char-dev:${KERNEL_FULL_VERSION}-sb' }]);
    assert.equal(module.spec.devicePlugin?.container.image, 'quay.io/chrisp262/pt-device-plugin:plugin-latest');
    assert.equal(module.spec.imageRepoSecret, undefined);
    assert.deepEqual(module.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [['Ptemplate', 'pt', pt.metadata.uid, true]]);

    const ds = (await waitFor(() => get<DaemonSet>(DaemonSets, { namespace: ns, name: 'pt-consumer' }), { what: 'DaemonSet' }));
    const podSpec = (ds.spec as { template: { spec: { nodeSelector: Record<string, string>; containers: { image: string; resources: unknown }[]; imagePullSecrets?: unknown } } }).template.spec;
    assert.deepEqual(podSpec.nodeSelector, { ...selector, [moduleReadyLabel(ns, 'pt')]: '', [devicePluginReadyLabel(ns, 'pt')]: '' });
    assert.equal(podSpec.containers[0]!.image, 'quay.io/chrisp262/pt-device-plugin:consumer-latest');
    assert.deepEqual(podSpec.containers[0]!.resources, { requests: { 'example.com/ptemplate': '1' }, limits: { 'example.com/ptemplate': '1' } });
    assert.equal(podSpec.imagePullSecrets, undefined);
    assert.equal(ds.metadata.ownerReferences?.[0]?.uid, pt.metadata.uid);

    const ready = await waitForCondition({ namespace: ns, name: 'pt' }, 'Ready', 'True');
    assert.equal(condition(ready, 'ModuleLoaded')?.status, 'True');
    assert.equal(condition(ready, 'ConsumersReady')?.status, 'True');
    assert.equal(ready.status?.consumers?.length, 2);
    assert.deepEqual(ready.status?.consumers, [...ready.status.consumers].sort());
    assert.equal(ready.status?.module?.loader.available, 2);
    const pods = await consumerPods(ns);
    assert.deepEqual(pods.map((p) => (p as unknown as { spec: { nodeName: string } }).spec.nodeName).sort(), ['node-a', 'node-b'], 'consumers run only where the module is loaded');

    const reasons = await waitFor(async () => {
      const events = (await env.admin.list(Events, { namespace: ns })).items as (KubeObject & { reason?: string; regarding?: { name?: string } })[];
      const found = events.filter((e) => e.regarding?.name === 'pt').map((e) => e.reason).sort();
      return found.includes('Created') ? found : undefined;
    }, { what: 'events on the Ptemplate' });
    assert.deepEqual(reasons, ['Created'], 'one event for the children created in one reconcile, not one per child');
  });

  it('updates both children in place on a spec change, with no other writes', async () => {
    const ns = 'update';
    await createPtemplate(ns, 'pt');
    const key = { namespace: ns, name: 'pt' };
    await waitForCondition(key, 'Ready', 'True');
    const moduleBefore = (await get<Module>(Modules, key))!;
    const dsBefore = (await get<DaemonSet>(DaemonSets, { namespace: ns, name: 'pt-consumer' }))!;
    const requests = env.operator.manager.client.requests;
    const creates = requests.countFor('create kmm.sigs.x-k8s.io/modules') + requests.countFor('create apps/daemonsets');
    const deletes = requests.countFor('delete kmm.sigs.x-k8s.io/modules') + requests.countFor('delete apps/daemonsets');
    const moduleApplies = requests.countFor('patch kmm.sigs.x-k8s.io/modules');
    const dsApplies = requests.countFor('patch apps/daemonsets');

    await env.admin.patch(Ptemplates, key, { spec: { maxdev: 3, defaultmsg: 'hello world', requiredDevices: 2 } }, 'merge');
    const module = await waitFor(async () => { const m = await get<Module>(Modules, key); return m?.spec.moduleLoader?.container.modprobe.parameters?.includes('max_dev=3') ? m : undefined; }, { what: 'Module updated' });
    assert.deepEqual(module.spec.moduleLoader!.container.modprobe.parameters, ['max_dev=3', 'default_msg="hello world"']);
    assert.equal(module.metadata.uid, moduleBefore.metadata.uid, 'updated in place');
    const ds = await waitFor(async () => {
      const d = await get<DaemonSet>(DaemonSets, { namespace: ns, name: 'pt-consumer' });
      return JSON.stringify(d?.spec).includes('"example.com/ptemplate":"2"') ? d : undefined;
    }, { what: 'DaemonSet updated' });
    assert.equal(ds.metadata.uid, dsBefore.metadata.uid, 'updated in place');
    await waitForCondition(key, 'Ready', 'True');
    assert.equal(requests.countFor('patch kmm.sigs.x-k8s.io/modules') - moduleApplies, 1, 'one Module apply');
    assert.equal(requests.countFor('patch apps/daemonsets') - dsApplies, 1, 'one DaemonSet apply');
    assert.equal(requests.countFor('create kmm.sigs.x-k8s.io/modules') + requests.countFor('create apps/daemonsets'), creates);
    assert.equal(requests.countFor('delete kmm.sigs.x-k8s.io/modules') + requests.countFor('delete apps/daemonsets'), deletes);
  });

  it('puts back a child that someone else edited or deleted', async () => {
    const ns = 'restore';
    await createPtemplate(ns, 'pt');
    const key = { namespace: ns, name: 'pt' };
    await waitFor(() => get(DaemonSets, { namespace: ns, name: 'pt-consumer' }), { what: 'DaemonSet' });
    await env.admin.delete(DaemonSets, { namespace: ns, name: 'pt-consumer' });
    await waitFor(async () => { const d = await get(DaemonSets, { namespace: ns, name: 'pt-consumer' }); return d && !d.metadata.deletionTimestamp; }, { what: 'DaemonSet recreated' });

    await env.admin.patch(Modules, key, { spec: { moduleLoader: { container: { modprobe: { parameters: ['max_dev=99'] } } } } }, 'merge');
    await waitFor(async () => (await get<Module>(Modules, key))?.spec.moduleLoader?.container.modprobe.parameters?.[0] === 'max_dev=5', { what: 'Module edit reverted' });
  });

  it('sends no request when reconciling a converged Ptemplate', async () => {
    const ns = 'noop';
    await createPtemplate(ns, 'pt');
    await waitForCondition({ namespace: ns, name: 'pt' }, 'Ready', 'True');
    // Let late watch events (pod and DaemonSet status) settle into the status and the queue drain first.
    await waitFor(async () => (await get(Ptemplates, { namespace: ns, name: 'pt' }))?.status?.consumersReady === 2 &&
      env.operator.manager.cache.get(Ptemplates, { namespace: ns, name: 'pt' })?.status?.consumersReady === 2 && env.operator.controller.settled,
    { what: 'quiet operator' });
    const before = env.operator.manager.client.requests.total;
    const reconcilesBefore = await env.reconciles();
    // A label change on a selected node enqueues every Ptemplate selecting it.
    await env.admin.patch(Nodes, { name: 'node-a' }, { metadata: { labels: { touched: String(Date.now()) } } }, 'merge');
    await waitFor(async () => (await env.reconciles()) > reconcilesBefore, { what: 'a reconcile' });
    assert.equal(env.operator.manager.client.requests.total, before, JSON.stringify(env.operator.manager.client.requests.snapshot()));
  });

  it('unloads with moduleState Unloaded: consumers first, the Module after, and never recreates it; Loaded brings both back', async () => {
    const ns = 'unload';
    await createPtemplate(ns, 'pt');
    const key = { namespace: ns, name: 'pt' };
    await waitForCondition(key, 'Ready', 'True');
    // Watch the order: when the Module starts terminating, no consumer pod may be left.
    const podsLeft = podsLeftWhenModuleDeleted(key);
    await env.admin.patch(Ptemplates, key, { spec: { moduleState: 'Unloaded' } }, 'merge');
    assert.equal(await podsLeft, 0, 'consumers must be gone before the Module is deleted');
    await waitFor(() => gone(Modules, key), { what: 'Module gone' });
    const unloaded = await waitForCondition(key, 'Ready', 'True', 'Unloaded');
    assert.equal(condition(unloaded, 'ModuleLoaded')?.reason, 'Unloaded');
    assert.ok(await gone(DaemonSets, { namespace: ns, name: 'pt-consumer' }));

    // Many later reconciles must not bring the Module back.
    const start = await env.reconciles();
    for (let i = 0; i < 5; i++) {
      await env.admin.patch(Nodes, { name: 'node-b' }, { metadata: { labels: { resync: String(i) } } }, 'merge');
      await waitFor(async () => (await env.reconciles()) > start + i, { what: `reconcile ${i}` });
    }
    assert.ok(await gone(Modules, key), 'Module recreated while Unloaded');
    assert.ok(await gone(DaemonSets, { namespace: ns, name: 'pt-consumer' }), 'consumers recreated while Unloaded');

    await env.admin.patch(Ptemplates, key, { spec: { moduleState: 'Loaded' } }, 'merge');
    await waitForCondition(key, 'Ready', 'True', 'Ready');
    assert.ok(await get(Modules, key));
    assert.equal((await consumerPods(ns)).length, 2);
  });

  it('waits for a Module still terminating from an earlier unload instead of fighting it', async () => {
    const ns = 'reload';
    await createPtemplate(ns, 'pt');
    const key = { namespace: ns, name: 'pt' };
    await waitForCondition(key, 'Ready', 'True');
    const first = (await get<Module>(Modules, key))!;
    const requests = env.operator.manager.client.requests;
    const conflictsBefore = (requests.snapshot()['APPLY 409'] ?? 0) + (requests.snapshot()['CREATE 409'] ?? 0);
    await env.admin.patch(Ptemplates, key, { spec: { moduleState: 'Unloaded' } }, 'merge');
    await waitFor(async () => (await get<Module>(Modules, key))?.metadata.deletionTimestamp, { what: 'Module terminating', intervalMs: 5 });
    await env.admin.patch(Ptemplates, key, { spec: { moduleState: 'Loaded' } }, 'merge');
    const ready = await waitForCondition(key, 'Ready', 'True', 'Ready');
    const second = (await get<Module>(Modules, key))!;
    assert.notEqual(second.metadata.uid, first.metadata.uid, 'a new Module once the old one was gone');
    assert.equal(ready.status?.consumers?.length, 2);
    assert.equal((requests.snapshot()['APPLY 409'] ?? 0) + (requests.snapshot()['CREATE 409'] ?? 0), conflictsBefore, 'no write conflicted');
  });

  it('deletes children in order when the Ptemplate is deleted, then releases it', async () => {
    const ns = 'delete';
    await createPtemplate(ns, 'pt');
    const key = { namespace: ns, name: 'pt' };
    await waitForCondition(key, 'Ready', 'True');
    assert.ok((await get(Ptemplates, key))?.metadata.finalizers?.includes('pt.example.com/unload'));
    const podsLeft = podsLeftWhenModuleDeleted(key);
    await env.admin.delete(Ptemplates, key);
    assert.equal(await podsLeft, 0, 'consumers must be gone before the Module is deleted');
    await waitFor(() => gone(Ptemplates, key), { what: 'Ptemplate released', timeoutMs: 60_000 });
    assert.ok(await gone(Modules, key));
    assert.ok(await gone(DaemonSets, { namespace: ns, name: 'pt-consumer' }));
  });

  it('follows node labels and pods in its status', async () => {
    const ns = 'follow';
    await createPtemplate(ns, 'pt');
    const key = { namespace: ns, name: 'pt' };
    await waitForCondition(key, 'Ready', 'True');
    await env.admin.patch(Nodes, { name: 'node-b' }, { metadata: { labels: { [DEVICE_LABEL]: null } } }, 'merge');
    try {
      const pt = await waitFor(async () => {
        const p = await get(Ptemplates, key);
        return p?.status?.consumers?.length === 1 && p.status.module?.loader.available === 1 && condition(p, 'Ready')?.status === 'True' ? p : undefined;
      }, { what: 'status with one node', timeoutMs: 60_000 });
      assert.match(condition(pt, 'ModuleLoaded')!.message, /1 of 1/);
    } finally {
      await env.admin.patch(Nodes, { name: 'node-b' }, { metadata: { labels: { [DEVICE_LABEL]: 'true' } } }, 'merge');
    }
  });
});

describe('bad input', () => {
  it('is refused by the CRD schema with the field named', async () => {
    await env.createNamespace('schema').catch(() => {});
    const cases: [Record<string, unknown>, string][] = [
      [{ selector, maxdev: 9 }, 'spec.maxdev'],
      [{ selector, maxdev: 0 }, 'spec.maxdev'],
      [{ selector, moduleState: 'Sleeping' }, 'spec.moduleState'],
      [{ selector, defaultmsg: 'say "hi"' }, 'spec.defaultmsg'],
      [{ selector, requiredDevices: 6 }, 'spec.requiredDevices'],
      [{ maxdev: 2 }, 'spec.selector'],
    ];
    for (const [spec, field] of cases) {
      await assert.rejects(
        env.admin.create(Ptemplates, { metadata: { name: 'bad', namespace: 'schema' }, spec } as unknown as Ptemplate),
        (err: Error) => err.message.includes(field), `${JSON.stringify(spec)} must be refused naming ${field}`);
    }
  });

  it('sets Ready=False naming the field, writes no child and recovers when fixed', async () => {
    const ns = 'invalid';
    const cases: [string, Record<string, unknown>, string][] = [
      ['a-name-that-is-much-too-long-for-kmm', {}, 'metadata.name'],
      ['regexp', { kernelMappings: [{ regexp: '^(?=5)', containerImage: 'quay.io/x/y:1' }] }, 'spec.kernelMappings[0].regexp'],
      ['untagged', { driverImage: 'quay.io/chrisp262/pt-char-dev' }, 'spec.driverImage'],
      ['devices', { maxdev: 2, requiredDevices: 3 }, 'spec.requiredDevices'],
      ['secret', { imagePullSecret: { name: 'missing' } }, 'spec.imagePullSecret.name'],
    ];
    for (const [name, spec, field] of cases) {
      await createPtemplate(ns, name, spec);
      const pt = await waitForCondition({ namespace: ns, name }, 'Ready', 'False', 'InvalidSpec');
      assert.ok(condition(pt, 'Ready')!.message.includes(field), `message names ${field}: ${condition(pt, 'Ready')!.message}`);
      assert.ok(await gone(Modules, { namespace: ns, name }), 'no Module for an invalid spec');
      assert.ok(await gone(DaemonSets, { namespace: ns, name: `${name}-consumer` }), 'no DaemonSet for an invalid spec');
    }
    // Creating the missing pull secret is noticed without any change to the Ptemplate.
    await env.admin.create(Secrets, { metadata: { name: 'missing', namespace: ns }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') } });
    await waitFor(() => get(Modules, { namespace: ns, name: 'secret' }), { what: 'Module once the secret exists' });
    const ds = await waitFor(() => get<DaemonSet>(DaemonSets, { namespace: ns, name: 'secret-consumer' }), { what: 'DaemonSet once the secret exists' });
    assert.deepEqual((ds.spec as { template: { spec: { imagePullSecrets: unknown } } }).template.spec.imagePullSecrets, [{ name: 'missing' }]);
    assert.equal((await get<Module>(Modules, { namespace: ns, name: 'secret' }))!.spec.imageRepoSecret?.name, 'missing');
  });
});

describe('failures', () => {
  const ResourceQuotas = defineResource({ group: '', version: 'v1', kind: 'ResourceQuota', plural: 'resourcequotas', namespaced: true });

  it('shows a refused child write in Ready and an event, with the API server\'s message, and recovers', async () => {
    const ns = 'quota';
    await env.createNamespace(ns);
    // A quota that allows no Module: every Module create is refused (403) by the API server.
    await env.admin.create(ResourceQuotas, { metadata: { name: 'no-modules', namespace: ns }, spec: { hard: { 'count/modules.kmm.sigs.x-k8s.io': '0' } } });
    await waitFor(async () => (await get<KubeObject & { status?: { hard?: object } }>(ResourceQuotas, { namespace: ns, name: 'no-modules' }))?.status?.hard, { what: 'quota computed' });
    await createPtemplate(ns, 'pt');
    const failed = await waitForCondition({ namespace: ns, name: 'pt' }, 'Ready', 'False', 'WriteFailed');
    const message = condition(failed, 'Ready')!.message;
    assert.match(message, /KMM Module pt/);
    assert.match(message, /exceeded quota/, 'the API server\'s own message');
    await waitFor(async () => ((await env.admin.list(Events, { namespace: ns })).items as (KubeObject & { reason?: string })[]).some((e) => e.reason === 'WriteFailed'),
      { what: 'a WriteFailed event' });
    await env.admin.delete(ResourceQuotas, { namespace: ns, name: 'no-modules' });
    await waitForCondition({ namespace: ns, name: 'pt' }, 'Ready', 'True', undefined, 90_000);
  });

  it('replaces consumers whose immutable selector differs (left by an earlier version) instead of failing on every retry', async () => {
    const ns = 'immutable';
    // Invalid at first, so the operator writes nothing while the old DaemonSet is put in place.
    const pt = await createPtemplate(ns, 'pt', { maxdev: 1, requiredDevices: 2 });
    await waitForCondition({ namespace: ns, name: 'pt' }, 'Ready', 'False', 'InvalidSpec');
    const old = await env.admin.create<DaemonSet>(DaemonSets, {
      metadata: { name: 'pt-consumer', namespace: ns, ownerReferences: [{ apiVersion: 'pt.example.com/v1alpha1', kind: 'Ptemplate', name: 'pt', uid: pt.metadata.uid!, controller: true }] },
      spec: {
        selector: { matchLabels: { app: 'old-consumer' } },
        template: { metadata: { labels: { app: 'old-consumer' } }, spec: { nodeSelector: { nowhere: 'true' }, containers: [{ name: 'c', image: 'busybox:1' }] } },
      },
    });
    await env.admin.patch(Ptemplates, { namespace: ns, name: 'pt' }, { spec: { maxdev: 5, requiredDevices: 1 } }, 'merge');
    await waitForCondition({ namespace: ns, name: 'pt' }, 'Ready', 'True', undefined, 90_000);
    const ds = (await get<DaemonSet>(DaemonSets, { namespace: ns, name: 'pt-consumer' }))!;
    assert.notEqual(ds.metadata.uid, old.metadata.uid, 'a new DaemonSet');
    assert.equal((ds.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels['app.kubernetes.io/component'], 'consumer');
    const reasons = ((await env.admin.list(Events, { namespace: ns })).items as (KubeObject & { reason?: string })[]).map((e) => e.reason);
    assert.ok(reasons.includes('ConsumersReplaced'), JSON.stringify(reasons));
  });
});

describe('RBAC', () => {
  it('declares every permission the operator used during these tests', () => {
    const declared = permissionKeys(env.operator.manager.permissions());
    const used = env.operator.manager.client.requests.permissionsUsed;
    assert.ok(used.size > 5, 'the operator did work');
    const missing = [...used].filter((p) => !declared.has(p));
    assert.deepEqual(missing, [], 'used but not declared (the generated RBAC would lack them)');
  });
});
