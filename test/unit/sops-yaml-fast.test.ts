// The fast YAML reader (stores/yaml-fast.ts) against the full one: on every input it either gives
// up or gives exactly the full reader's tree (comments, their places and inline flags, types).
// Inputs: the sops fixtures, files the store writes from random trees, and those files damaged
// line by line (indentation, comments at any column, blank lines, foreign YAML constructs).
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { emitYamlDocuments } from '../../daemon/sops/stores/yaml-emit';
import { loadYamlFast } from '../../daemon/sops/stores/yaml-fast';
import { loadYaml } from '../../daemon/sops/stores/yaml-load';
import { Branch, Comment, Float, Int, Time, type Item, type Value } from '../../daemon/sops/tree';

const FIXTURES = path.join(__dirname, '../fixtures/sops');

/** A tree as text, with every distinction the stores make (types, comments, inline). */
function serialize(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x instanceof Branch) return { map: x.items.map((i: Item) => [i.key instanceof Comment ? { comment: i.key.value, inline: i.key.inline } : i.key, i.value]) };
    if (x instanceof Comment) return { comment: x.value, inline: x.inline };
    if (x instanceof Int) return { int: x.value.toString() };
    if (x instanceof Float) return { float: Object.is(x.value, -0) ? '-0' : String(x.value) };
    if (x instanceof Time) return { time: x.text };
    return x;
  });
}

