// Reads YAML into a sops tree as sops 3.13 does (stores/yaml/store.go on go.yaml.in/yaml/v3).
//
// The `yaml` package parses (its CST keeps every comment with its offset, its composer builds the
// nodes); this module gives the result sops' meaning:
// - Scalars resolve as yaml.v3 resolves them (yaml-scalar.ts): ints (Go syntax, 0x/0o/0b/0777,
//   underscores), floats, bools, null, timestamps, !!binary; explicit tags are honoured.
// - Keys must be strings (sops refuses other keys when it encrypts); an integer above int64 is
//   refused (sops cannot encrypt it). Every document must be a mapping (or empty).
// - Aliases are expanded (sops copies the anchored node, comments included), with a budget
//   against "billion laughs"; duplicate keys in the first document are refused, as sops'
//   yaml.v3 pre-check does (later documents keep them, as sops does).
// - Comments become Comment items where yaml.v3 and sops put them. On a line with content: after
//   a scalar value or list item, an inline comment just before that item; after `key:` or a
//   block scalar key, a comment before the item; after "[...]"/"{...}", the first item of that
//   collection when it is a mapping value. Lines of comments: see placeRun. These rules were
//   derived from yaml.v3's scanner and checked against sops' own store on thousands of
//   generated files; they differ in rare layouts (comments around `? key` / `: value` pairs,
//   after a flow-style document, inside a keep-chomped block scalar's trailing lines).
// - Refused where yaml.v3 and the `yaml` package would disagree or could not keep up: raw
//   U+0085/U+2028/U+2029 (line breaks to YAML 1.1, not to 1.2), nesting deeper than
//   MAX_NESTING, !!binary values that are not UTF-8 text.
import { Alias, CST, Composer, Parser, Scalar, YAMLMap, YAMLSeq, isAlias, isMap, isScalar, isSeq, type Document, type Node as YNode } from 'yaml';
import { Branch, Comment, Float, Int, Time, type Branches, type Item, type Leaf, type Value } from '../tree';
import { LineIndex, MAX_NESTING, malformed } from './errors';
import { loadYamlFast } from './yaml-fast';
import { parseTimestamp, resolvePlain } from './yaml-scalar';

/**
 * Nodes that alias expansions may produce in one file. sops' yaml.v3 refuses documents whose
 * aliases expand too much ("billion laughs"); real files expand a few anchors.
 */
const ALIAS_BUDGET = 100_000;

type Coll = YAMLMap<unknown, unknown> | YAMLSeq<unknown>;

/** Where a comment goes: before item `index` of a collection (or of the document). */
interface Placement {
  index: number;
  comment: Comment;
}

/** One comment line of a run of them between two pieces of content. */
interface RunLine {
  comment: Comment;
  offset: number;
  column: number;
  /** A blank line between this line and the line before it. */
  blankBefore: boolean;
}

/** Per block collection: its items' positions, for placing comment lines. */
interface CollInfo {
  coll: Coll;
  /** Column of its keys or "-" indicators. */
  column: number;
  /** An indentless sequence: "-" at the column of the parent mapping's keys. */
  indentless: boolean;
  /** Offset where each item starts (key or "-"). */
  starts: number[];
  /** Nested block collection of each item, if any. */
  children: (CollInfo | undefined)[];
}

class YamlText {
  private readonly lines: LineIndex;
  constructor(readonly text: string) {
    this.lines = new LineIndex(text);
  }
  where(offset: number) {
    return this.lines.where(offset);
  }
  fail(problem: string, offset: number): never {
    throw malformed('yaml', problem, this.where(offset));
  }
}

