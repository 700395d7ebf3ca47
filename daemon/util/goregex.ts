// Go regular expressions (RE2 syntax and semantics, as `regexp.Compile`), run in linear time.
//
// Every regular expression Keyward takes from a file goes through here: `.sops.yaml`
// path_regex and value selectors, the selectors in a sops file's own metadata, the globs of
// `.keyward.yaml` and of the scanner's lists (translated to RE2 first). Those files come with
// repositories, and a JavaScript RegExp backtracks: `^(a+)+$` on 32 characters ran for minutes
// and stopped the daemon for every client. re2js (a port of RE2/J, Go's syntax) runs in time
// linear in the input, whatever the pattern.
//
// What differs from Go, checked against Go 1.26 (test/unit/goregex.test.ts):
// - Go accepts two groups with one name, `(?P<n>a)(?P<n>b)`; re2js refuses them. Names do not
//   change what matches, so duplicates are renamed before compiling.
// - Inputs are JavaScript strings: a lone UTF-16 surrogate (which no Go string, file name or
//   YAML text holds) is a character of class Cs here, U+FFFD in Go.
// Limits, for patterns from files nobody reviewed: the source is at most MAX_PATTERN characters
// and the compiled program at most MAX_PROGRAM instructions (Go's repeat limit of 1000 holds
// too), so one match costs at most MAX_PROGRAM steps per input character.
import { RE2JS } from 're2js';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from './errors';

export const MAX_PATTERN = 8 * 1024;
export const MAX_PROGRAM = 20_000;

/** A compiled Go regular expression: `test` is Go's `MatchString` (unanchored search). */
export interface GoRegexp {
  readonly source: string;
  test(s: string): boolean;
}

const HINT = 'regular expressions here use Go syntax (RE2, https://golang.org/s/re2syntax): no lookaround, no backreferences';

function regexError(message: string): KeywardError {
  return new KeywardError(ErrorCode.InvalidInput, `regular expression: ${message}`, HINT);
}

/** Compiles `pattern` as Go's `regexp.Compile` would. Throws InvalidInput saying why not. */
export function compileGoRegexp(pattern: string): GoRegexp {
  if (pattern.length > MAX_PATTERN) throw regexError(`longer than ${MAX_PATTERN} characters`);
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    const msg = e instanceof Error ? e.message : '';
    if (!/duplicate capture group name/.test(msg)) throw regexError(reason(msg));
    try {
      re = RE2JS.compile(renameDuplicateGroups(pattern));
    } catch (e2) {
      throw regexError(reason(e2 instanceof Error ? e2.message : ''));
    }
  }
  if (re.programSize() > MAX_PROGRAM) throw regexError(`too large (more than ${MAX_PROGRAM} instructions once compiled): simplify it`);
  return { source: pattern, test: (s: string) => re.test(s) };
}

/** re2js' reason in Keyward's words (its messages follow Go's: `error parsing regexp: ...`). */
function reason(msg: string): string {
  const m = msg.replace(/^error parsing regexp: /, '');
  if (/Perl syntax: `\(\?[=!]/.test(m) || /`\(\?<[=!]/.test(m)) return 'lookahead and lookbehind are not supported by Go regular expressions';
  if (/invalid escape sequence: `\\[1-9]`/.test(m)) return 'backreferences are not supported by Go regular expressions';
  return `not a valid Go regular expression (${m.slice(0, 160) || 'unknown error'})`;
}

/**
 * The pattern with every second and later `(?P<name>` / `(?<name>` of a name renamed to a
 * fresh one. Skips escapes, `\Q...\E` and bracketed classes, where `(?P<` is no group.
 */
function renameDuplicateGroups(pattern: string): string {
  const seen = new Set<string>();
  let out = '';
  let n = 0;
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    if (c === '\\') {
      if (pattern[i + 1] === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        const stop = end < 0 ? pattern.length : end + 2;
        out += pattern.slice(i, stop);
        i = stop;
      } else {
        out += pattern.slice(i, i + 2);
        i += 2;
      }
      continue;
    }
    if (c === '[') {
      // A class ends at the first "]" that is not its first character (after an optional "^"),
      // skipping escapes and [:name:] items.
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') {
        if (pattern[j] === '\\') j += 2;
        else if (pattern.startsWith('[:', j) && pattern.indexOf(':]', j + 2) > 0) j = pattern.indexOf(':]', j + 2) + 2;
        else j++;
      }
      out += pattern.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const g = /^\(\?P?<([A-Za-z0-9_]+)>/.exec(pattern.slice(i, i + 300));
    if (g) {
      let name = g[1]!;
      if (seen.has(name)) {
        do name = `${g[1]}_kwdup${++n}`;
        while (seen.has(name) || pattern.includes(name));
      }
      seen.add(name);
      out += `(?P<${name}>`;
      i += g[0].length;
      continue;
    }
    out += c;
    i += 1;
  }
  return out;
}
