// What only some scans need, loaded when one does: the linear-time regex engine (re2js) for
// globs and regexes that come from files, and the `.sops.yaml` reader with the YAML parser for
// sops files. A pre-commit run in a repository without such files loads neither (re2js alone
// costs the hook ~8 ms, the sops reader with what it imports ~35 ms more); in dist/scan.js, the
// hook's bundle, they are bundles of their own beside it (esbuild.mjs: scanParts).

import type { GoRegexp } from '../util/goregex';

/** Compiles a Go regular expression (RE2 syntax, linear time); throws when Go would refuse it. */
export type Compile = (source: string) => GoRegexp;

type SopsReader = typeof import('./sops-reader');

let reader: Promise<SopsReader> | undefined;
let engine: Promise<Compile> | undefined;

/** The `.sops.yaml` reader and the YAML parser (with its own copy of the regex engine, then used for everything). */
export function sopsReader(): Promise<SopsReader> {
  reader ??= import('./sops-reader');
  engine ??= reader.then((m) => m.compileGoRegexp);
  return reader;
}

/** The linear-time regex engine, for globs and regexes from files. */
export function goRegexEngine(): Promise<Compile> {
  engine ??= import('../util/goregex').then((m) => m.compileGoRegexp);
  return engine;
}

/** `source` compiled, or null when Go would refuse it (the caller says so). */
export function tryCompile(compile: Compile, source: string): GoRegexp | null {
  try {
    return compile(source);
  } catch {
    return null;
  }
}
