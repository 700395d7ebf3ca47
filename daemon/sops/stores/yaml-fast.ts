// A fast reader for the YAML that sops (and Keyward) write, and for plain configs laid out the
// same way. It gives exactly what loadYaml's full reader gives, or gives up (undefined) and the
// full reader runs: it never decides a case it is not sure of.
//
// Why: the full reader (the `yaml` package's parser and composer, then sops' comment rules) costs
// ~40 ms on a 2,000-value file, and every decrypt, edit and rotation reads the file (a write
// reads its own output back). This reader walks the lines once.
//
// What it reads: one document whose root is a block mapping at column 0; block mappings and
// block sequences (under a key, deeper than the key or at its column); `- key: value`
// items; plain keys that are strings; values that are one-line plain, single-quoted or
// double-quoted (without escapes) scalars, `|` or `|-` literal blocks, `{}` and `[]`; comment
// lines before an item (of the same block, or the first of a nested one) and, all at one column,
// where blocks close; inline comments after a scalar; `key: # comment` above a nested block.
// Everything else gives up: document markers and directives, tabs, CR, anchors, aliases, tags,
// flow collections with content, multi-line plain or quoted scalars, escapes, folded or kept
// blocks, duplicate keys, keys that are not plain strings, comment lines
// at several columns where blocks close or at the end of the document (the full reader's rules
// place them by column), and anything invalid (the full reader names the error and its line).
//
// test/unit/sops-yaml-fast.test.ts holds it to the full reader on fixtures and thousands of
// generated and damaged files.
import { Branch, Comment, type Branches, type Item, type Value } from '../tree';
import { resolvePlain } from './yaml-scalar';

/** Thrown inside the reader when the input is outside what it reads (one instance, no stack). */
const GIVE_UP = new Error('outside the fast reader');

/** Deeper than this, the full reader decides (it has the nesting limit and its error). */
const MAX_DEPTH = 64;

/** yaml.v3 refuses implicit keys longer than this. */
const MAX_KEY = 1024;

/** Characters a plain scalar (or key) may not start with in block context. */
const NOT_PLAIN_START = new Set(Array.from(',[]{}#&*!|>\'"%@`?:', (c) => c.charCodeAt(0)));

const SPACE = 0x20;
const DASH = 0x2d;
const HASH = 0x23;

function giveUp(): never {
  throw GIVE_UP;
}

/** The sops tree of `text`, or undefined when the full reader must decide. */
export function loadYamlFast(text: string): Branches | undefined {
  if (text.length === 0 || !text.endsWith('\n')) return undefined;
  if (/[\t\r]/.test(text)) return undefined;
  if (/^(?:---|\.\.\.)(?:[ \n]|$)|^%/m.test(text)) return undefined;
  try {
    return [new Reader(text.split('\n')).document()];
  } catch (e) {
    if (e === GIVE_UP) return undefined;
    throw e;
  }
}

function indentOf(line: string): number {
  let i = 0;
  while (line.charCodeAt(i) === SPACE) i++;
  return i;
}

/** Where the value of `key:` starts in `line` (after the colon), or -1: a plain key only. */
function keyEnd(line: string, from: number): number {
  // The mapping indicator is the first ":" followed by a space or the end of the line.
  let i = line.indexOf(':', from);
  while (i !== -1) {
    const next = line.charCodeAt(i + 1);
    if (Number.isNaN(next) || next === SPACE) return i;
    i = line.indexOf(':', i + 1);
  }
  return -1;
}

class Reader {
  private i = 0;
  /** Comment lines read but not placed yet, with their columns. */
  private pending: Comment[] = [];
  private columns: number[] = [];

  constructor(private readonly lines: string[]) {}

  document(): Branch {
    if (this.peek() !== 0) giveUp();
    const root = this.mapping(0, this.i, 0);
    // Only blank lines may follow (comments there were refused by closing()).
    if (this.peek() !== -1) giveUp();
    return root;
  }

  /**
   * Skips blank lines and collects comment lines; returns the indentation of the next line of
   * content (this.i is on it), or -1 at the end.
   */
  private peek(): number {
    const lines = this.lines;
    for (; this.i < lines.length; this.i++) {
      const line = lines[this.i]!;
      const ind = indentOf(line);
      if (ind === line.length) continue;
      if (line.charCodeAt(ind) !== HASH) return ind;
      this.pending.push(new Comment(line.slice(ind + 1)));
      this.columns.push(ind);
    }
    return -1;
  }

