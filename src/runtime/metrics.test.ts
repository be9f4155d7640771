import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Registry, type OpenMetricsContentType } from 'prom-client';
import { exposition, ScrapedGauge } from './metrics.ts';

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

void describe('exposition', () => {
  void it('writes exactly the text registry.metrics() writes, ScrapedGauges rendered by themselves', async () => {
    const registry = new Registry();
    new Counter({ name: 'demo_total', help: 'A counter.', labelNames: ['verb'], registers: [registry] }).inc({ verb: 'get' }, 3);
    const records = new Map<string, { key: string; value: number }>([
      ['a', { key: 'plain', value: 1 }],
      ['b', { key: 'quote " back \\ slash\nnewline', value: Number.NaN }],
      ['c', { key: 'inf', value: Number.POSITIVE_INFINITY }],
      ['d', { key: 'minus', value: -2.5 }],
    ]);
    new ScrapedGauge<{ key: string; value: number }, 'key' | 'kind'>(registry, 'demo_items', 'Items, with \\ and\nnewline in the help.', records,
      (r, add) => add({ key: r.key, kind: 'x' }, r.value));
    new ScrapedGauge<number, never>(registry, 'demo_unlabelled', 'No labels.', new Map([['x', 7]]), (n, add) => add({}, n));
    new ScrapedGauge<number, 'key'>(registry, 'demo_empty', 'No records.', new Map(), () => {});
    new Gauge({ name: 'demo_last', help: 'After them.', registers: [registry] }).set(1);
    assert.equal((await exposition(registry)).join(''), await registry.metrics());
  });

  void it('leaves OpenMetrics to the registry', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    new Counter({ name: 'demo_total', help: 'A counter.', registers: [registry] }).inc();
    assert.equal((await exposition(registry)).join(''), await registry.metrics());
  });
});
