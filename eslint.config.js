// Lint rules: typescript-eslint's recommended type-aware set, plus the rules that catch
// the bugs an operator cannot afford (floating promises kill processes or lose errors).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  // Plain JS files (the bin shim) run on Node: its globals are defined.
  { files: ['**/*.js'], languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } } },
);
