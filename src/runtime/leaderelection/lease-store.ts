// The Lease object and the calls leader election makes on it, over a Client.
import type { Client } from '../client/client.ts';
import { ignoreNotFound } from '../client/errors.ts';
import { delay } from '../abort.ts';
import type { KubeObject, ObjectKey } from '../object.ts';
import { Leases } from '../resource.ts';

export interface LeaseSpec {
  /** Empty or missing: nobody holds the lease. */
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime: RFC 3339 with microseconds. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export type LeaseKey = ObjectKey & { namespace: string };

/** The calls leader election makes; a Client provides them (see clientLeaseStore). */
export interface LeaseStore {
  /** The lease, or undefined when it does not exist. */
  get(key: LeaseKey, signal: AbortSignal): Promise<Lease | undefined>;
  /** Fails (AlreadyExists) when another candidate created it first. */
  create(lease: Lease, signal: AbortSignal): Promise<Lease>;
  /** A PUT guarded by metadata.resourceVersion: fails with a conflict when the lease changed meanwhile. */
  update(lease: Lease, signal: AbortSignal): Promise<Lease>;
  /**
   * Optional: every version of the lease as it is written, until the signal aborts; reconnects by
   * itself. A standby that watches sees each renewal when it happens, so it can take an abandoned
   * lease right when it expires instead of up to a retry period (plus jitter) late.
   */
  watch?(key: LeaseKey, signal: AbortSignal): AsyncIterable<Lease>;
}

/** Pause before re-opening a lease watch that ended or failed. */
const REWATCH_DELAY_MS = 1_000;

export function clientLeaseStore(client: Client): LeaseStore {
  return {
    get: (key, signal) => ignoreNotFound(client.get<Lease>(Leases, key, { signal })),
    create: (lease, signal) => client.create<Lease>(Leases, lease, { signal }),
    update: (lease, signal) => client.update<Lease>(Leases, lease, { signal }),
    async *watch(key, signal) {
      while (!signal.aborted) {
        try {
          const events = client.watch<Lease>(Leases, {
            namespace: key.namespace, fieldSelector: `metadata.name=${key.name}`, allowWatchBookmarks: false, timeoutSeconds: 300, signal,
          });
          for await (const event of events) {
            if (event.type === 'ADDED' || event.type === 'MODIFIED') yield event.object;
          }
        } catch {
          // The next get of the acquire loop reports real trouble; a watch only sharpens timing.
        }
        await delay(REWATCH_DELAY_MS, signal);
      }
    },
  };
}
