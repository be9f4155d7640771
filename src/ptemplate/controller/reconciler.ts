// The Ptemplate reconcile: validate, then either bring the Module and the consumer DaemonSet to
// the spec, or unload in order (consumers, then the Module) — for `moduleState: Unloaded` and for
// deletion alike — and report status. Reads come from the cache; a converged object costs nothing.
import type { Logger } from 'pino';
import { Modules } from '../../kmm/resource.ts';
import { needsApply } from '../../runtime/apply.ts';
import type { Cache } from '../../runtime/cache/cache.ts';
import type { Client } from '../../runtime/client/client.ts';
import { InvalidError, isNotFound } from '../../runtime/client/errors.ts';
import type { ReconcileContext, ReconcileResult, Request } from '../../runtime/controller/controller.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import { formatFieldErrors, type FieldError } from '../../runtime/field-error.ts';
import { addFinalizer, hasFinalizer, removeFinalizer } from '../../runtime/finalizers.ts';
import { keyOf, type KubeObject } from '../../runtime/object.ts';
import { StatusPacer } from '../../runtime/status-pacer.ts';
import { getControllerOf } from '../../runtime/owners.ts';
import { DaemonSets, Nodes, Pods, Secrets, type ResourceType } from '../../runtime/resource.ts';
import { withDefaults } from '../api/defaults.ts';
import { ModuleState, Ptemplates, type Ptemplate, type PtemplateSpec, type PtemplateStatus } from '../api/schema.ts';
import { validatePtemplate } from '../api/validate.ts';
import { consumerNodeSelector, desiredConsumers, desiredModule, immutableConsumersChange, immutableModuleChange, type DaemonSet } from './desired.ts';
import { consumerKey, moduleKey, PTEMPLATE_UID_LABEL, UNLOAD_FINALIZER } from './names.ts';
import {
  consumersReadyCondition, moduleLoadedCondition, nextStatus, nodeMatches, readyCondition, statusEqual, statusUrgent, type Condition, type Pod, type StatusInput,
} from './status.ts';

export interface PtemplateReconcilerDeps {
  client: Client;
  cache: Cache;
  recorder: EventRecorder;
  now?: () => Date;
  /** Paces progress-only status writes. Default: a StatusPacer with its defaults. */
  statusPacer?: StatusPacer;
  /** Told each status a reconcile computes (written or not) and when a Ptemplate is gone: the metrics. */
  statusObserver?: PtemplateStatusObserver;
}

export interface PtemplateStatusObserver {
  observe(pt: Ptemplate, status: PtemplateStatus): void;
  forget(request: Request): void;
}

interface AppliedChild {
  what: string;
  created: boolean;
}

type UnloadProgress = { done: true } | { done: false; moduleLoaded: Condition; consumersReady: Condition };

export class PtemplateReconciler {
  readonly #client: Client;
  readonly #cache: Cache;
  readonly #recorder: EventRecorder;
  readonly #now: () => Date;
  readonly #observer: PtemplateStatusObserver | undefined;
  readonly #pacer: StatusPacer;
  /** Errors whose failure is already in the status. */
  readonly #reported = new WeakSet<object>();

  constructor(deps: PtemplateReconcilerDeps) {
    this.#client = deps.client;
    this.#cache = deps.cache;
    this.#recorder = deps.recorder;
    this.#now = deps.now ?? (() => new Date());
    this.#observer = deps.statusObserver;
    this.#pacer = deps.statusPacer ?? new StatusPacer();
  }

