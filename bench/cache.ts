// Informer store benchmarks: ConfigMap-like objects as a LIST response delivers them (JSON.parse
// of one body, managedFields included), upserted into the Store (which strips managedFields and
// deep-freezes), looked up through the namespace and controller-uid indexes, and replaced by a
// relist. Memory: heap per object, with the store's own overhead separated from the objects.
import { CONTROLLER_UID_INDEX, NAMESPACE_INDEX, Store } from '../src/runtime/cache/store.ts';
import type { KubeObject } from '../src/runtime/object.ts';
import {
  consume, CPU_NOTE, fmtBytes, fmtInt, heapUsed, MEASUREMENT_HEADERS, measurementRow, printTable, progress, timeLoop, timeOnce,
  type Measurement,
} from './report.ts';

const NAMESPACES = 200;
const OWNERS_PER_NAMESPACE = 10;

interface Shape {
  objects: number;
  namespaces: number;
  owners: number;
}

const uid = (prefix: number, i: number) => `${prefix.toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

/** One ConfigMap the way the API server serializes it. */
function configMap(i: number, resourceVersion: number, shape: Shape, managedFields: boolean): KubeObject {
  const namespace = `team-${i % shape.namespaces}`;
  // Owners are per namespace: object i belongs to owner (i / namespaces) % ownersPerNamespace of its namespace.
  const ownerInNs = Math.floor(i / shape.namespaces) % OWNERS_PER_NAMESPACE;
  const owner = (i % shape.namespaces) * OWNERS_PER_NAMESPACE + ownerInNs;
  const metadata: KubeObject['metadata'] = {
    name: `settings-${i}`,
    namespace,
    uid: uid(1, i),
    resourceVersion: String(resourceVersion),
    creationTimestamp: '2024-05-01T10:00:00Z',
    labels: {
      'app.kubernetes.io/name': 'bench',
      'app.kubernetes.io/instance': `owner-${owner}`,
      'app.kubernetes.io/managed-by': 'bench-operator',
    },
    annotations: { 'bench.example.com/checksum': `sha256:${(i * 2654435761 >>> 0).toString(16).padStart(16, '0')}` },
    ownerReferences: [{
      apiVersion: 'pt.example.com/v1alpha1', kind: 'Ptemplate', name: `owner-${owner}`, uid: uid(2, owner),
      controller: true, blockOwnerDeletion: true,
    }],
  };
  if (managedFields) {
    metadata.managedFields = [{
      manager: 'bench-operator', operation: 'Apply', apiVersion: 'v1', time: '2024-05-01T10:00:00Z', fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:data': { 'f:settings.yaml': {}, 'f:version': {} },
        'f:metadata': {
          'f:annotations': { 'f:bench.example.com/checksum': {} },
          'f:labels': { 'f:app.kubernetes.io/instance': {}, 'f:app.kubernetes.io/managed-by': {}, 'f:app.kubernetes.io/name': {} },
          'f:ownerReferences': { [`k:{"uid":"${uid(2, owner)}"}`]: {} },
        },
      },
    }];
  }
  const settings = Array.from({ length: 8 }, (_, k) => `key${k}: value-${i}-${k}-${resourceVersion}`).join('\n');
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata, data: { 'settings.yaml': settings, version: String(resourceVersion) } };
}

/** Objects `ids`, parsed from one JSON body as a LIST response would be. */
function parsedList(ids: Iterable<number>, resourceVersion: (id: number) => number, shape: Shape, managedFields = true): KubeObject[] {
  const items: KubeObject[] = [];
  for (const id of ids) items.push(configMap(id, resourceVersion(id), shape, managedFields));
  return (JSON.parse(JSON.stringify({ items })) as { items: KubeObject[] }).items;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Heap retained by what `make` returns (after a collection), with the value kept alive until measured. */
function retained<T>(make: () => T): { bytes: number; value: T } {
  const before = heapUsed();
  const value = make();
  return { bytes: heapUsed() - before, value };
}

function memory(shape: Shape): string[][] {
  const n = shape.objects;
  const ids = range(0, n);
  const bareBytes = retained(() => parsedList(ids, () => 1, shape, false)).bytes;
  const parsedBytes = retained(() => parsedList(ids, () => 1, shape, true)).bytes;
  const storeOf = (managedFields: boolean) => retained(() => {
    const store = new Store<KubeObject>();
    for (const obj of parsedList(ids, () => 1, shape, managedFields)) store.upsert(obj);
    return store;
  });
  const plainBytes = storeOf(false).bytes;
  const stored = storeOf(true);
  consume(stored.value);
  const row = (what: string, bytes: number) => [what, fmtBytes(bytes / n), fmtBytes(bytes)];
  return [
    row('parsed object, with managedFields (as received)', parsedBytes),
    row('parsed object, without managedFields', bareBytes),
    row('in the Store, received with managedFields (total)', stored.bytes),
    row('  the Store itself (map, 2 indexes, keys)', plainBytes - bareBytes),
    row('  metadata after `delete managedFields`', stored.bytes - plainBytes),
    row('  the objects', bareBytes),
  ];
}

export async function benchCache(): Promise<void> {
  const n = Number(process.env.BENCH_CACHE_OBJECTS ?? 20_000);
  const shape: Shape = { objects: n, namespaces: NAMESPACES, owners: NAMESPACES * OWNERS_PER_NAMESPACE };
  const perNamespace = n / shape.namespaces;
  const perOwner = n / shape.owners;

  // Warm-up on a small set so that the measured runs use optimised code.
  {
    const small: Shape = { objects: 2_000, namespaces: 20, owners: 200 };
    const store = new Store<KubeObject>();
    for (let round = 1; round <= 3; round++) store.replace(parsedList(range(0, 2_000), () => round, small));
  }

  progress(`cache: preparing ${fmtInt(n)} objects (JSON parse, not timed)`);
  const ids = range(0, n);
  const first = parsedList(ids, () => 1, shape);
  const updated = parsedList(ids, () => 2, shape);
  const unchanged = parsedList(ids, () => 2, shape);
  const relistSame = parsedList(ids, () => 2, shape);
  const relistAll = parsedList(ids, () => 3, shape);
  // 10 % deleted (the first tenth), 10 % modified (the next tenth), 10 % new (ids n .. 1.1 n).
  const tenth = Math.floor(n / 10);
  const relistMixed = parsedList([...range(tenth, n), ...range(n, n + tenth)], (id) => (id < 2 * tenth ? 4 : 3), shape);

  progress('cache: timing');
  const store = new Store<KubeObject>();
  const rows: Measurement[] = [];
  rows.push(timeOnce('upsert new (strip managedFields, deep freeze, index)', n, () => { for (const o of first) store.upsert(o); }));
  rows.push(timeOnce('upsert changed resourceVersion (re-index)', n, () => { for (const o of updated) store.upsert(o); }));
  rows.push(timeOnce('upsert same resourceVersion (no change)', n, () => { for (const o of unchanged) store.upsert(o); }));
  const keys = first.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
  let k = 0;
  rows.push(timeLoop('get by key', () => store.get(keys[k++ % n]!)));
  let ns = 0;
  rows.push(timeLoop(`byIndex ${NAMESPACE_INDEX} (${fmtInt(perNamespace)} objects each)`, () => store.byIndex(NAMESPACE_INDEX, `team-${ns++ % shape.namespaces}`)));
  const ownerUids = range(0, shape.owners).map((o) => uid(2, o));
  let ow = 0;
  rows.push(timeLoop(`byIndex ${CONTROLLER_UID_INDEX} (${fmtInt(perOwner)} objects each)`, () => store.byIndex(CONTROLLER_UID_INDEX, ownerUids[ow++ % shape.owners]!)));
  rows.push(timeLoop(`list() of all ${fmtInt(n)} objects`, () => store.list()));
  let changes = 0;
  const replaceRow = (name: string, items: KubeObject[]) => {
    const m = timeOnce(name, items.length, () => { changes = store.replace(items).length; });
    return { ...m, name: `${m.name}: ${fmtInt(changes)} changes` };
  };
  rows.push(replaceRow('replace() relist, nothing changed', relistSame));
  rows.push(replaceRow('replace() relist, every object changed', relistAll));
  rows.push(replaceRow('replace() relist, 10 % deleted/modified/new', relistMixed));

  printTable({
    title: `Store (src/runtime/cache/store.ts): ${fmtInt(n)} ConfigMap-like objects in ${shape.namespaces} namespaces, ${fmtInt(shape.owners)} controller owners`,
    headers: MEASUREMENT_HEADERS,
    rows: rows.map(measurementRow),
    notes: [
      'ops = objects for upsert/replace, lookups for get/byIndex/list. Objects come from JSON.parse of one list body (not timed).',
      CPU_NOTE,
    ],
  });

  progress('cache: memory');
  printTable({
    title: `Store memory, ${fmtInt(n)} objects (heap used after a full collection)`,
    headers: ['what', 'per object', 'total'],
    rows: memory(shape),
    notes: [
      '"the Store itself" = a Store of objects received without managedFields, minus those objects.',
      '"metadata after delete" = what the same objects cost more once prepare() deleted their managedFields (the',
      'deleted property can leave metadata in a slower, larger dictionary representation).',
    ],
  });
}
