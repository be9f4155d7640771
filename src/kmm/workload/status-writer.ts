// Writes a device object's status: computed from a StatusInput by nextStatus, sent by server-side
// apply to /status only when it changed, progress-only changes paced (StatusPacer), and every
// computed status told to an observer (the metrics), written or not.
import type { Client } from '../../runtime/client/client.ts';
import { ignoreNotFound } from '../../runtime/client/errors.ts';
import type { ReconcileResult, Request } from '../../runtime/controller/controller.ts';
import { keyOf, type ObjectKey } from '../../runtime/object.ts';
import type { ResourceType } from '../../runtime/resource.ts';
import { StatusPacer } from '../../runtime/status-pacer.ts';
import type { DeviceObject } from './driver.ts';
import { nextStatus, statusEqual, statusUrgent, type StatusInput } from './status.ts';
import type { DeviceStatus } from './status-schema.ts';

export interface DeviceStatusObserver {
  observe(obj: DeviceObject, status: DeviceStatus): void;
  forget(request: Request): void;
}

export interface StatusWriterOptions<R extends DeviceObject> {
  client: Client;
  type: ResourceType<R>;
  /** Default: a StatusPacer with its defaults. */
  pacer?: StatusPacer | undefined;
  observer?: DeviceStatusObserver | undefined;
  /** Default: the system clock. */
  now?: (() => Date) | undefined;
}

export class StatusWriter<R extends DeviceObject> {
  readonly #client: Client;
  readonly #type: ResourceType<R>;
  readonly #pacer: StatusPacer;
  readonly #observer: DeviceStatusObserver | undefined;
  readonly #now: () => Date;
  /** The last status written per object, until the cache shows a newer version of the object than the one it was computed from. */
  readonly #written = new Map<string, { basedOn: string; status: DeviceStatus }>();

  constructor(options: StatusWriterOptions<R>) {
    this.#client = options.client;
    this.#type = options.type;
    this.#pacer = options.pacer ?? new StatusPacer();
    this.#observer = options.observer;
    this.#now = options.now ?? (() => new Date());
  }

  /** Writes the status when it changed; a paced write returns when to try again. */
  async write(obj: R, input: StatusInput): Promise<ReconcileResult | void> {
    const key = keyOf(obj);
    // Read our own writes: while the cache still shows the object as it was when we last wrote
    // its status, that write is the status to compare with (a child's event often comes first).
    let current = obj.status;
    const pending = this.#written.get(key);
    if (pending && pending.basedOn === obj.metadata.resourceVersion) current = pending.status;
    else if (pending) this.#written.delete(key);
    const status = nextStatus({ ...obj, status: current }, input, this.#now());
    this.#observer?.observe(obj, status);
    if (statusEqual(current, status)) return;
    const urgent = statusUrgent(current, status);
    const wait = this.#pacer.delay(key, urgent);
    if (wait > 0) return { requeueAfter: wait };
    this.#pacer.written(key, urgent);
    // The object may be gone by the time the last unload step reports. (The client fills in apiVersion and kind.)
    const written = await ignoreNotFound(this.#client.applyStatus(this.#type, { metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace }, status } as R));
    if (written && obj.metadata.resourceVersion) this.#written.set(key, { basedOn: obj.metadata.resourceVersion, status });
  }

  /** The object is gone: drop what was kept for it. */
  forget(request: ObjectKey): void {
    this.#observer?.forget(request);
    this.#pacer.forget(keyOf(request));
    this.#written.delete(keyOf(request));
  }
}
