import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { DeviceObject } from './driver.ts';
import { DeviceMetrics } from './metrics.ts';
import type { DeviceCondition, DeviceStatus } from './status-schema.ts';

const pt = (namespace: string, name: string): DeviceObject => ({ metadata: { namespace, name }, spec: {} });
const condition = (type: string, status: DeviceCondition['status']): DeviceCondition => ({ type, status, reason: 'R', message: 'm', lastTransitionTime: '2024-01-01T00:00:00Z' });

/** The exposition lines of the ptemplate_* series, sorted. */
async function series(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l.startsWith('ptemplate_')).sort();
}

const loading: DeviceStatus = {
  conditions: [condition('Ready', 'False'), condition('ModuleLoaded', 'False')],
  module: { loader: { desired: 3, available: 1, matching: 3 } },
  consumersDesired: 1,
  consumersReady: 0,
};

void describe('DeviceMetrics', () => {
  void it('sets the counts and one series per condition status from the computed status', async () => {
    const registry = new Registry();
    DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate').observe(pt('ns1', 'a'), loading);
    assert.deepEqual(await series(registry), [
      'ptemplate_condition{namespace="ns1",name="a",type="ModuleLoaded",status="False"} 1',
      'ptemplate_condition{namespace="ns1",name="a",type="ModuleLoaded",status="True"} 0',
      'ptemplate_condition{namespace="ns1",name="a",type="ModuleLoaded",status="Unknown"} 0',
      'ptemplate_condition{namespace="ns1",name="a",type="Ready",status="False"} 1',
      'ptemplate_condition{namespace="ns1",name="a",type="Ready",status="True"} 0',
      'ptemplate_condition{namespace="ns1",name="a",type="Ready",status="Unknown"} 0',
      'ptemplate_consumers_desired{namespace="ns1",name="a"} 1',
      'ptemplate_consumers_ready{namespace="ns1",name="a"} 0',
      'ptemplate_module_load_failures{namespace="ns1",name="a"} 0',
      'ptemplate_module_nodes_available{namespace="ns1",name="a"} 1',
      'ptemplate_module_nodes_desired{namespace="ns1",name="a"} 3',
    ]);
  });

  void it('follows status changes and drops condition types that disappear', async () => {
    const registry = new Registry();
    const metrics = DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate');
    metrics.observe(pt('ns1', 'a'), loading);
    metrics.observe(pt('ns1', 'a'), { conditions: [condition('Ready', 'True')], consumersDesired: 2, consumersReady: 2 });
    const lines = await series(registry);
    assert.ok(lines.includes('ptemplate_condition{namespace="ns1",name="a",type="Ready",status="True"} 1'));
    assert.ok(lines.includes('ptemplate_condition{namespace="ns1",name="a",type="Ready",status="False"} 0'));
    assert.ok(lines.includes('ptemplate_consumers_ready{namespace="ns1",name="a"} 2'));
    assert.ok(lines.includes('ptemplate_module_nodes_desired{namespace="ns1",name="a"} 0'), 'no module status reads as zero');
    assert.equal(lines.filter((l) => l.includes('ModuleLoaded')).length, 0);
  });

  void it('deletes every series of an object that is gone and keeps the others', async () => {
    const registry = new Registry();
    const metrics = DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate');
    metrics.observe(pt('ns1', 'a'), loading);
    metrics.observe(pt('ns2', 'a'), loading);
    metrics.forget({ namespace: 'ns1', name: 'a' });
    const lines = await series(registry);
    assert.equal(lines.length, 11);
    assert.ok(lines.every((l) => l.includes('namespace="ns2"')), lines.join('\n'));
    metrics.forget({ namespace: 'ns1', name: 'never-seen' });
    metrics.forget({ namespace: 'ns2', name: 'a' });
    assert.deepEqual(await series(registry), []);
  });

  void it('registers once per registry', () => {
    const registry = new Registry();
    assert.equal(DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate'), DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate'));
    assert.notEqual(DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate'), DeviceMetrics.for(new Registry(), 'ptemplate', 'Ptemplate'));
  });
});
