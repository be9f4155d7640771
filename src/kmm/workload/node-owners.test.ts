import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Store } from '../../runtime/cache/store.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { nodeToOwners, SELECTOR_INDEX, selectorIndex, type SelectorIndexed } from './node-owners.ts';

type Device = KubeObject & { spec: { selector: Record<string, string> } };
const device = (name: string, selector: Record<string, string>): Device =>
  ({ apiVersion: 'x/v1', kind: 'Device', metadata: { namespace: 'ns', name, resourceVersion: '1' }, spec: { selector } });
const node = (labels: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels } });
const selectorOf = (d: Device) => d.spec.selector;

/** 1,000 devices, each on its own pool, plus one for every node; reads through `SelectorIndexed` only, counted. */
function fleet() {
  const store = new Store<Device>();
  store.addIndex(SELECTOR_INDEX, selectorIndex(selectorOf));
  for (let i = 0; i < 1000; i++) store.upsert(device(`pool-${i}`, { pool: `p${i}`, gpu: 'true' }));
  store.upsert(device('everywhere', {}));
  let read = 0;
  // No list(): a mapping that scanned every object would not even run.
  const objects: SelectorIndexed<Device> = {
    keysByIndex: (name, value) => store.keysByIndex(name, value),
    byIndex: (name, value) => { const out = store.byIndex(name, value); read += out.length; return out; },
  };
  return { objects, read: () => read };
}

describe('nodeToOwners', () => {
  it('maps a node to the devices whose selector it matches, those for every node, and the Modules its KMM labels name', () => {
    const { objects } = fleet();
    const keys = nodeToOwners(objects, selectorOf)(node({ pool: 'p7', gpu: 'true', 'kmm.node.kubernetes.io/other.mod.ready': '' }));
    assert.deepEqual(keys.sort(), ['ns/everywhere', 'ns/pool-7', 'other/mod']);
  });

  it('reads only the devices sharing a label with the node, not all 1,000', () => {
    const { objects, read } = fleet();
    nodeToOwners(objects, selectorOf)(node({ pool: 'p7', zone: 'a' }));
    assert.equal(read(), 1);
    // A label every device selects on is read once per device that has it: that is what the node concerns.
    nodeToOwners(objects, selectorOf)(node({ pool: 'p7', gpu: 'true' }));
    assert.equal(read(), 1 + 1 + 1000);
  });

  it('leaves out a device that shares one label but not its whole selector', () => {
    const { objects } = fleet();
    assert.deepEqual(nodeToOwners(objects, selectorOf)(node({ gpu: 'true' })), ['ns/everywhere']);
  });
});
