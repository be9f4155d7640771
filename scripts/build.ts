// Builds dist/: the CLI and everything it imports in production, bundled by esbuild into ES
// modules, so a pod neither type-strips the sources at start nor loads the parts of dependencies
// it never calls. `npm install` runs it (the `prepare` script); the image ships only its output.
// Development-only code (the playground and its control plane) stays out: the bundle loads it
// from src/ when a checkout has it.
//
//   node scripts/build.ts [--metafile] [--if-available]
//     --metafile       also writes dist/meta.json (what each input contributes: esbuild's analyzer reads it)
//     --if-available   exit quietly when esbuild is not installed (`npm install --omit=dev`): bin/ then runs the sources
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist`;

/** Imports left outside the bundle, resolved from dist/ at run time (development only). */
const devOnly: Record<string, string> = {
  './commands/playground.ts': '../src/commands/playground.ts',
};

const plugins: esbuild.Plugin[] = [
  {
    name: 'dev-only-external',
    setup(build) {
      build.onResolve({ filter: /playground\.ts$/ }, (args) => {
        const target = devOnly[args.path];
        return target ? { path: target, external: true } : undefined;
      });
    },
  },
  {
    // client-node declares no `sideEffects`, so esbuild would keep its whole generated API (every
    // model class and the serializer's type map) once anything imports its kubeconfig module. Its
    // modules only define classes and functions: marking them side-effect free lets the bundle
    // drop what the operator never references.
    name: 'client-node-side-effect-free',
    setup(build) {
      build.onResolve({ filter: /./ }, async (args) => {
        if (args.pluginData === 'resolved') return undefined;
        if (!args.path.startsWith('@kubernetes/client-node') && !args.importer.includes('/@kubernetes/client-node/')) return undefined;
        const result = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'resolved' });
        if (result.errors.length > 0) return { errors: result.errors };
        return result.path.includes('/@kubernetes/client-node/') ? { path: result.path, sideEffects: false } : result;
      });
    },
  },
];

/**
 * Parts of client-node's kubeconfig support that only some kubeconfigs use (the OIDC and the
 * legacy gcp/azure auth providers, SOCKS and HTTP proxies) load when first used: loading them at
 * start cost about 2.5 MiB of memory in every pod. Each import of one of them from client-node
 * gets a stand-in whose exports are getters; the first read requires the real module, which the
 * bundle holds as a lazily initialised module (esbuild's wrapper for a required ES module).
 */
const LOADED_ON_USE = ['openid-client', 'jsonpath-plus', 'socks-proxy-agent', 'socks', 'hpagent'];

/**
 * A CommonJS module standing in for `specifier`: each of `names` is a getter, and the first read
 * requires the real module. `esModule` marks it as an ES module's exports (a default export stays one).
 */
function standInSource(specifier: string, names: readonly string[], esModule: boolean): string {
  return [
    'let real;',
    `const load = () => (real ??= require(${JSON.stringify(specifier)}));`,
    ...(esModule ? ["Object.defineProperty(exports, '__esModule', { value: true });"] : []),
    `for (const name of ${JSON.stringify(names)}) Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });`,
  ].join('\n');
}
const STAND_IN = '.on-use.cjs';
plugins.unshift({
  name: 'loaded-on-use',
  setup(build) {
    build.onResolve({ filter: new RegExp(`^(${LOADED_ON_USE.join('|')})$`) }, async (args) => {
      if (args.pluginData === 'resolved' || !args.importer.includes('/@kubernetes/client-node/')) return undefined;
      const real = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'resolved' });
      if (real.errors.length > 0) return { errors: real.errors };
      // .cjs: the stand-in is CommonJS (getters), whatever the real module's extension says (.mjs).
      // Relative to the checkout: the path names the module in the bundle, which must not depend on where it was built.
      return { path: `${relative(root, real.path)}${STAND_IN}`, namespace: 'loaded-on-use' };
    });
    build.onLoad({ filter: /.*/, namespace: 'loaded-on-use' }, async (args) => {
      const path = join(root, args.path.slice(0, -STAND_IN.length));
      const names = Object.keys((await import(pathToFileURL(path).href)) as object).filter((name) => name !== '__esModule');
      return {
        loader: 'js',
        resolveDir: root,
        contents: standInSource(path, names, true),
      };
    });
  },
});

/** prom-client's index through scripts/lazy/prom-client.cjs: each export loads when first read. */
const promClientIndex = `${root}scripts/lazy/prom-client.cjs`;
// Before building: the stand-in index must offer what the real one does: a name missing there would be undefined in the bundle only.
const requireHere = createRequire(import.meta.url);
const [lazyNames, realNames] = [promClientIndex, 'prom-client'].map((id) => Object.keys(requireHere(id) as object).sort().join(' '));
if (lazyNames !== realNames) throw new Error(`scripts/lazy/prom-client.cjs exports [${lazyNames}], prom-client's index [${realNames}]: update the stand-in`);
plugins.unshift({
  name: 'prom-client-on-use',
  setup(build) {
    build.onResolve({ filter: /^prom-client$/ }, () => ({ path: promClientIndex }));
  },
});

