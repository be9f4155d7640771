import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { needsApply } from '../apply.ts';
import type { KubeObject } from '../object.ts';
import { ownedFieldsTransform, pruneToFields } from './owned-fields.ts';

// A DaemonSet as the API server returns it after our apply: server defaults everywhere, a sidecar
// added by another manager, and managedFields saying which fields are whose.
const server = (): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'DaemonSet',
  metadata: {
    name: 'ds', namespace: 'ns', uid: 'u', resourceVersion: '7', labels: { app: 'x' },
    managedFields: [
      { manager: 'op', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: {
        'f:metadata': { 'f:labels': { 'f:app': {} } },
        'f:spec': { 'f:selector': {}, 'f:template': { 'f:spec': {
          'f:nodeSelector': { 'f:a': {} },
          'f:containers': { 'k:{"name":"main"}': { '.': {}, 'f:name': {}, 'f:image': {}, 'f:securityContext': { 'f:capabilities': { 'f:drop': { 'v:"ALL"': {} } } } } },
        } } },
      } },
      { manager: 'other', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"sidecar"}': { '.': {}, 'f:image': {} } } } } } } },
      { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': {} } },
    ],
  },
  spec: {
    selector: { matchLabels: { app: 'x' } },
    revisionHistoryLimit: 10,
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
    template: {
      metadata: { creationTimestamp: null },
      spec: {
        nodeSelector: { a: 'b' }, dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler',
        containers: [
          { name: 'main', image: 'i:1', imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', securityContext: { capabilities: { drop: ['ALL'] }, privileged: false } },
          { name: 'sidecar', image: 's:1' },
        ],
      },
    },
  },
  status: { desiredNumberScheduled: 2 },
});

const desired: KubeObject = {
  apiVersion: 'apps/v1', kind: 'DaemonSet',
  metadata: { name: 'ds', namespace: 'ns', labels: { app: 'x' } },
  spec: { selector: { matchLabels: { app: 'x' } }, template: { spec: { nodeSelector: { a: 'b' }, containers: [{ name: 'main', image: 'i:1', securityContext: { capabilities: { drop: ['ALL'] } } }] } } },
};

describe('ownedFieldsTransform', () => {
  const transform = ownedFieldsTransform('op');

  it('keeps exactly the fields the manager owns, metadata and status, and drops server defaults and others\' fields', () => {
    const cached = transform(server());
    assert.deepEqual(cached.spec, { selector: { matchLabels: { app: 'x' } }, template: { spec: { nodeSelector: { a: 'b' }, containers: [{ name: 'main', image: 'i:1', securityContext: { capabilities: { drop: ['ALL'] } } }] } } });
    assert.deepEqual(cached.status, { desiredNumberScheduled: 2 });
    assert.equal(cached.metadata.uid, 'u');
  });

  it('lets a converged object need no apply, and a field taken over by someone else need one', () => {
    assert.equal(needsApply(desired, transform(server())), false);
    const edited = server();
    // kubectl edit changed our image: the server moved that field to the editor.
    const ours = (edited.metadata.managedFields as { fieldsV1: Record<string, Record<string, unknown>> }[])[0]!.fieldsV1;
    const main = JSON.parse(JSON.stringify(ours['f:spec'])) as { 'f:template': { 'f:spec': { 'f:containers': Record<string, Record<string, unknown>> } } };
    delete main['f:template']['f:spec']['f:containers']['k:{"name":"main"}']!['f:image'];
    ours['f:spec'] = main;
    assert.equal(needsApply(desired, transform(edited)), true);
  });

  it('keeps only metadata and status of an object the manager owns nothing of', () => {
    const cached = ownedFieldsTransform('nobody')(server());
    assert.equal(cached.spec, undefined);
    assert.equal(needsApply(desired, cached), true);
  });

  it('matches list elements by key, by value and by index', () => {
    assert.deepEqual(pruneToFields([{ k: 1, a: 1, b: 2 }, { k: 2, a: 3 }], { 'k:{"k":2}': { 'f:a': {} } }), [{ a: 3 }]);
    assert.deepEqual(pruneToFields(['x', 'y'], { 'v:"y"': {} }), ['y']);
    assert.deepEqual(pruneToFields(['x', 'y'], { 'i:0': {} }), ['x']);
  });
});
