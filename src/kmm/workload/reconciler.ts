// The reconcile of a device object: validate, then either bring the KMM Module and the consumer
// DaemonSet to the spec, or unload in order (consumers, then the Module) — for an unloaded spec and
// for deletion alike — and report status. Reads come from the cache; a converged object costs
// nothing. Every failure shows in Ready; children with immutable changes are replaced.
import type { Logger } from 'pino';
import { needsApply } from '../../runtime/apply.ts';
import type { Cache } from '../../runtime/cache/cache.ts';
import { CONTROLLER_UID_INDEX } from '../../runtime/cache/store.ts';
import type { Client } from '../../runtime/client/client.ts';
import { ignoreNotFound } from '../../runtime/client/errors.ts';
import type { ReconcileContext, ReconcileResult, Request } from '../../runtime/controller/controller.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import { formatFieldErrors, type FieldError } from '../../runtime/field-error.ts';
import { addFinalizer, hasFinalizer, removeFinalizer } from '../../runtime/finalizers.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { getControllerOf } from '../../runtime/owners.ts';
import { DaemonSets, Nodes, Pods, Secrets, type ResourceType } from '../../runtime/resource.ts';
import { Modules } from '../resource.ts';
import { consumerNodeSelector, immutableConsumersChange, immutableModuleChange, ownedConsumers, ownedModule, type DaemonSet } from './children.ts';
import type { DeviceDriver, DeviceObject } from './driver.ts';
import { errorMessage, isImmutableFieldError } from './failures.ts';
import type { WorkloadNames } from './names.ts';
import { consumersReadyCondition, moduleLoadedCondition, nodeMatches, readyCondition, type Condition, type Pod } from './status.ts';
import { ConditionType, type NodeFailure } from './status-schema.ts';
import type { StatusWriter } from './status-writer.ts';
import { CONSUMERS_OFF_STEPS } from './upgrade.ts';
import type { UpgradeRunner } from './upgrade-runner.ts';
import { resolvePolicy } from './upgrade-schema.ts';

export interface DeviceReconcilerDeps<R extends DeviceObject> {
  client: Client;
  cache: Cache;
  recorder: EventRecorder;
  driver: DeviceDriver<R>;
  names: WorkloadNames;
  status: StatusWriter<R>;
  upgrades: UpgradeRunner;
}

/**
 * While the module is not loaded everywhere (or not yet unloaded), KMM's worker pods are read again
 * this often: they are not watched (the cache holds one pod informer, for the consumers), and a
 * worker pod that starts failing changes nothing else the controller sees.
 */
const FAILURE_RECHECK_MS = 15_000;

interface AppliedChild {
  what: string;
  created: boolean;
}

type UnloadProgress = { done: true } | { done: false; moduleLoaded: Condition; consumersReady: Condition; failures?: NodeFailure[] };

export class DeviceReconciler<R extends DeviceObject> {
  readonly #client: Client;
  readonly #cache: Cache;
  readonly #recorder: EventRecorder;
  readonly #driver: DeviceDriver<R>;
  readonly #type: ResourceType<R>;
  readonly #names: WorkloadNames;
  readonly #status: StatusWriter<R>;
  readonly #upgrades: UpgradeRunner;
  /** Errors whose failure is already in the status. */
  readonly #reported = new WeakSet<object>();

  constructor(deps: DeviceReconcilerDeps<R>) {
    this.#client = deps.client;
    this.#cache = deps.cache;
    this.#recorder = deps.recorder;
    this.#driver = deps.driver;
    this.#type = deps.driver.resource;
    this.#names = deps.names;
    this.#status = deps.status;
    this.#upgrades = deps.upgrades;
  }

