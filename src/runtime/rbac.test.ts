import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { permission, permissionFor, policyRules } from './rbac.ts';
import { ConfigMaps, DaemonSets, Namespaces } from './resource.ts';

void describe('permissionFor', () => {
  void it('maps client verbs and paths to RBAC verbs and resources', () => {
    assert.equal(permissionFor('APPLY', '/apis/apps/v1/namespaces/x/daemonsets/ds'), 'patch apps/daemonsets');
    assert.equal(permissionFor('APPLY', '/apis/example.com/v1alpha1/namespaces/x/widgets/p/status'), 'patch example.com/widgets/status');
    assert.equal(permissionFor('LIST', '/api/v1/pods'), 'list /pods');
    assert.equal(permissionFor('WATCH', '/api/v1/namespaces/x/pods'), 'watch /pods');
    assert.equal(permissionFor('GET', '/api/v1/namespaces/x'), 'get /namespaces');
    assert.equal(permissionFor('DELETE', '/api/v1/nodes/n1'), 'delete /nodes');
    assert.equal(permissionFor('GET', '/readyz'), undefined);
  });
});

void describe('policyRules', () => {
  void it('groups resources with the same verbs and sorts everything', () => {
    const rules = policyRules([
      permission(DaemonSets, ['patch', 'create']),
      permission(ConfigMaps, ['list', 'watch']),
      permission(Namespaces, ['watch', 'list']),
      permission(ConfigMaps, ['create']),
    ]);
    assert.deepEqual(rules, [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'list', 'watch'] },
      { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch'] },
      { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['create', 'patch'] },
    ]);
  });
});
