// The throwaway test control plane: binaries lookup/build and the process manager.
export {
  BinariesUnavailableError, binariesCacheDir, CONTROL_PLANE_BINARIES, defaultBuildScript, KUBE_VERSION,
  MISSING_PREREQUISITE_EXIT, resolveBinaries,
} from './binaries.ts';
export type { ControlPlaneBinary, ResolveBinariesOptions } from './binaries.ts';
export { ControlPlane, reapLeftovers, TEMP_DIR_PREFIX } from './control-plane.ts';
export type { ControlPlaneOptions } from './control-plane.ts';