/**
 * undici (about 25 MB of memory once loaded) serves only client-node's own HTTP layer: its API
 * classes, Watch and request dispatchers. The operator's client speaks node:https
 * (src/runtime/client/transport.ts), so the bundle replaces it with classes that say so if used.
 */
plugins.push({
  name: 'no-undici',
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, () => ({ path: 'undici', namespace: 'not-bundled' }));
    build.onLoad({ filter: /.*/, namespace: 'not-bundled' }, () => ({
      loader: 'js',
      contents: [
        "const why = (name) => `${name} is not in the ptemplate-operator bundle: its client uses node:https`;",
        'const missing = (name) => class { constructor() { throw new Error(why(name)); } };',
        "export const Agent = missing('undici.Agent');",
        "export const ProxyAgent = missing('undici.ProxyAgent');",
        "export const fetch = () => Promise.reject(new Error(why('undici.fetch')));",
      ].join('\n'),
    }));
  },
});

/**
 * Node's built-in modules through require(), not ESM import. An ESM import of a built-in reads
 * every export of it, and `http`'s lazy WebSocket getter then loads Node's internal undici: about
 * 13 MB of memory for an API the operator never calls. esbuild's CommonJS interop reads a
 * property only where the code uses it.
 */
const builtin = new RegExp(`^(node:)?(${builtinModules.map((m) => m.replace(/[/]/g, '\\/')).join('|')})$`);
plugins.push({
  name: 'builtins-by-require',
  setup(build) {
    build.onResolve({ filter: builtin }, (args) => {
      if (args.namespace === 'builtin' || args.kind === 'require-call') return undefined;
      return { path: args.path.replace(/^node:/, ''), namespace: 'builtin' };
    });
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ loader: 'js', contents: builtinModuleSource(args.path) }));
  },
});

/**
 * Built-ins that only rare paths use load when first used: fs/promises (certificates from files)
 * brings FileHandle, file streams and readline with it, about 1 MiB in every pod; it gets the
 * stand-in client-node's extras get. (child_process would be another, but Node loads it
 * anyway as soon as a server listens: net asks cluster whether it is a worker.)
 */
const BUILTINS_ON_USE = new Set(['fs/promises']);

function builtinModuleSource(name: string): string {
  if (!BUILTINS_ON_USE.has(name)) return `module.exports = require('node:${name}');`;
  return standInSource(`node:${name}`, Object.keys(requireHere(`node:${name}`) as object), false);
}

let esbuildModule: typeof esbuild;
try {
  esbuildModule = await import('esbuild');
} catch (err) {
  if (!process.argv.includes('--if-available')) throw err;
  console.error('ptemplate-operator: esbuild is not installed (production install?); dist/ not built, bin/ runs the sources');
  process.exit(0);
}

rmSync(outdir, { recursive: true, force: true });
const result = await esbuildModule.build({
  entryPoints: { 'ptemplate-operator': `${root}src/cli.ts` },
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  // The `manifests` command's code (and its YAML library) loads only when it runs.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  // Whitespace and syntax only: V8 holds every loaded source as a string, and compact code is
  // less of it. Identifiers stay, so stack traces keep their function names (the maps hold the rest).
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  metafile: process.argv.includes('--metafile'),
  logLevel: 'warning',
  plugins,
  // CommonJS dependencies (prom-client, pino) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
if (result.metafile) writeFileSync(`${outdir}/meta.json`, JSON.stringify(result.metafile));

// esbuild escapes non-ASCII characters in code but keeps them in the comments it preserves, and a
// single one makes V8 hold the whole source as two-byte text (twice the memory). '?' per UTF-16
// unit keeps every column, so the source maps stay exact.
for (const file of readdirSync(outdir, { recursive: true, encoding: 'utf8' })) {
  if (!file.endsWith('.js')) continue;
  const text = readFileSync(`${outdir}/${file}`, 'utf8');
  const nonAscii = /[^\p{ASCII}]/gu;
  if (nonAscii.test(text)) writeFileSync(`${outdir}/${file}`, text.replace(nonAscii, (c) => '?'.repeat(c.length)));
}
