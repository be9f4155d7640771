// An event recorder on events.k8s.io/v1, modelled on client-go's tools/events broadcaster:
//
// - Aggregation: an event identical to one recorded within the series window (same regarding
//   object, type, reason, action, note, related object) does not create a new Event; the
//   existing one gets `series: {count, lastObservedTime}` patched. The window restarts at every
//   occurrence. An Event that vanished (the API server's event TTL) is recreated with its series.
// - Spam filter: a token bucket per regarding object (burst 25, one token per 5 minutes, as
//   client-go's EventSourceObjectSpamFilter) bounds the writes a hot loop can cause. Occurrences
//   of an aggregated event beyond the budget still count, and the next write carries the count.
// - Fire-and-forget: `event()` never throws and never leaves a rejected promise; write failures
//   are logged. `flush()` awaits the writes in flight (tests, graceful shutdown).
import { randomInt } from 'node:crypto';
import type { Client } from './client/client.ts';
import { isAlreadyExists, isNotFound } from './client/errors.ts';
import { microTime } from './time.ts';
import { createLogger, type Logger } from './log.ts';
import type { KubeObject, ObjectKey } from './object.ts';
import { apiVersionOf, Events, type ResourceType } from './resource.ts';

export type EventType = 'Normal' | 'Warning';

export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

export interface EventSeries {
  count: number;
  /** MicroTime. */
  lastObservedTime: string;
}

/** An events.k8s.io/v1 Event as written by the recorder. */
export interface Event extends KubeObject {
  /** MicroTime of the first occurrence. */
  eventTime: string;
  series?: EventSeries;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  regarding: ObjectReference;
  related?: ObjectReference;
  note: string;
  type: EventType;
}

/** An object and its resource type, for the `related` field. */
export interface RelatedObject {
  rt: ResourceType;
  object: KubeObject;
}

/** The client calls the recorder makes, so tests can pass a fake. */
export type EventClient = Pick<Client, 'create' | 'patch'>;

export interface EventRecorderOptions {
  client: EventClient;
  /** reportingController, e.g. `example.com/my-operator`. */
  controller: string;
  /** reportingInstance, e.g. the pod name. At most 128 characters. */
  instance: string;
  /** Milliseconds since the epoch. Default `Date`. */
  clock?: { now(): number };
  /** Writes an object may cause in a burst. Default 25. */
  burst?: number;
  /** One more write per object every this many ms. Default 300 000 (5 minutes). */
  refillEveryMs?: number;
  /** An identical event within this time of the last occurrence joins its series. Default 360 000 (6 minutes). */
  seriesWindowMs?: number;
  /** Bound on remembered series and per-object buckets; the least recently used go first. Default 4096. */
  maxEntries?: number;
  log?: Logger;
}

export { microTime };

export const noteMaxBytes = 1024;
const eventNameMax = 253;

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** `<regarding name>.<16 hex digits>`: like client-go, the hex is nanoseconds since the epoch, so names sort by time. */
export function eventName(regardingName: string, ms: number): string {
  const nanos = BigInt(Math.trunc(ms)) * 1_000_000n + BigInt(randomInt(1_000_000));
  const suffix = nanos.toString(16).padStart(16, '0');
  const prefix = regardingName.slice(0, eventNameMax - suffix.length - 1).replace(/[-.]+$/, '');
  return `${prefix}.${suffix}`;
}

export function objectReference(rt: ResourceType, obj: KubeObject): ObjectReference {
  const { name, namespace, uid, resourceVersion } = obj.metadata;
  if (!name) throw new Error(`${rt.kind} without metadata.name cannot be the subject of an event`);
  const ref: ObjectReference = { apiVersion: apiVersionOf(rt), kind: rt.kind, name };
  if (rt.namespaced && namespace) ref.namespace = namespace;
  if (uid) ref.uid = uid;
  if (resourceVersion) ref.resourceVersion = resourceVersion;
  return ref;
}

