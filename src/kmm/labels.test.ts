import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  devicePluginReadyLabel,
  isDevicePluginReadyOn,
  isModuleReadyOn,
  moduleOfNodeLabel,
  moduleReadyLabel,
  readyNodeSelector,
} from './labels.ts';

void test('ready label names carry namespace and name the way KMM writes them', () => {
  assert.equal(moduleReadyLabel('ops', 'ptemplate'), 'kmm.node.kubernetes.io/ops.ptemplate.ready');
  assert.equal(devicePluginReadyLabel('ops', 'ptemplate'), 'kmm.node.kubernetes.io/ops.ptemplate.device-plugin-ready');
});

void test('a module counts as ready only on a node carrying its own ready label with the empty value', () => {
  const node = { metadata: { labels: { 'kmm.node.kubernetes.io/ops.ptemplate.ready': '' } } };
  assert.equal(isModuleReadyOn(node, 'ops', 'ptemplate'), true);
  assert.equal(isModuleReadyOn(node, 'other', 'ptemplate'), false, 'same name, other namespace');
  assert.equal(isModuleReadyOn(node, 'ops', 'ptemplat'), false);
  assert.equal(isModuleReadyOn({ metadata: {} }, 'ops', 'ptemplate'), false);
  assert.equal(isModuleReadyOn({}, 'ops', 'ptemplate'), false);
  // A value a nodeSelector asking for "" would not match.
  assert.equal(isModuleReadyOn({ metadata: { labels: { 'kmm.node.kubernetes.io/ops.ptemplate.ready': 'true' } } }, 'ops', 'ptemplate'), false);
});

void test('device plugin readiness is its own label, independent of module readiness', () => {
  const loadedOnly = { metadata: { labels: { [moduleReadyLabel('ops', 'm')]: '' } } };
  const both = { metadata: { labels: { [moduleReadyLabel('ops', 'm')]: '', [devicePluginReadyLabel('ops', 'm')]: '' } } };
  assert.equal(isDevicePluginReadyOn(loadedOnly, 'ops', 'm'), false);
  assert.equal(isDevicePluginReadyOn(both, 'ops', 'm'), true);
});

void test('readyNodeSelector asks for the module label, and the device plugin label only when requested', () => {
  assert.deepEqual(readyNodeSelector('ops', 'm', { devicePlugin: false }), { 'kmm.node.kubernetes.io/ops.m.ready': '' });
  assert.deepEqual(readyNodeSelector('ops', 'm', { devicePlugin: true }), {
    'kmm.node.kubernetes.io/ops.m.ready': '',
    'kmm.node.kubernetes.io/ops.m.device-plugin-ready': '',
  });
});

void test('a node labelled by KMM satisfies the selector readyNodeSelector builds', () => {
  const selector = readyNodeSelector('ops', 'm', { devicePlugin: true });
  const node = { metadata: { labels: { [moduleReadyLabel('ops', 'm')]: '', [devicePluginReadyLabel('ops', 'm')]: '', zone: 'a' } } };
  for (const [key, value] of Object.entries(selector)) assert.equal(node.metadata.labels[key], value);
  assert.equal(isModuleReadyOn(node, 'ops', 'm') && isDevicePluginReadyOn(node, 'ops', 'm'), true);
});

void test('every KMM node label of a module leads back to that module, also for names with dots', () => {
  const want = { namespace: 'ops', name: 'pt.v2' };
  assert.deepEqual(moduleOfNodeLabel(moduleReadyLabel('ops', 'pt.v2')), want);
  assert.deepEqual(moduleOfNodeLabel(devicePluginReadyLabel('ops', 'pt.v2')), want);
  assert.deepEqual(moduleOfNodeLabel('kmm.node.kubernetes.io/ops.pt.v2.version.ready'), want);
  assert.deepEqual(moduleOfNodeLabel('kmm.node.kubernetes.io/version-module.ops.pt.v2'), want);
  assert.equal(moduleOfNodeLabel('kubernetes.io/hostname'), undefined);
  assert.equal(moduleOfNodeLabel('kmm.node.kubernetes.io/nodot.ready'), undefined);
  assert.equal(moduleOfNodeLabel('kmm.node.kubernetes.io/ops.pt.other'), undefined);
});
