// The pure rules the simulated KMM decides by, each written from KMM v2.6.0's source: which nodes a
// Module targets (internal/node), which kernel mapping and image a node gets (internal/module),
// what the ordered-upgrade label controller does next (module_version_label_action_table.go), what
// a node's desired config is (prepareNodeSchedulingData in module_reconciler.go), and how many
// devices a loaded module gives a node (the simulator's own knowledge of the driver: an option).
import type { SimModule, SimToleration } from './kmm-api.ts';
import type { SimNode, SimTaint } from './sim-shared.ts';

/** What a loaded module gives a node: an extended resource and how many units. */
export interface SimDeviceKind {
  /** Extended resource the simulated device plugin advertises, e.g. `example.com/ptemplate`. */
  resource: string;
  /** Devices a node gets while the module runs there, from the modprobe parameters it was loaded with. */
  count(parameters: readonly string[]): number;
  /** Only Modules loading this kernel module (`modprobe.moduleName`) get this kind. Default: every Module. */
  moduleName?: string;
}

/** A count read from the modprobe parameter `name` (`name=3` or `name="3"`), else `fallback`. */
export function simCountFromParameter(name: string, fallback: number): (parameters: readonly string[]) => number {
  const pattern = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}="?(\\d+)"?$`);
  return (parameters) => {
    for (const parameter of parameters) {
      const match = pattern.exec(parameter.trim());
      if (match) return Number(match[1]);
    }
    return fallback;
  };
}

/** The default device: the ptemplate driver's `example.com/ptemplate`, one unit per `/dev/ptemplate-N`, `max_dev` (default 5) of them. */
export const SIM_DEFAULT_DEVICE: SimDeviceKind = { resource: 'example.com/ptemplate', count: simCountFromParameter('max_dev', 5) };

/** The device kind of a kernel module: the first whose `moduleName` matches or is unset. */
export function simDeviceKindOf(kinds: readonly SimDeviceKind[], moduleName: string | undefined): SimDeviceKind | undefined {
  return kinds.find((k) => k.moduleName === undefined || k.moduleName === moduleName);
}

/** Go's `(?i)`-style leading flags become JavaScript flags; an invalid pattern matches nothing. */
function goRegexp(pattern: string): RegExp | undefined {
  const flags = /^\(\?([imsU]+)\)/.exec(pattern);
  try {
    if (!flags) return new RegExp(pattern);
    return new RegExp(pattern.slice(flags[0].length), flags[1]!.replace('U', ''));
  } catch {
    return undefined;
  }
}

/** What KMM loads on one node: its NodeModulesConfig entry (ModuleConfig), plus the Module's version. */
export interface SimModuleConfig {
  kernelVersion: string;
  containerImage: string;
  moduleName: string;
  parameters: string[];
  dirName: string;
}

/** KMM's template variables in a container image, for a kernel `x.y.z...`. */
function substituteImage(image: string, kernel: string, module: SimModule): string {
  const parts = kernel.split(/[.,-]/);
  const vars: Record<string, string> = {
    KERNEL_FULL_VERSION: kernel, KERNEL_VERSION: kernel, KERNEL_XYZ: parts.slice(0, 3).join('.'),
    KERNEL_X: parts[0] ?? '', KERNEL_Y: parts[1] ?? '', KERNEL_Z: parts[2] ?? '',
    MOD_NAME: module.metadata.name ?? '', MOD_NAMESPACE: module.metadata.namespace ?? '',
  };
  return image.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => vars[braced ?? bare ?? ''] ?? whole);
}

/**
 * The config KMM would put in the node's NodeModulesConfig for this Module: the first kernel mapping
 * that matches (literal equal, or Go regexp unanchored), its image (or the container's) with the
 * templates replaced. Undefined when no mapping matches. KMM trims a trailing `+` from the kernel.
 */
export function simModuleConfig(module: SimModule, nodeKernel: string): SimModuleConfig | undefined {
  const container = module.spec.moduleLoader?.container;
  if (!container) return undefined;
  const kernel = nodeKernel.replace(/\+$/, '');
  const mapping = container.kernelMappings.find((m) =>
    (m.literal ? m.literal === kernel : false) || (!!m.regexp && !!goRegexp(m.regexp)?.test(kernel)));
  if (!mapping) return undefined;
  return {
    kernelVersion: kernel,
    containerImage: substituteImage(mapping.containerImage || container.containerImage || '', kernel, module),
    moduleName: container.modprobe.moduleName ?? '',
    parameters: [...(container.modprobe.parameters ?? [])],
    dirName: container.modprobe.dirName ?? '/opt',
  };
}

export function sameConfig(a: SimModuleConfig | undefined, b: SimModuleConfig | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function simSelectorMatches(module: SimModule, node: SimNode): boolean {
  return Object.entries(module.spec.selector ?? {}).every(([k, v]) => node.metadata.labels?.[k] === v);
}

/** KMM adds these to every Module's tolerations (internal/module/helper.go). */
const KMM_INTERNAL_TOLERATIONS: readonly SimToleration[] = ['disk-pressure', 'memory-pressure', 'pid-pressure']
  .map((c) => ({ key: `node.kubernetes.io/${c}`, operator: 'Exists', effect: 'NoSchedule' }));

/**
 * KMM's IsNodeSchedulable: every NoSchedule/NoExecute taint is tolerated. A cordoned node counts as
 * tainted `node.kubernetes.io/unschedulable:NoSchedule` (the node-lifecycle controller adds that taint
 * in a real cluster; it is off on the test control plane).
 */
export function simToleratesNode(module: SimModule, node: SimNode): boolean {
  const taints: SimTaint[] = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  if (node.spec?.unschedulable && !taints.some((t) => t.key === 'node.kubernetes.io/unschedulable')) {
    taints.push({ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' });
  }
  const tolerations = [...(module.spec.tolerations ?? []), ...KMM_INTERNAL_TOLERATIONS];
  return taints.every((taint) => tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === 'Exists';
    if (t.key !== taint.key) return false;
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
  }));
}

/** A node is targeted when it matches the selector and KMM considers it schedulable for the Module. */
export function simTargets(module: SimModule, node: SimNode): boolean {
  return simSelectorMatches(module, node) && simToleratesNode(module, node);
}

export type SimLabelChange = { label: 'worker-pod' | 'device-plugin'; action: 'add' | 'delete' };

/**
 * KMM's node-label-module-version controller: given the node's version-module (`module`), internal
 * version-worker-pod and version-device-plugin label values ('' = missing), the one change it makes
 * next. Adding the worker-pod label additionally needs the module unloaded (no ready label);
 * deleting it needs KMM's device plugin pod gone from the node (the caller checks both).
 */
export function simVersionLabelChange(module: string, workerPod: string, devicePlugin: string): SimLabelChange | undefined {
  const state = (v: string) => (v === '' ? 'missing' : module !== '' && v !== module ? 'different' : 'present');
  const key = `${module === '' ? 'missing' : 'present'}/${state(workerPod)}/${state(devicePlugin)}`;
  const table: Record<string, SimLabelChange> = {
    'missing/present/present': { label: 'device-plugin', action: 'delete' },
    'missing/present/missing': { label: 'worker-pod', action: 'delete' },
    'present/missing/missing': { label: 'worker-pod', action: 'add' },
    'present/present/missing': { label: 'device-plugin', action: 'add' },
    'present/different/different': { label: 'device-plugin', action: 'delete' },
    'present/different/missing': { label: 'worker-pod', action: 'delete' },
  };
  return table[key];
}

/**
 * KMM's prepareNodeSchedulingData for a targeted node: the node's new desired config, or 'keep' to
 * leave whatever it has. `workerPodVersion` is the internal version-worker-pod label ('' = missing).
 * - no kernel mapping: none;
 * - the Module has no version: the Module's config;
 * - worker-pod label equal to the Module's version: the Module's config;
 * - worker-pod label different: keep (the previous version keeps running);
 * - worker-pod label missing: none (not loaded).
 */
export function simDesiredConfig(module: SimModule, config: SimModuleConfig | undefined, workerPodVersion: string): SimModuleConfig | undefined | 'keep' {
  if (!config) return undefined;
  const version = module.spec.moduleLoader?.container.version ?? '';
  if (version === '') return config;
  if (workerPodVersion === version) return config;
  if (workerPodVersion !== '') return 'keep';
  return undefined;
}
