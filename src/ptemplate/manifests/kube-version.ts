// Which Kubernetes release the manifests are generated for, and the API versions that follow from it.
// The default is current Kubernetes (every API at its current version); 1.20, what the test control
// plane runs, is an explicit choice (`manifests --kube-version 1.20`).

/** The oldest release the manifests can target (the test control plane's). */
export const OLDEST_KUBE_VERSION = '1.20';
/**
 * The default target: the oldest release users run (Kubernetes 1.28; OpenShift 4.14 is 1.27, which
 * gets the same output). Every API the operator installs has been at its current version since 1.21.
 */
export const DEFAULT_KUBE_VERSION = '1.28';

export interface KubeVersion {
  major: number;
  minor: number;
}

/** Parses `1.28`, `v1.28` or `1.28.3`; throws for anything else or for releases older than 1.20. */
export function parseKubeVersion(version: string): KubeVersion {
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?$/.exec(version);
  if (!m) throw new Error(`Kubernetes version ${JSON.stringify(version)} must look like 1.28 or v1.28.3`);
  const parsed = { major: Number(m[1]), minor: Number(m[2]) };
  if (parsed.major !== 1 || parsed.minor < 20) throw new Error(`Kubernetes ${version} is not supported: the oldest is ${OLDEST_KUBE_VERSION}`);
  return parsed;
}

export type PodDisruptionBudgetApiVersion = 'policy/v1beta1' | 'policy/v1';

/** The API versions of the objects whose version depends on the release. */
export interface ApiVersions {
  /** `policy/v1` from 1.21 (1.25 removed `policy/v1beta1`, the only one 1.20 serves). */
  podDisruptionBudget: PodDisruptionBudgetApiVersion;
}

export function apiVersionsFor(kubeVersion: string = DEFAULT_KUBE_VERSION): ApiVersions {
  const { minor } = parseKubeVersion(kubeVersion);
  return { podDisruptionBudget: minor >= 21 ? 'policy/v1' : 'policy/v1beta1' };
}