function full(text: string): string {
  try {
    return serialize(loadYaml(text, false));
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

/** Fails when the fast reader answers differently from the full one; true when it answered. */
function agrees(text: string): boolean {
  const fast = loadYamlFast(text);
  if (fast === undefined) return false;
  assert.equal(serialize(fast), full(text), `the fast reader disagrees on:\n${text}`);
  return true;
}

/** A small deterministic generator (the same cases on every run). */
function prng(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return Math.floor((s / 0x80000000) * n);
  };
}

const ATOMS = [' ', '#', ':', '-', '?', ',', '[', ']', '{', '}', "'", '"', '\\', 'a', 'Z', '0', '1', '.', 'é', '😀', '|', '>', '&', '*', '!', '%', '@', '~', 'ENC[AES256_GCM,data:q8w=,iv:Zm9v,tag:YmFy,type:str]', 'true', 'null', 'no', '0x1f', '1e3', '2024-01-02', '12:30', '<<', '\n', '  ', ': ', ' #'];
const KEYS = ['a', 'b', 'password', 'x_unencrypted', 'Key With Space', 'k.v', 'a[0]', 'k#1', 'key-name'];
const LINES = ['# comment', '    # deep', '  # mid', '', '   ', 'x: 1', '    y: 2', '- a', '    - b', 'z:', '    w: |', '        lit', 'k: v # c', "q: 'a'' b'", 'q2: "a b"', 'e: {}', 'f: []', 'a: &x 1', 'b: *x', '---', 'k: !!str 1', '\tk: 1', 'k:  v  ', 'g: |-', '  h', '? k', ': v', 'n: 0777', 'u: 18446744073709551615', 'k: "a\\tb"', '-', '- # c', 'k: # c', 'k: | # c', '#', 'x: 1 #', 'y: a#b', 'y: a :b'];

function generator(seed: number) {
  const r = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[r(a.length)] as T;
  const text = (max: number) => Array.from({ length: r(max) }, () => pick(ATOMS)).join('');
  const oneLine = (max: number) => text(max).replace(/\n/g, '');
  const value = (depth: number): Value => {
    switch (r(depth > 3 ? 5 : 8)) {
      case 0:
      case 4:
        return text(4);
      case 1:
        return new Int(BigInt(r(2000) - 1000));
      case 2:
        return r(2) === 0;
      case 3:
        return pick([new Float(r(1000) / 7), new Float(1e21), new Float(-0.5), null, new Time('2024-01-02T03:04:05Z')]);
      case 5:
      case 6:
        return branch(depth + 1);
      default:
        return Array.from({ length: r(4) }, () => (r(5) === 0 ? new Comment(' c' + oneLine(3), r(2) === 0) : value(depth + 1)));
    }
  };
  const branch = (depth: number): Branch => {
    const items: Item[] = [];
    const seen = new Set<string>();
    for (let n = r(5); n > 0; n--) {
      if (r(5) === 0) {
        items.push({ key: new Comment(pick(['', ' x', ' ENC[AES256_GCM,data:x,type:comment]', ' ' + oneLine(3)]), r(3) === 0), value: null });
        continue;
      }
      const key = r(3) === 0 ? 'k' + oneLine(2) : pick(KEYS) + (r(3) === 0 ? String(r(9)) : '');
      if (seen.has(key)) continue;
      seen.add(key);
      items.push({ key, value: value(depth) });
    }
    return new Branch(items);
  };
  const damage = (file: string): string => {
    const lines = file.split('\n');
    for (let m = 1 + r(3); m > 0; m--) {
      const at = r(lines.length);
      switch (r(7)) {
        case 0:
          lines.splice(at, 0, pick(LINES));
          break;
        case 1:
          lines.splice(at, 1);
          break;
        case 2:
          lines[at] = ' '.repeat(r(3)) + (lines[at] ?? '');
          break;
        case 3:
          lines[at] = (lines[at] ?? '').replace(/^ {1,2}/, '');
          break;
        case 4:
          lines[at] = (lines[at] ?? '') + pick([' # t', '#t', '  ', ' ']);
          break;
        case 5:
          lines.splice(at, 0, ' '.repeat(r(12)) + '# ' + oneLine(2));
          break;
        default:
          lines.splice(at, 0, lines[r(lines.length)] ?? '');
      }
    }
    return lines.join('\n');
  };
  return { branch, damage };
}

/** The same file with its sequences indentless, as sops before 3.7 (yaml.v2) wrote them. */
function indentless(text: string): string {
  const lines = text.split('\n');
  const indent = (l: string) => l.length - l.trimStart().length;
  const content = (l: string) => l.trim() !== '' && !l.trimStart().startsWith('#');
  for (let round = 0; round < 200; round++) {
    let changed = false;
    let prev: string | undefined;
    for (let i = 0; i < lines.length && !changed; i++) {
      const l = lines[i]!;
      if (!content(l)) continue;
      const d = indent(l);
      if (prev !== undefined && /^\s*- /.test(l) && d >= 4 && indent(prev) === d - 4 && prev.trimEnd().endsWith(':')) {
        for (let j = i; j < lines.length; j++) {
          const m = lines[j]!;
          if (m.trim() === '') continue;
          if (indent(m) < d) break;
          lines[j] = m.slice(4);
        }
        changed = true;
      }
      prev = l;
    }
    if (!changed) break;
  }
  return lines.join('\n');
}

function emitted(b: Branch): string | undefined {
  try {
    return emitYamlDocuments([b]);
  } catch {
    return undefined; // a tree sops cannot write either
  }
}

describe('sops YAML: the fast reader agrees with the full one', () => {
  it('reads every YAML fixture, as sops wrote it, the way the full reader does', () => {
    const files = (readdirSync(FIXTURES, { recursive: true }) as string[]).filter((f) => /\.ya?ml$/.test(f));
    assert.ok(files.length >= 3);
    for (const f of files) assert.ok(agrees(readFileSync(path.join(FIXTURES, f), 'utf8')), `${f}: the fast reader gave up on a file sops wrote`);
  });

  it('reads a large config as the store writes it (the benchmark layout)', () => {
    const services: Item[] = [];
    for (let s = 0; s < 40; s++) {
      const settings: Item[] = [];
      for (let k = 0; k < 10; k++) {
        settings.push({ key: `setting_${k}`, value: new Branch([{ key: 'password', value: `p${s}-${k}` }, { key: 'port', value: new Int(BigInt(1000 + k)) }, { key: 'hosts', value: [`h${k}.example`, `g${k}.example`] }]) });
      }
      services.push({ key: `service_${s}`, value: new Branch(settings) });
    }
    const text = emitYamlDocuments([new Branch([{ key: new Comment(' generated'), value: null }, ...services])]);
    assert.ok(agrees(text));
  });

  it('gives up on what it does not read (the full reader decides), and never accepts what the full one refuses', () => {
    const giveUp = [
      'a: &x 1\nb: *x\n', // anchors
      'a: 1\n# at the end\n', // a comment at the end of the document
      'a: 1\n---\nb: 2\n', // several documents
      'a:\n\tb: 1\n', // a tab
      'a: "x\\ty"\n', // an escape
      'a: >\n    folded\n', // a folded block
      'a: |+\n    kept\n\n', // a kept block
      'a: b: c\n', // invalid
      'a: 1\na: 2\n', // a duplicate key
      '1: x\n', // a key that is not a string
      'a:\n    b: 1\n  c: 2\n', // bad indentation
      'a:\n    b:\n        c: 1\n    # x\n  # y\nd: 1\n', // comments at several columns where blocks close
      'a: 1', // no final line break
    ];
    for (const t of giveUp) assert.equal(loadYamlFast(t), undefined, JSON.stringify(t));
  });

  it('places comments as the full reader does: heads, inline, above nested blocks, where blocks close', () => {
    const cases = [
      '# head\na: 1 # inline\n# before b\nb:\n    # head of b\n    c: 1\n',
      'a:\n    b:\n        c: 1\n        # end of b (deeper)\n    d: 2\n',
      'a:\n    b:\n        c: 1\n    # at the column of d\n    d: 2\n',
      'a:\n    b:\n        c: 1\n  # elsewhere: ends b\ne: 2\n',
      'a: # above\n    b: 1\nc:\n    - x # inline item\n    # before y\n    - y\n    - k: v # inline in a mapping item\n      # before l\n      l: w\nd: 1\n',
      '# sops before 3.7\nk: ENC[x]\nsops:\n    kms:\n    -   arn: arn:aws:kms:us-east-1:1:key/a\n        enc: abc\n    # between\n    -   arn: b\n    pgp: []\n    age:\n    -   recipient: age1x\n        enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            -----END AGE ENCRYPTED FILE-----\n    # before version\n    version: 3.6.1\n',
      "s: 'it''s' # q\nt: \"two words\"\nu: |\n    line one\n\n    # not a comment\nv: |-\n    stripped\nw: {}\nx: []\n",
    ];
    for (const t of cases) assert.ok(agrees(t), `gave up on:\n${t}`);
  });

  it('agrees on 1,200 generated files, the same with indentless lists (sops before 3.7), and 4,800 damaged ones', () => {
    const g = generator(20261124);
    let read = 0;
    let readOld = 0;
    let files = 0;
    for (let t = 0; t < 1200; t++) {
      const text = emitted(g.branch(0));
      if (text === undefined) continue;
      files++;
      if (agrees(text)) read++;
      agrees(g.damage(text));
      agrees(g.damage(text));
      agrees(text.replace(/^( +)/gm, (s) => s.slice(0, s.length / 2)));
      const old = indentless(text);
      if (agrees(old)) readOld++;
      agrees(g.damage(old));
    }
    assert.ok(readOld / files > 0.3, `read ${readOld} of ${files} in the indentless layout`);
    // Most give-ups here are deliberate (an empty document, a comment at the end).
    assert.ok(read / files > 0.3, `read ${read} of ${files}`);
  });
});
