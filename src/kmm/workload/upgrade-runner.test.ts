import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client } from '../../runtime/client/client.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import { silentLogger } from '../../runtime/log.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { defineResource } from '../../runtime/resource.ts';
import { parsedDuring, staticCache } from '../../runtime/testing/static-cache.ts';
import { moduleReadyLabel, moduleVersionLabel } from '../labels.ts';
import { declareNodes } from './controller.ts';
import type { DeviceObject } from './driver.ts';
import { upgradeStepKey, workloadNames } from './names.ts';
import { nodeMarksIndex, UpgradeRunner } from './upgrade-runner.ts';

const Devices = defineResource<DeviceObject>({ group: 'dev.example.com', version: 'v1', kind: 'Device', plural: 'devices', namespaced: true });
const names = workloadNames(Devices);
const device = { apiVersion: 'dev.example.com/v1', kind: 'Device', metadata: { namespace: 'ns', name: 'dev', uid: 'u1' }, spec: {} } as DeviceObject;
const versionKey = moduleVersionLabel('ns', 'dev'), stepKey = upgradeStepKey(names, 'ns', 'dev');

const node = (name: string, labels: Record<string, string> = {}, annotations?: Record<string, string>): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Node', metadata: { name, resourceVersion: '1', labels: { 'kubernetes.io/os': 'linux', ...labels }, ...(annotations ? { annotations } : {}) } });

/**
 * 1,000 nodes: `marked-version`, `marked-step` and `marked-note` carry one of the device's marks
 * each (version label, step label, step annotation), `other` another device's version label, and
 * every one KMM's ready label for the device. The node informer is the controller's own.
 */
function fleet() {
  const ready = { [moduleReadyLabel('ns', 'dev')]: '' };
  return [
    ...Array.from({ length: 996 }, (_, i) => node(`node-${i}`, ready)),
    node('marked-version', { ...ready, [versionKey]: 'v2' }),
    node('marked-step', { ...ready, [stepKey]: 'drain' }),
    node('marked-note', ready, { [stepKey]: '{"from":"v1"}', 'unrelated/annotation': 'x' }),
    node('other', { ...ready, [moduleVersionLabel('ns', 'other')]: 'v1' }),
  ];
}

describe('UpgradeRunner.clearNodes', () => {
  it('clears the device\'s marks from the 3 nodes that carry them, reading those 3 of 1,000', async (t) => {
    const cache = await staticCache(t, new Map([['Node', fleet()]]), (c) => declareNodes(c, names));
    const patches: { node: string; body: unknown }[] = [];
    const client = { patch: async (_type: unknown, key: { name: string }, body: unknown) => { patches.push({ node: key.name, body }); return {}; } } as unknown as Client;
    const runner = new UpgradeRunner({ client, cache, recorder: {} as EventRecorder, type: Devices, names });

    const { parsed } = await parsedDuring(() => runner.clearNodes(device, silentLogger));

    assert.deepEqual(patches.map((p) => p.node).sort(), ['marked-note', 'marked-step', 'marked-version']);
    for (const p of patches) assert.deepEqual(p.body, { metadata: { labels: { [versionKey]: null, [stepKey]: null }, annotations: { [stepKey]: null } } });
    assert.equal(parsed, 3);
  });
});

describe('nodeMarksIndex', () => {
  it('indexes a node by the layer\'s version and step keys, labels and annotations alike, and nothing else', () => {
    const marks = nodeMarksIndex(names)(node('n', { [versionKey]: 'v2', [stepKey]: 'drain', [moduleReadyLabel('ns', 'dev')]: '' }, { [stepKey]: '{}', 'other/note': 'x' }));
    assert.deepEqual([...marks].sort(), [stepKey, versionKey].sort());
  });
});