interface SeriesEntry {
  readonly event: Event;
  /** Occurrences observed. */
  count: number;
  /** The count the API server has; 0 until the Event is created. */
  written: number;
  lastObserved: number;
  /** A write is scheduled and has not started: it will carry any newer count. */
  queued: boolean;
  /** Writes of one series run one after the other. */
  tail: Promise<void>;
}

interface Bucket {
  /** Tokens times refillEveryMs, so refills stay integer arithmetic. */
  credit: number;
  at: number;
}

const identity = (ref: ObjectReference | undefined) =>
  ref ? [ref.apiVersion, ref.kind, ref.namespace ?? '', ref.name, ref.uid ?? ''] : [];

export class EventRecorder {
  readonly #client: EventClient;
  readonly #controller: string;
  readonly #instance: string;
  readonly #clock: { now(): number };
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #log: Logger;
  readonly #series = new Map<string, SeriesEntry>();
  readonly #buckets = new Map<string, Bucket>();
  readonly #pending = new Set<Promise<void>>();
  #lastSweep: number;

  constructor(options: EventRecorderOptions) {
    if (!options.controller) throw new Error('EventRecorder: controller (reportingController) is required');
    if (!options.instance || options.instance.length > 128) throw new Error('EventRecorder: instance (reportingInstance) must be 1..128 characters');
    this.#client = options.client;
    this.#controller = options.controller;
    this.#instance = options.instance;
    this.#clock = options.clock ?? Date;
    this.#burst = options.burst ?? 25;
    this.#refillMs = options.refillEveryMs ?? 300_000;
    this.#windowMs = options.seriesWindowMs ?? 360_000;
    this.#maxEntries = options.maxEntries ?? 4096;
    this.#log = options.log ?? createLogger().child({ component: 'event-recorder' });
    if (!(this.#burst >= 1) || !(this.#refillMs > 0) || !(this.#windowMs > 0) || !(this.#maxEntries >= 1)) {
      throw new Error('EventRecorder: burst, refillEveryMs, seriesWindowMs and maxEntries must be positive');
    }
    this.#lastSweep = this.#clock.now();
  }

  /**
   * Records an event about `regarding` (of resource type `rt`). Returns at once; the write
   * happens in the background. Never throws: problems are logged.
   */
  event(rt: ResourceType, regarding: KubeObject, type: EventType, reason: string, action: string, note: string, related?: RelatedObject): void {
    try {
      this.#record(rt, regarding, type, reason, action, note, related);
    } catch (err) {
      this.#warn(err, 'cannot record event', { kind: rt?.kind, name: regarding?.metadata?.name, reason });
    }
  }

  /** Resolves when every write started so far (and any it queued) has finished. Never rejects. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  #record(rt: ResourceType, regarding: KubeObject, type: EventType, reason: string, action: string, note: string, related?: RelatedObject): void {
    const now = this.#clock.now();
    this.#sweep(now);
    const regardingRef = objectReference(rt, regarding);
    const relatedRef = related ? objectReference(related.rt, related.object) : undefined;
    const text = truncateUtf8(note, noteMaxBytes);
    const objectKey = JSON.stringify(identity(regardingRef));
    // resourceVersion is left out on purpose: an object that changes on every loop would
    // otherwise never aggregate.
    const key = JSON.stringify([identity(regardingRef), identity(relatedRef), type, reason, action, text]);

    let entry = this.#series.get(key);
    if (entry && now - entry.lastObserved > this.#windowMs) {
      this.#series.delete(key);
      entry = undefined;
    }
    if (entry) {
      entry.count++;
      entry.lastObserved = Math.max(entry.lastObserved, now);
      this.#touch(this.#series, key, entry);
      if (entry.queued) return;
      if (!this.#takeToken(objectKey, now)) {
        this.#log.debug({ kind: rt.kind, name: regardingRef.name, reason, count: entry.count }, 'event rate-limited; its count goes out with the next write');
        return;
      }
      this.#schedule(entry);
      return;
    }
    if (!this.#takeToken(objectKey, now)) {
      this.#log.debug({ kind: rt.kind, name: regardingRef.name, reason }, 'event dropped by the per-object rate limit');
      return;
    }
    const event: Event = {
      apiVersion: apiVersionOf(Events),
      kind: Events.kind,
      metadata: { name: eventName(regardingRef.name, now), namespace: regardingRef.namespace ?? 'default' },
      eventTime: microTime(now),
      reportingController: this.#controller,
      reportingInstance: this.#instance,
      action,
      reason,
      regarding: regardingRef,
      ...(relatedRef ? { related: relatedRef } : {}),
      note: text,
      type,
    };
    entry = { event, count: 1, written: 0, lastObserved: now, queued: false, tail: Promise.resolve() };
    this.#touch(this.#series, key, entry);
    this.#schedule(entry);
  }

  #schedule(entry: SeriesEntry): void {
    entry.queued = true;
    const run = entry.tail
      .then(() => this.#write(entry))
      .catch((err: unknown) => {
        const { regarding, reason, metadata } = entry.event;
        this.#warn(err, 'cannot write event', { kind: regarding.kind, name: regarding.name, reason, event: metadata.name });
      });
    entry.tail = run;
    this.#pending.add(run);
    void run.then(() => this.#pending.delete(run));
  }

  async #write(entry: SeriesEntry): Promise<void> {
    entry.queued = false;
    const count = entry.count;
    if (count === entry.written) return;
    const series = count > 1 ? { count, lastObservedTime: microTime(entry.lastObserved) } : undefined;
    const key: ObjectKey = { namespace: entry.event.metadata.namespace, name: entry.event.metadata.name ?? '' };
    if (entry.written === 0 || !series) {
      await this.#create(entry.event, key, series);
    } else {
      try {
        await this.#client.patch(Events, key, { series }, 'merge');
      } catch (err) {
        if (!isNotFound(err)) throw err;
        // Expired by the API server's event TTL while the series went on.
        await this.#create(entry.event, key, series);
      }
    }
    entry.written = Math.max(entry.written, count);
  }

  async #create(event: Event, key: ObjectKey, series: EventSeries | undefined): Promise<void> {
    try {
      await this.#client.create(Events, series ? { ...event, series } : event);
    } catch (err) {
      // Most likely an earlier create of ours succeeded but its response was lost.
      if (!isAlreadyExists(err)) throw err;
      if (series) await this.#client.patch(Events, key, { series }, 'merge');
    }
  }

  #takeToken(objectKey: string, now: number): boolean {
    const full = this.#burst * this.#refillMs;
    let bucket = this.#buckets.get(objectKey);
    if (bucket) {
      bucket.credit = Math.min(full, bucket.credit + Math.max(0, now - bucket.at));
      bucket.at = Math.max(bucket.at, now);
    } else {
      bucket = { credit: full, at: now };
    }
    this.#touch(this.#buckets, objectKey, bucket);
    if (bucket.credit < this.#refillMs) return false;
    bucket.credit -= this.#refillMs;
    return true;
  }

  /** Marks `key` most recently used and evicts the least recently used beyond maxEntries. */
  #touch<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    for (const oldest of map.keys()) {
      if (map.size <= this.#maxEntries) break;
      map.delete(oldest);
    }
  }

  /** Forgets expired series and full buckets, at most once per series window. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < this.#windowMs) return;
    this.#lastSweep = now;
    for (const [key, entry] of this.#series) {
      if (now - entry.lastObserved > this.#windowMs) this.#series.delete(key);
    }
    const full = this.#burst * this.#refillMs;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.credit + (now - bucket.at) >= full) this.#buckets.delete(key);
    }
  }

  #warn(err: unknown, msg: string, fields: Record<string, unknown>): void {
    try {
      this.#log.warn({ ...fields, err }, msg);
    } catch {
      // Logging must not turn a failed event into a crash.
    }
  }
}
