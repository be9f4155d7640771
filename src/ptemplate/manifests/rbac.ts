// The operator's RBAC: its ServiceAccount, the manager's roles and bindings (derived from the
// permissions its code declares, split by scope in namespace-scoped mode), the leader election's
// Role in the operator's namespace, the metrics reader ClusterRole, and the editor and viewer
// ClusterRoles for users.
import * as kmmResources from '../../kmm/resource.ts';
import * as authResources from '../../runtime/manager/auth.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { policyRules, type Permission, type PolicyRule } from '../../runtime/rbac.ts';
import * as runtimeResources from '../../runtime/resource.ts';
import { Leases, type ResourceType } from '../../runtime/resource.ts';
import * as webhookResources from '../../runtime/webhook/configuration.ts';
import * as ptemplateApi from '../api/schema.ts';
import { Ptemplates } from '../api/schema.ts';
import { operatorPermissions as featurePermissions, type OperatorFeatures } from '../operator.ts';
import {
  EDITOR_ROLE_NAME, labels, LEADER_ELECTION_ROLE_NAME, MANAGER_ROLE_NAME, METRICS_READER_ROLE_NAME, SERVICE_ACCOUNT_NAME, VIEWER_ROLE_NAME,
} from './constants.ts';

/** What the generated Deployment turns on (its flags): each feature declares the permissions it needs. */
export const DEPLOYMENT_FEATURES: Readonly<OperatorFeatures> = Object.freeze({ leaderElection: true, secureMetrics: true, webhook: true });

/**
 * The permissions the deployed operator needs, as its code declares them (nothing is started,
 * nothing is sent): what its controllers watch and write, plus what the Deployment's features need
 * (the Lease of leader election, the reviews of the secure metrics endpoint, the webhook
 * configuration whose caBundle it keeps).
 */
export function operatorPermissions(watchNamespace?: string): Permission[] {
  return featurePermissions(DEPLOYMENT_FEATURES, watchNamespace);
}

const isLeasePermission = (p: Permission) => p.group === Leases.group && p.resource.split('/')[0] === Leases.plural;

/**
 * Splits the operator's permissions into those of its leader election (Leases, granted by a Role in
 * the operator's own namespace only: a ClusterRole would let it take over any lease of the cluster,
 * kube-controller-manager's included) and all the others.
 */
export function splitLeaderElection(perms: readonly Permission[]): { leaderElection: Permission[]; manager: Permission[] } {
  return { leaderElection: perms.filter(isLeasePermission), manager: perms.filter((p) => !isLeasePermission(p)) };
}

/** Every ResourceType the code defines, by `group/plural`, to tell namespaced permissions from cluster-scoped ones. */
function knownResourceTypes(): Map<string, ResourceType> {
  const out = new Map<string, ResourceType>();
  for (const mod of [runtimeResources, kmmResources, ptemplateApi, authResources, webhookResources] as Record<string, unknown>[]) {
    for (const value of Object.values(mod)) {
      if (isResourceType(value)) out.set(`${value.group}/${value.plural}`, value);
    }
  }
  return out;
}

function isResourceType(value: unknown): value is ResourceType {
  if (!value || typeof value !== 'object') return false;
  const v = value as Partial<ResourceType>;
  return typeof v.group === 'string' && typeof v.plural === 'string' && typeof v.kind === 'string' && typeof v.namespaced === 'boolean';
}

/** Splits permissions into namespaced and cluster-scoped ones (a subresource follows its resource). */
export function splitByScope(perms: readonly Permission[]): { namespaced: Permission[]; cluster: Permission[] } {
  const types = knownResourceTypes();
  const namespaced: Permission[] = [];
  const cluster: Permission[] = [];
  for (const p of perms) {
    const plural = p.resource.split('/')[0]!;
    const type = types.get(`${p.group}/${plural}`);
    if (!type) throw new Error(`manifests: no ResourceType defines ${p.group || 'core'}/${plural}, so its scope is unknown`);
    (type.namespaced ? namespaced : cluster).push(p);
  }
  return { namespaced, cluster };
}

/** The ServiceAccount the manager pods run as: every binding below names it. */
export function serviceAccount(namespace: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SERVICE_ACCOUNT_NAME, namespace, labels: labels('rbac') } };
}

function role(kind: 'ClusterRole' | 'Role', name: string, rules: PolicyRule[], namespace?: string, extraLabels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}), labels: { ...labels('rbac'), ...extraLabels } },
    rules,
  };
}

function binding(
  kind: 'ClusterRoleBinding' | 'RoleBinding', roleKind: 'ClusterRole' | 'Role', operatorNamespace: string, bindingNamespace?: string,
  name = MANAGER_ROLE_NAME,
): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name, ...(bindingNamespace ? { namespace: bindingNamespace } : {}), labels: labels('rbac') },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name },
    subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT_NAME, namespace: operatorNamespace }],
  };
}

/** The manager's roles and bindings: exactly the rules derived from what the code declares, leases aside. */
export function managerRbac(namespace: string, watchNamespace: string | undefined): KubeObject[] {
  const perms = splitLeaderElection(operatorPermissions(watchNamespace)).manager;
  if (!watchNamespace) {
    return [role('ClusterRole', MANAGER_ROLE_NAME, policyRules(perms)), binding('ClusterRoleBinding', 'ClusterRole', namespace)];
  }
  const { namespaced, cluster } = splitByScope(perms);
  const out: KubeObject[] = [];
  if (cluster.length) out.push(role('ClusterRole', MANAGER_ROLE_NAME, policyRules(cluster)));
  if (namespaced.length) out.push(role('Role', MANAGER_ROLE_NAME, policyRules(namespaced), watchNamespace));
  if (cluster.length) out.push(binding('ClusterRoleBinding', 'ClusterRole', namespace));
  if (namespaced.length) out.push(binding('RoleBinding', 'Role', namespace, watchNamespace));
  return out;
}

/** The leader election's Role and RoleBinding, in the operator's namespace (where its Lease is). */
export function leaderElectionRbac(namespace: string, watchNamespace: string | undefined): KubeObject[] {
  const perms = splitLeaderElection(operatorPermissions(watchNamespace)).leaderElection;
  if (!perms.length) return [];
  return [
    role('Role', LEADER_ELECTION_ROLE_NAME, policyRules(perms), namespace),
    binding('RoleBinding', 'Role', namespace, namespace, LEADER_ELECTION_ROLE_NAME),
  ];
}

/** For whoever scrapes the metrics (Prometheus's ServiceAccount): the metrics endpoint authorizes `get /metrics`. */
export function metricsReaderRole(): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: METRICS_READER_ROLE_NAME, labels: labels('metrics') },
    rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }],
  };
}

/** For people, not the operator: folded into the built-in `edit`/`admin` and `view` ClusterRoles. */
export function userRoles(): KubeObject[] {
  const group = [Ptemplates.group];
  return [
    role('ClusterRole', EDITOR_ROLE_NAME, [
      { apiGroups: group, resources: [Ptemplates.plural], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
      { apiGroups: group, resources: [`${Ptemplates.plural}/status`], verbs: ['get'] },
    ], undefined, {
      'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
      'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
    }),
    role('ClusterRole', VIEWER_ROLE_NAME, [
      { apiGroups: group, resources: [Ptemplates.plural], verbs: ['get', 'list', 'watch'] },
      { apiGroups: group, resources: [`${Ptemplates.plural}/status`], verbs: ['get'] },
    ], undefined, { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' }),
  ];
}
