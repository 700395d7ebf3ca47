// Type-aware lint: floating promises are bugs, and the import boundaries of DESIGN.md hold.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** What no daemon file imports (DESIGN.md): the editor's API and the extension. */
const DAEMON_WIDE = [
  { group: ['vscode'], message: 'the daemon never imports vscode (DESIGN.md).' },
  { group: ['**/src/*', '../../src/*', '../src/*'], message: 'the daemon never imports the extension (DESIGN.md).' },
];

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
  // The daemon's layers (README, Layout). Each block restates the daemon-wide patterns: a later
  // block's no-restricted-imports replaces an earlier one's for the files it matches.
  {
    files: ['daemon/**/*.ts'],
    ignores: ['daemon/protocol/**/*.ts', 'daemon/transport/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: DAEMON_WIDE }] },
  },
  {
    // The engines (age/, sops/, scan/, keystore/, audit/, jobs/, watch/, team/, ...): what the
    // daemon does, whoever asks. They import no handler, RPC, server or CLI code, nor the
    // assembly (service.ts) or the CLI's client.
    files: ['daemon/**/*.ts'],
    ignores: ['daemon/protocol/**', 'daemon/transport/**', 'daemon/rpc/**', 'daemon/server/**', 'daemon/cli/**', 'daemon/**/handlers.ts', 'daemon/service.ts', 'daemon/client.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        ...DAEMON_WIDE,
        { group: ['**/handlers', '**/rpc/*', '**/server/*', '**/cli/*', '**/service', '**/client'], message: 'engines import no handler, RPC, server or CLI code (README, Layout): pass what they need in from Service.open.' },
      ] }],
    },
  },
  {
    // daemon/rpc/: what handlers share (CallContext, Deps, audited, the data sink).
    files: ['daemon/rpc/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        ...DAEMON_WIDE,
        { group: ['**/handlers', '../server/*', '../cli/*', '../service', '../client'], message: 'daemon/rpc/ is below the handlers: it imports no handler, server or CLI code (README, Layout).' },
      ] }],
    },
  },
  {
    // One area's handlers: they use engines and rpc/, never another area's handlers, the
    // server, the CLI or the assembly.
    files: ['daemon/**/handlers.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        ...DAEMON_WIDE,
        { group: ['**/handlers', '../server/*', '../cli/*', '../service', '../client'], message: "a handler file imports no other area's handlers, server or CLI code (README, Layout)." },
      ] }],
    },
  },
  {
    // The server owns sockets and processes; the CLI is a client of it, not a part.
    files: ['daemon/server/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        ...DAEMON_WIDE,
        { group: ['../cli/*', '../client'], message: 'the server imports no CLI code (README, Layout).' },
      ] }],
    },
  },
  {
    // The CLI reaches the daemon's code through server/index.ts (in-process) or the client.
    files: ['daemon/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        ...DAEMON_WIDE,
        { group: ['**/handlers', '../rpc/*', '../service'], message: 'the CLI calls handlers through the daemon or server/index.ts (InProcess), never directly (README, Layout).' },
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
