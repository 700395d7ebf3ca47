// One build script, four programs: the CLI (`keyward`), the daemon, the VS Code extension, and the
// pre-commit hook's scanner.
// Native and host-provided modules stay external: `vscode` is the editor's, and
// `@napi-rs/keyring` ships a prebuilt N-API binary that must be loaded from node_modules.
import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';

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
  // tsx: only the age worker pool asks for it, when it runs from source (tests); never in a bundle.
  external: ['@napi-rs/keyring', 'vscode', 'tsx/cjs/api'],
  // ESM-only dependencies (fdir, via tinyglobby) read import.meta.url, which a CJS bundle
  // lacks: an injected module gives them this bundle's own URL (and keeps "use strict" first).
  define: { __KEYWARD_VERSION__: JSON.stringify(pkg.version), 'import.meta.url': 'import_meta_url' },
  inject: ['scripts/import-meta-url.mjs'],
};

// ---- the CLI -------------------------------------------------------------------------------
// It starts for every command, and most commands send one request to a running daemon: its
// bundle (dist/cli.js) holds what those need (commander, the daemon client, the commands) and
// nothing else. Parts that only some commands need are bundles of their own beside it, which
// the sources load with `await import()` where a command needs them.
//   source module (a file, or a package) -> its bundle, dist/NAME.js
const cliParts = {
  // The daemon's code (daemon/server/index.ts): `--no-daemon` and `keyward daemon run` load the
  // daemon's own program, dist/daemon.js, for its exports (one copy of the daemon, not two).
  'daemon/server/index.ts': 'daemon',
  // The age engine: `encrypt -p` and `decrypt` (which reads the header in-process).
  'daemon/age/index.ts': 'cli-age',
  // The scanner, its rules and a YAML parser: `scan` and `hook`.
  'daemon/scan/actions.ts': 'cli-scan',
  // Globs the shell left alone: `rewrap` and `rotate`.
  tinyglobby: 'cli-glob',
};

// The program's entry (daemon/cli/entry.ts, dist/cli.js) reads the command line and loads one of
// these: a job's `keyward exec` waits for Node and what running a program needs, not for the
// whole CLI (commander and every command: ~25 ms of a ~70 ms exec).
const entryParts = { 'daemon/cli/main.ts': 'cli-main', 'daemon/cli/exec-lean.ts': 'cli-exec' };

// What must not creep back into dist/cli.js: each costs milliseconds at every start. (zod: the
// protocol's params schemas; the CLI validates nothing, the daemon does.)
const notInCli = [/^node_modules\/(zod|yaml|tinyglobby|age-encryption|@noble|@aws-sdk|@smithy)\//, /^daemon\/(service|age\/index|age\/file|scan\/run)\.ts$/];
// What it holds but initialises only when a command needs it (imported with await import()):
// the daemon client and its JSON-RPC library, which --version, help and scan do without.
const lazyInCli = ['daemon/client.ts'];

// A part whose bundle is built from another entry that exports the same: dist/daemon.js is the
// daemon's program (daemon/server/main.ts), which re-exports daemon/server/index.ts and runs the
// daemon only when Node started it.
const partEntries = { daemon: 'daemon/server/main.ts' };

const scanParts = { 'daemon/util/goregex.ts': 'scan-regex', 'daemon/scan/sops-reader.ts': 'scan-sops' };

// Bundled apart for the daemon (dist/daemon.js, in the daemon or in the CLI's process): the AWS SDK,
// loaded only when a KMS, STS, SSM or Secrets Manager call is made (see daemon/kms/aws-sdk.ts).
const daemonParts = {
  'daemon/kms/aws-sdk.ts': 'aws',
};

/**
 * Makes the dynamic imports of a module of `partsMap` load its bundle at run time, with
 * `require`. An `import()` left in a CommonJS bundle would start Node's ESM loader, which
 * lexes the whole part for its exports and parses it once more to guess its format: about
 * 170 ms for the daemon's code, at every command that needs it. So `await import('x')` of a
 * part becomes, in the bundle, a tiny module holding `module.exports = require('./part.js')`.
 */
function partsPlugin(partsMap) {
  const parts = new Map(Object.entries(partsMap).map(([src, out]) => [src.endsWith('.ts') ? path.resolve(src) : src, out]));
  const packages = Object.keys(partsMap).filter((src) => !src.endsWith('.ts'));
  const namespace = 'keyward-part';
  return {
    name: 'parts',
    setup(build) {
      build.onResolve({ filter: /^\.\/[\w-]+\.js$/, namespace }, (args) => ({ path: args.path, external: true }));
      build.onResolve({ filter: new RegExp(`^(\\.\\.?/${packages.length ? `|(${packages.join('|')})$` : ''})`) }, async (args) => {
        if (args.pluginData === 'parts') return undefined;
        let out = parts.get(args.path);
        if (!out && args.path.startsWith('.')) {
          const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'parts' });
          out = parts.get(r.path);
        }
        if (!out) return undefined;
        if (args.kind !== 'dynamic-import') {
          return { errors: [{ text: `${args.path} is bundled apart (dist/${out}.js): load it with await import() in the command that needs it` }] };
        }
        return { path: out, namespace };
      });
      build.onLoad({ filter: /.*/, namespace }, (args) => ({ contents: `module.exports = require(${JSON.stringify(`./${args.path}.js`)});`, loader: 'js' }));
    },
  };
}

