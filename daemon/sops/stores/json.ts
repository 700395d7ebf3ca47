// The JSON store, as sops 3.13 reads and writes it (stores/json/store.go):
// - The top level must be an object; keys keep their order, and a repeated key is kept twice
//   (sops reads tokens, not a map). Anything after the closing "}" is ignored, as sops ignores it.
// - A number is an int when its text parses as a 64-bit integer, else a float64 (so 1.0 and
//   1e2 are floats, 2^63 is a float); a number out of float64 range is an error.
// - Output: encoding/json's strings (with <, >, & and U+2028/9 escaped), Go's float text
//   (1.0 prints as 1), tab indentation, `"key": value`, empty {} and [], and a final newline.
// Written by hand: JSON.parse loses key order for numeric-looking keys, duplicates, and the
// int/float distinction, all of which decide sops' bytes.
import type { Store } from '../store';
import { Branch, Comment, Float, Int, Time, type Branches, type Item, type Value } from '../tree';
import { MAX_NESTING, decodeUtf8, malformed, unsupported, whereIn } from './errors';
import { formatJsonFloat } from './gofmt';
import { extractMetadata, placeMetadata } from './metadata';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

class JsonParser {
  private i = 0;
  constructor(private readonly s: string) {}

  private fail(problem: string, at = this.i): never {
    throw malformed('json', problem, whereIn(this.s, at));
  }

  private ws(): void {
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else return;
    }
  }

  /** The top-level object; what follows it is not read (as sops' token decoder does). */
  document(): Branch {
    this.ws();
    if (this.i >= this.s.length) this.fail('empty input');
    const c = this.s[this.i];
    if (c !== '{') {
      if (c === '[') this.fail('sops supports only JSON files whose top level is an object, not an array');
      this.value(0);
      this.fail('sops supports only JSON files whose top level is an object');
    }
    const v = this.value(0);
    return v as Branch;
  }

  private value(depth: number): Value {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') {
      if (depth >= MAX_NESTING) this.fail(`nesting deeper than ${MAX_NESTING} levels`);
      this.i++;
      const items: Item[] = [];
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return new Branch(items);
      }
      for (;;) {
        this.ws();
        if (this.s[this.i] !== '"') this.fail(this.i >= this.s.length ? 'unexpected end of input' : 'expected a string key');
        const key = this.string();
        this.ws();
        if (this.s[this.i] !== ':') this.fail(this.i >= this.s.length ? 'unexpected end of input' : 'expected ":" after an object key');
        this.i++;
        items.push({ key, value: this.value(depth + 1) });
        this.ws();
        const d = this.s[this.i++];
        if (d === '}') return new Branch(items);
        if (d !== ',') this.fail(d === undefined ? 'unexpected end of input' : 'expected "," or "}" after an object value', this.i - 1);
      }
    }
    if (c === '[') {
      if (depth >= MAX_NESTING) this.fail(`nesting deeper than ${MAX_NESTING} levels`);
      this.i++;
      const list: Value[] = [];
      this.ws();
      if (this.s[this.i] === ']') {
        this.i++;
        return list;
      }
      for (;;) {
        list.push(this.value(depth + 1));
        this.ws();
        const d = this.s[this.i++];
        if (d === ']') return list;
        if (d !== ',') this.fail(d === undefined ? 'unexpected end of input' : 'expected "," or "]" after an array element', this.i - 1);
      }
    }
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(lit, this.i)) {
        this.i += lit.length;
        return v;
      }
    }
    this.fail(c === undefined ? 'unexpected end of input' : 'invalid character');
  }

  private number(): Int | Float {
    const start = this.i;
    const m = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
    m.lastIndex = this.i;
    const r = m.exec(this.s);
    if (!r) this.fail('invalid number');
    this.i += r[0].length;
    const text = r[0];
    if (r[1] === undefined && r[2] === undefined) {
      const n = BigInt(text);
      if (n >= INT64_MIN && n <= INT64_MAX) return new Int(n);
    }
    const f = Number(text);
    if (!Number.isFinite(f)) this.fail('number out of range', start);
    return new Float(f);
  }

  private string(): string {
    const start = this.i;
    this.i++; // the opening quote
    let out = '';
    let run = this.i;
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (Number.isNaN(c)) this.fail('unterminated string', start);
      if (c === 0x22) {
        out += this.s.slice(run, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      out += this.s.slice(run, this.i);
      const e = this.s[this.i + 1];
      this.i += 2;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const hi = this.hex4();
          if (hi >= 0xd800 && hi < 0xdc00) {
            // A surrogate pair is one character; a lone surrogate reads as U+FFFD, as in Go.
            if (this.s[this.i] === '\\' && this.s[this.i + 1] === 'u') {
              const save = this.i;
              this.i += 2;
              const lo = this.hex4();
              if (lo >= 0xdc00 && lo < 0xe000) {
                out += String.fromCharCode(hi, lo);
                break;
              }
              this.i = save;
            }
            out += '\ufffd';
          } else if (hi >= 0xdc00 && hi < 0xe000) out += '\ufffd';
          else out += String.fromCharCode(hi);
          break;
        }
        default:
          this.fail('invalid escape in string', this.i - 2);
      }
      run = this.i;
    }
  }

  private hex4(): number {
    const h = this.s.slice(this.i, this.i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('invalid \\u escape in string');
    this.i += 4;
    return parseInt(h, 16);
  }
}