/** yaml.v3 refuses these characters anywhere in the input. */
const FORBIDDEN = /[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

/**
 * A YAML file as sops reads it. Files laid out as sops writes them go through a line reader
 * (yaml-fast.ts), which gives the same tree or gives up; `fast: false` always uses the full one.
 */
export function loadYaml(text: string, fast = true): Branches {
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const src = new YamlText(text);
  const bad = FORBIDDEN.exec(text);
  if (bad) src.fail('control characters are not allowed', bad.index);
  // YAML 1.1 (yaml.v3, hence sops) reads these as line breaks, YAML 1.2 (the parser here) as
  // ordinary characters: the two would not agree on the file, so it is refused.
  const sep = /[\u0085\u2028\u2029]/.exec(text);
  if (sep) src.fail('a raw NEL, line or paragraph separator character is not supported (write it as an escape in double quotes)', sep.index);
  if (fast) {
    const quick = loadYamlFast(text);
    if (quick) return quick;
  }
  const cst: CST.Token[] = [];
  try {
    for (const t of new Parser().parse(text)) cst.push(t);
  } catch (e) {
    if (e instanceof RangeError) throw malformed('yaml', 'nesting too deep');
    throw e;
  }
  const deep = tooDeep(cst);
  if (deep !== undefined) src.fail(`nesting deeper than ${MAX_NESTING} levels`, deep);
  let docs: Document.Parsed[];
  try {
    docs = Array.from(new Composer({ schema: 'failsafe', uniqueKeys: false, keepSourceTokens: true, strict: true }).compose(cst, true, text.length));
  } catch (e) {
    if (e instanceof RangeError) throw malformed('yaml', 'nesting too deep');
    throw e;
  }
  for (const d of docs) {
    const err = d.errors[0];
    if (err) src.fail(describeError(err.code), err.pos[0]);
  }
  // A stream of only comments and blank lines has no document: yaml.v3 (and sops) fail on it.
  if (docs.length === 0 || (docs.length === 1 && docs[0]!.contents === null && !hasDocStart(cst))) {
    if (text.length === 0) return [];
    throw malformed('yaml', 'no yaml document in the input');
  }
  const loader = new Loader(src, docs, cst);
  return docs.map((d, i) => loader.document(d, i));
}

/**
 * Offset of a collection nested deeper than MAX_NESTING, found without recursion: the `yaml`
 * composer recurses per level, and deep enough input would exhaust the stack (or worse, V8
 * fails hard when a regular expression is compiled with no stack left).
 */
function tooDeep(tokens: readonly CST.Token[]): number | undefined {
  const stack: [CST.Token, number][] = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [t, d] = stack.pop()!;
    if (t.type === 'document') {
      if (t.value) stack.push([t.value, d]);
    } else if (t.type === 'block-map' || t.type === 'block-seq' || t.type === 'flow-collection') {
      if (d >= MAX_NESTING) return t.offset;
      for (const it of t.items) {
        if ('key' in it && it.key) stack.push([it.key, d + 1]);
        if (it.value) stack.push([it.value, d + 1]);
      }
    }
  }
  return undefined;
}

function hasDocStart(cst: CST.Token[]): boolean {
  return cst.some((t) => t.type === 'document' && t.start.some((s) => s.type === 'doc-start'));
}

function describeError(code: string): string {
  switch (code) {
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
    case 'BAD_SCALAR_START':
    case 'UNEXPECTED_TOKEN':
      return 'syntax error';
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return 'invalid mapping key';
    case 'RESOURCE_EXHAUSTION':
      return 'nesting too deep';
    case 'TAB_AS_INDENT':
      return 'tab used for indentation';
    case 'DUPLICATE_KEY':
      return 'duplicate key';
    case 'BAD_ALIAS':
      return 'unknown anchor';
    case 'BAD_DIRECTIVE':
      return 'invalid directive';
    case 'BAD_DQ_ESCAPE':
      return 'invalid escape in a double-quoted string';
    default:
      return `invalid yaml (${code.toLowerCase().replaceAll('_', ' ')})`;
  }
}

interface LeafToken {
  type: string;
  offset: number;
  source: string;
  /** For ":" of a block mapping item: offset of its key (or -1). */
  keyOffset?: number;
}

