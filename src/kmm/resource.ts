// Where KMM's Module lives in the REST API, and the finalizer KMM holds on it.
import { defineResource } from '../runtime/resource.ts';
import { KMM_PREFIX } from './labels.ts';
import type { Module } from './types.ts';

export const Modules = defineResource<Module>({
  group: 'kmm.sigs.x-k8s.io',
  version: 'v1beta1',
  kind: 'Module',
  plural: 'modules',
  namespaced: true,
});

/**
 * KMM keeps this finalizer on a Module until every node has unloaded the module. A Module that carries it
 * and has a deletionTimestamp is still unloading; creating one with the same name then fails with 409.
 */
export const MODULE_FINALIZER = `${KMM_PREFIX}module-finalizer`;
