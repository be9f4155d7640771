#!/usr/bin/env node
// Entry point of the `ptemplate-operator` command. It runs the bundle `npm install` builds
// (dist/, what the image ships: nothing to type-strip at start, only the code in use loaded)
// unless a source file is newer, then the TypeScript sources directly, so an edit is never
// hidden by a stale build. When an older system Node started us, hand over to the Node 24 the
// package installs.
//
// Memory settings (README, Performance): V8 sizes the young generation from the machine's memory,
// up to 64 MiB per semi-space on a large node, which an operator's small live set never needs and
// which one burst of reconciles fills and keeps: any steady trickle of events (a controller
// updating 1,000 DaemonSets' status at its 20 qps) grows it back to the cap within seconds of a
// compaction, so the cap is what a converged operator holds; 4 MiB (8 MiB of young generation)
// measured best, 2 and 1 promote more and peak higher. V8's optimising tiers
// (Maglev, then TurboFan) bring their compilers' code and their own output into memory, and buy
// an operator little: its hot paths are JSON and I/O that V8 and Node do in C++, so V8 stops at
// Sparkplug, its baseline compiler (--max-opt=1: 2.5 MiB idle, 4.4 MiB at 1,000 Ptemplates, for
// the same CPU to converge and about a fifth more per reconcile on 1,000 nodes). Bytecode and baseline code of a
// function not run since the last full GC are dropped (V8 waits six GCs and keeps baseline code):
// start-up's code is used once, and a cold path compiles again when it next runs. glibc keeps freed
// memory in one arena per thread (V8 compiles and collects on several) and raises its mmap
// threshold after large frees: two arenas and fixed thresholds hand memory back, and blocks of
// 32 KiB and more (a socket read takes 64 KiB; a burst frees them in any order) go to mmap, so that
// freeing them returns them instead of leaving holes in the heap. The process re-executes itself
// with each flag the command line and NODE_OPTIONS do not set (same PID, so a container's PID 1
// stays ours; the image's entry point relies on it, and sets the glibc variables itself).
import { createRequire } from 'node:module';

// require(), not import: an ES import of a built-in reads every export, and fs's lazy ones
// (promises, streams) would load code the operator does not use (the bundle does the same).
const require = createRequire(import.meta.url);
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { fileURLToPath } = require('node:url');
const { spawnSync } = require('node:child_process');

// The settings themselves (bin/node-settings.json, which the tests and the Dockerfile's check read).
const settings = require('./node-settings.json');
const NODE_FLAGS = settings.flags;
const MALLOC_ENV = settings.glibc;

const major = Number(process.versions.node.split('.')[0]);
// A flag's name as V8 reads it: `--no-x` sets `x`, and `_` is `-`.
const flagName = (flag) => flag.split('=')[0].replaceAll('_', '-').replace(/^--no-/, '--');
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map(flagName);
const missing = NODE_FLAGS.filter((flag) => !given.includes(flagName(flag)));
if (major >= 24 && missing.length > 0 && typeof process.execve === 'function') {
  try {
    process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { ...MALLOC_ENV, ...process.env });
  } catch (err) {
    // Only memory settings are lost: run on V8's defaults rather than not at all.
    console.error(`ptemplate-operator: could not re-execute with ${missing.join(' ')} (${err.message}); running without`);
  }
}
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
  const result = spawnSync(bundled, [...NODE_FLAGS, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env: { ...MALLOC_ENV, ...process.env } });
  process.exit(result.status ?? 1);
}

/** The newest modification time under a folder; 0 when it is absent (the image ships no sources). */
function newestFile(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    // Tests are not in the bundle: editing one must not make the bin run the sources.
    if (entry.isFile() && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}
