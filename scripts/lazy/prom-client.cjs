// prom-client's index (lib/ of prom-client 15), with each export loaded when first read. The real
// index requires every part at once: the Pushgateway's HTTP client, the cluster aggregator (and
// Node's `cluster`), which the operator never uses. scripts/build.ts checks that this file
// exports exactly the names the real index does.
'use strict';

const lazy = (name, get) => Object.defineProperty(exports, name, { enumerable: true, get });

lazy('register', () => require('prom-client/lib/registry').globalRegistry);
lazy('Registry', () => require('prom-client/lib/registry'));
Object.defineProperty(exports, 'contentType', {
  enumerable: true,
  get: () => exports.register.contentType,
  set: (value) => { exports.register.setContentType(value); },
});
lazy('prometheusContentType', () => exports.Registry.PROMETHEUS_CONTENT_TYPE);
lazy('openMetricsContentType', () => exports.Registry.OPENMETRICS_CONTENT_TYPE);
lazy('validateMetricName', () => require('prom-client/lib/validation').validateMetricName);
lazy('Counter', () => require('prom-client/lib/counter'));
lazy('Gauge', () => require('prom-client/lib/gauge'));
lazy('Histogram', () => require('prom-client/lib/histogram'));
lazy('Summary', () => require('prom-client/lib/summary'));
lazy('Pushgateway', () => require('prom-client/lib/pushgateway'));
lazy('linearBuckets', () => require('prom-client/lib/bucketGenerators').linearBuckets);
lazy('exponentialBuckets', () => require('prom-client/lib/bucketGenerators').exponentialBuckets);
lazy('collectDefaultMetrics', () => require('prom-client/lib/defaultMetrics'));
lazy('aggregators', () => require('prom-client/lib/metricAggregators').aggregators);
lazy('AggregatorRegistry', () => require('prom-client/lib/cluster'));
