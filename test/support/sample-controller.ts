// A minimal controller used by the runtime's integration tests: for every Widget it keeps a
// ConfigMap `<name>-data` holding spec.data, and reports status. It exercises the whole path
// (watch -> cache -> queue -> reconcile -> apply -> status) without any Ptemplate knowledge.
import { ConfigMaps, CustomResourceDefinitions, defineResource, type ResourceType } from '../../src/runtime/resource.ts';
import type { Client } from '../../src/runtime/client/client.ts';
import { waitFor } from './wait.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import type { Manager } from '../../src/runtime/manager/manager.ts';
import type { Controller } from '../../src/runtime/controller/controller.ts';
import { generationChanged } from '../../src/runtime/controller/predicate.ts';
import { controllerRef } from '../../src/runtime/owners.ts';

export interface Widget extends KubeObject {
  spec: { data: Record<string, string> };
  status?: { observedGeneration?: number; configMap?: string };
}

export const Widgets: ResourceType<Widget> = defineResource<Widget>({
  group: 'test.example.com', version: 'v1', kind: 'Widget', plural: 'widgets', namespaced: true,
});

export const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.test.example.com' },
  spec: {
    group: 'test.example.com',
    scope: 'Namespaced',
    names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
    versions: [{
      name: 'v1', served: true, storage: true, subresources: { status: {} },
      schema: { openAPIV3Schema: {
        type: 'object',
        properties: {
          spec: { type: 'object', properties: { data: { type: 'object', additionalProperties: { type: 'string' } } } },
          status: { type: 'object', properties: { observedGeneration: { type: 'integer' }, configMap: { type: 'string' } } },
        },
      } },
    }],
  },
};

/** Installs the Widget CRD and waits until the API server serves it. */
export async function installWidgetCrd(admin: Client): Promise<void> {
  await admin.create(CustomResourceDefinitions, widgetCrd);
  await waitFor(async () => (await admin.list(Widgets)).items !== undefined, { what: 'Widget CRD served' });
}

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** `order`, when given, records each reconcile's widget name as it starts. */
export function addWidgetController(manager: Manager, counters: { reconciles: number; order?: string[] } = { reconciles: 0 }): Controller {
  return manager.controller('widget')
    .for(Widgets, { predicates: [generationChanged] })
    .owns(ConfigMaps)
    .complete(async ({ namespace, name }) => {
      counters.reconciles++;
      counters.order?.push(name);
      const widget = manager.cache.get(Widgets, { namespace, name });
      if (!widget || widget.metadata.deletionTimestamp) return;
      const childName = `${name}-data`;
      const desired: ConfigMap = {
        metadata: { name: childName, namespace, ownerReferences: [controllerRef(widget, Widgets)] },
        data: { ...widget.spec.data },
      };
      const current = manager.cache.get<ConfigMap>(ConfigMaps, { namespace, name: childName });
      const upToDate = current?.metadata.ownerReferences?.some((r) => r.uid === widget.metadata.uid && r.controller) &&
        JSON.stringify(current.data ?? {}) === JSON.stringify(desired.data);
      if (!upToDate) await manager.client.apply(ConfigMaps, desired);
      if (widget.status?.observedGeneration !== widget.metadata.generation || widget.status?.configMap !== childName) {
        await manager.client.applyStatus(Widgets, {
          apiVersion: 'test.example.com/v1', kind: 'Widget', metadata: { name, namespace },
          status: { observedGeneration: widget.metadata.generation, configMap: childName },
        } as Widget);
      }
    });
}
