#!/usr/bin/env node
// Entry point of the `ptemplate-operator` command. It runs the bundle `npm install` builds
// (dist/, what the image ships: nothing to type-strip at start, only the code in use loaded)
// unless a source file is newer, then the TypeScript sources directly, so an edit is never
// hidden by a stale build. When an older system Node started us, hand over to the Node 24 the
// package installs.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  const bundle = fileURLToPath(new URL('../dist/ptemplate-operator.js', import.meta.url));
  const sources = fileURLToPath(new URL('../src', import.meta.url));
  const { runCli } = existsSync(bundle) && newestFile(sources) <= statSync(bundle).mtimeMs
    ? await import('../dist/ptemplate-operator.js')
    : await import('../src/cli.ts');
  runCli();
} else {
  const bundled = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(bundled)) {
    console.error(`ptemplate-operator needs Node >= 24 (this is ${process.version}); run \`npm install\` in the package first.`);
    process.exit(1);
  }
  const result = spawnSync(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

/** The newest modification time under a folder; 0 when it is absent (the image ships no sources). */
function newestFile(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}
