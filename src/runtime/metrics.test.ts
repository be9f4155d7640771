import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Gauge, Registry } from 'prom-client';
import { ScrapedGauge } from './metrics.ts';

void describe('ScrapedGauge', () => {
  const make = (registry: Registry, records: Map<string, number>) =>
    new ScrapedGauge<number, 'key'>(registry, 'demo_items', 'Items per key.', records, (n, add) => add({ key: String(n) }, n * 10));

  void it('computes its series from the records at each scrape, in their order, written like a Gauge', async () => {
    const records = new Map([['b', 2], ['a', 1]]);
    const registry = new Registry();
    make(registry, records);
    const gauge = new Gauge({ name: 'demo_items', help: 'Items per key.', labelNames: ['key'], registers: [] });
    gauge.set({ key: '2' }, 20);
    gauge.set({ key: '1' }, 10);
    const reference = new Registry();
    reference.registerMetric(gauge);
    assert.equal(await registry.metrics(), await reference.metrics());
    assert.deepEqual(await registry.getMetricsAsJSON(), await reference.getMetricsAsJSON());
    records.delete('b');
    assert.equal(await registry.metrics(), '# HELP demo_items Items per key.\n# TYPE demo_items gauge\ndemo_items{key="1"} 10\n');
  });

  void it('clears its records on reset and refuses a name the registry already holds', () => {
    const records = new Map([['a', 1]]);
    const registry = new Registry();
    const metric = make(registry, records);
    assert.equal(registry.getSingleMetric('demo_items'), metric);
    registry.resetMetrics();
    assert.equal(records.size, 0);
    assert.throws(() => make(registry, records), /already been registered/);
  });
});
