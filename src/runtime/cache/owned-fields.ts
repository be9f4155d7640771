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
  const members = Object.entries(fields).filter(([k]) => k !== '.');
  if (members.length === 0) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    value.forEach((element, index) => {
      const match = members.find(([k]) => elementMatches(k, element, index));
      if (match) out.push(pruneToFields(element, match[1]));
    });
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [k, sub] of members) {
    if (!k.startsWith('f:')) continue;
    const name = k.slice(2);
    const v = (value as Record<string, unknown>)[name];
    if (v !== undefined) out[name] = pruneToFields(v, sub);
  }
  return out;
}

function elementMatches(key: string, element: unknown, index: number): boolean {
  if (key.startsWith('i:')) return Number(key.slice(2)) === index;
  if (key.startsWith('v:')) return isDeepStrictEqual(JSON.parse(key.slice(2)), element);
  if (!key.startsWith('k:') || element === null || typeof element !== 'object') return false;
  const wanted = JSON.parse(key.slice(2)) as Record<string, unknown>;
  return Object.entries(wanted).every(([k, v]) => isDeepStrictEqual((element as Record<string, unknown>)[k], v));
}

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
