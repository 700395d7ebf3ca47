// What the `scan` and `hook` commands run, gathered in one module that commands.ts loads when
// one of them runs. In dist/scan.js it is part of the bundle; the full CLI's build makes it a
// bundle of its own (dist/cli-scan.js, see esbuild.mjs), so that other commands do not parse
// the scanner, its rules and a YAML parser at every start.
export { installHook, uninstallHook } from './hook';
export { POLICY_RULES } from './encryption-checks';
export { RULES } from './rules';
export { allowPlaintext, runScan } from './run';
