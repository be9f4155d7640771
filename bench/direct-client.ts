// The lower bound an operator is compared with: a minimal client that, for each Ptemplate, does what
// converging it takes and nothing else (create the Ptemplate, apply the Module, apply the DaemonSet,
// write the status), at concurrency 8 with no client-side rate limit. The children and the status
// come from the operator's own functions, so the API server gets the same objects. The Ptemplate is
// created by the admin (as the creator does in the operator run); the rest goes out with the
// operator's identity, so the audit log counts both runs alike.
import { Modules } from '../src/kmm/resource.ts';
import type { Client } from '../src/runtime/client/client.ts';
import { DaemonSets } from '../src/runtime/resource.ts';
import { withDefaults } from '../src/ptemplate/api/defaults.ts';
import { Ptemplates, type Ptemplate } from '../src/ptemplate/api/schema.ts';
import { desiredConsumers, desiredModule } from '../src/ptemplate/driver.ts';
import { consumersReadyCondition, moduleLoadedCondition, nextStatus, readyCondition } from '../src/kmm/workload/status.ts';

export const CONCURRENCY = 8;

/** The benchmark's Ptemplate: selects no node, so converging it is the operator's work alone. */
export function benchPtemplate(namespace: string, index: number): Ptemplate {
  return {
    apiVersion: 'pt.example.com/v1alpha1', kind: 'Ptemplate',
    metadata: { name: `pt-${index}`, namespace },
    spec: { selector: { 'bench.pt.example.com/none': 'true' } },
  } as unknown as Ptemplate;
}

/** Runs `fn(i)` for i in [0, n) with `concurrency` at a time; `onProgress` every 5 s. */
export async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>, onProgress?: (done: number) => void): Promise<void> {
  let next = 0;
  let done = 0;
  const timer = onProgress ? setInterval(() => onProgress(done), 5_000) : undefined;
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        await fn(i);
        done++;
      }
    }));
  } finally {
    clearInterval(timer);
  }
}

/** One Ptemplate converged the direct way: 1 create (admin) + 3 writes (operator identity). */
export async function convergeDirectly(admin: Client, client: Client, namespace: string, index: number): Promise<void> {
  const pt = await admin.create(Ptemplates, benchPtemplate(namespace, index));
  const spec = withDefaults(pt.spec);
  const module = await client.apply(Modules, desiredModule(pt, spec));
  const consumers = await client.apply(DaemonSets, desiredConsumers(pt, spec));
  const moduleLoaded = moduleLoadedCondition(pt, spec.selector, module, []);
  const consumersReady = consumersReadyCondition(consumers, [], 0);
  const status = nextStatus(pt, { ready: readyCondition(moduleLoaded, consumersReady), moduleLoaded, consumersReady, module, consumers, pods: [] }, new Date());
  await client.applyStatus(Ptemplates, {
    apiVersion: 'pt.example.com/v1alpha1', kind: 'Ptemplate',
    metadata: { name: pt.metadata.name, namespace },
    status,
  } as Ptemplate);
}

/** Converges `n` Ptemplates in `namespace`; resolves with the wall time in ms. */
export async function runDirectClient(admin: Client, client: Client, namespace: string, n: number, onProgress: (line: string) => void): Promise<number> {
  const start = performance.now();
  await pool(n, CONCURRENCY, (i) => convergeDirectly(admin, client, namespace, i), (done) => onProgress(`direct client: ${done}/${n}`));
  return performance.now() - start;
}