/** The CST as a flat list of its leaf tokens, in source order. */
function flatten(tokens: readonly CST.Token[]): LeafToken[] {
  const out: LeafToken[] = [];
  const src = (t: CST.SourceToken) => out.push({ type: t.type, offset: t.offset, source: t.source });
  const walk = (t: CST.Token | undefined, keyOffset = -1): void => {
    if (!t) return;
    switch (t.type) {
      case 'document':
        t.start.forEach(src);
        walk(t.value);
        t.end?.forEach(src);
        return;
      case 'doc-end':
        out.push({ type: 'doc-end', offset: t.offset, source: t.source });
        t.end?.forEach(src);
        return;
      case 'block-map':
      case 'block-seq':
        for (const it of t.items) {
          it.start.forEach(src);
          if ('key' in it) walk(it.key ?? undefined);
          if ('sep' in it && it.sep) {
            const k = 'key' in it && it.key ? it.key.offset : -1;
            for (const s of it.sep) {
              if (s.type === 'map-value-ind') out.push({ type: s.type, offset: s.offset, source: s.source, keyOffset: k });
              else src(s);
            }
          }
          walk(it.value ?? undefined, keyOffset);
        }
        return;
      case 'flow-collection':
        src(t.start);
        for (const it of t.items) {
          it.start.forEach(src);
          walk(it.key ?? undefined);
          it.sep?.forEach(src);
          walk(it.value ?? undefined);
        }
        t.end.forEach(src);
        return;
      case 'block-scalar':
        for (const p of t.props) walk(p);
        out.push({ type: 'block-scalar', offset: t.offset, source: t.source });
        return;
      case 'alias':
      case 'scalar':
      case 'single-quoted-scalar':
      case 'double-quoted-scalar':
        out.push({ type: t.type, offset: t.offset, source: t.source });
        t.end?.forEach(src);
        return;
      default:
        src(t as CST.SourceToken);
    }
  };
  tokens.forEach((t) => walk(t));
  return out;
}

const SPACE_TYPES = new Set(['space', 'newline', 'comment', 'byte-order-mark']);

class Loader {
  /** Comments of each collection (and of each document, keyed by the document). */
  private readonly placed = new Map<object, Placement[]>();
  private budget = ALIAS_BUDGET;
  private readonly leaves: LeafToken[];
  /** Offset of a scalar, alias or flow collection -> where it is (for comments on its line). */
  private readonly byOffset = new Map<number, { coll: Coll | undefined; index: number; role: 'key' | 'value' | 'item' }>();
  private readonly infos = new Map<Coll, CollInfo>();
  private flowEnds: Map<number, Coll> | undefined;

  constructor(
    private readonly src: YamlText,
    private readonly docs: Document.Parsed[],
    cst: CST.Token[],
  ) {
    this.leaves = flatten(cst);
  }

  document(doc: Document.Parsed, index: number): Branch {
    const root = doc.contents;
    if (root !== null && !isMap(root)) {
      const problem = isSeq(root) ? 'a document that is a list is not supported (sops needs a mapping)' : 'a document that is a single value is not supported (sops needs a mapping)';
      const isNull = isScalar(root) && scalarValue(this.src, root) === null;
      if (!isNull) this.src.fail(problem, root.range[0]);
    }
    const map = root !== null && isMap(root) ? root : undefined;
    if (index === 0 && map) this.checkUniqueKeys(map, 0);
    const info = map ? this.index(map, undefined, 0) : undefined;
    this.placeComments(doc, info);
    const items: Item[] = [];
    const docComments = this.placed.get(doc) ?? [];
    for (const p of docComments) items.push({ key: p.comment, value: null });
    if (map) {
      const b = this.toValue(map, 0);
      if (b instanceof Branch) items.push(...b.items);
    }
    return new Branch(items);
  }

  // --- structure

