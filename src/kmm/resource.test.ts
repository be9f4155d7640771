import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiVersionOf, resourcePath } from '../runtime/resource.ts';
import { MODULE_FINALIZER, Modules } from './resource.ts';

void test('Modules addresses KMM v1beta1 modules in a namespace', () => {
  assert.equal(apiVersionOf(Modules), 'kmm.sigs.x-k8s.io/v1beta1');
  assert.equal(resourcePath(Modules, { namespace: 'ops', name: 'ptemplate', subresource: 'status' }),
    '/apis/kmm.sigs.x-k8s.io/v1beta1/namespaces/ops/modules/ptemplate/status');
  assert.equal(Modules.kind, 'Module');
  assert.ok(Object.isFrozen(Modules));
});

void test('the finalizer is the one KMM puts on Modules', () => {
  assert.equal(MODULE_FINALIZER, 'kmm.node.kubernetes.io/module-finalizer');
});
