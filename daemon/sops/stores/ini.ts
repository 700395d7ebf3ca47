// The INI store, as sops 3.13 reads and writes it (stores/ini/store.go on gopkg.in/ini.v1
// 1.67, with AllowNonUniqueSections and otherwise default options). The rules that matter:
// - Keys before the first section belong to the section "DEFAULT", which is always the first
//   item of the tree (an empty mapping when there are no such keys) and is written without a
//   header. Sections may repeat; a repeated key in a section keeps its first place and takes the
//   last value (and comment).
// - A value ends at the first "#" or ";" (the rest is a comment); values in "..." or '...' lose
//   the quotes; `...` and """...""" quote verbatim (""" may span lines); a trailing "\" joins
//   the next line. Key names may be quoted with "..." or `...`.
// - Comments before a section (and after its "]") become its first item; comments before a key
//   and after its value become one Comment item after the key. sops strips the leading "#"/";"
//   and spaces of the whole comment and keeps the rest.
// - Writing aligns "=" within a section (by byte length), quotes values with "#", ";", "\n",
//   "`" or outer spaces, and puts a blank line between sections.
// Metadata is a `[sops]` section of flattened keys with "\n" written as `\n`.
import type { Store } from '../store';
import { Branch, Comment, type Branches, type Item, type Value } from '../tree';
import { decodeUtf8, malformed, unsupported } from './errors';
import { valToString } from './gofmt';
import { encodeJsonValue } from './json';
import { extractMetadata, placeMetadata } from './metadata';

const DEFAULT_SECTION = 'DEFAULT';

/** Go's unicode.IsSpace, which TrimSpace and TrimLeftFunc use (JS's \s differs: U+0085, U+FEFF). */
const GO_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEFT_SPACE = new RegExp(`^[${GO_SPACE}]+`);
const RIGHT_SPACE = new RegExp(`[${GO_SPACE}]+$`);
const trimLeft = (s: string) => s.replace(LEFT_SPACE, '');
const trimSpace = (s: string) => s.replace(LEFT_SPACE, '').replace(RIGHT_SPACE, '');

interface IniKey {
  value: string;
  comment: string;
}

interface IniSection {
  name: string;
  comment: string;
  keys: Map<string, IniKey>;
}

/** Reads lines as ini.v1 does: each with its "\n", the last one possibly without. */
class Lines {
  private pos = 0;
  /** 1-based number of the line last read. */
  line = 0;
  constructor(private readonly text: string) {}
  get eof(): boolean {
    return this.pos >= this.text.length;
  }
  next(): string {
    const nl = this.text.indexOf('\n', this.pos);
    const end = nl === -1 ? this.text.length : nl + 1;
    const s = this.text.slice(this.pos, end);
    this.pos = end;
    this.line++;
    return s;
  }
}