  /** Records the positions of a block collection and its nested ones. */
  private index(coll: Coll, parent: CollInfo | undefined, depth: number): CollInfo {
    if (depth > MAX_NESTING) throw malformed('yaml', `nesting deeper than ${MAX_NESTING} levels`);
    const tok = coll.srcToken;
    const starts: number[] = [];
    const children: (CollInfo | undefined)[] = [];
    const info: CollInfo = { coll, column: 0, indentless: false, starts, children };
    this.infos.set(coll, info);
    if (tok && (tok.type === 'block-map' || tok.type === 'block-seq')) {
      for (const it of tok.items) {
        const ind = it.start.find((s) => s.type === 'seq-item-ind' || s.type === 'explicit-key-ind');
        const key = 'key' in it ? it.key : undefined;
        const start = ind?.offset ?? key?.offset ?? it.value?.offset ?? ('sep' in it ? it.sep?.[0]?.offset : undefined);
        // The CST keeps comments after the last item as an item of their own: not an item.
        if (start !== undefined) starts.push(start);
      }
      info.column = this.src.where(starts[0] ?? tok.offset).column - 1;
      info.indentless = tok.type === 'block-seq' && parent !== undefined && isMap(parent.coll) && info.column === parent.column;
    }
    const items = coll.items as unknown[];
    items.forEach((it, i) => {
      if (isMap(coll)) {
        const pair = it as { key: YNode | null; value: YNode | null };
        if (pair.key && (isScalar(pair.key) || isAlias(pair.key))) this.byOffset.set(pair.key.range![0], { coll, index: i, role: 'key' });
        const v = pair.value;
        if (v && isRoleNode(v)) this.byOffset.set(v.range![0], { coll, index: i, role: 'value' });
        children[i] = v && (isMap(v) || isSeq(v)) ? this.index(v, info, depth + 1) : undefined;
        if (pair.key && (isMap(pair.key) || isSeq(pair.key))) this.index(pair.key, info, depth + 1);
      } else {
        const v = it as YNode | null;
        if (v && isRoleNode(v)) this.byOffset.set(v.range![0], { coll, index: i, role: 'item' });
        children[i] = v && (isMap(v) || isSeq(v)) ? this.index(v, info, depth + 1) : undefined;
      }
    });
    return info;
  }

  private isBlock(c: Coll): boolean {
    const t = c.srcToken?.type;
    return t === 'block-map' || t === 'block-seq';
  }

  // --- comments

  private add(target: object, index: number, comment: Comment): void {
    let list = this.placed.get(target);
    if (!list) this.placed.set(target, (list = []));
    list.push({ index, comment });
  }

  /** Finds the comments of one document and decides where each goes. */
  private placeComments(doc: Document.Parsed, root: CollInfo | undefined): void {
    // A document owns the comments up to its end (the `yaml` package counts the comments before
    // the next "---" in), the first one also those before it, as yaml.v3 does.
    const di = this.docs.indexOf(doc);
    const docStart = di === 0 ? 0 : this.docs[di - 1]!.range[2];
    const docEnd = di === this.docs.length - 1 ? Infinity : doc.range[2];
    const text = this.src.text;
    let run: RunLine[] = [];
    let lastLine = 0;
    for (let li = firstAtOrAfter(this.leaves, docStart); li < this.leaves.length; li++) {
      const leaf = this.leaves[li]!;
      if (leaf.offset >= docEnd) break;
      if (leaf.type === 'comment') {
        const comment = new Comment(leaf.source.slice(1));
        const lineStart = text.lastIndexOf('\n', leaf.offset - 1) + 1;
        const at = this.src.where(leaf.offset);
        if (text.slice(lineStart, leaf.offset).trim() !== '') {
          // On the line of some content: the token before it says what it comments.
          let p = li - 1;
          while (p >= 0 && SPACE_TYPES.has(this.leaves[p]!.type)) p--;
          this.placeTrailing(doc, root, this.leaves[p], comment, leaf.offset);
        } else {
          run.push({ comment, offset: leaf.offset, column: at.column - 1, blankBefore: at.line - lastLine > 1 });
        }
        lastLine = at.line;
      } else if (!SPACE_TYPES.has(leaf.type)) {
        if (run.length > 0) this.placeRun(doc, root, run);
        run = [];
        lastLine = this.src.where(leaf.offset + Math.max(leaf.source.length - 1, 0)).line;
      }
    }
    if (run.length > 0) {
      // The last comments of a document: is another document marker ("---", "...") coming?
      let k = firstAtOrAfter(this.leaves, run[run.length - 1]!.offset + 1);
      while (k < this.leaves.length && SPACE_TYPES.has(this.leaves[k]!.type)) k++;
      const after = this.leaves[k];
      this.placeRun(doc, root, run, after !== undefined);
    }
  }

