// The Ptemplate CustomResourceDefinition, generated from the schema in schema.ts.
import { crd, type CustomResourceDefinition, type PrinterColumn } from '../../runtime/schema/index.ts';
import { ConditionType, ptemplateSchema, Ptemplates } from './schema.ts';

export const PTEMPLATE_CRD_NAME = `${Ptemplates.plural}.${Ptemplates.group}`;

const printerColumns: readonly PrinterColumn[] = [
  {
    name: 'Ready',
    type: 'string',
    jsonPath: `.status.conditions[?(@.type=="${ConditionType.Ready}")].status`,
    description: 'Whether the module is in the requested state and every consumer is ready.',
  },
  { name: 'Module-Avail', type: 'integer', jsonPath: '.status.module.loader.available', description: 'Nodes where the module loader pod is ready.' },
  { name: 'Module-Desired', type: 'integer', jsonPath: '.status.module.loader.desired', description: 'Nodes where KMM wants the module loaded.' },
  { name: 'Consumers-Ready', type: 'integer', jsonPath: '.status.consumersReady', description: 'Consumer pods running and ready.' },
  { name: 'Consumers-Desired', type: 'integer', jsonPath: '.status.consumersDesired', description: 'Consumer pods that should run.' },
  { name: 'State', type: 'string', jsonPath: '.spec.moduleState', description: 'Requested module state: Loaded or Unloaded.' },
  { name: 'Version', type: 'string', jsonPath: '.spec.version', description: 'The driver version being rolled out (spec.version).' },
  { name: 'Upgraded', type: 'integer', jsonPath: '.status.upgrade.done', priority: 1, description: 'Nodes running spec.version with their consumers ready.' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

export function ptemplateCrd(): CustomResourceDefinition {
  return crd({
    group: Ptemplates.group,
    kind: Ptemplates.kind,
    plural: Ptemplates.plural,
    singular: 'ptemplate',
    shortNames: ['pt'],
    scope: Ptemplates.namespaced ? 'Namespaced' : 'Cluster',
    versions: [{
      name: Ptemplates.version,
      served: true,
      storage: true,
      schema: ptemplateSchema,
      subresources: { status: true },
      printerColumns,
    }],
  });
}
