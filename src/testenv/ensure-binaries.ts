// Makes sure the test control plane's binaries exist before any test runs, building them
// once (about 10-15 minutes) into the per-user cache, so that no build happens inside a
// test's timeout. Progress goes to stderr; the folder is printed on stdout.
//
//   node src/testenv/ensure-binaries.ts          resolve, building when needed
//   node src/testenv/ensure-binaries.ts --check  resolve only; exit 1 when missing
//
// Exit codes: 0 ready, 1 unavailable or the build failed, 3 a build prerequisite is missing.
import { BinariesUnavailableError, resolveBinaries } from './binaries.ts';

const check = process.argv.includes('--check');
const log = (line: string) => process.stderr.write(`${line}\n`);

try {
  const dir = await resolveBinaries({ build: !check, log });
  process.stdout.write(`${dir}\n`);
} catch (err) {
  log(`ensure-binaries: ${(err as Error).message}`);
  process.exitCode = err instanceof BinariesUnavailableError && err.missingPrerequisite ? 3 : 1;
}