  /**
   * Comment lines between two pieces of content. What yaml.v3 does, as observed against sops:
   * - before the first item of a nested block (after its "key:"): that block's head;
   * - when more content follows: a first group of lines goes to the end of the innermost block
   *   that closes here, unless it starts at the column of the next item (then it is that item's
   *   head); a later line that dedents to another column starts a group that goes to the
   *   closing block at exactly its column, or else before the next item;
   * - at the end of the document: lines right after the content go to the end of the innermost
   *   block whose column they reach (never deeper than the previous line); after a blank line,
   *   to the end of the document.
   */
  private placeRun(doc: Document.Parsed, root: CollInfo | undefined, run: RunLine[], marker = false): void {
    if (!root) {
      for (const l of run) this.add(doc, Number.MAX_SAFE_INTEGER, l.comment);
      return;
    }
    const first = run[0]!.offset;
    const chain: CollInfo[] = [];
    let c: CollInfo | undefined = root;
    while (c) {
      const i = lastBefore(c.starts, first);
      if (i === -1) break;
      chain.push(c);
      const child: CollInfo | undefined = c.children[i];
      if (!child || !this.isBlock(child.coll)) break;
      if ((child.starts[0] ?? Infinity) > first) {
        for (const l of run) this.add(child.coll, 0, l.comment);
        return;
      }
      c = child;
    }
    if (chain.length === 0) {
      for (const l of run) this.add(root.coll, 0, l.comment);
      return;
    }
    const hasNext = (ci: CollInfo) => lastBefore(ci.starts, first) < ci.starts.length - 1;
    let j = chain.length - 1;
    while (j >= 0 && !hasNext(chain[j]!)) j--;
    const end = (ci: CollInfo, comment: Comment) => this.add(ci.coll, ci.starts.length, comment);
    if (j < 0 && !marker) {
      // End of the stream.
      let level = chain.length - 1;
      const indent = chain[level]!.column;
      let groupColumn = run[0]!.column;
      run.forEach((l, i) => {
        if (l.blankBefore) level = 0;
        else if (i === 0 ? l.column < indent : l.column < indent && l.column !== groupColumn) {
          // A line dedented from the innermost block goes to the block at exactly its column,
          // or else to the end of the document.
          groupColumn = l.column;
          let k = level;
          while (k > 0 && (chain[k]!.column !== l.column || chain[k]!.indentless)) k--;
          level = k;
        }
        end(chain[level]!, l.comment);
      });
      return;
    }
    // Before the next item, or (at a document marker) at the end of the document.
    const next = j >= 0 ? chain[j]! : root;
    const nextIndex = j >= 0 ? lastBefore(next.starts, first) + 1 : root.starts.length;
    // An indentless list directly in the mapping that goes on has no end of its own here.
    const closing = chain.slice(j + 1).filter((ci, i) => !(i === 0 && ci.indentless) && ci !== root).reverse();
    const levels = [...closing, next];
    const last = levels.length - 1;
    const indent = levels[0]!.column;
    let level = run[0]!.column === next.column || closing.length === 0 ? last : 0;
    let groupColumn = run[0]!.column;
    run.forEach((l, i) => {
      if (i > 0 && l.column < indent && l.column !== groupColumn) {
        groupColumn = l.column;
        const k = levels.findIndex((ci, idx) => idx >= level && ci.column === l.column);
        level = k === -1 ? last : k;
      }
      if (level === last) this.add(next.coll, nextIndex, l.comment);
      else end(levels[level]!, l.comment);
    });
  }

  private placeTrailing(doc: Document.Parsed, root: CollInfo | undefined, prev: LeafToken | undefined, comment: Comment, offset: number): void {
    if (!prev) return this.placeLine(doc, root, comment, offset);
    switch (prev.type) {
      case 'scalar':
      case 'single-quoted-scalar':
      case 'double-quoted-scalar':
      case 'alias': {
        const role = this.byOffset.get(prev.offset);
        if (!role || !role.coll) return this.placeLine(doc, root, comment, offset);
        if (role.role === 'key') return this.add(role.coll, role.index, comment);
        return this.add(role.coll, role.index, new Comment(comment.value, true));
      }
      case 'block-scalar-header': {
        const role = this.byOffset.get(prev.offset);
        if (role?.coll) return this.add(role.coll, role.index, role.role === 'key' ? comment : new Comment(comment.value, true));
        return this.placeLine(doc, root, comment, offset);
      }
      case 'map-value-ind': {
        // `key: # comment` with the value below: a comment before the item.
        const role = prev.keyOffset !== undefined ? this.byOffset.get(prev.keyOffset) : undefined;
        if (role?.coll) {
          const pair = (role.coll as YAMLMap).items[role.index];
          const v = pair?.value as YNode | null | undefined;
          if (v && (isScalar(v) || isAlias(v))) return this.add(role.coll, role.index, new Comment(comment.value, true));
          return this.add(role.coll, role.index, comment);
        }
        return this.placeLine(doc, root, comment, offset);
      }
      case 'flow-seq-end':
      case 'flow-map-end': {
        // After "[...]" or "{...}": inside it, first, when it is a mapping value; an inline
        // comment before it when it is a list item.
        const coll = this.flowEndingAt(prev.offset);
        const role = coll?.range ? this.byOffset.get(coll.range[0]) : undefined;
        if (coll && role?.role === 'item' && role.coll) return this.add(role.coll, role.index, new Comment(comment.value, true));
        if (coll) return this.add(coll, 0, comment);
        return this.placeLine(doc, root, comment, offset);
      }
      case 'anchor':
      case 'tag':
      case 'seq-item-ind':
      case 'explicit-key-ind':
      case 'doc-start':
      default:
        return this.placeLine(doc, root, comment, offset);
    }
  }