const HEX = '0123456789abcdef';

/** json.Marshal of a Go string (HTML-safe escaping, as sops' encoder uses). */
export function jsonString(s: string): string {
  let out = '"';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) {
      switch (c) {
        case 0x22: esc = '\\"'; break;
        case 0x5c: esc = '\\\\'; break;
        case 0x08: esc = '\\b'; break;
        case 0x0c: esc = '\\f'; break;
        case 0x0a: esc = '\\n'; break;
        case 0x0d: esc = '\\r'; break;
        case 0x09: esc = '\\t'; break;
        default: esc = '\\u00' + HEX[c >> 4]! + HEX[c & 0xf]!;
      }
    } else if (c === 0x2028 || c === 0x2029) {
      esc = c === 0x2028 ? '\\u2028' : '\\u2029';
    } else if (c >= 0xd800 && c < 0xe000) {
      // A lone surrogate is not UTF-8; Go writes U+FFFD for invalid bytes.
      const pair = c < 0xdc00 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (pair) {
        i++;
        continue;
      }
      esc = '\\ufffd';
    }
    if (esc !== undefined) {
      out += s.slice(run, i) + esc;
      run = i + 1;
    }
  }
  return out + s.slice(run) + '"';
}

/** json.Marshal of a leaf; a float that is not finite has no JSON form (sops fails too). */
function jsonLeaf(v: Value): string {
  if (typeof v === 'string') return jsonString(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null) return 'null';
  if (v instanceof Int) return v.value.toString();
  if (v instanceof Float) {
    const f = formatJsonFloat(v.value);
    if (f === undefined) throw unsupported('json', 'NaN and infinite floats cannot be written as JSON');
    return f;
  }
  if (v instanceof Time) return jsonString(v.text);
  if (v instanceof Comment) return `{"Value":${jsonString(v.value)},"Inline":${v.inline}}`;
  throw new Error('jsonLeaf: not a leaf');
}

/** sops' JSON layout: its own encoder (comments dropped), then json.Indent with `indent`. */
function encode(v: Value, indent: string, depth: number): string {
  if (v instanceof Branch) {
    const items = v.items.filter((i) => !(i.key instanceof Comment));
    if (items.length === 0) return '{}';
    const pad = '\n' + indent.repeat(depth + 1);
    return '{' + items.map((i) => pad + jsonString(i.key as string) + ': ' + encode(i.value, indent, depth + 1)).join(',') + '\n' + indent.repeat(depth) + '}';
  }
  if (Array.isArray(v)) {
    const items = v.filter((x) => !(x instanceof Comment));
    if (items.length === 0) return '[]';
    const pad = '\n' + indent.repeat(depth + 1);
    return '[' + items.map((x) => pad + encode(x, indent, depth + 1)).join(',') + '\n' + indent.repeat(depth) + ']';
  }
  return jsonLeaf(v);
}

/**
 * Go's json.Marshal of a value as sops holds it (compact): used by the INI store's EmitValue.
 * A branch is a Go slice of TreeItem structs, so it marshals as [{"Key":...,"Value":...}].
 */
export function encodeJsonValue(v: Value): string {
  if (v instanceof Branch) {
    return '[' + v.items.map((i) => `{"Key":${i.key instanceof Comment ? jsonLeaf(i.key) : jsonString(i.key)},"Value":${encodeJsonValue(i.value)}}`).join(',') + ']';
  }
  if (Array.isArray(v)) return '[' + v.map(encodeJsonValue).join(',') + ']';
  return jsonLeaf(v);
}

export class JsonStore implements Store {
  readonly format = 'json' as const;
  readonly metadata = { flatten: 'none', escapeNewlines: false } as const;

  loadPlain(bytes: Buffer): Branches {
    return [new JsonParser(decodeUtf8('json', bytes)).document()];
  }

  loadEncrypted(bytes: Buffer): Branches {
    return extractMetadata('json', this.loadPlain(bytes), 'none', false);
  }

  emitPlain(branches: Branches): Buffer {
    const first = branches[0];
    if (!first) throw unsupported('json', 'nothing to write');
    return Buffer.from(encode(first, '\t', 0) + '\n', 'utf8');
  }

  emitEncrypted(branches: Branches): Buffer {
    return this.emitPlain(placeMetadata('json', branches, 'none', false));
  }

  /** For --extract: a mapping as a file, a string as itself, anything else as indented JSON. */
  emitValue(value: Value): Buffer {
    if (value instanceof Branch) return this.emitPlain([value]);
    if (typeof value === 'string') return Buffer.from(value, 'utf8');
    return Buffer.from(encode(value, '\t', 0), 'utf8');
  }
}