  private flush(into: (c: Comment) => void): void {
    for (const c of this.pending) into(c);
    this.pending = [];
    this.columns = [];
  }

  /**
   * Comment lines between the last item of a block and a line at `next`, a lesser column (`-1`:
   * the end). yaml.v3's rule, for lines all at one column: at the column of the next item, they
   * are that item's; at any other, they end the innermost block that closes (this one). Lines at
   * several columns, and comments at the end of the document, are the full reader's to place.
   */
  private closing(next: number, into: (c: Comment) => void): void {
    if (this.pending.length === 0) return;
    const column = this.columns[0]!;
    if (next === -1 || this.columns.some((c) => c !== column)) giveUp();
    if (column !== next) this.flush(into);
  }

  /** A block mapping at `col`; its first key is on line `line` at `col`. */
  private mapping(col: number, line: number, depth: number): Branch {
    if (depth > MAX_DEPTH) giveUp();
    const items: Item[] = [];
    const keys = new Set<string>();
    const push = (c: Comment) => items.push({ key: c, value: null });
    this.flush(push);
    this.entry(col, line, items, keys, depth);
    for (;;) {
      const ind = this.peek();
      if (ind === -1 || ind < col) {
        this.closing(ind, push);
        return new Branch(items);
      }
      if (ind > col) giveUp();
      this.flush(push);
      this.entry(col, this.i, items, keys, depth);
    }
  }

  /** One `key: value` at column `col` of line `line`; leaves this.i after the value. */
  private entry(col: number, lineNo: number, items: Item[], keys: Set<string>, depth: number): void {
    const line = this.lines[lineNo]!;
    const colon = keyEnd(line, col);
    if (colon === -1) giveUp();
    const key = plainKey(line.slice(col, colon));
    if (keys.has(key)) giveUp();
    keys.add(key);
    const v = skipSpaces(line, colon + 1);
    this.i = lineNo + 1;
    if (v === line.length) {
      items.push({ key, value: this.nested(col, depth) });
      return;
    }
    if (line.charCodeAt(v) === HASH) {
      // `key: # comment` above a nested block: a comment line before the item.
      const comment = new Comment(line.slice(v + 1));
      const value = this.nested(col, depth);
      if (!(value instanceof Branch) && !Array.isArray(value)) giveUp();
      items.push({ key: comment, value: null }, { key, value });
      return;
    }
    const s = this.scalar(line, v, col);
    if (s.comment) items.push({ key: s.comment, value: null });
    items.push({ key, value: s.value });
  }

  /** What follows `key:` on the next lines: a nested block, or nothing (null). */
  private nested(col: number, depth: number): Value {
    const ind = this.peek();
    if (ind === -1 || ind < col) return null;
    const line = this.lines[this.i]!;
    const seq = isDash(line, ind);
    // An indentless sequence (its "-" at the key's column, as sops before 3.7 wrote them).
    if (ind === col) return seq ? this.sequence(ind, depth + 1, true) : null;
    return seq ? this.sequence(ind, depth + 1, false) : this.mapping(ind, this.i, depth + 1);
  }

  /** A block sequence whose "-" are at `col`; this.i is on its first item. */
  private sequence(col: number, depth: number, indentless: boolean): Value[] {
    if (depth > MAX_DEPTH) giveUp();
    const out: Value[] = [];
    const push = (c: Comment) => out.push(c);
    for (;;) {
      const ind = this.peek();
      if (ind === -1 || ind < col) {
        this.closing(ind, push);
        return out;
      }
      if (ind > col) giveUp();
      const line = this.lines[this.i]!;
      if (!isDash(line, col)) {
        // The next key of the mapping an indentless sequence belongs to: it ends here, and
        // comment lines before that key are the key's (yaml.v3 gives such a sequence no end).
        if (indentless) return out;
        giveUp();
      }
      this.flush(push);
      const at = skipSpaces(line, col + 1);
      if (at === line.length || at === col + 1) giveUp(); // "-" alone, or "-x"
      const c = line.charCodeAt(at);
      if (c === HASH || isDash(line, at)) giveUp();
      if (c !== 0x27 && c !== 0x22 && looksLikeEntry(line, at)) {
        out.push(this.mapping(at, this.i, depth + 1));
        continue;
      }
      const lineNo = this.i;
      this.i = lineNo + 1;
      const s = this.scalar(line, at, col);
      if (s.comment) out.push(s.comment);
      out.push(s.value);
    }
  }