  private flowEndingAt(offset: number): Coll | undefined {
    if (!this.flowEnds) {
      this.flowEnds = new Map();
      for (const c of this.infos.keys()) if (!this.isBlock(c) && c.range) this.flowEnds.set(c.range[1], c);
    }
    return this.flowEnds.get(offset + 1);
  }

  /** A comment whose place is not known from its line: treated as a line of its own. */
  private placeLine(doc: Document.Parsed, root: CollInfo | undefined, comment: Comment, offset: number): void {
    const at = this.src.where(offset);
    this.placeRun(doc, root, [{ comment, offset, column: at.column - 1, blankBefore: false }]);
  }

  // --- values

  private checkUniqueKeys(map: YAMLMap, depth: number): void {
    if (depth > MAX_NESTING) return;
    const seen = new Map<string, number>();
    for (const pair of map.items) {
      const k = pair.key as YNode | null;
      const id = k === null ? 's:' : isScalar(k) ? 's:' + String(k.value) : isAlias(k) ? 'a:' + k.source : isMap(k) ? 'm:' : 'q:';
      if (seen.has(id)) this.src.fail('duplicate key', k?.range?.[0] ?? map.range?.[0] ?? 0);
      seen.set(id, 1);
    }
    const visit = (v: unknown, d: number) => {
      if (isMap(v)) this.checkUniqueKeys(v, d + 1);
      else if (isSeq(v)) for (const x of v.items) visit(x, d + 1);
    };
    for (const pair of map.items) {
      visit(pair.key, depth);
      visit(pair.value, depth);
    }
  }

  private toValue(node: unknown, depth: number, expanding: Set<YNode> = new Set()): Value {
    if (depth > MAX_NESTING) throw malformed('yaml', `nesting deeper than ${MAX_NESTING} levels`);
    if (expanding.size > 0 && --this.budget < 0) throw malformed('yaml', 'aliases expand to too many values (an alias bomb?)');
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return this.alias(node, depth, expanding);
    if (isScalar(node)) return scalarValue(this.src, node);
    if (isMap(node)) {
      const items: Item[] = [];
      const comments = this.sorted(node);
      let ci = 0;
      node.items.forEach((pair, i) => {
        while (ci < comments.length && comments[ci]!.index <= i) items.push({ key: comments[ci++]!.comment, value: null });
        const key = this.key(pair.key as YNode | null, depth, expanding);
        items.push({ key, value: this.toValue(pair.value, depth + 1, expanding) });
      });
      while (ci < comments.length) items.push({ key: comments[ci++]!.comment, value: null });
      return new Branch(items);
    }
    if (isSeq(node)) {
      const out: Value[] = [];
      const comments = this.sorted(node);
      let ci = 0;
      node.items.forEach((item, i) => {
        while (ci < comments.length && comments[ci]!.index <= i) out.push(comments[ci++]!.comment);
        out.push(this.toValue(item, depth + 1, expanding));
      });
      while (ci < comments.length) out.push(comments[ci++]!.comment);
      return out;
    }
    throw malformed('yaml', 'unsupported node');
  }

  private sorted(target: object): Placement[] {
    const list = this.placed.get(target) ?? [];
    // Stable: comments keep their source order within a slot.
    return list.map((p, i) => ({ p, i })).sort((a, b) => a.p.index - b.p.index || a.i - b.i).map((x) => x.p);
  }

