#!/usr/bin/env node
// Entry point of the `ptemplate-operator` command. The sources are TypeScript run directly by
// Node 24; when an older system Node started us, hand over to the Node 24 the package installs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  const { runCli } = await import('../src/cli.ts');
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
