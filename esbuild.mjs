// One build script, three bundles: the CLI (`keyward`), the daemon, and the VS Code extension.
// Native and host-provided modules stay external: `vscode` is the editor's, and
// `@napi-rs/keyring` ships a prebuilt N-API binary that must be loaded from node_modules.
import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  external: ['@napi-rs/keyring', 'vscode'],
  // ESM-only dependencies (fdir, via tinyglobby) read import.meta.url, which a CJS bundle
  // lacks: an injected module gives them this bundle's own URL (and keeps "use strict" first).
  define: { __KEYWARD_VERSION__: JSON.stringify(pkg.version), 'import.meta.url': 'import_meta_url' },
  inject: ['scripts/import-meta-url.mjs'],
};

const builds = [
  { ...common, entryPoints: { cli: 'daemon/cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
  { ...common, entryPoints: { daemon: 'daemon/server/main.ts' }, outdir: 'dist' },
  { ...common, entryPoints: { extension: 'src/extension.ts' }, outdir: 'dist' },
  // The pre-commit hook's entry: only the scanner, so a commit waits ~100 ms, not the CLI's start.
  { ...common, entryPoints: { scan: 'daemon/scan/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
];

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('esbuild: watching');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
