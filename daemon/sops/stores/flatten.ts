// Metadata flattening, as sops 3.13 does it for formats without nesting (stores/flatten.go):
// dotenv writes `sops_key_groups__list_0__map_age__list_0__map_recipient=...` at the top level,
// INI writes the same keys (without `sops_`) in a `[sops]` section. A map key is joined with
// `__map_`, a list index with `__list_`; unflattening sorts map keys (byte order), as sops
// does, and checks that lists have every index from 0.
import { Branch, Comment, type Item, type Value } from '../tree';
import { malformed, unsupported } from './errors';

const MAP = '__map_';
const LIST = '__list_';

export interface FlattenOptions {
  /** Put before every key: `sops_` for dotenv (flatten 'full'), '' for INI ('belowTop'). */
  prefix: string;
  /** Write "\n" in string values as the two characters `\n` (INI does; dotenv escapes all values itself). */
  escapeNewlines?: boolean;
}

/** The metadata branch as flat items, in sops' order. Throws on a key collision. */
export function flattenMetadata(meta: Branch, opts: FlattenOptions): Item[] {
  const out: Item[] = [];
  const seen = new Set<string>();
  const leaf = (key: string, value: Value) => {
    if (seen.has(key)) throw unsupported('metadata', 'key collision while flattening the sops metadata', 'check the sops metadata for keys that contain "__map_" or "__list_"');
    seen.add(key);
    out.push({ key, value: opts.escapeNewlines && typeof value === 'string' ? value.replaceAll('\n', '\\n') : value });
  };
  const descend = (value: Value, key: string) => {
    if (value instanceof Branch) descendMap(value, key + MAP);
    else if (Array.isArray(value)) {
      let i = 0;
      for (const v of value) {
        if (v instanceof Comment) continue;
        descend(v, `${key}${LIST}${i}`);
        i++;
      }
    } else leaf(key, value);
  };
  const descendMap = (b: Branch, prefix: string) => {
    for (const item of b.items) {
      if (item.key instanceof Comment) continue;
      descend(item.value, prefix + item.key);
    }
  };
  descendMap(meta, opts.prefix);
  return out;
}

type Token = { map: string } | { list: number };

/** Splits a flattened key at `__map_` and `__list_` (the first part is a map key). */
function tokenize(path: string): Token[] {
  const tokens: Token[] = [];
  let kind: 'normal' | 'map' | 'list' = 'normal';
  let start = 0;
  const finish = (end: number) => {
    if (kind === 'normal') tokens.push({ map: path.slice(start, end) });
    else if (kind === 'map') tokens.push({ map: path.slice(start + MAP.length, end) });
    else tokens.push({ list: goAtoi(path.slice(start + LIST.length, end)) });
    start = end;
  };
  let i = 0;
  while (i < path.length) {
    if (path.startsWith(MAP, i)) {
      finish(i);
      kind = 'map';
      i += MAP.length;
    } else if (path.startsWith(LIST, i)) {
      finish(i);
      kind = 'list';
      i += LIST.length;
    } else i++;
  }
  finish(path.length);
  return tokens;
}

/** strconv.Atoi with its error ignored, as flatten.go does: anything unparsable is 0. */
function goAtoi(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) return 0;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : 0;
}

interface Node {
  value?: { v: Value };
  subkeys?: Map<string, Node>;
  indices?: Map<number, Node>;
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

function bad(problem: string) {
  return malformed('metadata', problem, undefined, 'the sops metadata of this file is damaged; restore the file from version control');
}

function convert(node: Node): Value {
  const hasValue = node.value !== undefined;
  const hasSub = (node.subkeys?.size ?? 0) > 0;
  const hasIdx = (node.indices?.size ?? 0) > 0;
  if (Number(hasValue) + Number(hasSub) + Number(hasIdx) > 1) throw bad('type mismatch in flattened sops metadata');
  if (node.value) return node.value.v;
  if (hasSub) {
    const keys = [...node.subkeys!.keys()].sort(byteOrder);
    return new Branch(keys.map((k) => ({ key: k, value: convert(node.subkeys!.get(k)!) })));
  }
  if (hasIdx) {
    const idx = [...node.indices!.keys()];
    const max = Math.max(...idx);
    if (Math.min(...idx) !== 0 || max + 1 !== idx.length) throw bad('incomplete list in flattened sops metadata');
    const out: Value[] = [];
    for (let i = 0; i <= max; i++) out.push(convert(node.indices!.get(i)!));
    return out;
  }
  return new Branch();
}

/**
 * The nested metadata branch from flat items (keys without the `sops_` prefix). Comments are
 * skipped. With escapeNewlines, the two characters `\n` in string values become "\n".
 */
export function unflattenMetadata(items: Item[], opts: { escapeNewlines?: boolean } = {}): Branch {
  const root: Node = {};
  for (const item of items) {
    if (item.key instanceof Comment) continue;
    let node = root;
    for (const t of tokenize(item.key)) {
      if ('map' in t) {
        node.subkeys ??= new Map();
        let next = node.subkeys.get(t.map);
        if (!next) node.subkeys.set(t.map, (next = {}));
        node = next;
      } else {
        node.indices ??= new Map();
        let next = node.indices.get(t.list);
        if (!next) node.indices.set(t.list, (next = {}));
        node = next;
      }
    }
    if (node.value) throw bad('duplicate key in flattened sops metadata');
    const v = opts.escapeNewlines && typeof item.value === 'string' ? item.value.replaceAll('\\n', '\n') : item.value;
    node.value = { v };
  }
  const out = convert(root);
  if (!(out instanceof Branch)) throw bad('flattened sops metadata is not a mapping');
  return out;
}