  /**
   * A scalar value starting at `at` of `line` (this.i is on the next line); `parent` is the
   * column of its key or "-", which a literal block's lines must be deeper than.
   */
  private scalar(line: string, at: number, parent: number): { value: Value; comment?: Comment } {
    const c = line.charCodeAt(at);
    if (c === 0x27 /* ' */) {
      let text = '';
      let k = at + 1;
      for (;;) {
        const q = line.indexOf("'", k);
        if (q === -1) giveUp(); // continues on the next line
        text += line.slice(k, q);
        if (line.charCodeAt(q + 1) === 0x27) {
          text += "'";
          k = q + 2;
          continue;
        }
        return { value: text, ...this.after(line, q + 1) };
      }
    }
    if (c === 0x22 /* " */) {
      const q = line.indexOf('"', at + 1);
      if (q === -1) giveUp();
      const text = line.slice(at + 1, q);
      if (text.includes('\\')) giveUp();
      return { value: text, ...this.after(line, q + 1) };
    }
    if (c === 0x7c /* | */) {
      const header = line.slice(at);
      if (header !== '|' && header !== '|-') giveUp();
      return { value: this.literal(parent, header === '|-') };
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const close = c === 0x7b ? 0x7d : 0x5d;
      if (line.charCodeAt(at + 1) !== close || skipSpaces(line, at + 2) !== line.length) giveUp();
      return { value: c === 0x7b ? new Branch() : [] };
    }
    if (NOT_PLAIN_START.has(c) || (c === DASH && (at + 1 === line.length || line.charCodeAt(at + 1) === SPACE))) giveUp();
    // A plain scalar: to the end of the line or to " #".
    let end = line.indexOf(' #', at);
    const comment = end === -1 ? undefined : new Comment(line.slice(end + 2), true);
    if (end === -1) end = line.length;
    const text = line.slice(at, end).trimEnd();
    if (text.endsWith(':') || text.includes(': ')) giveUp();
    const r = resolvePlain(text);
    if (r.tag === 'uint') giveUp();
    return comment ? { value: r.value, comment } : { value: r.value };
  }

  /** After a quoted scalar: spaces, then nothing or an inline comment. */
  private after(line: string, from: number): { comment?: Comment } {
    const k = skipSpaces(line, from);
    if (k === line.length) return {};
    if (k === from || line.charCodeAt(k) !== HASH) giveUp();
    return { comment: new Comment(line.slice(k + 1), true) };
  }

  /** The lines of a `|` (clip) or `|-` (strip) block deeper than `parent`. */
  private literal(parent: number, strip: boolean): string {
    const lines = this.lines;
    let ind = -1;
    const body: string[] = [];
    let blanks = 0;
    for (; this.i < lines.length; this.i++) {
      const line = lines[this.i]!;
      const n = indentOf(line);
      if (n === line.length) {
        // A blank line: part of the block if content follows, else trailing (chomped).
        if (ind === -1 || n > ind) giveUp();
        blanks++;
        continue;
      }
      if (ind === -1) {
        if (n <= parent) giveUp(); // an empty block
        ind = n;
      } else if (n < ind) {
        if (n > parent) giveUp();
        break;
      }
      for (; blanks > 0; blanks--) body.push('');
      body.push(line.slice(ind));
    }
    if (ind === -1) giveUp();
    // this.i is on the first line after the block; trailing blank lines are chomped.
    const text = body.join('\n');
    return strip ? text : text + '\n';
  }
}

function skipSpaces(line: string, from: number): number {
  let k = from;
  while (line.charCodeAt(k) === SPACE) k++;
  return k;
}

/** "- " or a lone "-" at `at`. */
function isDash(line: string, at: number): boolean {
  if (line.charCodeAt(at) !== DASH) return false;
  const next = line.charCodeAt(at + 1);
  return Number.isNaN(next) || next === SPACE;
}

/** Whether the text at `at` reads as `key: ...` (not a plain scalar, which has no ": "). */
function looksLikeEntry(line: string, at: number): boolean {
  let end = line.indexOf(' #', at);
  if (end === -1) end = line.length;
  const k = keyEnd(line, at);
  return k !== -1 && k < end;
}

/** A plain key that yaml.v3 reads as a string, or give up. */
function plainKey(raw: string): string {
  const key = raw.trimEnd();
  if (key.length === 0 || key.length > MAX_KEY) giveUp();
  const c = key.charCodeAt(0);
  if (NOT_PLAIN_START.has(c) || c === DASH || c === SPACE) giveUp();
  if (key.includes(' #') || key === '<<') giveUp();
  const r = resolvePlain(key);
  if (r.tag !== 'str') giveUp();
  return key;
}
