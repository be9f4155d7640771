// What the scale and wide benchmarks share: a real control plane whose API server audits the
// operator's ServiceAccount, the CRDs, the operator's generated RBAC and a kubeconfig file with its
// token for the operator process, and the helpers to count its requests from the audit log.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { moduleCrd } from '../src/kmm/crd.ts';
import { Modules } from '../src/kmm/resource.ts';
import { Client } from '../src/runtime/client/client.ts';
import { isNotFound } from '../src/runtime/client/errors.ts';
import { CustomResourceDefinitions, Namespaces } from '../src/runtime/resource.ts';
import { ptemplateCrd } from '../src/ptemplate/api/crd.ts';
import { Ptemplates } from '../src/ptemplate/api/schema.ts';
import { DEFAULT_NAMESPACE, SERVICE_ACCOUNT_NAME } from '../src/ptemplate/manifests/constants.ts';
import { ControlPlane } from '../src/testenv/control-plane.ts';
import { operatorIdentity } from '../test/support/service-account.ts';
import { waitFor } from '../test/support/wait.ts';
import { AuditLog, auditPolicy, isWrite, MARKER_AGENT, total, type AuditRecord, type RequestCounts } from './audit.ts';
import { progress, sleep } from './report.ts';

export const OPERATOR_USER = `system:serviceaccount:${DEFAULT_NAMESPACE}:${SERVICE_ACCOUNT_NAME}`;
/** User agent of the direct client, which runs with the operator's identity. */
export const DIRECT_AGENT = 'bench-direct-client';

export interface ScaleEnv {
  cp: ControlPlane;
  admin: Client;
  /** The operator's kubeconfig (its ServiceAccount token), for the operator process. */
  operatorKubeconfigPath: string;
  /** A client with the operator's identity (the direct client's). */
  operatorIdentityClient: Client;
  audit: AuditLog;
  /** Operator process logs; kept after the run. */
  logDir: string;
  /** The operator's requests in [from, to) (Date.now() times), read after a barrier. */
  operatorRequests(from: number, to: number): Promise<RequestCounts>;
  /** The direct client's requests in [from, to) (its Ptemplate creates are the admin's: not audited). */
  directRequests(from: number, to: number): Promise<RequestCounts>;
  /** The operator's non-2xx responses in [from, to). */
  operatorFailures(from: number, to: number): RequestCounts;
  /**
   * Counts every window handed out so far again, in place. kube-apiserver 1.20 writes a watch's
   * audit events only when the watch ends, so call this once the operators have stopped: the
   * watches they opened in a window then show up in that window's counts.
   */
  recount(): Promise<void>;
  createNamespace(name: string): Promise<void>;
  /** Deletes a namespace and waits until it is gone. */
  deleteNamespace(name: string, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return value;
}

const isOperator = (r: { userAgent: string }) => r.userAgent !== DIRECT_AGENT;

export async function startScaleEnv(label: string): Promise<ScaleEnv> {
  progress(`${label}: starting the control plane (audit log for ${OPERATOR_USER})`);
  const cp = await ControlPlane.start({ auditPolicy: auditPolicy([OPERATOR_USER]) });
  try {
    const admin = new Client(cp.kubeConfig(), { userAgent: 'bench-admin' });
    await admin.create(CustomResourceDefinitions, ptemplateCrd());
    await admin.create(CustomResourceDefinitions, moduleCrd());
    await waitFor(async () => (await admin.list(Ptemplates, { limit: 1 })).items && (await admin.list(Modules, { limit: 1 })).items, { what: 'CRDs served', timeoutMs: 60_000 });
    const kubeConfig = await operatorIdentity(admin, cp.kubeConfig());
    const logDir = await mkdtemp(join(tmpdir(), `ptemplate-bench-${label}-`));
    const operatorKubeconfigPath = join(logDir, 'operator.kubeconfig');
    await writeFile(operatorKubeconfigPath, kubeConfig.exportConfig(), { mode: 0o600 });
    const audit = new AuditLog(cp.auditLogPath!);
    const marker = new Client(kubeConfig, { userAgent: MARKER_AGENT });
    const handedOut: { from: number; to: number; filter: (r: AuditRecord) => boolean; counts: RequestCounts }[] = [];
    const counted = async (from: number, to: number, filter: (r: AuditRecord) => boolean) => {
      await audit.barrier(marker);
      const counts = audit.count(from, to, filter);
      handedOut.push({ from, to, filter, counts });
      return counts;
    };
    return {
      cp, admin, operatorKubeconfigPath, audit, logDir,
      operatorIdentityClient: new Client(kubeConfig, { userAgent: DIRECT_AGENT }),
      operatorRequests: (from, to) => counted(from, to, isOperator),
      directRequests: (from, to) => counted(from, to, (r) => !isOperator(r)),
      async recount() {
        // A closed watch is logged as the API server notices the closed connection, which the marker may overtake.
        await sleep(1_000);
        await audit.barrier(marker);
        for (const { from, to, filter, counts } of handedOut) {
          counts.clear();
          for (const [key, value] of audit.count(from, to, filter)) counts.set(key, value);
        }
      },
      operatorFailures: (from, to) => audit.failures(from, to, isOperator),
      async createNamespace(name) {
        await admin.create(Namespaces, { metadata: { name } });
      },
      async deleteNamespace(name, timeoutMs) {
        await admin.delete(Namespaces, { name });
        await waitFor(async () => admin.get(Namespaces, { name }).then(() => false, (err: unknown) => {
          if (isNotFound(err)) return true;
          throw err;
        }), { what: `namespace ${name} gone`, timeoutMs, intervalMs: 500 });
      },
      async stop() {
        await audit.close();
        await cp.stop();
      },
    };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}

/** `writes`, `all` totals of a count (leases apart: renewing the Lease is a leader's job, not reconciling). */
export function totals(counts: RequestCounts): { writes: number; writesNoLease: number; all: number } {
  return {
    writes: total(counts, isWrite),
    writesNoLease: total(counts, (k) => isWrite(k) && !k.endsWith(' leases')),
    all: total(counts),
  };
}
