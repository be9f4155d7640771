import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { childTransform, nodeTransform, nodeTransformKeeping, pick, podTransform, secretTransform } from '../kmm/workload/cache-transforms.ts';
import { needsApply } from '../runtime/apply.ts';
import { clone, type KubeObject } from '../runtime/object.ts';
import { withDefaults } from './api/defaults.ts';
import type { Ptemplate } from './api/schema.ts';
import { desiredConsumers, desiredModule } from './driver.ts';
import { FIELD_MANAGER } from './names.ts';

// The layer keeps of a child's spec what our field manager owns (managedFields).
const daemonSetTransform = childTransform(FIELD_MANAGER);
const moduleTransform = childTransform(FIELD_MANAGER);

// Every optional branch of driver.ts taken: pull secret, tolerations, kernel mappings.
const pt: Ptemplate = {
  apiVersion: 'pt.example.com/v1alpha1', kind: 'Ptemplate',
  metadata: { name: 'pt', namespace: 'ns', uid: '6f1c-uid', generation: 3 },
  spec: withDefaults({
    selector: { 'node-role.kubernetes.io/worker': '' },
    imagePullSecret: { name: 'registry' },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule', tolerationSeconds: 30 }],
    kernelMappings: [{ regexp: '^5\\.14\\..*$', containerImage: 'quay.io/example/pt-char-dev:${KERNEL_FULL_VERSION}' }],
  }),
};

/** The fieldsV1 set an apply of `value` leaves (list elements keyed by name, else by position or value). */
function fieldsOf(value: unknown): Record<string, unknown> {
  if (Array.isArray(value)) {
    return Object.fromEntries(value.map((el: unknown, i) => {
      if (el === null || typeof el !== 'object') return [`v:${JSON.stringify(el)}`, {}];
      const key = 'name' in el ? `k:${JSON.stringify({ name: (el).name })}` : `i:${i}`;
      return [key, { '.': {}, ...fieldsOf(el) }];
    }));
  }
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [`f:${k}`, fieldsOf(v)]));
  return {};
}

const serverMetadata = (generation: number, applied: KubeObject) => ({
  uid: '0b7e-uid', resourceVersion: '4711', generation, creationTimestamp: '2026-12-02T01:00:00Z',
  managedFields: [{ manager: FIELD_MANAGER, operation: 'Apply', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: fieldsOf({ spec: applied.spec }) }],
});

/** The DaemonSet as a Kubernetes API server returns it after our apply: its defaults and status added. */
function serverDaemonSet(): KubeObject {
  const ds = clone(desiredConsumers(pt, pt.spec)) as KubeObject & { spec: { template: { metadata: Record<string, unknown>; spec: Record<string, unknown> } } };
  Object.assign(ds.metadata, serverMetadata(2, desiredConsumers(pt, pt.spec)));
  ds.metadata.finalizers = [];
  Object.assign(ds.spec, { revisionHistoryLimit: 10, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } } });
  ds.spec.template.metadata.creationTimestamp = null;
  Object.assign(ds.spec.template.spec, {
    restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', securityContext: {}, schedulerName: 'default-scheduler',
  });
  for (const c of ds.spec.template.spec.containers as Record<string, unknown>[]) {
    Object.assign(c, { terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' });
  }
  ds.status = { currentNumberScheduled: 2, numberMisscheduled: 0, desiredNumberScheduled: 2, numberReady: 1, observedGeneration: 2, updatedNumberScheduled: 2, numberAvailable: 1, numberUnavailable: 1 };
  return ds;
}

/** The Module as returned after our apply: the CRD's defaults and KMM's status added. */
function serverModule(): KubeObject {
  const module = clone(desiredModule(pt, pt.spec)) as unknown as KubeObject & { spec: { moduleLoader: { container: Record<string, unknown> } } };
  Object.assign(module.metadata, serverMetadata(1, desiredModule(pt, pt.spec) as unknown as KubeObject));
  module.metadata.finalizers = ['kmm.node.kubernetes.io/module-finalizer'];
  module.spec.moduleLoader.container.imagePullPolicy = 'IfNotPresent';
  module.status = { moduleLoader: { nodesMatchingSelectorNumber: 3, desiredNumber: 3, availableNumber: 2 }, devicePlugin: { desiredNumber: 3, availableNumber: 2 } };
  return module;
}

const at = (obj: unknown, ...path: (string | number)[]): Record<string, unknown> =>
  path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], obj) as Record<string, unknown>;

