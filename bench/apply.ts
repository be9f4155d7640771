// The apply decision a reconcile makes for each child without a request: build the desired object
// (defaulted spec, desired DaemonSet/Module with the applied-hash annotation), then isSubset
// against the cached object as the API server returned it (server defaults, status, frozen).
import type { Module } from '../src/kmm/types.ts';
import { withDefaults } from '../src/ptemplate/api/defaults.ts';
import type { Ptemplate, PtemplateSpecInput } from '../src/ptemplate/api/schema.ts';
import { desiredConsumers, desiredModule, type DaemonSet } from '../src/ptemplate/driver.ts';
import { APPLIED_HASH_ANNOTATION } from '../src/ptemplate/names.ts';
import { isSubset, needsApply, stableHash, withAppliedHash } from '../src/runtime/apply.ts';
import { deepFreeze, type KubeObject } from '../src/runtime/object.ts';
import { CPU_NOTE, fmtBytes, MEASUREMENT_HEADERS, measurementRow, printTable, progress, timeLoop, type Measurement } from './report.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `desired` laid over `defaults`: what the API server stores (desired wins; arrays merge by index). */
function overlay(defaults: unknown, desired: unknown): unknown {
  if (Array.isArray(desired)) {
    return desired.map((d: unknown, i) => (Array.isArray(defaults) ? overlay(defaults[i], d) : d));
  }
  if (isObject(desired)) {
    const out: Json = isObject(defaults) ? { ...defaults } : {};
    for (const [k, v] of Object.entries(desired)) out[k] = overlay(isObject(defaults) || Array.isArray(defaults) ? (defaults as Json)[k] : undefined, v);
    return out;
  }
  return desired;
}

/** What a watch delivers and the cache keeps: server fields added, JSON round trip, frozen. */
function asCached<T extends KubeObject>(desired: T, defaults: Json): T {
  return deepFreeze(JSON.parse(JSON.stringify(overlay(defaults, desired))) as T);
}

const serverMetadata = (generation: number) => ({
  uid: '5f0c3a52-8d4b-4f1e-9a57-0c1d2e3f4a5b',
  resourceVersion: '184467',
  generation,
  creationTimestamp: '2024-05-01T10:00:00Z',
});

function cachedDaemonSet(desired: DaemonSet): DaemonSet {
  return asCached(desired, {
    metadata: { ...serverMetadata(1), annotations: { 'deprecated.daemonset.template.generation': '1' } },
    spec: {
      revisionHistoryLimit: 10,
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { creationTimestamp: null },
        spec: {
          restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', securityContext: {},
          schedulerName: 'default-scheduler',
          containers: [{ terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' }],
        },
      },
    },
    status: {
      currentNumberScheduled: 3, desiredNumberScheduled: 3, numberAvailable: 3, numberMisscheduled: 0, numberReady: 3,
      observedGeneration: 1, updatedNumberScheduled: 3,
    },
  });
}

function cachedModule(desired: Module): Module {
  return asCached(desired, {
    metadata: { ...serverMetadata(1), finalizers: ['kmm.node.kubernetes.io/module-finalizer'] },
    spec: { moduleLoader: { container: { imagePullPolicy: 'IfNotPresent', modprobe: { dirName: '/opt' } } } },
    status: {
      moduleLoader: { nodesMatchingSelectorNumber: 3, desiredNumber: 3, availableNumber: 3 },
      devicePlugin: { nodesMatchingSelectorNumber: 3, desiredNumber: 3, availableNumber: 3 },
    },
  });
}

/** A Ptemplate as read from the cache, with a realistic spec (pull secret, tolerations, selector). */
function ptemplate(input: PtemplateSpecInput): Ptemplate {
  return deepFreeze({
    apiVersion: 'pt.example.com/v1alpha1',
    kind: 'Ptemplate',
    metadata: { name: 'ptemplate-sample', namespace: 'device-team', uid: '0e9f6a1c-2b3d-4e5f-8a9b-1c2d3e4f5a6b', generation: 1, resourceVersion: '184001' },
    spec: withDefaults(input),
  });
}

export async function benchApply(): Promise<void> {
  progress('apply: building objects');
  const input: PtemplateSpecInput = {
    selector: { 'node-role.kubernetes.io/worker': '', 'example.com/ptemplate-device': 'true' },
    requiredDevices: 1,
    imagePullSecret: { name: 'registry-credentials' },
    tolerations: [
      { key: 'example.com/dedicated', operator: 'Equal', value: 'devices', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
    ],
  };
  const pt = ptemplate(input);
  const spec = pt.spec;
  const ds = desiredConsumers(pt, spec);
  const module = desiredModule(pt, spec);
  const cachedDs = cachedDaemonSet(ds);
  const cachedMod = cachedModule(module);

  // Spec changed (requiredDevices 1 -> 2): the hash annotation differs, found early in metadata.
  const changedDs = desiredConsumers(pt, { ...spec, requiredDevices: 2 });
  // Someone else edited a field we own (same hash): found only when the walk reaches it, near the end.
  const editedDs = deepFreeze(overlay(structuredClone(cachedDs), {
    spec: { template: { spec: { containers: [{ securityContext: { seccompProfile: { type: 'Unconfined' } } }] } } },
  }) as DaemonSet);
  if (!isSubset(ds, cachedDs) || isSubset(changedDs, cachedDs) || isSubset(ds, editedDs) || !isSubset(module, cachedMod)) {
    throw new Error('apply benchmark: the prepared objects do not have the subset relations the benchmark assumes');
  }
  const stripped = (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, annotations: { ...o.metadata.annotations } } });
  const dsWithoutHash = stripped(ds);
  delete dsWithoutHash.metadata.annotations[APPLIED_HASH_ANNOTATION];

  progress('apply: timing');
  const rows: Measurement[] = [
    timeLoop('withDefaults(spec)', () => withDefaults(input)),
    timeLoop('desiredConsumers (build + hash)', () => desiredConsumers(pt, spec)),
    timeLoop('desiredModule (build + hash)', () => desiredModule(pt, spec)),
    timeLoop('withAppliedHash(DaemonSet)', () => withAppliedHash(dsWithoutHash, APPLIED_HASH_ANNOTATION)),
    timeLoop('stableHash(DaemonSet)', () => stableHash(dsWithoutHash)),
    timeLoop('isSubset DaemonSet -> true (no change)', () => isSubset(ds, cachedDs)),
    timeLoop('isSubset DaemonSet -> false (spec changed: hash)', () => isSubset(changedDs, cachedDs)),
    timeLoop('isSubset DaemonSet -> false (field edited, found late)', () => isSubset(ds, editedDs)),
    timeLoop('isSubset Module -> true (no change)', () => isSubset(module, cachedMod)),
    timeLoop('no-op reconcile decision: defaults + both children', () => {
      const s = withDefaults(pt.spec);
      return needsApply(desiredModule(pt, s), cachedMod) || needsApply(desiredConsumers(pt, s), cachedDs);
    }),
  ];
  const size = (o: unknown) => fmtBytes(Buffer.byteLength(JSON.stringify(o)));
  printTable({
    title: 'Apply decision (src/runtime/apply.ts) on the consumer DaemonSet and the KMM Module of one Ptemplate',
    headers: MEASUREMENT_HEADERS,
    rows: rows.map(measurementRow),
    notes: [
      `desired DaemonSet ${size(ds)} of JSON, cached DaemonSet ${size(cachedDs)}; desired Module ${size(module)}, cached Module ${size(cachedMod)}.`,
      'The cached objects carry server defaults and status and are deep-frozen, as the informer store keeps them.',
      CPU_NOTE,
    ],
  });
}
