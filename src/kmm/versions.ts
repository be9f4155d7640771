// Which KMM releases this package targets, and the rules that differ between them.

/**
 * The KMM release the rules default to: the latest release at the time of writing. Rules that changed
 * after it (the name length) follow the version a caller declares.
 */
export const DEFAULT_KMM_VERSION = '2.6.0';
/** The oldest KMM release the Module this package writes works with (v1beta1 Module with moduleLoader). */
export const MIN_KMM_VERSION = '2.0.0';

export interface KmmVersion {
  major: number;
  minor: number;
  patch: number;
}

/** Parses `2.6.0`, `v2.6.0` or `2.6`; throws on anything else. */
export function parseKmmVersion(version: string): KmmVersion {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?$/.exec(version);
  if (!m) throw new Error(`KMM version ${JSON.stringify(version)} must look like 2.6.0 or v2.6.0`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

function atLeast(v: KmmVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/**
 * KMM refuses a Module whose name and namespace together are longer than this (`len(name + namespace) > N`):
 * 40 up to v2.6 (`maxCombinedLength = 40`), 41 on KMM's main branch after v2.6.0, assumed for v2.7 and later.
 * Both end up in one label name of at most 63 characters.
 */
export function maxNameAndNamespaceLength(kmmVersion: string = DEFAULT_KMM_VERSION): number {
  return atLeast(parseKmmVersion(kmmVersion), 2, 7) ? 41 : 40;
}
