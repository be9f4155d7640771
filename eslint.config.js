// Lint rules: typescript-eslint's recommended type-aware set, plus the rules that catch
// the bugs an operator cannot afford (floating promises kill processes or lose errors).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** One folder's forbidden imports: any import path with one of `folders` as a path segment. */
function layer(files, why, folders, ignores = []) {
  return [{
    files: [files],
    ignores,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{
        regex: `(^|/)(${folders.join('|')})(/|$)`,
        message: `${why}.`,
      }] }],
    },
  }];
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'config/**', '.cache/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's describe/it return promises the runner itself tracks.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }],
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/require-await': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
      // client-node's index loads its whole generated API (about 70 MB of memory): import the module you use.
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [{
        name: '@kubernetes/client-node', allowTypeImports: true,
        message: 'import from @kubernetes/client-node/dist/<module>.js (e.g. dist/config.js): the index loads every generated API class',
      }] }],
    },
  },
  // Tests may load client-node's generated models on purpose (manifests-schema.test.ts checks fields against them).
  { files: ['**/*.test.ts'], rules: { '@typescript-eslint/no-restricted-imports': 'off' } },
  // The dependency direction ptemplate -> kmm -> runtime, enforced on the import strings (every
  // import here is a relative path, so a folder name in it is the folder imported). ESLint's own
  // no-restricted-imports, not typescript-eslint's: that one already carries the client-node rule
  // above (a second config of the same rule would replace it) and is off for tests, while these
  // folders' tests must obey the direction too. `import type` counts: a type is a dependency.
  ...layer('src/runtime/**/*.ts', 'the runtime knows nothing of KMM, Ptemplate, the CLI or test support; runtime tests use src/runtime/testing',
    ['kmm', 'ptemplate', 'playground', 'commands', 'testenv', 'test']),
  ...layer('src/kmm/**/*.ts', 'the KMM layer depends on the runtime only, never on Ptemplate, the CLI or test support',
    ['ptemplate', 'playground', 'commands', 'testenv', 'test']),
  // The simulated KMM shares no code with the operator it is meant to check. Its test harness
  // (tests, sim-test-env.ts) may drive it with the operator's own Module builder and CRD.
  ...layer('src/playground/**/*.ts', 'the simulated KMM must not share code with the operator (src/kmm) or Ptemplate',
    ['kmm', 'ptemplate', 'commands'], ['src/playground/**/*.test.ts', 'src/playground/sim-test-env.ts']),
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  // Plain JS files (the bin shim) run on Node: its globals are defined.
  { files: ['**/*.js'], languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } } },
  // The build's CommonJS stand-ins (scripts/lazy): plain JavaScript, outside the TypeScript project.
  {
    files: ['**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, sourceType: 'commonjs', globals: { require: 'readonly', exports: 'writable' } },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
);
