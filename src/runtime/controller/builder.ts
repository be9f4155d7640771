// Fluent wiring of a controller to the shared cache (controller-runtime's `builder`):
//   manager.controller('widgets').for(Widgets).owns(ConfigMaps).complete(reconcile)
import type { KubeObject } from '../object.ts';
import type { InformerOptions } from '../cache/informer.ts';
import type { ResourceType } from '../resource.ts';
import type { Manager } from '../manager/manager.ts';
import { Controller, type ControllerOptions, type Reconciler } from './controller.ts';
import { enqueueControllerOwner, enqueueObject, replaysLow, replaysLowWhenObserved, type MapFunc, type ReplayPriority } from './handler.ts';
import type { Predicate } from './predicate.ts';

export interface WatchOptions<T extends KubeObject> extends Omit<InformerOptions, 'namespace'> {
  predicates?: Predicate<T>[];
  /**
   * The queue priority of objects replayed when the controller starts (see Controller.watch).
   * Default: for(), low when the status has observed the current generation (replaysLowWhenObserved);
   * owns() and watches(), always low (replaysLow): the primary's own replay carries its priority.
   */
  replayPriority?: ReplayPriority<T>;
}

interface Source {
  type: ResourceType;
  map: MapFunc;
  options: WatchOptions<KubeObject>;
  replay: ReplayPriority;
}

export class ControllerBuilder {
  readonly #manager: Manager;
  readonly #name: string;
  #for: ResourceType | undefined;
  readonly #sources: Source[] = [];
  #options: Partial<Omit<ControllerOptions, 'name' | 'reconciler' | 'log' | 'registry'>> = {};

  constructor(manager: Manager, name: string) {
    this.#manager = manager;
    this.#name = name;
  }

  /** The primary type: its own events enqueue its key. */
  for<T extends KubeObject>(type: ResourceType<T>, options: WatchOptions<T> = {}): this {
    if (this.#for) throw new Error(`controller ${this.#name}: for() called twice`);
    this.#for = type;
    this.#sources.push({ type, map: enqueueObject, options: options as WatchOptions<KubeObject>, replay: (options.replayPriority ?? replaysLowWhenObserved) as ReplayPriority });
    return this;
  }

  /** A child type: events enqueue the controller owner when it is of the primary type. */
  owns<T extends KubeObject>(type: ResourceType<T>, options: WatchOptions<T> = {}): this {
    if (!this.#for) throw new Error(`controller ${this.#name}: call for() before owns()`);
    this.#sources.push({ type, map: enqueueControllerOwner(this.#for), options: options as WatchOptions<KubeObject>, replay: (options.replayPriority ?? replaysLow) as ReplayPriority });
    return this;
  }

  /** Any other type, mapped to primary keys by `map`. */
  watches<T extends KubeObject>(type: ResourceType<T>, map: MapFunc<T>, options: WatchOptions<T> = {}): this {
    this.#sources.push({ type, map: map as MapFunc, options: options as WatchOptions<KubeObject>, replay: (options.replayPriority ?? replaysLow) as ReplayPriority });
    return this;
  }

  withOptions(options: Partial<Omit<ControllerOptions, 'name' | 'reconciler' | 'log' | 'registry'>>): this {
    this.#options = { ...this.#options, ...options };
    return this;
  }

  complete(reconciler: Reconciler): Controller {
    if (!this.#for) throw new Error(`controller ${this.#name}: for() is required`);
    const controller = new Controller({
      ...this.#options, name: this.#name, reconciler, log: this.#manager.log, registry: this.#manager.registry,
    });
    for (const { type, map, options, replay } of this.#sources) {
      const { predicates, replayPriority: _, ...informerOptions } = options;
      controller.watch(this.#manager.cache.informer(type, informerOptions), map, predicates, replay);
    }
    this.#manager.add(controller);
    return controller;
  }
}
