// A complete environment for operator tests: a real control plane, the CRDs, three simulated
// nodes (two carry the device label), the simulated KMM and kubelet, and the operator itself.
import { Registry, type Counter } from 'prom-client';
import { moduleCrd } from '../../src/kmm/crd.ts';
import { Modules } from '../../src/kmm/resource.ts';
import { createSimulatedNodes, startSimulators, type RunningSimulators } from '../../src/playground/index.ts';
import { ptemplateCrd } from '../../src/ptemplate/api/crd.ts';
import { Ptemplates } from '../../src/ptemplate/api/schema.ts';
import { createOperator, type Operator } from '../../src/ptemplate/operator.ts';
import type { LeaderGate } from '../../src/runtime/manager/manager.ts';
import { Client } from '../../src/runtime/client/client.ts';
import { createLogger, silentLogger } from '../../src/runtime/log.ts';
import { CustomResourceDefinitions, Namespaces } from '../../src/runtime/resource.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import type { PolicyRule } from '../../src/runtime/rbac.ts';
import { operatorIdentity } from './service-account.ts';
import { ControlPlane } from '../../src/testenv/control-plane.ts';
import { waitFor } from './wait.ts';

export const DEVICE_LABEL = 'example.com/ptemplate-device';

export interface OperatorEnv {
  cp: ControlPlane;
  admin: Client;
  operator: Operator;
  registry: Registry;
  /** Total reconciles of the Ptemplate controller so far. */
  reconciles(): Promise<number>;
  createNamespace(name: string): Promise<void>;
  /** Stops the operator started with the environment (the simulators and the control plane keep running). */
  stopOperator(): Promise<void>;
  /** Starts one more operator with the same identity (a restart, a second replica); stopped by stop() too. */
  startOperator(options?: { leaderGate?: LeaderGate; instance?: string }): Promise<ExtraOperator>;
  stop(): Promise<void>;
}

export interface ExtraOperator {
  operator: Operator;
  registry: Registry;
  /** The manager's start(): resolves once it stopped. */
  done: Promise<void>;
  /** Aborts the manager and waits for it. */
  stop(): Promise<void>;
}

/** The Ptemplate controller's total of a `controller_runtime_*` counter in this registry. */
async function controllerTotal(registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name) as Counter | undefined;
  const values = (await metric?.get())?.values ?? [];
  return values.filter((v) => v.labels.controller === 'ptemplate').reduce((sum, v) => sum + v.value, 0);
}

/** Total reconciles of the Ptemplate controller in this registry. */
export const reconcileCount = (registry: Registry): Promise<number> => controllerTotal(registry, 'controller_runtime_reconcile_total');

/** Failed reconciles of the Ptemplate controller in this registry. */
export const reconcileErrorCount = (registry: Registry): Promise<number> => controllerTotal(registry, 'controller_runtime_reconcile_errors_total');

const testLog = () => (process.env.TEST_LOG_LEVEL ? createLogger({ level: process.env.TEST_LOG_LEVEL as 'debug', format: 'text' }) : silentLogger);

export interface OperatorEnvOptions {
  /**
   * Whose credentials the operator uses. Default: its ServiceAccount bound to the generated RBAC
   * (config/rbac), so every operator test also proves the role is sufficient. `admin` for none.
   */
  identity?: 'service-account' | 'admin';
  /** Edits the generated manager ClusterRole before it is applied (to prove a missing rule is noticed). */
  editRole?: (role: KubeObject & { rules: PolicyRule[] }) => void;
  /** Namespace-scoped operator (and RBAC generated for that mode). */
  namespace?: string;
  /** Runs before the operator's identity is applied (e.g. to create the watched namespace). */
  beforeIdentity?: (admin: Client) => Promise<void>;
  /** More simulated nodes carrying DEVICE_LABEL, named `node-d`, `node-e`... Default 0 (node-a and node-b carry it, node-c not). */
  extraDeviceNodes?: number;
}

export async function startOperatorEnv(options: OperatorEnvOptions = {}): Promise<OperatorEnv> {
  const cp = await ControlPlane.start();
  let sims: RunningSimulators | undefined;
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  try {
    const admin = new Client(cp.kubeConfig());
    await admin.create(CustomResourceDefinitions, ptemplateCrd());
    await admin.create(CustomResourceDefinitions, moduleCrd());
    await waitFor(async () => (await admin.list(Ptemplates)).items && (await admin.list(Modules)).items, { what: 'CRDs served' });
    await createSimulatedNodes(admin, [
      { name: 'node-a', labels: { [DEVICE_LABEL]: 'true' } },
      { name: 'node-b', labels: { [DEVICE_LABEL]: 'true' } },
      { name: 'node-c' },
      ...Array.from({ length: options.extraDeviceNodes ?? 0 }, (_, i) => ({ name: `node-${String.fromCharCode(100 + i)}`, labels: { [DEVICE_LABEL]: 'true' } })),
    ]);
    sims = await startSimulators({ kubeConfig: cp.kubeConfig(), loadDelayMs: 100, log: testLog() });
    const registry = new Registry();
    await options.beforeIdentity?.(admin);
    const kubeConfig = options.identity === 'admin' ? cp.kubeConfig() : await operatorIdentity(admin, cp.kubeConfig(), options.editRole, options.namespace);
    const operator = createOperator({ kubeConfig, registry, log: testLog(), instance: 'test', ...(options.namespace ? { namespace: options.namespace } : {}) });
    running = operator.manager.start(abort.signal);
    await waitFor(() => operator.manager.cache.synced, { what: 'operator caches synced' });
    const runningSims = sims;
    const extras: ExtraOperator[] = [];
    return {
      cp, admin, operator, registry,
      reconciles: () => reconcileCount(registry),
      async stopOperator() {
        abort.abort();
        await running;
        await operator.recorder.flush();
      },
      async startOperator(extra = {}) {
        const extraRegistry = new Registry();
        const another = createOperator({
          kubeConfig, registry: extraRegistry, log: testLog(), instance: extra.instance ?? `test-${extras.length + 2}`,
          ...(options.namespace ? { namespace: options.namespace } : {}), ...(extra.leaderGate ? { leaderGate: extra.leaderGate } : {}),
        });
        const stopper = new AbortController();
        const done = another.manager.start(stopper.signal);
        const handle: ExtraOperator = {
          operator: another, registry: extraRegistry, done,
          async stop() {
            stopper.abort();
            await done.catch(() => {});
            await another.recorder.flush();
          },
        };
        extras.push(handle);
        await waitFor(() => another.manager.cache.synced, { what: 'the extra operator\'s caches synced' });
        return handle;
      },
      async createNamespace(name: string) {
        await admin.create(Namespaces, { metadata: { name } });
      },
      async stop() {
        abort.abort();
        await Promise.all(extras.map((e) => e.stop()));
        await running;
        await operator.recorder.flush();
        await runningSims.stop();
        await cp.stop();
      },
    };
  } catch (err) {
    abort.abort();
    await running?.catch(() => {});
    await sims?.stop().catch(() => {});
    await cp.stop();
    throw err;
  }
}
