// Who competes for a lease and where the lease lives, by default: the pod's name and namespace
// as the downward API or the service account mount give them.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** Where a pod finds its own namespace (the service account token's mount). */
export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The lease's default namespace: POD_NAMESPACE, else the pod's service account namespace, else `default`. */
export function defaultLeaseNamespace(env: NodeJS.ProcessEnv = process.env, namespaceFile = SERVICE_ACCOUNT_NAMESPACE_FILE): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    const fromFile = readFileSync(namespaceFile, 'utf8').trim();
    if (fromFile) return fromFile;
  } catch { /* not in a pod */ }
  return 'default';
}

/** POD_NAME or the host name, '_', a random UUID: unique per process, readable in the Lease. */
export function defaultIdentity(): string {
  return `${process.env.POD_NAME || hostname()}_${randomUUID()}`;
}
