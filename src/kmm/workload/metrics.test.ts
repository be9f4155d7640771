import { exposition } from '../../runtime/metrics.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { DeviceObject } from './driver.ts';
import { DeviceMetrics } from './metrics.ts';
import type { DeviceCondition, DeviceStatus, UpgradeStatus } from './status-schema.ts';

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

/** The exposition the Gauge-based DeviceMetrics (before the series were computed at scrape time) wrote for the same calls. */
const GAUGE_EXPOSITION = [
  '# HELP ptemplate_consumers_desired Consumer pods that should run (nodes where the module and the device plugin are ready).',
  '# TYPE ptemplate_consumers_desired gauge',
  'ptemplate_consumers_desired{namespace="ns1",name="a"} 3',
  'ptemplate_consumers_desired{namespace="ns1",name="b"} 2',
  'ptemplate_consumers_desired{namespace="ns2",name="c"} 1',
  '',
  '# HELP ptemplate_consumers_ready Consumer pods that are running and ready.',
  '# TYPE ptemplate_consumers_ready gauge',
  'ptemplate_consumers_ready{namespace="ns1",name="a"} 3',
  'ptemplate_consumers_ready{namespace="ns1",name="b"} 1',
  'ptemplate_consumers_ready{namespace="ns2",name="c"} 0',
  '',
  '# HELP ptemplate_module_nodes_desired Nodes where KMM should load the kernel module.',
  '# TYPE ptemplate_module_nodes_desired gauge',
  'ptemplate_module_nodes_desired{namespace="ns1",name="a"} 3',
  'ptemplate_module_nodes_desired{namespace="ns1",name="b"} 0',
  'ptemplate_module_nodes_desired{namespace="ns2",name="c"} 3',
  '',
  '# HELP ptemplate_module_nodes_available Nodes where KMM reports the kernel module loader as available.',
  '# TYPE ptemplate_module_nodes_available gauge',
  'ptemplate_module_nodes_available{namespace="ns1",name="a"} 3',
  'ptemplate_module_nodes_available{namespace="ns1",name="b"} 0',
  'ptemplate_module_nodes_available{namespace="ns2",name="c"} 1',
  '',
  '# HELP ptemplate_condition The current status of each condition of a Ptemplate: 1 for the status it has, 0 for the others.',
  '# TYPE ptemplate_condition gauge',
  'ptemplate_condition{namespace="ns1",name="a",type="Ready",status="True"} 1',
  'ptemplate_condition{namespace="ns1",name="a",type="Ready",status="False"} 0',
  'ptemplate_condition{namespace="ns1",name="a",type="Ready",status="Unknown"} 0',
  'ptemplate_condition{namespace="ns1",name="b",type="Ready",status="True"} 0',
  'ptemplate_condition{namespace="ns1",name="b",type="Ready",status="False"} 1',
  'ptemplate_condition{namespace="ns1",name="b",type="Ready",status="Unknown"} 0',
  'ptemplate_condition{namespace="ns1",name="b",type="Upgrading",status="True"} 1',
  'ptemplate_condition{namespace="ns1",name="b",type="Upgrading",status="False"} 0',
  'ptemplate_condition{namespace="ns1",name="b",type="Upgrading",status="Unknown"} 0',
  'ptemplate_condition{namespace="ns2",name="c",type="Ready",status="True"} 0',
  'ptemplate_condition{namespace="ns2",name="c",type="Ready",status="False"} 1',
  'ptemplate_condition{namespace="ns2",name="c",type="Ready",status="Unknown"} 0',
  'ptemplate_condition{namespace="ns2",name="c",type="ModuleLoaded",status="True"} 0',
  'ptemplate_condition{namespace="ns2",name="c",type="ModuleLoaded",status="False"} 1',
  'ptemplate_condition{namespace="ns2",name="c",type="ModuleLoaded",status="Unknown"} 0',
  '',
  '# HELP ptemplate_upgrade_nodes Selected nodes of a versioned Ptemplate by upgrade state: done, in_progress, pending, failed.',
  '# TYPE ptemplate_upgrade_nodes gauge',
  'ptemplate_upgrade_nodes{namespace="ns1",name="b",state="done"} 1',
  'ptemplate_upgrade_nodes{namespace="ns1",name="b",state="in_progress"} 1',
  'ptemplate_upgrade_nodes{namespace="ns1",name="b",state="pending"} 2',
  'ptemplate_upgrade_nodes{namespace="ns1",name="b",state="failed"} 0',
  '',
  '# HELP ptemplate_module_load_failures Nodes where KMM\'s worker pod for the kernel module is failing (load or unload).',
  '# TYPE ptemplate_module_load_failures gauge',
  'ptemplate_module_load_failures{namespace="ns1",name="a"} 0',
  'ptemplate_module_load_failures{namespace="ns1",name="b"} 1',
  'ptemplate_module_load_failures{namespace="ns2",name="c"} 0',
].join('\n') + '\n';

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

  void it('writes exactly what the Gauge-based metrics wrote: order, labels, an upgrade, a dropped condition type', async () => {
    const registry = new Registry();
    const metrics = DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate');
    const upgrade: UpgradeStatus = { targetVersion: 'v2', currentVersions: [{ version: 'v1', nodes: 2 }], done: 1, inProgress: 1, pending: 2, failed: 0, nodeLabel: 'l' };
    metrics.observe(pt('ns1', 'a'), loading);
    metrics.observe(pt('ns1', 'gone'), { conditions: [condition('Ready', 'Unknown')], consumersDesired: 5, upgrade });
    metrics.observe(pt('ns1', 'b'), {
      conditions: [condition('Ready', 'False'), condition('Upgrading', 'True')], consumersDesired: 2, consumersReady: 1, upgrade,
      loadFailures: [{ node: 'n1', reason: 'LoadFailed', message: 'm' }],
    });
    metrics.observe(pt('ns2', 'c'), { ...loading, upgrade });
    metrics.observe(pt('ns1', 'a'), { conditions: [condition('Ready', 'True')], module: { loader: { desired: 3, available: 3, matching: 3 } }, consumersDesired: 3, consumersReady: 3 });
    metrics.observe(pt('ns2', 'c'), loading);
    metrics.forget({ namespace: 'ns1', name: 'gone' });
    assert.equal(await registry.metrics(), GAUGE_EXPOSITION);
    assert.equal((await exposition(registry)).join(''), GAUGE_EXPOSITION, 'what /metrics writes');
    // The other ways to read a registry see the same series.
    assert.deepEqual(await registry.getMetricsAsJSON().then((all) => all.find((m) => m.name === 'ptemplate_upgrade_nodes')), {
      help: 'Selected nodes of a versioned Ptemplate by upgrade state: done, in_progress, pending, failed.', name: 'ptemplate_upgrade_nodes', type: 'gauge', aggregator: 'sum',
      values: [['done', 1], ['in_progress', 1], ['pending', 2], ['failed', 0]].map(([state, value]) => ({ value, labels: { namespace: 'ns1', name: 'b', state } })),
    });
    assert.ok(registry.getSingleMetric('ptemplate_condition'));
    assert.ok(GAUGE_EXPOSITION.includes(`${await registry.getSingleMetricAsString('ptemplate_condition')}\n`));
  });

  void it('keeps no series of a forgotten object, in any metric', async () => {
    const registry = new Registry();
    const metrics = DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate');
    const upgrade: UpgradeStatus = { targetVersion: 'v2', currentVersions: [], done: 0, inProgress: 0, pending: 1, failed: 1, nodeLabel: 'l' };
    metrics.observe(pt('ns1', 'a'), { ...loading, upgrade, loadFailures: [{ node: 'n1', reason: 'LoadFailed', message: 'm' }] });
    metrics.forget({ namespace: 'ns1', name: 'a' });
    const families = await registry.getMetricsAsJSON();
    assert.equal(families.length, 7);
    for (const family of families) assert.deepEqual(family.values, [], family.name);
    assert.deepEqual(await series(registry), []);
  });

  void it('drops every series on registry.resetMetrics(), as a Gauge does, until the next observe', async () => {
    const registry = new Registry();
    const metrics = DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate');
    metrics.observe(pt('ns1', 'a'), loading);
    registry.resetMetrics();
    assert.deepEqual(await series(registry), []);
    metrics.observe(pt('ns1', 'a'), loading);
    assert.equal((await series(registry)).length, 11);
  });

  void it('registers once per registry', () => {
    const registry = new Registry();
    assert.equal(DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate'), DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate'));
    assert.notEqual(DeviceMetrics.for(registry, 'ptemplate', 'Ptemplate'), DeviceMetrics.for(new Registry(), 'ptemplate', 'Ptemplate'));
  });
});
