// Gitignore-style globs for the scanner's path lists (protected globs, .keywardignore).
// Deliberately small: the hook must start fast, and these lists are short. A glob becomes a Go
// regular expression, compiled by the caller's engine: the linear-time one for globs from
// files (lazy.ts), JavaScript's for Keyward's own defaults. Semantics follow .keyward.yaml's (daemon/policy): a glob without "/" matches the
// file name at any depth; a glob with "/" is anchored at the root; a leading "/" only
// anchors; a trailing "/" means everything below; `*` and `?` stop at "/", `**` crosses it;
// `[...]` and `{a,b}` work as in a shell; dot files are matched like any other.

import { goRegexEngine } from './lazy';

export type PathMatcher = (posixPath: string) => boolean;

/** Compiles a glob's regular expression (Go syntax, which these sources share with JavaScript's). */
export type GlobCompile = (source: string) => { test(s: string): boolean };

/**
 * JavaScript's engine, for Keyward's own globs only (the defaults: one `*` each, nothing to
 * backtrack over). A glob from a file runs in the linear-time engine: `*a*a*a*a*b` would not.
 */
export const trustedGlobCompile: GlobCompile = (source) => new RegExp(source);

export function globToRegExp(glob: string, compile: GlobCompile): { test(s: string): boolean } {
  return compile(globSource(glob));
}

/** The glob as a Go regular expression. */
export function globSource(glob: string): string {
  let g = glob.trim();
  let anchored = false;
  if (g.startsWith('/')) {
    anchored = true;
    g = g.slice(1);
  }
  if (g.endsWith('/')) g += '**';
  if (g.includes('/')) anchored = true;
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*') {
      if (g[i + 1] === '*') {
        const atStart = i === 0 || g[i - 1] === '/';
        const atEnd = i + 2 === g.length || g[i + 2] === '/';
        if (atStart && atEnd) {
          // `**/` matches zero or more directories; a final `**` matches everything below.
          if (i + 2 === g.length) re += '.*';
          else {
            re += '(?:.*/)?';
            i++; // the '/'
          }
          i++;
          continue;
        }
        re += '[^/]*';
        i++;
        continue;
      }
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const close = g.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = g.slice(i + 1, close).replace(/\\/g, '\\\\');
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += `[${body}]`;
      i = close;
    } else if (c === '{') {
      const close = g.indexOf('}', i + 1);
      if (close < 0) {
        re += '\\{';
        continue;
      }
      const alts = g.slice(i + 1, close).split(',').map((a) => a.replace(/[.+^$()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'));
      re += `(?:${alts.join('|')})`;
      i = close;
    } else if ('.+^$()|\\'.includes(c)) {
      re += '\\' + c;
    } else {
      re += c;
    }
  }
  // A directory pattern also matches everything under it (`models` covers `models/x.pt`).
  return anchored ? `^${re}(?:/.*)?$` : `(?:^|/)${re}(?:/.*)?$`;
}

/** The globs of a list: lines starting with `#` and blank ones are not. */
function globsOf(lines: readonly string[]): string[] {
  return lines.map((g) => g.trim()).filter((g) => g && !g.startsWith('#'));
}

/** A matcher for a list of globs, each compiled by `compile`. */
export function pathMatcher(lines: readonly string[], compile: GlobCompile): PathMatcher {
  const res = globsOf(lines)
    .map((g) => {
      try {
        return globToRegExp(g, compile);
      } catch {
        return null; // a malformed glob matches nothing rather than failing the scan
      }
    })
    .filter((r) => r !== null);
  if (res.length === 0) return () => false;
  return (p) => res.some((r) => r.test(p));
}

/**
 * The text a path must hold for `glob` to match it: the glob's longest literal run outside
 * `*`, `?`, `[...]` and `{...}` (`dist` of `dist/`, `.min.js` of `*.min.js`), or null.
 */
export function globLiteral(glob: string): string | null {
  const pieces = glob
    .trim()
    .replace(/\[[^\]]*\]|\{[^}]*\}/g, '*')
    .split(/[*?]+/)
    .map((x) => x.replace(/^\/+|\/+$/g, ''));
  const best = pieces.reduce((a, b) => (b.length > a.length ? b : a), '');
  return best && !/[\\[\]{}]/.test(best) ? best : null;
}

/**
 * A matcher for a list of globs from a file (.keywardignore, `.keyward.yaml` globs). The
 * linear-time engine is loaded only when there is a glob, and, when the caller names the paths
 * it will ask about (a commit's files), only when one of them holds a glob's literal part (or a
 * glob has none): most commits touch no ignored or protected path. Such a matcher answers for
 * those paths only.
 */
export async function fileGlobMatcher(lines: readonly string[], paths?: readonly string[]): Promise<PathMatcher> {
  const globs = globsOf(lines);
  if (!globs.length) return () => false;
  if (paths) {
    const literals = globs.map(globLiteral);
    if (!literals.some((l) => l === null || paths.some((p) => p.includes(l)))) {
      const known = new Set(paths);
      return (p) => {
        if (!known.has(p)) throw new Error(`internal: glob matcher asked about ${p}, which it was not made for`);
        return false;
      };
    }
  }
  return pathMatcher(globs, await goRegexEngine());
}

/** The first glob of `globs` that matches, for messages. */
export function firstMatch(globs: readonly string[], p: string, compile: GlobCompile): string | undefined {
  return globs.find((g) => {
    try {
      return globToRegExp(g, compile).test(p);
    } catch {
      return false;
    }
  });
}