  private alias(node: Alias, depth: number, expanding: Set<YNode>): Value {
    const target = this.resolveAlias(node);
    if (expanding.has(target)) this.src.fail('an alias refers to its own anchor', node.range?.[0] ?? 0);
    expanding.add(target);
    try {
      return this.toValue(target, depth + 1, expanding);
    } finally {
      expanding.delete(target);
    }
  }

  private resolveAlias(node: Alias): YNode {
    for (const d of this.docs) {
      if (d.range[0] <= (node.range?.[0] ?? 0) && (node.range?.[0] ?? 0) < d.range[2]) {
        const t = node.resolve(d);
        if (t) return t;
      }
    }
    this.src.fail('unknown anchor', node.range?.[0] ?? 0);
  }

  private key(k: YNode | null, depth: number, expanding: Set<YNode>): string {
    const at = k?.range?.[0] ?? 0;
    const v = k === null ? null : isScalar(k) || isAlias(k) ? this.toValue(k, depth, expanding) : undefined;
    if (typeof v !== 'string') this.src.fail('a mapping key that is not a string (sops supports only string keys)', at);
    return v;
  }
}

/** Nodes whose first character identifies them: scalars, aliases, flow collections. */
function isRoleNode(v: YNode): boolean {
  return isScalar(v) || isAlias(v) || ((isMap(v) || isSeq(v)) && v.flow === true);
}

/** Index of the first leaf at or after `offset` (leaves are in source order). */
function firstAtOrAfter(leaves: LeafToken[], offset: number): number {
  let lo = 0;
  let hi = leaves.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (leaves[mid]!.offset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the last item starting before `offset` (-1 if none); starts are ascending. */
function lastBefore(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

const TAG_PREFIX = 'tag:yaml.org,2002:';

/** A scalar's value as yaml.v3 decodes it into an interface{}. */
function scalarValue(src: YamlText, node: Scalar): Leaf {
  // The text of the scalar as written (the `yaml` package resolves a few tags, !!binary among
  // them, even with the failsafe schema; yaml.v3's rules are applied here instead).
  const text = typeof node.value === 'string' ? node.value : node.srcToken && 'source' in node.srcToken ? (CST.resolveAsScalar(node.srcToken)?.value ?? '') : String(node.value);
  const at = node.range?.[0] ?? 0;
  const quoted = node.type !== 'PLAIN';
  let tag = node.tag;
  if (tag === '!') tag = undefined;
  const short = tag?.startsWith(TAG_PREFIX) ? '!!' + tag.slice(TAG_PREFIX.length) : tag;
  if (short === undefined) {
    if (quoted) return text;
    return checkInt(src, resolvePlain(text), at);
  }
  switch (short) {
    case '!!str':
      return text;
    case '!!binary': {
      // Go's base64 decoder skips line breaks, nothing else.
      const clean = text.replace(/[\r\n]/g, '');
      if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(clean)) src.fail('!!binary value contains invalid base64 data', at);
      const bytes = Buffer.from(clean, 'base64');
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        src.fail('!!binary value is not utf-8 text, which Keyward cannot keep', at);
      }
      break;
    }
    case '!!timestamp': {
      const t = parseTimestamp(text);
      if (t === undefined) src.fail('cannot decode this value as !!timestamp', at);
      return new Time(t);
    }
    case '!!null':
    case '!!bool':
    case '!!int':
    case '!!float': {
      const want = short.slice(2);
      const r = resolvePlain(text);
      if (want === 'float' && r.tag === 'int' && r.value instanceof Int) return new Float(Number(r.value.value));
      if (want === 'int' && r.tag === 'uint') return checkInt(src, r, at);
      if (r.tag !== want) src.fail(`cannot decode this value as ${short}`, at);
      return r.value;
    }
    default:
      // Other tags (local ones, !!map on a scalar, ...) leave the text as a string.
      return text;
  }
}

function checkInt(src: YamlText, r: ReturnType<typeof resolvePlain>, at: number): Leaf {
  if (r.tag === 'uint') src.fail('integer too large (sops cannot encrypt integers above 2^63-1)', at);
  return r.value;
}