function parseIni(text: string): IniSection[] {
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const lines = new Lines(text);
  const bad = (problem: string) => malformed('ini', problem, { line: lines.line });
  let section: IniSection = { name: DEFAULT_SECTION, comment: '', keys: new Map() };
  const sections = [section];
  let comment = '';
  let autoCount = 1;

  const readValue = (raw: string): string => {
    let line = trimLeft(raw);
    if (line.length === 0) return '';
    const quote = line.length > 3 && line.startsWith('"""') ? '"""' : line[0] === '`' ? '`' : '';
    if (quote) {
      const rest = line.slice(quote.length);
      const pos = rest.lastIndexOf(quote);
      if (pos !== -1) return rest.slice(0, pos);
      // A value that goes on until a line holding the closing quote.
      let val = rest;
      for (;;) {
        const next = lines.next();
        const p = next.lastIndexOf(quote);
        if (p > -1) {
          const after = next.slice(p + quote.length).replace(/[\r\n]+$/, '');
          if (trimSpace(after).endsWith('\\')) {
            val += next;
            continue;
          }
          val += next.slice(0, p);
          const c = firstCommentChar(next.slice(p));
          if (c !== -1) comment += trimSpace(next.slice(p).slice(c));
          return val;
        }
        val += next;
        if (lines.eof) throw bad('missing closing quote');
      }
    }
    line = trimSpace(line);
    if (line.endsWith('\\')) {
      // Continuation lines, joined trimmed, until one that does not end with "\".
      let val = line.slice(0, -1);
      for (;;) {
        if (lines.eof) break;
        const next = trimSpace(lines.next());
        if (next.length === 0) break;
        val += next;
        if (!val.endsWith('\\')) break;
        val = val.slice(0, -1);
      }
      return val;
    }
    const c = firstCommentChar(line);
    if (c > -1) {
      comment += line.slice(c);
      line = trimSpace(line.slice(0, c));
    }
    if (surrounded(line, "'") || surrounded(line, '"')) line = line.slice(1, -1);
    return line;
  };

  while (!lines.eof) {
    const line = trimLeft(lines.next());
    if (line.length === 0) continue;
    if (line[0] === '#' || line[0] === ';') {
      comment += line;
      continue;
    }
    if (line[0] === '[') {
      const close = line.lastIndexOf(']');
      if (close === -1) throw bad('unclosed section');
      const name = line.slice(1, close);
      if (name.length === 0) throw bad('empty section name');
      section = { name, comment: '', keys: new Map() };
      sections.push(section);
      const rest = line.slice(close + 1);
      const c = firstCommentChar(rest);
      if (c !== -1) comment += rest.slice(c);
      section.comment = trimSpace(comment);
      comment = '';
      autoCount = 1;
      continue;
    }
    const { name: rawName, offset } = readKeyName(line, bad);
    let name = rawName;
    if (name === '-') name = `#${autoCount++}`;
    const value = readValue(line.slice(offset));
    if (name.length === 0) throw bad('empty key name');
    const existing = section.keys.get(name);
    if (existing) existing.value = value;
    const key = existing ?? { value, comment: '' };
    if (!existing) section.keys.set(name, key);
    key.comment = trimSpace(comment);
    comment = '';
  }
  return sections;
}

function firstCommentChar(s: string): number {
  const a = s.indexOf('#');
  const b = s.indexOf(';');
  if (a === -1) return b;
  if (b === -1) return a;
  return Math.min(a, b);
}

function surrounded(s: string, q: string): boolean {
  return s.length >= 2 && s[0] === q && s[s.length - 1] === q && s.indexOf(q, 1) === s.length - 1;
}

function readKeyName(line: string, bad: (p: string) => Error): { name: string; offset: number } {
  const q = line[0] === '"' ? (line.length > 6 && line.startsWith('"""') ? '"""' : '"') : line[0] === '`' ? '`' : '';
  if (q) {
    const close = line.indexOf(q, q.length);
    if (close === -1) throw bad('missing closing key quote');
    const i = indexOfAny(line, '=:', close + q.length);
    if (i < 0) throw bad('line without "=" or ":"');
    return { name: trimSpace(line.slice(q.length, close)), offset: i + 1 };
  }
  const end = indexOfAny(line, '=:', 0);
  if (end < 0) throw bad('line without "=" or ":"');
  if (end === 0) throw bad('empty key name');
  return { name: trimSpace(line.slice(0, end)), offset: end + 1 };
}

function indexOfAny(s: string, chars: string, from: number): number {
  for (let i = from; i < s.length; i++) if (chars.includes(s[i]!)) return i;
  return -1;
}

