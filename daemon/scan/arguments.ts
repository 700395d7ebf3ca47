// The arguments of a call, as written: `f(a, "b", g(c, d))` -> `a`, `"b"`, `g(c, d)`, each with
// its offsets and, when it is one, its string literal. What the credential-argument rule
// (rules/arguments.ts) reads a credential API's secret argument from, where no name is written
// beside the value (`req.SetBasicAuth("admin", "...")`), as assignments.ts reads `NAME = VALUE`.
//
// Written by hand, in one bounded walk: brackets nest, string literals are skipped whole (a
// comma or parenthesis inside one is text), and the walk gives up past MAX_SPAN characters.

/** A string literal: its text between the quotes (escapes as written) and where that is. */
export interface Literal {
  value: string;
  start: number;
  end: number;
  quote: '"' | "'" | '`';
}

export interface Argument {
  /** Offsets of the argument, blanks around it trimmed. */
  start: number;
  end: number;
  /** `name=value`, `name: value`: a named (keyword) argument, not a positional one. */
  named: boolean;
  /** The argument is a string literal (also `"..".toCharArray()`, Rust's `Some("..")`, Python's `b".."`, C#'s `@".."`). */
  literal?: Literal;
}

/** How far a call's arguments may run (multi-line calls included). */
const MAX_SPAN = 600;

/**
 * The arguments from `at` (just past the opening parenthesis) to the closing one, or with
 * `parenless` (Ruby's `req.basic_auth 'u', 'p'`) to the end of the line. Null when the list
 * does not close within MAX_SPAN characters or holds an unterminated string.
 */
export function callArguments(text: string, at: number, parenless = false): Argument[] | null {
  const out: Argument[] = [];
  const limit = Math.min(text.length, at + MAX_SPAN);
  let depth = 0;
  let argStart = at;
  for (let i = at; i < limit; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */ || c === 39 /* ' */ || c === 96 /* ` */) {
      const close = endOfString(text, i, limit);
      if (close < 0) return null;
      i = close;
    } else if (c === 40 /* ( */ || c === 91 /* [ */ || c === 123 /* { */) depth++;
    else if (c === 41 /* ) */ || c === 93 /* ] */ || c === 125 /* } */) {
      if (depth > 0) depth--;
      else if (c !== 41) return null;
      else {
        push(text, argStart, i, out);
        return out;
      }
    } else if (depth === 0 && c === 44 /* , */) {
      push(text, argStart, i, out);
      argStart = i + 1;
    } else if (depth === 0 && parenless && (c === 10 || c === 59 /* ; */ || c === 35 /* # */)) {
      push(text, argStart, i, out);
      return out;
    }
  }
  if (parenless && limit === text.length) {
    push(text, argStart, limit, out);
    return out;
  }
  return null;
}

/** Offset of the quote that closes the string opened at `open`, or -1 (a newline ends `"`/`'` strings). */
function endOfString(text: string, open: number, limit: number): number {
  const q = text.charCodeAt(open);
  for (let i = open + 1; i < limit; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) i++;
    else if (c === q) return i;
    else if (c === 10 && q !== 96) return -1;
  }
  return -1;
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** `name=value` (Python, Kotlin), `name: value` (C#, Swift, PHP 8, Ruby), not `a == b`, `A::B`. */
const NAMED = /^[A-Za-z_][A-Za-z0-9_]*[ \t]*(?:=(?![=>])|:(?!:))/;
/** A string prefix that keeps the text literal: Python `b`/`r`/`u`, C# `@`. */
const PREFIX = /^(?:[bBrRuU]{1,2}|@)$/;

function push(text: string, s: number, e: number, out: Argument[]): void {
  while (s < e && isBlank(text.charCodeAt(s))) s++;
  while (e > s && isBlank(text.charCodeAt(e - 1))) e--;
  const arg = text.slice(s, e);
  const a: Argument = { start: s, end: e, named: NAMED.test(arg) };
  const lit = literalOf(arg, s);
  if (lit) a.literal = lit;
  out.push(a);
}

/**
 * What an argument converts to bytes: Go `[]byte("x")`, .NET `Encoding.UTF8.GetBytes("x")`, Java
 * `"x".getBytes(...)`, Python `"x".encode(...)` (the inner text, and its offset); any other
 * argument as it is (`b"x"`, `"x"`).
 */
const BYTES_OF = /^(?:\[\]byte\(([^]*)\)|(?:System\.Text\.)?Encoding\.[A-Za-z0-9]{1,16}\.GetBytes\(([^]*)\)|([^]*?)\.(?:getBytes|encode)\([^()]{0,40}\))$/;

/** The string literal whose bytes an argument is (`btoa("x")`, `b64encode(b"x")`, `[]byte("x")`, `"x".getBytes()`), if it is one. */
export function bytesLiteral(text: string, arg: Argument): Literal | undefined {
  const s = text.slice(arg.start, arg.end);
  const m = BYTES_OF.exec(s);
  if (!m) return arg.literal;
  if (m[1] !== undefined) return literalOf(m[1], arg.start + 7);
  if (m[2] !== undefined) return literalOf(m[2], arg.start + s.length - 1 - m[2].length);
  return literalOf(m[3]!, arg.start);
}

/** The literal an argument is: `"x"`, `b"x"`, `@"x"`, `"x".toCharArray()`, `Some("x")`. */
function literalOf(arg: string, offset: number): Literal | undefined {
  let body = arg;
  let shift = 0;
  if (body.startsWith('Some(') && body.endsWith(')')) {
    body = body.slice(5, -1);
    shift = 5;
  } else if (/\.(?:toCharArray|ToCharArray)\(\)$/.test(body)) body = body.slice(0, body.lastIndexOf('.'));
  const q = body.search(/["'`]/);
  if (q < 0 || (q > 0 && !PREFIX.test(body.slice(0, q)))) return undefined;
  const quote = body[q] as Literal['quote'];
  if (body.length < q + 2 || body[body.length - 1] !== quote) return undefined;
  if (endOfString(body, q, body.length) !== body.length - 1) return undefined;
  const start = offset + shift + q + 1;
  return { value: body.slice(q + 1, -1), start, end: start + body.length - q - 2, quote };
}
