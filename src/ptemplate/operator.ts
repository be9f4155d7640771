// Assembles the operator: a manager with the Ptemplate controller and an event recorder.
// Entry points (CLI, tests, the playground) all build it here, and the manifests generator
// reads its declared permissions from the same object.
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { EventRecorder } from '../runtime/events.ts';
import { silentLogger } from '../runtime/log.ts';
import { Manager, type LeaderGate } from '../runtime/manager/manager.ts';
import { permission } from '../runtime/rbac.ts';
import { Events } from '../runtime/resource.ts';
import { addPtemplateController } from './controller/setup.ts';
import { FIELD_MANAGER } from './controller/names.ts';

export const REPORTING_CONTROLLER = 'pt.example.com/ptemplate-operator';

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  log?: Logger;
  registry?: Registry;
  /** Watch and manage Ptemplates in this namespace only. Default: all namespaces. */
  namespace?: string;
  /** Names this replica in events. Default: POD_NAME or the host name. */
  instance?: string;
  maxConcurrentReconciles?: number;
  leaderGate?: LeaderGate;
}

export interface Operator {
  manager: Manager;
  recorder: EventRecorder;
}

export function createOperator(options: OperatorOptions): Operator {
  const log = options.log ?? silentLogger;
  const manager = new Manager({
    kubeConfig: options.kubeConfig, log, fieldManager: FIELD_MANAGER,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.leaderGate ? { leaderGate: options.leaderGate } : {}),
  });
  const recorder = new EventRecorder({
    client: manager.client, controller: REPORTING_CONTROLLER,
    instance: options.instance ?? process.env.POD_NAME ?? hostname(), log: log.child({ component: 'events' }),
  });
  manager.declarePermissions(permission(Events, ['create', 'patch']));
  addPtemplateController(manager, {
    recorder, ...(options.maxConcurrentReconciles ? { maxConcurrentReconciles: options.maxConcurrentReconciles } : {}),
  });
  return { manager, recorder };
}
