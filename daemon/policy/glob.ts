// A `.keyward.yaml` glob as a Go (RE2) regular expression: the one translation of Keyward's
// globs. The policy matches paths with it (through the linear-time engine, daemon/util/goregex.ts:
// a glob like `*a*a*a*a*b` would backtrack in a JavaScript RegExp), and team sync writes it into
// `.sops.yaml` as a `path_regex`, which sops matches the same way (unanchored, against the path
// relative to `.sops.yaml`'s directory, "/"-separated): both select the same files.
//
// Keyward's globs follow gitignore (daemon/policy/protection.ts compileGlob): without "/" a glob
// matches the file name at any depth; with one it is anchored at the root; a leading "/" only
// anchors; a trailing "/" means everything below. Supported here: `*`, `**`, `?`, `[...]`,
// `[!...]` and `{a,b}`; extglobs (`+(a|b)`, `@(...)`) are refused with a clear error.
import { ErrorCode } from '../protocol';
import { KeywardError } from '../util/errors';

const SPECIAL = new Set(['.', '+', '(', ')', '|', '^', '$', '\\']);

export function globToRegex(glob: string): string {
  let g = glob;
  const anchored = g.startsWith('/');
  if (anchored) g = g.slice(1);
  if (g.endsWith('/')) g += '**';
  if (/[+@!]\(|\(|\)|\|/.test(g)) {
    throw new KeywardError(ErrorCode.InvalidInput, `the glob ${JSON.stringify(glob)} cannot be written as a sops path_regex`, 'use *, **, ?, [...] and {a,b} only in team access paths');
  }
  const body = translate(g);
  return anchored || g.includes('/') ? `^${body}$` : `(^|/)${body}$`;
}

function translate(g: string): string {
  let out = '';
  let braces = 0;
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*') {
      if (g[i + 1] === '*') {
        const atStart = i === 0 || g[i - 1] === '/';
        const slashAfter = g[i + 2] === '/';
        if (atStart && slashAfter) {
          out += '(.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = g.indexOf(']', i + 2);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let cls = g.slice(i + 1, end);
      if (cls.startsWith('!')) cls = '^' + cls.slice(1);
      out += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) {
      out += '|';
    } else if (SPECIAL.has(c) || c === '{' || c === '}') {
      out += '\\' + c;
    } else {
      out += c;
    }
  }
  if (braces > 0) throw new KeywardError(ErrorCode.InvalidInput, `the glob ${JSON.stringify(g)} has an unclosed "{"`);
  return out;
}
