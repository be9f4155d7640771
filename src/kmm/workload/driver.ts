// The driver interface: what a device operator implements so that the workload layer can run its
// custom resource. The layer does the rest — load and update by server-side apply, ordered unload
// (for an explicit unload state and for deletion), never recreating while unloaded, waiting for a
// terminating Module, child conflicts and adoption, the missing-pull-secret watch, the
// ModuleLoaded / ConsumersReady / Ready conditions, metrics and events.
//
// Every hook is a pure function of the object (no I/O): the layer calls them on every reconcile.
import type { FieldError } from '../../runtime/field-error.ts';
import type { KubeObject } from '../../runtime/object.ts';
import type { ResourceType } from '../../runtime/resource.ts';
import type { Module } from '../types.ts';
import type { DaemonSet } from './children.ts';
import type { WorkloadNames } from './names.ts';
import type { Condition, Pod } from './status.ts';
import type { DeviceStatus } from './status-schema.ts';
import type { UpgradePolicyInput } from './upgrade-schema.ts';

/** A custom resource the layer manages: any spec, the layer's status (embed deviceStatusSchema in its CRD). */
export interface DeviceObject<Spec = unknown> extends KubeObject {
  spec: Spec;
  status?: DeviceStatus | undefined;
}

/** What the layer observed this reconcile, for the driver's own conditions. */
export interface Observed {
  module: Module | undefined;
  consumers: DaemonSet | undefined;
  pods: readonly Pod[];
  /** The nodes the selector picks. */
  nodes: readonly KubeObject[];
}

export interface DeviceDriver<R extends DeviceObject> {
  /** The custom resource (group, version, kind, plural; namespaced: the Module lives beside it). */
  readonly resource: ResourceType<R>;
  /** Names the layer writes (finalizer, labels, field manager...). Default: derived from the resource, see workloadNames. */
  readonly names?: Partial<WorkloadNames>;

  /** The spec with its defaults (objects stored before a default existed lack it). Default: the spec as stored. */
  withDefaults?(spec: R['spec']): R['spec'];
  /**
   * Errors the CRD schema cannot express, each naming its field (`spec.x`). Any error stops the
   * reconcile before a write: Ready=False with reason InvalidSpec. Default: none. Also what an
   * admission webhook should run, so both refuse the same specs.
   */
  validate?(obj: R): FieldError[];
  /** Node labels of the nodes that get the module (the Module's spec.selector; `{}`: every node). */
  selector(spec: R['spec']): Record<string, string>;
  /** True when the spec asks for the module to be unloaded while the object stays. Default: never. */
  unloaded?(spec: R['spec']): boolean;
  /**
   * A pull secret (in the object's namespace) the children use, and the spec field that names it.
   * While it does not exist the layer reports InvalidSpec naming that field and writes nothing;
   * its creation is noticed by itself (a metadata-only Secret watch). Default: none.
   */
  pullSecret?(spec: R['spec']): { name: string; field: string } | undefined;
  /**
   * The KMM Module, named and placed like the object. Write only the fields you own: the layer
   * adds the owner reference, labels and the applied-content hash.
   */
  module(obj: R, spec: R['spec']): Module;
  /**
   * The consumer DaemonSet (its metadata.name, and its pod template). The layer sets its selector
   * and pod labels, and adds KMM's "loaded" and "device plugin ready" labels to its nodeSelector,
   * so no consumer starts where the module is not loaded. Default: no consumers.
   */
  consumers?(obj: R, spec: R['spec']): DaemonSet | undefined;
  /**
   * The driver version (a label value), or undefined for an unversioned module. When set, the
   * layer sets it on the Module, labels every selected node with it (KMM's version-module label)
   * and rolls a change out node by node (upgrade.ts). Adding or removing it replaces the Module
   * by the ordered unload and a new load (KMM refuses the change in place). Default: unversioned.
   */
  version?(spec: R['spec']): string | undefined;
  /** How a version change rolls out (embed upgradePolicySchema in the CRD). Default: resolvePolicy's defaults. */
  upgradePolicy?(spec: R['spec']): UpgradePolicyInput | undefined;
  /** Conditions of the driver's own, computed from what the layer observed. Default: none. */
  conditions?(obj: R, spec: R['spec'], observed: Observed): (Condition & { type: string })[];
}
