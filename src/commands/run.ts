// `ptemplate-operator run`: the operator against a cluster (kubeconfig or in-cluster).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createOperator } from '../ptemplate/operator.ts';
import { startHttpEndpoints, type HttpEndpoints } from '../runtime/manager/http.ts';

export interface RunOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  namespace?: string | undefined;
  metricsAddress: string;
  probeAddress: string;
  maxConcurrentReconciles?: number | undefined;
  signal: AbortSignal;
}

/** Runs until the signal aborts; resolves once every reconcile has finished. */
export async function runOperator(options: RunOptions): Promise<void> {
  const { log } = options;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { manager, recorder } = createOperator({
    kubeConfig: options.kubeConfig, log, registry,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.maxConcurrentReconciles ? { maxConcurrentReconciles: options.maxConcurrentReconciles } : {}),
  });
  log.info({ server: manager.client.server, namespace: options.namespace ?? '(all)' }, 'starting ptemplate-operator');

  const endpoints: HttpEndpoints[] = [];
  try {
    if (options.metricsAddress && options.metricsAddress !== '0') {
      const metrics = await startHttpEndpoints({ address: options.metricsAddress, registry });
      endpoints.push(metrics);
      log.info({ url: `${metrics.url}/metrics` }, 'serving metrics');
    }
    if (options.probeAddress && options.probeAddress !== '0') {
      const probes = await startHttpEndpoints({ address: options.probeAddress, ready: () => manager.cache.synced });
      endpoints.push(probes);
      log.info({ url: `${probes.url}/readyz` }, 'serving health probes');
    }
    await manager.start(options.signal);
    await recorder.flush();
  } finally {
    await Promise.all(endpoints.map((e) => e.close()));
  }
  log.info('stopped');
}