  readonly reconcile = async (request: Request, ctx: ReconcileContext): Promise<ReconcileResult | void> => {
    const pt = this.#cache.get(Ptemplates, request);
    if (!pt) {
      this.#observer?.forget(request);
      this.#pacer.forget(keyOf(request));
      return;
    }
    try {
      return await this.#reconcile(pt, ctx);
    } catch (err) {
      // No error may go on being retried without the status saying so.
      if (!this.#reported.has(err as object)) await this.#writeFailed(pt, err, 'the Ptemplate (finalizer or status)').catch(() => {});
      throw err;
    }
  };

  async #reconcile(current: Ptemplate, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    let pt = current;
    if (pt.metadata.deletionTimestamp) return this.#finalize(pt, ctx.log);

    if (!hasFinalizer(pt, UNLOAD_FINALIZER)) pt = await addFinalizer(this.#client, Ptemplates, pt, UNLOAD_FINALIZER);

    const invalid = this.#validate(pt);
    if (invalid.length > 0) {
      const message = `spec is invalid, nothing was changed: ${formatFieldErrors(invalid)}`;
      ctx.log.info({ errors: invalid }, 'invalid spec');
      this.#event(pt, 'Warning', 'InvalidSpec', 'Validate', message);
      // No requeue: the user's next edit of the spec triggers a reconcile.
      return this.#writeStatus(pt, { ready: { status: 'False', reason: 'InvalidSpec', message } });
    }
    const spec = withDefaults(pt.spec);

    if (spec.moduleState === ModuleState.Unloaded) {
      const progress = await this.#unload(pt, ctx.log);
      if (progress.done) {
        const unloaded: Condition = { status: 'False', reason: 'Unloaded', message: 'spec.moduleState is Unloaded: the kernel module and its consumers are removed; set it to Loaded to load them again' };
        return this.#writeStatus(pt, {
          ready: { status: 'True', reason: 'Unloaded', message: 'the kernel module is unloaded, as spec.moduleState asks' },
          moduleLoaded: unloaded, consumersReady: { ...unloaded, message: 'spec.moduleState is Unloaded: no consumers run' },
          module: undefined, consumers: undefined, pods: [],
        });
      }
      return this.#writeStatus(pt, {
        ready: { status: 'False', reason: 'Unloading', message: progress.moduleLoaded.message },
        moduleLoaded: progress.moduleLoaded, consumersReady: progress.consumersReady, pods: this.#consumerPods(pt),
      });
    }
    return this.#load(pt, spec, ctx.log);
  }

  #validate(pt: Ptemplate): FieldError[] {
    const errors = validatePtemplate(pt);
    const secret = pt.spec.imagePullSecret?.name;
    if (secret && !this.#cache.get(Secrets, { namespace: pt.metadata.namespace, name: secret })) {
      errors.push({ field: 'spec.imagePullSecret.name', message: `Secret "${secret}" does not exist in namespace ${pt.metadata.namespace}: create it, or remove spec.imagePullSecret` });
    }
    return errors;
  }

  async #load(pt: Ptemplate, spec: PtemplateSpec, log: Logger): Promise<ReconcileResult | void> {
    const wantModule = desiredModule(pt, spec);
    let module = this.#cache.get(Modules, moduleKey(pt));
    const conflict = this.#notOurs(pt, module, 'Module') ?? this.#notOurs(pt, this.#cache.get(DaemonSets, consumerKey(pt)), 'DaemonSet');
    if (conflict) {
      this.#event(pt, 'Warning', 'ChildConflict', 'Apply', conflict);
      return this.#writeStatus(pt, { ready: { status: 'False', reason: 'ChildConflict', message: conflict } });
    }
    // A child whose immutable fields differ cannot be updated (422 on every retry): replace it.
    // The Module goes by the unload order (consumers first), then both are created again.
    const moduleChange = module && this.#owned(pt, module) && !module.metadata.deletionTimestamp ? immutableModuleChange(wantModule, module) : undefined;
    if (moduleChange) return this.#replaceModule(pt, moduleChange, log);
    const applied: AppliedChild[] = [];
    const wantConsumers = desiredConsumers(pt, spec);
    let consumers = this.#cache.get<DaemonSet>(DaemonSets, consumerKey(pt));
    let writing = `KMM Module ${wantModule.metadata.name}`;
    try {
      // A Module still terminating from an earlier unload cannot be re-created (409): wait for its deletion event.
      if (!module?.metadata.deletionTimestamp && needsApply(wantModule, module)) {
        const result = await this.#client.applyWithResult(Modules, wantModule);
        module = result.object;
        applied.push({ what: `KMM Module ${wantModule.metadata.name}`, created: result.created });
      }
      writing = `consumer DaemonSet ${wantConsumers.metadata.name}`;
      const consumersChange = consumers && this.#owned(pt, consumers) && !consumers.metadata.deletionTimestamp ? immutableConsumersChange(wantConsumers, consumers) : undefined;
      if (consumersChange) {
        await this.#replaceConsumers(pt, consumers!, consumersChange, log);
        consumers = undefined;
      } else if (consumers?.metadata.deletionTimestamp) consumers = undefined;
      // No consumers while the old Module unloads: a consumer holding the device would make the
      // unload (modprobe -r) fail, and the old Module would never go away.
      else if (!module?.metadata.deletionTimestamp && needsApply(wantConsumers, consumers)) {
        try {
          const result = await this.#client.applyWithResult(DaemonSets, wantConsumers);
          consumers = result.object;
          applied.push({ what: `consumer DaemonSet ${wantConsumers.metadata.name}`, created: result.created });
        } catch (err) {
          // The server knows immutable fields we did not foresee: replace on its word too.
          if (!(consumers && isImmutableFieldError(err))) throw err;
          await this.#replaceConsumers(pt, consumers, `the API server refused an update: ${errorMessage(err)}`, log);
          consumers = undefined;
        }
      }
    } catch (err) {
      this.#reportApplied(pt, applied, log);
      return this.#writeFailed(pt, err, writing);
    }
    this.#reportApplied(pt, applied, log);
    // Only the nodes the selector picks: a reconcile costs its own nodes, not the whole cluster.
    const nodes = this.#cache.list(Nodes, { labels: pt.spec.selector });
    const pods = this.#consumerPods(pt);
    const moduleLoaded = moduleLoadedCondition(pt, module, nodes);
    const eligible = nodes.filter((n) => nodeMatches(n, consumerNodeSelector(pt))).length;
    const consumersReady = consumersReadyCondition(consumers, pods, eligible);
    return this.#writeStatus(pt, {
      ready: readyCondition(moduleLoaded, consumersReady), moduleLoaded, consumersReady, module, consumers, pods,
    });
  }

  /** One step of the ordered unload; the watch events of each step drive the next. */
  async #unload(pt: Ptemplate, log: Logger, action = 'Unload'): Promise<UnloadProgress> {
    const consumers = this.#owned(pt, this.#cache.get(DaemonSets, consumerKey(pt)));
    const pods = this.#consumerPods(pt);
    if (consumers || pods.length > 0) {
      if (consumers && !consumers.metadata.deletionTimestamp) {
        await this.#delete(DaemonSets, consumers).catch((err: unknown) => this.#writeFailed(pt, err, `consumer DaemonSet ${consumers.metadata.name} (delete)`));
        log.info('deleted consumer DaemonSet');
        this.#event(pt, 'Normal', 'ConsumersDeleted', action, `consumer DaemonSet ${consumers.metadata.name} deleted; the module is unloaded once its pods are gone`);
      }
      const message = `stopping consumers before unloading the kernel module: ${pods.length} consumer pod(s) left`;
      return { done: false, moduleLoaded: { status: 'True', reason: 'Unloading', message }, consumersReady: { status: 'False', reason: 'Stopping', message } };
    }
    const module = this.#owned(pt, this.#cache.get(Modules, moduleKey(pt)));
    if (module) {
      if (!module.metadata.deletionTimestamp) {
        await this.#delete(Modules, module).catch((err: unknown) => this.#writeFailed(pt, err, `KMM Module ${module.metadata.name} (delete)`));
        log.info('deleted Module');
        this.#event(pt, 'Normal', 'ModuleDeleted', action, `KMM Module ${module.metadata.name} deleted; KMM unloads the kernel module from every node`);
      }
      const loadedOn = module.status?.moduleLoader?.availableNumber;
      const message = `KMM is unloading the kernel module${loadedOn ? ` (still loaded on ${loadedOn} node(s))` : ''}`;
      return { done: false, moduleLoaded: { status: 'True', reason: 'Unloading', message }, consumersReady: { status: 'False', reason: 'Stopped', message: 'consumers are stopped' } };
    }
    return { done: true };
  }

  async #finalize(pt: Ptemplate, log: Logger): Promise<ReconcileResult | void> {
    if (!hasFinalizer(pt, UNLOAD_FINALIZER)) return;
    const progress = await this.#unload(pt, log);
    if (!progress.done) {
      return this.#writeStatus(pt, {
        ready: { status: 'False', reason: 'Deleting', message: `deleting: ${progress.moduleLoaded.message}` },
        moduleLoaded: progress.moduleLoaded, consumersReady: progress.consumersReady, pods: this.#consumerPods(pt),
      });
    }
    try {
      await removeFinalizer(this.#client, Ptemplates, pt, UNLOAD_FINALIZER);
      log.info('unloaded; finalizer released');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  #consumerPods(pt: Ptemplate): Pod[] {
    return this.#cache.list(Pods, { namespace: pt.metadata.namespace, labels: { [PTEMPLATE_UID_LABEL]: pt.metadata.uid! } });
  }

  /** The object when this Ptemplate controls it; a same-named object of someone else is never touched. */
  #owned<T extends KubeObject>(pt: Ptemplate, obj: T | undefined): T | undefined {
    return obj && getControllerOf(obj)?.uid === pt.metadata.uid ? obj : undefined;
  }

  #notOurs(pt: Ptemplate, obj: KubeObject | undefined, kind: string): string | undefined {
    if (!obj || this.#owned(pt, obj) || obj.metadata.deletionTimestamp) return undefined;
    const owner = getControllerOf(obj);
    // An orphan that carries our UID label was ours (owner reference removed by hand): adopt it.
    if (!owner && obj.metadata.labels?.[PTEMPLATE_UID_LABEL] === pt.metadata.uid) return undefined;
    return `${kind} ${obj.metadata.name} already exists and is ${owner ? `controlled by ${owner.kind} ${owner.name}` : 'not owned by this Ptemplate'}: delete or rename it`;
  }

  async #delete(type: ResourceType, obj: KubeObject): Promise<void> {
    try {
      await this.#client.delete(type, { namespace: obj.metadata.namespace, name: obj.metadata.name! }, {
        preconditions: { uid: obj.metadata.uid }, propagationPolicy: 'Background',
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Writes the status when it changed; progress-only changes are paced (see StatusPacer). */
  async #writeStatus(pt: Ptemplate, input: StatusInput): Promise<ReconcileResult | void> {
    const status = nextStatus(pt, input, this.#now());
    this.#observer?.observe(pt, status);
    if (statusEqual(pt.status, status)) return;
    const key = keyOf(pt);
    const urgent = statusUrgent(pt.status, status);
    const wait = this.#pacer.delay(key, urgent);
    if (wait > 0) return { requeueAfter: wait };
    this.#pacer.written(key, urgent);
    try {
      await this.#client.applyStatus(Ptemplates, {
        apiVersion: 'pt.example.com/v1alpha1', kind: 'Ptemplate',
        metadata: { name: pt.metadata.name, namespace: pt.metadata.namespace },
        status,
      } as Ptemplate);
    } catch (err) {
      // The object may be gone by the time the last unload step reports.
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * A write of a child failed: say so in Ready (with the API server's own message) and in an
   * event, then throw, so the write is retried with backoff while the status tells why.
   */
  async #writeFailed(pt: Ptemplate, err: unknown, child: string): Promise<never> {
    if (err && typeof err === 'object') this.#reported.add(err);
    const message = `writing ${child} failed: ${errorMessage(err)}`;
    this.#event(pt, 'Warning', 'WriteFailed', 'Apply', message);
    try {
      await this.#writeStatus(pt, { ready: { status: 'False', reason: 'WriteFailed', message } });
    } catch { /* the write's own error is the one to retry on */ }
    throw err;
  }

  /** Deletes consumers whose immutable fields differ; the next reconcile creates them anew. */
  async #replaceConsumers(pt: Ptemplate, consumers: DaemonSet, why: string, log: Logger): Promise<void> {
    await this.#delete(DaemonSets, consumers);
    log.info({ why }, 'replacing the consumer DaemonSet');
    this.#event(pt, 'Normal', 'ConsumersReplaced', 'Replace', `consumer DaemonSet ${consumers.metadata.name} deleted to be created anew: ${why}`);
  }

  /** Replaces the Module in the unload order: consumers, then the Module; the load that follows creates both. */
  async #replaceModule(pt: Ptemplate, why: string, log: Logger): Promise<ReconcileResult | void> {
    const progress = await this.#unload(pt, log, 'Replace');
    const message = `replacing KMM Module ${pt.metadata.name} (${why}): ${progress.done ? 'done' : progress.moduleLoaded.message}`;
    if (progress.done) return;
    return this.#writeStatus(pt, {
      ready: { status: 'False', reason: 'ReplacingModule', message },
      moduleLoaded: progress.moduleLoaded, consumersReady: progress.consumersReady, pods: this.#consumerPods(pt),
    });
  }

  /** One event per reconcile that changed children (not one per child), and one log line. */
  #reportApplied(pt: Ptemplate, applied: readonly AppliedChild[], log: Logger): void {
    if (applied.length === 0) return;
    const created = applied.filter((c) => c.created).map((c) => c.what);
    const updated = applied.filter((c) => !c.created).map((c) => c.what);
    const note = [created.length ? `created ${created.join(' and ')}` : '', updated.length ? `updated ${updated.join(' and ')}` : '']
      .filter(Boolean).join('; ');
    log.info({ created, updated }, note);
    this.#event(pt, 'Normal', created.length ? 'Created' : 'Updated', 'Apply', note);
  }

  #event(pt: Ptemplate, type: 'Normal' | 'Warning', reason: string, action: string, note: string) {
    this.#recorder.event(Ptemplates, pt, type, reason, action, note);
  }
}

/** The API server's own words for a failed request (its Status message), else the error's message. */
function errorMessage(err: unknown): string {
  if (err && typeof err === 'object' && 'status' in err) {
    const message = (err as { status?: { message?: string } }).status?.message;
    if (message) return message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** A 422 naming an immutable field ("field is immutable"). */
function isImmutableFieldError(err: unknown): boolean {
  return err instanceof InvalidError && (err.causes.some((c) => /immutable/i.test(c.message ?? '')) || /field is immutable/i.test(err.status.message ?? ''));
}
