import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client } from '../../runtime/client/client.ts';
import { defineResource } from '../../runtime/resource.ts';
import type { DeviceObject } from './driver.ts';
import { StatusWriter } from './status-writer.ts';
import type { DeviceStatus } from './status-schema.ts';

const Things = defineResource<DeviceObject>({ group: 'x.example.com', version: 'v1', kind: 'Thing', plural: 'things', namespaced: true });
const ready = { ready: { status: 'False' as const, reason: 'Loading', message: 'loading' } };

function writer() {
  const writes: DeviceStatus[] = [];
  const client = { applyStatus: async (_rt: unknown, obj: DeviceObject) => { writes.push(obj.status!); return obj; } } as unknown as Client;
  return { writes, status: new StatusWriter({ client, type: Things, now: () => new Date('2026-12-02T00:00:00Z') }) };
}
const thing = (resourceVersion: string, status?: DeviceStatus): DeviceObject =>
  ({ metadata: { name: 't', namespace: 'ns', generation: 1, resourceVersion }, spec: {}, ...(status ? { status } : {}) });

describe('StatusWriter', () => {
  it('does not write the same status again while the cache still shows the object from before its write', async () => {
    const { writes, status } = writer();
    await status.write(thing('1'), ready);
    await status.write(thing('1'), ready);
    assert.equal(writes.length, 1, 'a child event reached the reconcile before our own status write did');
  });

  it('compares with the cache again once it has caught up, so a status someone else changed is put back', async () => {
    const { writes, status } = writer();
    await status.write(thing('1'), ready);
    await status.write(thing('2', writes[0]), ready);
    assert.equal(writes.length, 1, 'the cache shows our write');
    await status.write(thing('3'), ready);
    assert.equal(writes.length, 2, 'someone cleared the status');
  });
});
