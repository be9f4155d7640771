// "Cache only what we applied": a cache transform that keeps, of an object's spec (or any other
// top-level part), exactly the fields one field manager owns, read from the object's managedFields
// (server-side apply's fieldsV1 sets) before the store strips them. The applied-subset check
// compares the desired object with this, which is precisely what it needs: a field someone else
// took over (a forced apply, an edit) is no longer ours, looks missing, and is applied again.
// Server defaults and other managers' fields never take memory.
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '../object.ts';

/** A fieldsV1 set: `f:<field>`, `k:<json key>` / `v:<json value>` / `i:<index>` for list elements, `.` for the node itself. */
export type FieldsV1 = { readonly [key: string]: FieldsV1 };

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsType?: string;
  fieldsV1?: FieldsV1;
}

/** The union of the fieldsV1 sets `manager` owns on the main resource (not its /status). */
export function ownedFields(obj: KubeObject, manager: string): FieldsV1 | undefined {
  const entries = (obj.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  const sets = entries.filter((e) => e.manager === manager && !e.subresource && e.fieldsType !== 'FieldsV2' && e.fieldsV1).map((e) => e.fieldsV1!);
  if (sets.length === 0) return undefined;
  return sets.reduce(mergeFields);
}

function mergeFields(a: FieldsV1, b: FieldsV1): FieldsV1 {
  const out: Record<string, FieldsV1> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = out[k] ? mergeFields(out[k], v) : v;
  return out;
}

/** `value` reduced to the fields of `fields`; a field whose set names nothing below it is kept whole. */
export function pruneToFields(value: unknown, fields: FieldsV1): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return pruneList(value, fields);
  // Every cached child goes through here on each list and event: no intermediate arrays.
  let out: Record<string, unknown> | undefined;
  let named = false;
  for (const key in fields) {
    if (key === '.') continue;
    named = true;
    if (!key.startsWith('f:')) continue;
    const name = key.slice(2);
    const v = (value as Record<string, unknown>)[name];
    if (v !== undefined) (out ??= {})[name] = pruneToFields(v, fields[key]!);
  }
  return named ? out ?? {} : value;
}

/** The elements of `list` that a member of `fields` names, each pruned; the keys are parsed once per list, not per element. */
function pruneList(list: unknown[], fields: FieldsV1): unknown {
  const members: { matches: ElementMatcher; sub: FieldsV1 }[] = [];
  for (const key in fields) if (key !== '.') members.push({ matches: elementMatcher(key), sub: fields[key]! });
  if (members.length === 0) return list;
  const out: unknown[] = [];
  list.forEach((element, index) => {
    const member = members.find((m) => m.matches(element, index));
    if (member) out.push(pruneToFields(element, member.sub));
  });
  return out;
}

type ElementMatcher = (element: unknown, index: number) => boolean;

function elementMatcher(key: string): ElementMatcher {
  if (key.startsWith('i:')) {
    const at = Number(key.slice(2));
    return (_element, index) => index === at;
  }
  if (key.startsWith('v:')) {
    const wanted: unknown = JSON.parse(key.slice(2));
    return (element) => sameValue(wanted, element);
  }
  if (!key.startsWith('k:')) return () => false;
  const wanted = Object.entries(JSON.parse(key.slice(2)) as Record<string, unknown>);
  return (element) => element !== null && typeof element === 'object' &&
    wanted.every(([k, v]) => sameValue(v, (element as Record<string, unknown>)[k]));
}

/**
 * isDeepStrictEqual, with the common case (a string or number key) answered without it: Object.is,
 * as isDeepStrictEqual compares primitives (so 0 and -0 still differ).
 */
const sameValue = (a: unknown, b: unknown): boolean => Object.is(a, b) || (a !== null && typeof a === 'object' && isDeepStrictEqual(a, b));

/**
 * A transform keeping metadata and the parts in `whole` as they are, and of every other top-level
 * part (spec...) only what `manager` owns. An object `manager` owns nothing of keeps only
 * metadata and `whole`: the next apply then finds it lacking, as it should.
 */
export function ownedFieldsTransform(manager: string, whole: readonly string[] = ['status']): (obj: KubeObject) => KubeObject {
  const keep = new Set(['apiVersion', 'kind', 'metadata', ...whole]);
  return (obj) => {
    const owned = ownedFields(obj, manager);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (keep.has(k)) out[k] = v;
      else if (owned?.[`f:${k}`]) out[k] = pruneToFields(v, owned[`f:${k}`]!);
    }
    return out as KubeObject;
  };
}
