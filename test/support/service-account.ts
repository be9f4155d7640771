// Credentials of a ServiceAccount, so tests can run the operator with exactly the generated RBAC
// instead of as cluster admin. kube-controller-manager's token controller (Kubernetes 1.20)
// creates a token Secret for every ServiceAccount.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Client } from '../../src/runtime/client/client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { defineResource, Secrets, ServiceAccounts } from '../../src/runtime/resource.ts';
import type { PolicyRule } from '../../src/runtime/rbac.ts';
import { allManifests, DEFAULT_NAMESPACE, MANAGER_ROLE_NAME, SERVICE_ACCOUNT_NAME } from '../../src/ptemplate/manifests.ts';
import { waitFor } from './wait.ts';

interface TokenSecret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export async function serviceAccountKubeConfig(admin: Client, adminConfig: KubeConfig, namespace: string, name: string): Promise<KubeConfig> {
  const token = await waitFor(async () => {
    const sa = await admin.get(ServiceAccounts, { namespace, name }) as KubeObject & { secrets?: { name: string }[] };
    for (const ref of sa.secrets ?? []) {
      const secret = await admin.get<TokenSecret>(Secrets, { namespace, name: ref.name });
      if (secret.type === 'kubernetes.io/service-account-token' && secret.data?.token) return Buffer.from(secret.data.token, 'base64').toString();
    }
    return undefined;
  }, { what: `token of ServiceAccount ${namespace}/${name}` });
  const cluster = adminConfig.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: 'test' }],
    users: [{ name: `${namespace}:${name}`, token }],
    contexts: [{ name: 'sa', cluster: 'test', user: `${namespace}:${name}` }],
    currentContext: 'sa',
  });
  return kc;
}

/**
 * Applies the generated operator identity (Namespace, ServiceAccount, ClusterRole, binding) and
 * returns a kubeconfig with its token. `editRole` may change the manager role first.
 */
export async function operatorIdentity(admin: Client, adminConfig: KubeConfig, editRole?: (role: KubeObject & { rules: PolicyRule[] }) => void, watchNamespace?: string): Promise<KubeConfig> {
  for (const obj of allManifests(watchNamespace ? { watchNamespace } : {})) {
    if (!['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(obj.kind!)) continue;
    if (obj.kind === 'ClusterRole' && obj.metadata.name === MANAGER_ROLE_NAME) editRole?.(obj as KubeObject & { rules: PolicyRule[] });
    const [group, version] = obj.apiVersion!.includes('/') ? obj.apiVersion!.split('/') as [string, string] : ['', obj.apiVersion!];
    await admin.apply(defineResource({ group, version, kind: obj.kind!, plural: `${obj.kind!.toLowerCase()}s`, namespaced: !!obj.metadata.namespace }), obj);
  }
  return serviceAccountKubeConfig(admin, adminConfig, DEFAULT_NAMESPACE, SERVICE_ACCOUNT_NAME);
}