  readonly reconcile = async (request: Request, ctx: ReconcileContext): Promise<ReconcileResult | void> => {
    const obj = this.#cache.get(this.#type, request);
    if (!obj) {
      this.#status.forget(request);
      this.#upgrades.forget(request);
      return;
    }
    try {
      return await this.#reconcile(obj, ctx.log);
    } catch (err) {
      // No error may go on being retried without the status saying so.
      if (!this.#reported.has(err as object)) await this.#writeFailed(obj, err, `the ${this.#type.kind} (finalizer or status)`).catch(() => {});
      throw err;
    }
  };

  async #reconcile(current: R, log: Logger): Promise<ReconcileResult | void> {
    let obj = current;
    const { finalizer } = this.#names;
    if (obj.metadata.deletionTimestamp) return this.#finalize(obj, log);
    if (!hasFinalizer(obj, finalizer)) obj = await addFinalizer(this.#client, this.#type, obj, finalizer);

    const invalid = this.#validate(obj);
    if (invalid.length > 0) {
      const message = `spec is invalid, nothing was changed: ${formatFieldErrors(invalid)}`;
      log.info({ errors: invalid }, 'invalid spec');
      this.#event(obj, 'Warning', 'InvalidSpec', 'Validate', message);
      // No requeue: the user's next edit of the spec triggers a reconcile.
      return this.#status.write(obj, { ready: { status: 'False', reason: 'InvalidSpec', message } });
    }
    const spec = this.#driver.withDefaults?.(obj.spec) ?? obj.spec;

    if (this.#driver.unloaded?.(spec)) {
      const progress = await this.#unload(obj, log);
      if (progress.done) {
        const unloaded: Condition = { status: 'False', reason: 'Unloaded', message: 'the spec asks for the kernel module to be unloaded: the module and its consumers are removed until it asks for it to be loaded again' };
        return this.#status.write(obj, {
          ready: { status: 'True', reason: 'Unloaded', message: 'the kernel module is unloaded, as the spec asks' },
          moduleLoaded: unloaded, consumersReady: { ...unloaded, message: 'the kernel module is unloaded, as the spec asks: no consumers run' },
          module: undefined, consumers: undefined, pods: [],
        });
      }
      return this.#writeProgress(obj, { status: 'False', reason: 'Unloading', message: progress.moduleLoaded.message }, progress);
    }
    return this.#load(obj, spec, log);
  }

  #validate(obj: R): FieldError[] {
    const errors = this.#driver.validate?.(obj) ?? [];
    const secret = this.#driver.pullSecret?.(this.#driver.withDefaults?.(obj.spec) ?? obj.spec);
    if (secret && !this.#cache.get(Secrets, { namespace: obj.metadata.namespace, name: secret.name })) {
      errors.push({ field: secret.field, message: `Secret "${secret.name}" does not exist in namespace ${obj.metadata.namespace}: create it, or remove ${secret.field.replace(/\.name$/, '')}` });
    }
    return errors;
  }

  async #load(obj: R, spec: R['spec'], log: Logger): Promise<ReconcileResult | void> {
    const selector = this.#driver.selector(spec);
    const version = this.#driver.version?.(spec) || undefined;
    const wantModule = ownedModule(obj, this.#type, this.#driver.module(obj, spec), this.#names, version);
    const driverConsumers = this.#driver.consumers?.(obj, spec);
    const gate = consumerNodeSelector(obj, selector, !!wantModule.spec.devicePlugin);
    // Versioned: the upgrade keeps the consumers off the nodes it is working on.
    const exclusion = version ? { key: this.#upgrades.stepKey(obj), values: CONSUMERS_OFF_STEPS } : undefined;
    const wantConsumers = driverConsumers && ownedConsumers(obj, this.#type, driverConsumers, this.#names, gate, exclusion);
    let module = this.#cache.get(Modules, { namespace: obj.metadata.namespace, name: obj.metadata.name! });
    let consumers = wantConsumers && this.#cache.get<DaemonSet>(DaemonSets, { namespace: obj.metadata.namespace, name: wantConsumers.metadata.name! });
    const conflict = this.#notOurs(obj, module, 'Module') ?? this.#notOurs(obj, consumers, 'DaemonSet');
    if (conflict) {
      this.#event(obj, 'Warning', 'ChildConflict', 'Apply', conflict);
      return this.#status.write(obj, { ready: { status: 'False', reason: 'ChildConflict', message: conflict } });
    }
    // A child whose immutable fields differ cannot be updated (422 on every retry): replace it.
    // The Module goes by the unload order (consumers first), then both are created again.
    const moduleChange = module && !module.metadata.deletionTimestamp ? immutableModuleChange(wantModule, module) : undefined;
    if (moduleChange) return this.#replaceModule(obj, moduleChange, log);
    const applied: AppliedChild[] = [];
    // The Module and the consumers are written side by side: neither needs the other's answer.
    const writes: { what: string; run: Promise<void> }[] = [];
    // A Module still terminating from an earlier unload cannot be re-created (409): wait for its deletion event.
    if (!module?.metadata.deletionTimestamp && needsApply(wantModule, module)) {
      writes.push({ what: `KMM Module ${wantModule.metadata.name}`, run: this.#client.applyWithResult(Modules, wantModule).then((result) => {
        module = result.object;
        applied.push({ what: `KMM Module ${wantModule.metadata.name}`, created: result.created });
      }) });
    }
    if (wantConsumers) {
      const terminating = module?.metadata.deletionTimestamp;
      writes.push({ what: `consumer DaemonSet ${wantConsumers.metadata.name}`, run: this.#applyConsumers(obj, wantConsumers, consumers, terminating, applied, log).then((result) => {
        consumers = result;
      }) });
    }
    const outcomes = await Promise.allSettled(writes.map((w) => w.run));
    const failed = outcomes.findIndex((o) => o.status === 'rejected');
    if (failed >= 0) {
      this.#reportApplied(obj, applied, log);
      return this.#writeFailed(obj, (outcomes[failed] as PromiseRejectedResult).reason, writes[failed]!.what);
    }
    this.#reportApplied(obj, applied, log);
    // Only the nodes the selector picks: a reconcile costs its own nodes, not the whole cluster.
    const nodes = this.#cache.list(Nodes, { labels: selector });
    const pods = this.#consumerPods(obj);
    let moduleLoaded = moduleLoadedCondition(obj, selector, module, nodes);
    // KMM says what failed only in its worker pods: read them while nodes that should have the
    // module do not (not for a converged object, nor one no node is selected for: those cost nothing).
    const failures = moduleLoaded.reason === 'Loading' ? await this.#upgrades.workerFailures(obj) : [];
    if (failures.length > 0) {
      const shown = failures.slice(0, 3).map((f) => f.message).join('; ');
      // The counts part of the message only: "still loading" is not what is happening.
      moduleLoaded = { status: 'False', reason: 'LoadFailed', message: `${moduleLoaded.message.split(';')[0]}; failing on ${failures.length} node(s): ${shown}${failures.length > 3 ? ` (and ${failures.length - 3} more, see status.loadFailures)` : ''}` };
    }
    let upgrade: Awaited<ReturnType<UpgradeRunner['step']>> | undefined;
    if (version && module && !module.metadata.deletionTimestamp) {
      upgrade = await this.#upgrades.step(obj, {
        target: version, policy: resolvePolicy(this.#driver.upgradePolicy?.(spec)), nodes, pods,
        devicePlugin: !!wantModule.spec.devicePlugin, hasConsumers: !!wantConsumers, failures,
      }, log);
    }
    const eligible = nodes.filter((n) => nodeMatches(n, gate)).length;
    const consumersReady: Condition = wantConsumers
      ? consumersReadyCondition(consumers, pods, eligible)
      : { status: 'True', reason: 'NoConsumers', message: 'this device runs no consumers' };
    const extra = [...this.#driver.conditions?.(obj, spec, { module, consumers, pods, nodes }) ?? []];
    if (upgrade) extra.push({ type: ConditionType.Upgrading, ...upgrade.condition });
    else if (obj.status?.conditions?.some((c) => c.type === ConditionType.Upgrading)) {
      extra.push({ type: ConditionType.Upgrading, status: 'False', reason: 'NoVersion', message: 'spec.version is not set: nothing to upgrade' });
    }
    const written = await this.#status.write(obj, {
      ready: readyCondition(moduleLoaded, consumersReady), moduleLoaded, consumersReady, module, consumers, pods, extra,
      upgrade: upgrade?.status, loadFailures: failures,
    });
    const waits = [written?.requeueAfter, upgrade?.requeueAfterMs, failures.length || moduleLoaded.reason === 'Loading' ? FAILURE_RECHECK_MS : undefined].filter((w): w is number => w !== undefined);
    return waits.length ? { requeueAfter: Math.min(...waits) } : written;
  }

  /** Applies the consumers when they differ; replaces them when an immutable field differs. */
  async #applyConsumers(obj: R, want: DaemonSet, current: DaemonSet | undefined, moduleTerminating: string | undefined, applied: AppliedChild[], log: Logger): Promise<DaemonSet | undefined> {
    if (current?.metadata.deletionTimestamp) return undefined;
    const change = current ? immutableConsumersChange(want, current) : undefined;
    if (change) {
      await this.#replaceConsumers(obj, current!, change, log);
      return undefined;
    }
    // No consumers while the old Module unloads: a consumer holding the device would make the
    // unload (modprobe -r) fail, and the old Module would never go away.
    if (moduleTerminating || !needsApply(want, current)) return current;
    try {
      const result = await this.#client.applyWithResult(DaemonSets, want);
      applied.push({ what: `consumer DaemonSet ${want.metadata.name}`, created: result.created });
      return result.object;
    } catch (err) {
      // The server knows immutable fields we did not foresee: replace on its word too.
      if (!(current && isImmutableFieldError(err))) throw err;
      await this.#replaceConsumers(obj, current, `the API server refused an update: ${errorMessage(err)}`, log);
      return undefined;
    }
  }

  /** One step of the ordered unload; the watch events of each step drive the next. */
  async #unload(obj: R, log: Logger, action = 'Unload'): Promise<UnloadProgress> {
    const owned = this.#cache.list<DaemonSet>(DaemonSets, { namespace: obj.metadata.namespace, index: { name: CONTROLLER_UID_INDEX, value: obj.metadata.uid! } });
    const pods = this.#consumerPods(obj);
    if (owned.length > 0 || pods.length > 0) {
      for (const consumers of owned) {
        if (consumers.metadata.deletionTimestamp) continue;
        await this.#delete(DaemonSets, consumers).catch((err: unknown) => this.#writeFailed(obj, err, `consumer DaemonSet ${consumers.metadata.name} (delete)`));
        log.info({ daemonSet: consumers.metadata.name }, 'deleted consumer DaemonSet');
        this.#event(obj, 'Normal', 'ConsumersDeleted', action, `consumer DaemonSet ${consumers.metadata.name} deleted; the module is unloaded once its pods are gone`);
      }
      const message = `stopping consumers before unloading the kernel module: ${pods.length} consumer pod(s) left`;
      return { done: false, moduleLoaded: { status: 'True', reason: 'Unloading', message }, consumersReady: { status: 'False', reason: 'Stopping', message } };
    }
    const module = this.#owned(obj, this.#cache.get(Modules, { namespace: obj.metadata.namespace, name: obj.metadata.name! }));
    // No consumers left: the version and upgrade labels may go (KMM unloads with or without them).
    await this.#upgrades.clearNodes(obj, log);
    if (module) {
      if (!module.metadata.deletionTimestamp) {
        await this.#delete(Modules, module).catch((err: unknown) => this.#writeFailed(obj, err, `KMM Module ${module.metadata.name} (delete)`));
        log.info('deleted Module');
        this.#event(obj, 'Normal', 'ModuleDeleted', action, `KMM Module ${module.metadata.name} deleted; KMM unloads the kernel module from every node`);
      }
      const loadedOn = module.status?.moduleLoader?.availableNumber;
      const message = `KMM is unloading the kernel module${loadedOn ? ` (still loaded on ${loadedOn} node(s))` : ''}`;
      const consumersReady: Condition = { status: 'False', reason: 'Stopped', message: 'consumers are stopped' };
      // An unload KMM cannot finish shows only in its worker pods, as a load does.
      const failures = await this.#upgrades.workerFailures(obj);
      if (failures.length > 0) {
        const failing = `${message}; failing on ${failures.length} node(s): ${failures.slice(0, 3).map((f) => f.message).join('; ')}`;
        return { done: false, moduleLoaded: { status: 'True', reason: 'UnloadFailed', message: failing }, consumersReady, failures };
      }
      return { done: false, moduleLoaded: { status: 'True', reason: 'Unloading', message }, consumersReady, failures };
    }
    return { done: true };
  }

  async #finalize(obj: R, log: Logger): Promise<ReconcileResult | void> {
    if (!hasFinalizer(obj, this.#names.finalizer)) return;
    const progress = await this.#unload(obj, log);
    if (!progress.done) {
      return this.#writeProgress(obj, { status: 'False', reason: 'Deleting', message: `deleting: ${progress.moduleLoaded.message}` }, progress);
    }
    await ignoreNotFound(removeFinalizer(this.#client, this.#type, obj, this.#names.finalizer));
    log.info('unloaded; finalizer released');
  }

  #consumerPods(obj: R): Pod[] {
    return this.#cache.list(Pods, { namespace: obj.metadata.namespace, labels: { [this.#names.ownerUidLabel]: obj.metadata.uid! } });
  }

  /** The object when this owner controls it; a same-named object of someone else is never touched. */
  #owned<T extends KubeObject>(owner: R, obj: T | undefined): T | undefined {
    return obj && getControllerOf(obj)?.uid === owner.metadata.uid ? obj : undefined;
  }

  #notOurs(owner: R, obj: KubeObject | undefined, kind: string): string | undefined {
    if (!obj || this.#owned(owner, obj) || obj.metadata.deletionTimestamp) return undefined;
    const controller = getControllerOf(obj);
    // An orphan that carries our UID label was ours (owner reference removed by hand): adopt it.
    if (!controller && obj.metadata.labels?.[this.#names.ownerUidLabel] === owner.metadata.uid) return undefined;
    return `${kind} ${obj.metadata.name} already exists and is ${controller ? `controlled by ${controller.kind} ${controller.name}` : `not owned by this ${this.#type.kind}`}: delete or rename it`;
  }

  async #delete(type: ResourceType, obj: KubeObject): Promise<void> {
    await ignoreNotFound(this.#client.delete(type, { namespace: obj.metadata.namespace, name: obj.metadata.name! }, {
      preconditions: { uid: obj.metadata.uid }, propagationPolicy: 'Background',
    }));
  }

  /**
   * A write of a child failed: say so in Ready (with the API server's own message) and in an
   * event, then throw, so the write is retried with backoff while the status tells why.
   */
  async #writeFailed(obj: R, err: unknown, child: string): Promise<never> {
    if (err && typeof err === 'object') this.#reported.add(err);
    const message = `writing ${child} failed: ${errorMessage(err)}`;
    this.#event(obj, 'Warning', 'WriteFailed', 'Apply', message);
    try {
      await this.#status.write(obj, { ready: { status: 'False', reason: 'WriteFailed', message } });
    } catch { /* the write's own error is the one to retry on */ }
    throw err;
  }

  /** Deletes consumers whose immutable fields differ; the next reconcile creates them anew. */
  async #replaceConsumers(obj: R, consumers: DaemonSet, why: string, log: Logger): Promise<void> {
    await this.#delete(DaemonSets, consumers);
    log.info({ why }, 'replacing the consumer DaemonSet');
    this.#event(obj, 'Normal', 'ConsumersReplaced', 'Replace', `consumer DaemonSet ${consumers.metadata.name} deleted to be created anew: ${why}`);
  }

  /** Replaces the Module in the unload order: consumers, then the Module; the load that follows creates both. */
  async #replaceModule(obj: R, why: string, log: Logger): Promise<ReconcileResult | void> {
    const progress = await this.#unload(obj, log, 'Replace');
    if (progress.done) return;
    return this.#writeProgress(obj, { status: 'False', reason: 'ReplacingModule', message: `replacing KMM Module ${obj.metadata.name} (${why}): ${progress.moduleLoaded.message}` }, progress);
  }

  /** The status of an unload step; while a worker pod fails, it is read again (KMM's pods are not watched). */
  async #writeProgress(obj: R, ready: Condition, progress: UnloadProgress & { done: false }): Promise<ReconcileResult | void> {
    const written = await this.#status.write(obj, {
      ready, moduleLoaded: progress.moduleLoaded, consumersReady: progress.consumersReady, pods: this.#consumerPods(obj),
      ...(progress.failures ? { loadFailures: progress.failures } : {}),
    });
    // Only while KMM unloads (failures read): the consumers' own steps come back as pod events.
    if (!progress.failures) return written;
    return { requeueAfter: Math.min(written?.requeueAfter ?? FAILURE_RECHECK_MS, FAILURE_RECHECK_MS) };
  }

  /** One event per reconcile that changed children (not one per child), and one log line. */
  #reportApplied(obj: R, applied: readonly AppliedChild[], log: Logger): void {
    if (applied.length === 0) return;
    const created = applied.filter((c) => c.created).map((c) => c.what);
    const updated = applied.filter((c) => !c.created).map((c) => c.what);
    const note = [created.length ? `created ${created.join(' and ')}` : '', updated.length ? `updated ${updated.join(' and ')}` : '']
      .filter(Boolean).join('; ');
    log.info({ created, updated }, note);
    this.#event(obj, 'Normal', created.length ? 'Created' : 'Updated', 'Apply', note);
  }

  #event(obj: R, type: 'Normal' | 'Warning', reason: string, action: string, note: string) {
    this.#recorder.event(this.#type, obj, type, reason, action, note);
  }
}
