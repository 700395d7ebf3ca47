// YAML read the way go-yaml v3 fills sops' Go structs (config/config.go): a string field takes
// any scalar's text, an int field an integer (or an integral float), a bool field true/false and
// the YAML 1.1 words yes/no/on/off/y/n (even quoted); aliases and merge keys work. Errors name
// the file, line and field. The reader counts the nodes it visits (aliases and merge keys can
// make a small file expand without end) and stops past MAX_VISITS.
import { Alias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node as YamlNode, type Scalar } from 'yaml';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';

/** A field that sops reads as "a string or a list of strings". */
export type KeyList = string | string[] | undefined;

const MAX_VISITS = 1_000_000;

type Pair = { key: YamlNode; value: YamlNode | null };

const YAML11_TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON']);
const YAML11_FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF']);

export function isNull(n: unknown): boolean {
  return n === null || n === undefined || (isScalar(n) && n.value === null);
}

/** The reason alone: the library appends the position and a source excerpt. */
export function firstLine(s: string): string {
  return (s.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '').slice(0, 200);
}

export class YamlReader {
  private visits = 0;
  /** Each alias resolved once: the library's resolve walks the whole document to find its anchor. */
  private readonly resolved = new Map<Alias, unknown>();

  constructor(
    private readonly file: string,
    private readonly lc: LineCounter,
    private readonly doc: Document.Parsed | undefined,
    private readonly hint: string,
  ) {}

  where(n: unknown): string {
    const range = (n as { range?: [number, number, number] } | null)?.range;
    return range ? `${this.file}:${this.lc.linePos(range[0]).line}` : this.file;
  }

  fail(n: unknown, field: string, message: string): KeywardError {
    return new KeywardError(ErrorCode.InvalidInput, `${this.where(n)}: ${field}: ${message}`, this.hint);
  }

  deref(n: YamlNode | null | undefined): YamlNode | null {
    if (++this.visits > MAX_VISITS) {
      throw new KeywardError(ErrorCode.InvalidInput, `${this.file}: too many nodes once aliases and merge keys are expanded`, 'write the file without nested aliases');
    }
    let cur: unknown = n ?? null;
    for (let hops = 0; cur instanceof Alias; hops++) {
      if (hops > 100 || !this.doc) return null;
      const alias: Alias = cur;
      if (!this.resolved.has(alias)) this.resolved.set(alias, alias.resolve(this.doc) ?? null);
      cur = this.resolved.get(alias);
    }
    return (cur as YamlNode | null) ?? null;
  }

  /** A mapping's fields by name; merge keys (`<<`) supply fields the mapping lacks. */
  map(node: YamlNode | null | undefined, field: string): Map<string, Pair> {
    const n = this.deref(node);
    const out = new Map<string, Pair>();
    if (isNull(n)) return out;
    if (!isMap(n)) throw this.fail(n ?? node, field, 'expected a mapping');
    const merged: Map<string, Pair>[] = [];
    for (const p of n.items) {
      const keyNode = p.key as YamlNode;
      const value = (p.value as YamlNode | null) ?? null;
      const rawKey: unknown = isScalar(keyNode) ? keyNode.value : keyNode;
      if (typeof rawKey === 'symbol' || rawKey === '<<') {
        const src = this.deref(value);
        const sources = isSeq(src) ? src.items.map((s) => s as YamlNode) : [src];
        for (const s of sources) merged.push(this.map(s, `${field} (merged)`));
        continue;
      }
      if (!isScalar(keyNode)) throw this.fail(keyNode, field, 'keys must be plain strings');
      out.set(this.text(keyNode), { key: keyNode, value });
    }
    for (const m of merged) for (const [k, v] of m) if (!out.has(k)) out.set(k, v);
    return out;
  }

  seq(node: YamlNode | null | undefined, field: string): (YamlNode | null)[] {
    const n = this.deref(node);
    if (isNull(n)) return [];
    if (!isSeq(n)) throw this.fail(n ?? node, field, 'expected a list');
    return n.items.map((x) => (x as YamlNode | null) ?? null);
  }

  /** Go string: any scalar's text; null is "". */
  str(node: YamlNode | null | undefined, field: string): string {
    const n = this.deref(node);
    if (isNull(n)) return '';
    if (!isScalar(n)) throw this.fail(n ?? node, field, 'expected a string');
    return this.text(n);
  }

  /** Go int: an integer, or a float with no fraction (Keyward refuses the fractions go-yaml truncates). */
  int(node: YamlNode | null | undefined, field: string): number {
    const n = this.deref(node);
    if (isNull(n)) return 0;
    if (!isScalar(n) || typeof n.value !== 'number' || n.type !== 'PLAIN') throw this.fail(n ?? node, field, 'expected an integer');
    if (!Number.isSafeInteger(n.value)) throw this.fail(n, field, 'expected an integer');
    return n.value;
  }

  /** Go bool: true/false, and YAML 1.1's yes/no/on/off/y/n (go-yaml accepts those, quoted too). */
  bool(node: YamlNode | null | undefined, field: string): boolean {
    const n = this.deref(node);
    if (isNull(n)) return false;
    if (isScalar(n)) {
      if (typeof n.value === 'boolean' && n.type === 'PLAIN') return n.value;
      if (typeof n.value === 'string' && YAML11_TRUE.has(n.value)) return true;
      if (typeof n.value === 'string' && YAML11_FALSE.has(n.value)) return false;
    }
    throw this.fail(n ?? node, field, 'expected true or false');
  }

  /** Go []string: a list of scalars (each its text); null is empty. */
  strList(node: YamlNode | null | undefined, field: string): string[] {
    return this.seq(node, field).map((item, i) => this.str(item, `${field}[${i}]`));
  }

  /** sops' "string or []string" fields (decoded into interface{}): strings only, no numbers. */
  keyList(node: YamlNode | null | undefined, field: string): KeyList {
    const n = this.deref(node);
    if (isNull(n)) return undefined;
    if (isScalar(n)) {
      if (typeof n.value !== 'string') throw this.fail(n, field, 'expected a string or a list of strings');
      return n.value;
    }
    if (isSeq(n)) {
      return n.items.map((raw, i) => {
        const item = this.deref(raw as YamlNode | null);
        if (!isScalar(item) || typeof item.value !== 'string') throw this.fail(item ?? n, `${field}[${i}]`, 'expected a string');
        return item.value;
      });
    }
    throw this.fail(n, field, 'expected a string or a list of strings');
  }

  private text(n: Scalar): string {
    if (typeof n.value === 'string') return n.value;
    // go-yaml hands a string field the scalar as written (`1.50` stays "1.50").
    return typeof n.source === 'string' ? n.source : String(n.value);
  }
}

