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
  /** A version change is rolling out (True: in progress, paused or stuck; False: complete). Only on versioned objects. */
  Upgrading: 'Upgrading',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const conditionSchema = s.object({
  type: s.string({
    maxLength: 316,
    pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    description: 'What the condition is about: Ready, ModuleLoaded, ConsumersReady or Upgrading.',
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

/** At most this many failed nodes are listed (the counts cover all of them). */
export const MAX_LISTED_NODES = 20;

const nodeFailureSchema = s.object({
  node: s.string({ description: 'The node.' }),
  reason: s.string({ description: 'A CamelCase word: LoadFailed, UnloadFailed, ConsumersDidNotStop, ConsumersNotReady, Timeout.' }),
  message: s.string({ maxLength: 1024, description: "What failed, for people: the KMM worker pod's error where there is one, and what to do." }),
}, { description: 'A node where the kernel module failed.' });

const upgradeStatusSchema = s.object({
  targetVersion: s.string({ description: 'The version being rolled out (spec.version).' }),
  currentVersions: s.array(s.object({
    version: s.string({ description: 'A version KMM reports loaded (its version.ready node label).' }),
    nodes: s.integer({ minimum: 0, description: 'Selected nodes running it.' }),
  }, { description: 'Nodes per loaded version.' }), { description: 'The versions the selected nodes run.' }),
  done: s.integer({ minimum: 0, description: 'Nodes running the target version with their consumers ready.' }),
  inProgress: s.integer({ minimum: 0, description: 'Nodes being upgraded or loading.' }),
  pending: s.integer({ minimum: 0, description: 'Nodes still to upgrade (cordoned nodes wait here).' }),
  failed: s.integer({ minimum: 0, description: 'Nodes marked failed.' }),
  nodeLabel: s.string({ description: 'The node label holding each node\'s upgrade step: `kubectl get nodes -L <nodeLabel>`.' }),
  failedNodes: s.array(nodeFailureSchema, { maxItems: MAX_LISTED_NODES, description: `The failed nodes (at most ${MAX_LISTED_NODES}), sorted.` }).optional(),
}, { description: 'The node-by-node rollout of spec.version.' });

export const deviceStatusSchema = s.object({
  observedGeneration: s.integer({
    minimum: 0,
    format: 'int64',
    description: 'The metadata.generation the operator last acted on.',
  }).optional(),
  conditions: s.array(conditionSchema, {
    listType: 'map',
    listMapKeys: ['type'],
    description: 'Ready, ModuleLoaded and ConsumersReady (and Upgrading with spec.version), each with a reason and a message.',
  }).optional(),
  module: s.object({
    loader: workloadCountsSchema('module loader'),
    devicePlugin: workloadCountsSchema('device plugin').optional(),
  }, { description: "The KMM Module's rollout, as KMM reports it." }).optional(),
  consumers: s.array(s.string(), { description: 'Names of the consumer pods, sorted.' }).optional(),
  consumersDesired: count('Consumer pods that should run (nodes where the module and device plugin are ready).').optional(),
  consumersReady: count('Consumer pods that are running and ready.').optional(),
  upgrade: upgradeStatusSchema.optional(),
  loadFailures: s.array(nodeFailureSchema, {
    maxItems: MAX_LISTED_NODES,
    description: `Nodes where KMM's worker pod for this module is failing, whatever the operation (at most ${MAX_LISTED_NODES}).`,
  }).optional(),
}, { description: 'The observed state, written by the operator.' });

export type DeviceStatus = Infer<typeof deviceStatusSchema>;
export type DeviceCondition = Infer<typeof conditionSchema>;
export type UpgradeStatus = Infer<typeof upgradeStatusSchema>;
export type NodeFailure = Infer<typeof nodeFailureSchema>;