/**
 * Folds daemon/protocol/constants.ts into literals: it is bundled on its own and run here,
 * and its exports (plain data: method names, ...) replace its source and what it imports.
 */
function foldConstantsPlugin() {
  return {
    name: 'fold-constants',
    setup(build) {
      build.onLoad({ filter: /[\\/]daemon[\\/]protocol[\\/]constants\.ts$/ }, async (args) => {
        const r = await esbuild.build({ entryPoints: [args.path], bundle: true, platform: 'node', format: 'cjs', write: false, metafile: true, logLevel: 'silent' });
        const module = { exports: {} };
        new Function('module', 'exports', 'require', r.outputFiles[0].text)(module, module.exports, createRequire(args.path));
        const lines = [];
        for (const [name, value] of Object.entries(module.exports)) {
          const json = JSON.stringify(value);
          if (json === undefined || !isDeepStrictEqual(JSON.parse(json), value)) {
            return { errors: [{ text: `daemon/protocol/constants.ts: ${name} is not plain data, so it cannot be folded into the CLI` }] };
          }
          lines.push(`export const ${name} = ${json};`);
        }
        return { contents: lines.join('\n'), loader: 'js', watchFiles: Object.keys(r.metafile.inputs).map((f) => path.resolve(f)) };
      });
    },
  };
}

/** Fails the CLI's build when dist/cli.js holds something of notInCli, or imports lazyInCli eagerly. */
function leanCliPlugin() {
  return {
    name: 'lean-cli',
    setup(build) {
      build.onEnd((result) => {
        const inputs = Object.entries(result.metafile?.inputs ?? {});
        const heavy = inputs.map(([f]) => f).filter((f) => notInCli.some((re) => re.test(f)));
        const eager = inputs.flatMap(([f, i]) => i.imports.filter((x) => lazyInCli.includes(x.path) && x.kind !== 'dynamic-import').map((x) => `${f} imports ${x.path}`));
        const errors = [];
        if (heavy.length) {
          const list = `${heavy.slice(0, 5).join(', ')}${heavy.length > 5 ? ', ...' : ''}`;
          errors.push({ text: `dist/cli.js must start light, but holds ${list}: load it with await import() from a module of cliParts` });
        }
        for (const e of eager) errors.push({ text: `dist/cli.js must start light, but ${e} at start: load it with await import() where a command needs it` });
        return { errors };
      });
    },
  };
}

const builds = [
  // dist/cli.js only chooses: `keyward exec` in its usual forms loads dist/cli-exec.js, the rest
  // dist/cli-main.js (the CLI as described above: both hold to notInCli and lazyInCli).
  { ...common, entryPoints: { cli: 'daemon/cli/entry.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' }, plugins: [partsPlugin(entryParts)] },
  ...Object.entries(entryParts).map(([src, out]) => ({
    ...common,
    entryPoints: { [out]: src },
    outdir: 'dist',
    metafile: true,
    plugins: [partsPlugin(cliParts), foldConstantsPlugin(), leanCliPlugin()],
  })),
  ...Object.entries(cliParts).map(([src, out]) => ({ ...common, entryPoints: { [out]: partEntries[out] ?? src }, outdir: 'dist', plugins: [partsPlugin(daemonParts)] })),
  ...Object.entries(daemonParts).map(([src, out]) => ({ ...common, entryPoints: { [out]: src }, outdir: 'dist' })),
  { ...common, entryPoints: { extension: 'src/extension.ts' }, outdir: 'dist' },
  // The age engine's crypto worker threads (daemon/age/pool.ts starts them from this file).
  { ...common, entryPoints: { 'age-worker': 'daemon/age/worker.ts' }, outdir: 'dist' },
  // The pre-commit hook's entry: only the scanner, so a commit waits ~100 ms, not the CLI's start.
  // re2js and the .sops.yaml reader are parts beside it, loaded by the runs that need them (daemon/scan/lazy.ts).
  // dist/scan.js runs dist/scan-main.js through a V8 code cache (daemon/scan/entry.ts).
  { ...common, entryPoints: { scan: 'daemon/scan/entry.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
  { ...common, entryPoints: { 'scan-main': 'daemon/scan/main.ts' }, outdir: 'dist', plugins: [partsPlugin(scanParts)] },
  ...Object.entries(scanParts).map(([src, out]) => ({ ...common, entryPoints: { [out]: src }, outdir: 'dist' })),
];

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('esbuild: watching');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