describe('Ptemplate cache transforms', () => {
  it('keep every path the desired DaemonSet and Module set, so a converged child needs no apply', () => {
    assert.equal(needsApply(desiredConsumers(pt, pt.spec), daemonSetTransform(serverDaemonSet())), false);
    assert.equal(needsApply(desiredModule(pt, pt.spec), moduleTransform(serverModule())), false);
  });

  it('still see a drift in a field the operator owns', () => {
    const ds = serverDaemonSet();
    at(ds, 'spec', 'template', 'spec', 'containers', 0).image = 'quay.io/someone/else:1';
    assert.equal(needsApply(desiredConsumers(pt, pt.spec), daemonSetTransform(ds)), true, 'consumer image edited');
    const ds2 = serverDaemonSet();
    (at(ds2, 'spec', 'template', 'spec').tolerations as Record<string, unknown>[])[0]!.tolerationSeconds = 60;
    assert.equal(needsApply(desiredConsumers(pt, pt.spec), daemonSetTransform(ds2)), true, 'toleration edited');
    const module = serverModule();
    at(module, 'spec', 'moduleLoader', 'container', 'modprobe').parameters = ['max_dev=1'];
    assert.equal(needsApply(desiredModule(pt, pt.spec), moduleTransform(module)), true, 'module parameters edited');
  });

  it('keep what the status reads and drop the server\'s defaults and managedFields', () => {
    const ds = daemonSetTransform(serverDaemonSet());
    assert.deepEqual(ds.status, serverDaemonSet().status);
    assert.equal(ds.metadata.generation, 2);
    assert.equal(at(ds, 'spec').updateStrategy, undefined);
    assert.equal(at(ds, 'spec', 'template', 'spec').dnsPolicy, undefined);
    assert.equal(ds.metadata.managedFields, undefined);
    assert.deepEqual(moduleTransform(serverModule()).status, serverModule().status);
  });

  it('keep of a consumer pod its identity, owner, node, phase and Ready condition only', () => {
    const pod: KubeObject = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: 'pt-consumer-x', namespace: 'ns', uid: 'p1', resourceVersion: '9', labels: { a: 'b' }, annotations: { 'pt.example.com/ptemplate': 'pt' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'pt-consumer', uid: 'd1', controller: true }],
        deletionTimestamp: '2026-12-02T01:00:00Z', creationTimestamp: '2026-12-02T00:00:00Z',
      },
      spec: { nodeName: 'worker-1', containers: [{ name: 'consumer', image: 'x:1' }], volumes: [{ name: 'token' }] },
      status: {
        phase: 'Running', podIP: '10.0.0.7', containerStatuses: [{ name: 'consumer', ready: true }],
        conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }],
      },
    };
    assert.deepEqual(podTransform(pod), {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: 'pt-consumer-x', namespace: 'ns', uid: 'p1', resourceVersion: '9', labels: { a: 'b' }, annotations: { 'pt.example.com/ptemplate': 'pt' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'pt-consumer', uid: 'd1', controller: true }],
        deletionTimestamp: '2026-12-02T01:00:00Z',
      },
      spec: { nodeName: 'worker-1' },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    assert.deepEqual(podTransform({ metadata: { name: 'pending', namespace: 'ns' }, status: { phase: 'Pending' } }),
      { metadata: { name: 'pending', namespace: 'ns' }, status: { phase: 'Pending' } }, 'no conditions yet: none invented');
  });

  it('keep node labels and nothing of a Secret but its identity', () => {
    const meta = { name: 'n1', uid: 'u', resourceVersion: '1', labels: { l: '' }, annotations: { big: 'x'.repeat(1000) } };
    assert.deepEqual(nodeTransform({ metadata: meta }), { metadata: { name: 'n1', uid: 'u', resourceVersion: '1', labels: { l: '' } } });
    assert.deepEqual(secretTransform({ kind: 'Secret', metadata: { ...meta, namespace: 'ns' } }),
      { kind: 'Secret', metadata: { name: 'n1', namespace: 'ns', uid: 'u', resourceVersion: '1' } });
  });

  it('keep of a node\'s annotations only our own upgrade notes, which the rollout reads back', () => {
    const node = { metadata: { name: 'n1', labels: { l: '' }, annotations: { 'pt.example.com/upgrade.ns.pt': '{"since":"x"}', big: 'x'.repeat(1000) } } };
    assert.deepEqual(nodeTransformKeeping('pt.example.com/upgrade')(node).metadata,
      { name: 'n1', labels: { l: '' }, annotations: { 'pt.example.com/upgrade.ns.pt': '{"since":"x"}' } });
  });

  it('pick copies only the shape\'s paths, element by element in arrays, and never invents a path', () => {
    const value = { a: { b: 1, c: 2 }, list: [{ x: 1, y: 2 }, { y: 3 }], keep: { deep: [1] } };
    assert.deepEqual(pick(value, { a: { b: true }, list: { x: true }, keep: true, missing: { z: true } }), { a: { b: 1 }, list: [{ x: 1 }, {}], keep: { deep: [1] } });
  });
});
