// The status every device object managed by the workload layer carries: conditions (metav1
// Condition), KMM's rollout counts and the consumer pods. Drivers embed `deviceStatusSchema` in
// their CRD schema, so the types, the CRD and what the layer writes cannot drift apart.
import { INT32_MAX, s, type Infer } from '../../runtime/schema/index.ts';

/** Condition types the layer sets on `status.conditions`. */
export const ConditionType = {
  /** The module is in the requested state and, when loaded, every consumer is ready. */
  Ready: 'Ready',
  /** The kernel module is loaded on every node that needs it (or unloaded, when asked). */
  ModuleLoaded: 'ModuleLoaded',
  /** Every consumer pod that should run is running and ready. */
  ConsumersReady: 'ConsumersReady',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const conditionSchema = s.object({
  type: s.string({
    maxLength: 316,
    pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    description: 'What the condition is about: Ready, ModuleLoaded or ConsumersReady.',
  }),
  status: s.string({ enum: ['True', 'False', 'Unknown'], description: 'True, False or Unknown.' }),
  observedGeneration: s.integer({
    minimum: 0,
    format: 'int64',
    description: 'The metadata.generation this condition was computed from; older than metadata.generation means it is out of date.',
  }).optional(),
  lastTransitionTime: s.string({ format: 'date-time', description: 'When status last changed.' }),
  reason: s.string({
    minLength: 1,
    maxLength: 1024,
    pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    description: 'A CamelCase word naming why the condition has its status, for programs.',
  }),
  message: s.string({ maxLength: 32768, description: 'What is going on, for people.' }),
}, { description: 'One aspect of the current state (metav1.Condition).' });

// Counts are int32 in KMM's status and in a DaemonSet's.
const count = (description: string) => s.integer({ minimum: 0, maximum: INT32_MAX, format: 'int32', description });
const workloadCountsSchema = (what: string) => s.object({
  desired: count(`Nodes where KMM wants a ${what} pod.`),
  available: count(`Running and ready ${what} pods.`),
  matching: count("Nodes matching the Module's selector."),
}, { description: `KMM's counts for the ${what} pods.` });

export const deviceStatusSchema = s.object({
  observedGeneration: s.integer({
    minimum: 0,
    format: 'int64',
    description: 'The metadata.generation the operator last acted on.',
  }).optional(),
  conditions: s.array(conditionSchema, {
    listType: 'map',
    listMapKeys: ['type'],
    description: 'Ready, ModuleLoaded and ConsumersReady, each with a reason and a message.',
  }).optional(),
  module: s.object({
    loader: workloadCountsSchema('module loader'),
    devicePlugin: workloadCountsSchema('device plugin').optional(),
  }, { description: "The KMM Module's rollout, as KMM reports it." }).optional(),
  consumers: s.array(s.string(), { description: 'Names of the consumer pods, sorted.' }).optional(),
  consumersDesired: count('Consumer pods that should run (nodes where the module and device plugin are ready).').optional(),
  consumersReady: count('Consumer pods that are running and ready.').optional(),
}, { description: 'The observed state, written by the operator.' });

export type DeviceStatus = Infer<typeof deviceStatusSchema>;
export type DeviceCondition = Infer<typeof conditionSchema>;