/** sops' stripCommentChar: drops the leading run of "; " (or "# ") of the whole comment. */
function stripCommentChar(c: string): string {
  if (c.startsWith(';')) return c.replace(/^[; ]+/, '');
  if (c.startsWith('#')) return c.replace(/^[# ]+/, '');
  return c;
}

function treeFromIni(sections: IniSection[]): Branches {
  const items: Item[] = sections.map((s) => {
    const sec: Item[] = [];
    if (s.comment !== '') sec.push({ key: new Comment(stripCommentChar(s.comment)), value: null });
    for (const [name, k] of s.keys) {
      sec.push({ key: name, value: k.value });
      if (k.comment !== '') sec.push({ key: new Comment(stripCommentChar(k.comment)), value: null });
    }
    return { key: s.name, value: new Branch(sec) };
  });
  return [new Branch(items)];
}

function commentLines(c: string, trimPlain: boolean): string {
  let out = '';
  for (const l of c.split('\n')) {
    // ini.v1 indexes l[0]; an empty comment line would make it panic, sops with it.
    if (l.length === 0) throw unsupported('ini', 'a comment with an empty line cannot be written as INI');
    if (l[0] !== '#' && l[0] !== ';') out += `; ${trimPlain ? trimSpace(l) : l}\n`;
    else out += `${l[0]} ${trimSpace(l.slice(1))}\n`;
  }
  return out;
}

function encodeIni(branches: Branches): string {
  const sections: IniSection[] = [];
  for (const branch of branches) {
    for (const item of branch.items) {
      if (item.key instanceof Comment) continue;
      if (item.key.length === 0) throw unsupported('ini', 'empty section name');
      if (!(item.value instanceof Branch)) throw unsupported('ini', 'a top-level value that is not a section cannot be written as INI');
      const sec: IniSection = { name: item.key, comment: '', keys: new Map() };
      const its = item.value.items;
      let first = 0;
      const c0 = its[0]?.key;
      if (c0 instanceof Comment) {
        sec.comment = c0.value;
        first = 1;
      }
      let last: IniKey | undefined;
      for (let i = first; i < its.length; i++) {
        const kv = its[i]!;
        if (kv.key instanceof Comment) {
          if (last) last.comment = kv.key.value;
          continue;
        }
        if (kv.key.length === 0) throw unsupported('ini', 'empty key name');
        if (kv.value instanceof Branch || Array.isArray(kv.value)) {
          throw unsupported('ini', 'INI holds one level of sections; a nested mapping or list cannot be written');
        }
        const value = valToString(kv.value);
        last = sec.keys.get(kv.key);
        if (last) last.value = value;
        else sec.keys.set(kv.key, (last = { value, comment: '' }));
      }
      sections.push(sec);
    }
  }
  let out = '';
  sections.forEach((sec, i) => {
    if (sec.comment.length > 0) out += commentLines(sec.comment, false);
    if (i > 0 || sec.name.toUpperCase() !== DEFAULT_SECTION) out += `[${sec.name}]\n`;
    else if (sec.keys.size === 0) return;
    const names = [...sec.keys.keys()].map(quoteKey);
    const align = Math.max(0, ...names.map((n) => Buffer.byteLength(n)));
    let j = 0;
    for (const key of sec.keys.values()) {
      const name = names[j++]!;
      if (key.comment.length > 0) out += commentLines(key.comment, true);
      out += `${name}${' '.repeat(align - Buffer.byteLength(name))} = ${quoteValue(key.value)}\n`;
    }
    if (i !== sections.length - 1) out += '\n';
  });
  return out;
}

function quoteKey(k: string): string {
  if (k.includes('"') || k.includes('=') || k.includes(':')) return '`' + k + '`';
  if (k.includes('`')) return '"""' + k + '"""';
  return k;
}

function quoteValue(v: string): string {
  if (v.includes('\n') || v.includes('`')) return '"""' + v + '"""';
  if (v.includes('#') || v.includes(';')) return '`' + v + '`';
  if (trimSpace(v).length !== v.length) return '"' + v + '"';
  return v;
}

export class IniStore implements Store {
  readonly format = 'ini' as const;
  readonly metadata = { flatten: 'belowTop', escapeNewlines: true } as const;

  loadPlain(bytes: Buffer): Branches {
    return treeFromIni(parseIni(decodeUtf8('ini', bytes)));
  }

  loadEncrypted(bytes: Buffer): Branches {
    return extractMetadata('ini', this.loadPlain(bytes), 'belowTop', true);
  }

  emitPlain(branches: Branches): Buffer {
    return Buffer.from(encodeIni(branches), 'utf8');
  }

  emitEncrypted(branches: Branches): Buffer {
    return this.emitPlain(placeMetadata('ini', branches, 'belowTop', true));
  }

  /** sops' INI EmitValue is json.Marshal of the value (a string extracts as itself). */
  emitValue(value: Value): Buffer {
    if (value instanceof Branch) return this.emitPlain([value]);
    if (typeof value === 'string') return Buffer.from(value, 'utf8');
    return Buffer.from(encodeJsonValue(value), 'utf8');
  }
}
