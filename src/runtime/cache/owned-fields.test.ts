import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { needsApply } from '../apply.ts';
import type { KubeObject } from '../object.ts';
import { ownedFieldsTransform, pruneToFields, type FieldsV1 } from './owned-fields.ts';

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
    // A v: key compares as isDeepStrictEqual does: -0 (which JSON.parse can produce) is not 0.
    assert.deepEqual(pruneToFields([-0, 0], { 'v:0': {} }), [0]);
  });
});

/** pruneToFields as first written, read straight off the fieldsV1 rules: the model the faster one must equal. */
function modelPrune(value: unknown, fields: FieldsV1): unknown {
  if (value === null || typeof value !== 'object') return value;
  const members = Object.entries(fields).filter(([k]) => k !== '.');
  if (members.length === 0) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    value.forEach((element, index) => {
      const match = members.find(([k]) => {
        if (k.startsWith('i:')) return Number(k.slice(2)) === index;
        if (k.startsWith('v:')) return isDeepStrictEqual(JSON.parse(k.slice(2)), element);
        if (!k.startsWith('k:') || element === null || typeof element !== 'object') return false;
        return Object.entries(JSON.parse(k.slice(2)) as Record<string, unknown>).every(([kk, v]) => isDeepStrictEqual((element as Record<string, unknown>)[kk], v));
      });
      if (match) out.push(modelPrune(element, match[1]));
    });
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [k, sub] of members) {
    if (!k.startsWith('f:')) continue;
    const v = (value as Record<string, unknown>)[k.slice(2)];
    if (v !== undefined) out[k.slice(2)] = modelPrune(v, sub);
  }
  return out;
}

/** A fieldsV1 set for `value` drawn from `pick` (true: name this member): f: fields, and i:, v: and k: list elements, some missing, some '.'. */
function fieldsFor(value: unknown, pick: () => boolean): FieldsV1 {
  const out: Record<string, FieldsV1> = {};
  if (pick()) out['.'] = {};
  if (Array.isArray(value)) {
    value.forEach((element, index) => {
      if (!pick()) return;
      const sub = fieldsFor(element, pick);
      const named = element !== null && typeof element === 'object' && !Array.isArray(element) && 'name' in element;
      if (named && pick()) out[`k:${JSON.stringify({ name: (element as { name: unknown }).name })}`] = sub;
      else if (element === null || typeof element !== 'object') out[pick() ? `v:${JSON.stringify(element)}` : `i:${index}`] = sub;
      else out[`i:${index}`] = sub;
    });
    if (pick()) out['k:{"name":"absent"}'] = {};
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (pick()) out[`f:${k}`] = fieldsFor(v, pick);
    if (pick()) out['f:absent'] = {};
  }
  return out;
}

void describe('pruneToFields against its model', () => {
  void it('keeps exactly what the model keeps, for any JSON value and a fieldsV1 set drawn from it', () => {
    const named = fc.record({ name: fc.oneof(fc.string({ maxLength: 3 }), fc.integer({ min: 0, max: 3 })), x: fc.jsonValue({ maxDepth: 2 }) });
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ maxDepth: 4 },
        fc.jsonValue({ maxDepth: 1 }),
        fc.array(fc.oneof(named, tie('node'), fc.string({ maxLength: 2 })), { maxLength: 4 }),
        fc.dictionary(fc.string({ maxLength: 3 }), tie('node'), { maxKeys: 4 })),
    })).node;
    fc.assert(fc.property(value, fc.infiniteStream(fc.boolean()), (v, bits) => {
      const it = bits[Symbol.iterator]();
      const fields = fieldsFor(v, () => it.next().value as boolean);
      assert.deepStrictEqual(pruneToFields(v, fields), modelPrune(v, fields));
    }), { numRuns: 2_000 });
  });
});
