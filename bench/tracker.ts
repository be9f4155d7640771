// Watches one namespace (Ptemplates, Modules, DaemonSets) as the benchmark's admin and tells, per
// Ptemplate, when it converged: status.observedGeneration == generation, its Module and its
// DaemonSet exist. Event-driven (a watch, not polling a list of 10,000), so the moment is the
// moment the watch delivered the last missing piece.
import { Modules } from '../src/kmm/resource.ts';
import { Cache } from '../src/runtime/cache/cache.ts';
import type { Client } from '../src/runtime/client/client.ts';
import { silentLogger } from '../src/runtime/log.ts';
import { keyOf, type KubeObject } from '../src/runtime/object.ts';
import { DaemonSets } from '../src/runtime/resource.ts';
import { Ptemplates, type Ptemplate } from '../src/ptemplate/api/schema.ts';
import { CONSUMER_SUFFIX } from '../src/ptemplate/api/validate.ts';
import type { DaemonSet } from '../src/kmm/workload/children.ts';
import { deadline } from './report.ts';

type Waiter = { check: () => boolean; resolve: (at: number) => void };

export class ConvergenceTracker {
  readonly cache: Cache;
  readonly #abort = new AbortController();
  /** Ptemplate key -> performance.now() when it was first seen converged (current generation). */
  readonly convergedAt = new Map<string, number>();
  readonly #waiters = new Set<Waiter>();

  constructor(admin: Client, namespace: string) {
    this.cache = new Cache({ client: admin, log: silentLogger, namespace });
    const pts = this.cache.informer(Ptemplates);
    const modules = this.cache.informer(Modules);
    const daemonSets = this.cache.informer<DaemonSet>(DaemonSets);
    const recheck = (key: string) => {
      const now = performance.now();
      const pt = pts.get(key);
      if (!pt) this.convergedAt.delete(key);
      else if (!this.convergedAt.has(key) && this.#converged(pt)) this.convergedAt.set(key, now);
      for (const waiter of this.#waiters) {
        if (waiter.check()) {
          this.#waiters.delete(waiter);
          waiter.resolve(now);
        }
      }
    };
    const ptKey = (o: KubeObject) => keyOf(o);
    const dsKey = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name!.slice(0, -CONSUMER_SUFFIX.length)}`;
    for (const [informer, key] of [[pts, ptKey], [modules, ptKey], [daemonSets, dsKey]] as const) {
      (informer as typeof pts).addHandler({
        add: (o) => recheck(key(o)),
        update: (_old, o) => recheck(key(o)),
        delete: (o) => recheck(key(o)),
      });
    }
  }

  #converged(pt: Ptemplate): boolean {
    const { namespace, name, generation } = pt.metadata;
    return pt.status?.observedGeneration === generation &&
      !!this.cache.get(Modules, { namespace, name: name! }) &&
      !!this.cache.get(DaemonSets, { namespace, name: `${name}${CONSUMER_SUFFIX}` });
  }

  async start(): Promise<void> {
    this.cache.start(this.#abort.signal);
    await this.cache.waitForSync(this.#abort.signal);
  }

  /** Resolves with performance.now() at the first event after which `check` holds (at once if it holds now). */
  when(check: () => boolean): { promise: Promise<number>; cancel: () => void } {
    let waiter: Waiter | undefined;
    const promise = new Promise<number>((resolve) => {
      if (check()) return resolve(performance.now());
      waiter = { check, resolve };
      this.#waiters.add(waiter);
    });
    return { promise, cancel: () => { if (waiter) this.#waiters.delete(waiter); } };
  }

  /** Waits for `check` with a deadline; a progress line every 10 s from `status`. */
  async waitFor(what: string, timeoutMs: number, check: () => boolean, status: () => string, onProgress: (line: string) => void): Promise<number> {
    const { promise, cancel } = this.when(check);
    const start = performance.now();
    let settled: number | undefined;
    void promise.then((at) => { settled = at; });
    while (settled === undefined) {
      if (performance.now() - start > timeoutMs) {
        cancel();
        throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; ${status()}`);
      }
      await Promise.race([promise, deadline(10_000, 0)]);
      if (settled === undefined) onProgress(`waiting for ${what} (${Math.round((performance.now() - start) / 1000)} s): ${status()}`);
    }
    return settled;
  }

  stop(): void {
    this.#abort.abort();
  }
}
