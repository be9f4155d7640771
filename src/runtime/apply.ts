// Deciding whether a server-side apply is needed, without a request: the cached object must
// already hold every field we would send. A hash of what we send, kept in an annotation,
// catches the one case a subset test cannot: a field we used to send and now dropped.
import { createHash } from 'node:crypto';
import type { KubeObject } from './object.ts';

/**
 * True when every field of `desired` is present in `current` with the same value. Objects may have
 * extra fields in `current` (server defaults, other managers); arrays must have the same length and
 * match element by element with the same rule.
 */
export function isSubset(desired: unknown, current: unknown): boolean {
  if (desired === current) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(current) && desired.length === current.length && desired.every((d, i) => isSubset(d, current[i]));
  }
  if (desired !== null && typeof desired === 'object') {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return false;
    const cur = current as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => v === undefined || isSubset(v, cur[k]));
  }
  return false;
}

/** A short, stable hash of a JSON value (key order independent). */
export function stableHash(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 16);
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Returns `desired` with an annotation holding the hash of its own content. */
export function withAppliedHash<T extends KubeObject>(desired: T, annotation: string): T {
  const hash = stableHash(desired);
  return { ...desired, metadata: { ...desired.metadata, annotations: { ...desired.metadata.annotations, [annotation]: hash } } };
}

/**
 * True when applying `desired` (as returned by withAppliedHash) would change `current`. The type
 * (`apiVersion`, `kind`) is not compared: objects from a list carry none, and the cache holds
 * objects of one type per informer anyway.
 */
export function needsApply(desired: KubeObject, current: KubeObject | undefined): boolean {
  if (!current) return true;
  const { apiVersion: _apiVersion, kind: _kind, ...content } = desired;
  return !isSubset(content, current);
}
