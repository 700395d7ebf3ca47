// Type-aware lint: floating promises are bugs, and the import boundaries of DESIGN.md hold.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/work/**', 'test-output/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['*.mjs', 'test/*.cjs'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['daemon/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['../*', '../../*', 'vscode'], message: 'daemon/protocol/ is the wire contract: it imports nothing of ours (DESIGN.md).' },
      ] }],
    },
  },
  {
    files: ['daemon/transport/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['../*', '!../protocol', '!../protocol/*', '!../util', '../util/*', '!../util/process', 'vscode'], message: 'daemon/transport/ is shared with the extension: it imports only daemon/protocol/ and daemon/util/process.ts (README, Design notes).' },
      ] }],
    },
  },
  {
    files: ['daemon/**/*.ts'],
    ignores: ['daemon/protocol/**/*.ts', 'daemon/transport/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['vscode'], message: 'the daemon never imports vscode (DESIGN.md).' },
        { group: ['**/src/*', '../../src/*', '../src/*'], message: 'the daemon never imports the extension (DESIGN.md).' },
      ] }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/daemon/*', '!**/daemon/protocol', '!**/daemon/protocol/*', '!**/daemon/transport', '!**/daemon/transport/*'], message: 'the extension may import only daemon/protocol/ and daemon/transport/ (README, Design notes).' },
      ] }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['**/*.mjs', '**/*.js', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.mjs', '**/*.js', '**/*.cjs'], languageOptions: { globals: { ...globals.node } } },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs' }, rules: { '@typescript-eslint/no-require-imports': 'off' } },
);
