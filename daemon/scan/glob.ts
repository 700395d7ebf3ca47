// Gitignore-style globs for the scanner's path lists (protected globs, .keywardignore).
// Deliberately small and dependency-free: the hook must start fast, and these lists are
// short. Semantics follow .keyward.yaml's (daemon/policy): a glob without "/" matches the
// file name at any depth; a glob with "/" is anchored at the root; a leading "/" only
// anchors; a trailing "/" means everything below; `*` and `?` stop at "/", `**` crosses it;
// `[...]` and `{a,b}` work as in a shell; dot files are matched like any other.

import { compileGoRegexp, type GoRegexp } from '../util/goregex';

export type PathMatcher = (posixPath: string) => boolean;

export function globToRegExp(glob: string): GoRegexp {
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
  // Run by the linear-time engine: the lists come with the repository (`*a*a*a*a*b` would backtrack).
  return compileGoRegexp(anchored ? `^${re}(?:/.*)?$` : `(?:^|/)${re}(?:/.*)?$`);
}

/** A matcher for a list of globs; lines starting with `#` and blank ones are ignored. */
export function pathMatcher(globs: readonly string[]): PathMatcher {
  const res = globs
    .map((g) => g.trim())
    .filter((g) => g && !g.startsWith('#'))
    .map((g) => {
      try {
        return globToRegExp(g);
      } catch {
        return null; // a malformed glob matches nothing rather than failing the scan
      }
    })
    .filter((r): r is GoRegexp => r !== null);
  if (res.length === 0) return () => false;
  return (p) => res.some((r) => r.test(p));
}

/** The first glob of `globs` that matches, for messages. */
export function firstMatch(globs: readonly string[], p: string): string | undefined {
  return globs.find((g) => {
    try {
      return globToRegExp(g).test(p);
    } catch {
      return false;
    }
  });
}
