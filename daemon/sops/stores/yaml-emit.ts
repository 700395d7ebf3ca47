// Writes a sops tree as YAML, byte for byte as sops 3.13 does (stores/yaml/store.go on
// go.yaml.in/yaml/v3 with indent 4).
//
// Three steps, as in sops: (1) the tree becomes YAML nodes, comments attached the way sops
// attaches them (comments before the first key are the mapping's head comment, later ones the
// head of the next key, inline ones the line comment of the next value, trailing ones the foot
// of the last key); (2) the nodes become an event stream, with a key's foot comment carried to
// the next event as a "tail"; (3) an emitter writes the events. The emitter is written here
// because the `yaml` package's stringifier lays out documents, comments and quoting its own way,
// and sops' files must not change when Keyward rewrites them. It keeps libyaml's emitter state
// (column, indentation stack, pending comments, blank line after a foot comment) because the
// layout of comments depends on it, and covers what sops writes: block mappings and sequences,
// empty `{}`/`[]`, and plain, quoted and literal scalars. Lines are never wrapped (yaml.v3 sets
// no width).
import { Branch, Comment, type Branches, type Leaf, type Value } from '../tree';
import { analyzeScalar, encodeLeaf, isBreak, isPrintable, type ScalarAnalysis, type ScalarStyle } from './yaml-scalar';

const INDENT = 4;

interface Comments {
  head: string;
  line: string;
  foot: string;
}

interface YScalar extends Comments {
  kind: 'scalar';
  text: string;
  style: ScalarStyle;
}

interface YMap extends Comments {
  kind: 'map';
  pairs: [YScalar, YNode][];
}

interface YSeq extends Comments {
  kind: 'seq';
  items: YNode[];
}

type YNode = YScalar | YMap | YSeq;

// ---------------------------------------------------------------------------------------------
// (1) tree -> nodes, as sops' treeValueToNode, appendTreeBranch and appendSequence

const none = (): Comments => ({ head: '', line: '', foot: '' });

function joined(comments: string[]): string {
  return '#' + comments.join('\n#');
}

function addHead(n: Comments, comments: string[]): void {
  if (comments.length === 0) return;
  n.head = n.head ? joined(comments) + '\n' + n.head : joined(comments);
}

function addFoot(n: Comments, comments: string[]): void {
  if (comments.length === 0) return;
  n.foot = n.foot ? n.foot + '\n' + joined(comments) : joined(comments);
}

function addLine(n: Comments, comments: string[]): void {
  if (comments.length === 0) return;
  n.line = n.line ? n.line + '\n' + joined(comments) : joined(comments);
}

function scalarNode(v: Leaf): YScalar {
  const { text, style } = encodeLeaf(v);
  return { kind: 'scalar', text, style, ...none() };
}

function valueNode(v: Value): YNode {
  if (v instanceof Branch) return mappingNode(v);
  if (Array.isArray(v)) return sequenceNode(v);
  // A comment as a value never comes out of a store; sops would write its struct fields.
  if (v instanceof Comment) return scalarNode(v.value);
  return scalarNode(v);
}

function mappingNode(branch: Branch): YMap {
  const m: YMap = { kind: 'map', pairs: [], ...none() };
  let head: string[] = [];
  let inline: string[] = [];
  let beginning = true;
  for (const item of branch.items) {
    if (item.key instanceof Comment) {
      (item.key.inline ? inline : head).push(item.key.value);
      continue;
    }
    if (beginning) {
      addHead(m, head);
      head = [];
      beginning = false;
    }
    const k = scalarNode(item.key);
    addHead(k, head);
    head = [];
    const v = valueNode(item.value);
    addLine(v, inline);
    inline = [];
    m.pairs.push([k, v]);
  }
  head = [...head, ...inline];
  if (head.length > 0) {
    if (beginning) addHead(m, head);
    else addFoot(m.pairs[m.pairs.length - 1]![0], head);
  }
  return m;
}

function sequenceNode(list: Value[]): YSeq {
  const s: YSeq = { kind: 'seq', items: [], ...none() };
  let head: string[] = [];
  let inline: string[] = [];
  let beginning = true;
  for (const item of list) {
    if (item instanceof Comment) {
      (item.inline ? inline : head).push(item.value);
      continue;
    }
    if (beginning) {
      addHead(s, head);
      head = [];
      beginning = false;
    }
    const n = valueNode(item);
    addHead(n, head);
    head = [];
    addLine(n, inline);
    inline = [];
    s.items.push(n);
  }
  head = [...head, ...inline];
  if (head.length > 0) {
    if (beginning) addHead(s, head);
    else addFoot(s.items[s.items.length - 1]!, head);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// (2) nodes -> events, as yaml.v3's encoder.node

type Ev =
  | { t: 'docStart' }
  | { t: 'docEnd' }
  | { t: 'streamEnd' }
  | { t: 'mapStart'; head: string; tail: string }
  | { t: 'mapEnd'; tail: string; line: string; foot: string }
  | { t: 'seqStart'; head: string }
  | { t: 'seqEnd'; line: string; foot: string }
  | { t: 'scalar'; text: string; style: ScalarStyle; head: string; line: string; foot: string; tail: string };

function events(n: YNode, tail: string, out: Ev[]): void {
  if (n.kind === 'scalar') {
    out.push({ t: 'scalar', text: n.text, style: n.style, head: n.head, line: n.line, foot: n.foot, tail });
  } else if (n.kind === 'seq') {
    out.push({ t: 'seqStart', head: n.head });
    for (const item of n.items) events(item, '', out);
    out.push({ t: 'seqEnd', line: n.line, foot: n.foot });
  } else {
    out.push({ t: 'mapStart', head: n.head, tail });
    // A key's foot comment is written after its value: it travels as the next event's tail.
    let t = '';
    for (const [k, v] of n.pairs) {
      events({ ...k, foot: '' }, t, out);
      t = k.foot;
      events(v, '', out);
    }
    out.push({ t: 'mapEnd', tail: t, line: n.line, foot: n.foot });
  }
}

// ---------------------------------------------------------------------------------------------
// (3) the emitter

type State =
  | 'firstDocStart'
  | 'docStart'
  | 'docContent'
  | 'docEnd'
  | 'flowSeqFirst'
  | 'flowMapFirst'
  | 'blockSeqFirst'
  | 'blockSeqItem'
  | 'blockMapFirstKey'
  | 'blockMapKey'
  | 'blockMapSimpleValue'
  | 'blockMapValue'
  | 'end';

class Emitter {
  private out: string[] = [];
  private column = 0;
  private indent = -1;
  private readonly indents: number[] = [];
  private readonly states: State[] = [];
  private state: State = 'firstDocStart';
  private whitespace = true;
  private indention = true;
  private footIndent = -1;
  private flowLevel = 0;
  // Comments waiting to be written: they stay pending across events, as in libyaml.
  private head = '';
  private line = '';
  private foot = '';
  private tail = '';
  private keyLine = '';
  private simpleKey = false;
  private analysis: ScalarAnalysis = analyzeScalar('');
  private pos = 0;

  constructor(private readonly evs: Ev[]) {}

  run(): string {
    for (this.pos = 0; this.pos < this.evs.length; this.pos++) {
      const ev = this.evs[this.pos]!;
      if ('head' in ev && ev.head) this.head = ev.head;
      if ('line' in ev && ev.line) this.line = ev.line;
      if ('foot' in ev && ev.foot) this.foot = ev.foot;
      if ('tail' in ev && ev.tail) this.tail = ev.tail;
      if (ev.t === 'scalar') this.analysis = analyzeScalar(ev.text);
      this.dispatch(ev);
    }
    return this.out.join('');
  }

  private dispatch(ev: Ev): void {
    switch (this.state) {
      case 'firstDocStart':
      case 'docStart':
        return this.documentStart(ev, this.state === 'firstDocStart');
      case 'docContent':
        this.states.push('docEnd');
        this.processHead();
        this.node(ev, false, false);
        this.processLine();
        this.processFoot();
        return;
      case 'docEnd':
        this.footIndent = 0;
        this.processFoot();
        this.footIndent = -1;
        this.writeIndent();
        this.state = 'docStart';
        return;
      case 'flowSeqFirst':
      case 'flowMapFirst':
        return this.emptyFlow(this.state === 'flowMapFirst');
      case 'blockSeqFirst':
      case 'blockSeqItem':
        return this.sequenceItem(ev, this.state === 'blockSeqFirst');
      case 'blockMapFirstKey':
      case 'blockMapKey':
        return this.mappingKey(ev, this.state === 'blockMapFirstKey');
      case 'blockMapSimpleValue':
      case 'blockMapValue':
        return this.mappingValue(ev, this.state === 'blockMapSimpleValue');
      case 'end':
        throw new Error('yaml emitter: event after the end of the stream');
    }
  }

  private documentStart(ev: Ev, first: boolean): void {
    if (ev.t === 'streamEnd') {
      this.state = 'end';
      return;
    }
    if (!first) {
      this.writeIndent();
      this.writeIndicator('---', true, false, false);
      this.writeIndent();
    }
    this.state = 'docContent';
  }

  /** `[]` or `{}`: sops writes an empty list or mapping in flow style. */
  private emptyFlow(map: boolean): void {
    this.writeIndicator(map ? '{' : '[', true, true, false);
    this.increaseIndent(true, false);
    this.flowLevel++;
    if (map) this.processHead();
    this.flowLevel--;
    this.indent = this.indents.pop()!;
    if (!map && this.column === 0) this.writeIndent();
    this.writeIndicator(map ? '}' : ']', false, false, false);
    this.processLine();
    this.processFoot();
    this.state = this.states.pop()!;
  }

  private sequenceItem(ev: Ev, first: boolean): void {
    if (first) this.increaseIndent(false, false);
    if (ev.t === 'seqEnd') {
      this.indent = this.indents.pop()!;
      this.state = this.states.pop()!;
      return;
    }
    this.processHead();
    this.writeIndent();
    this.writeIndicator('-', true, false, true);
    this.states.push('blockSeqItem');
    this.node(ev, false, false);
    this.processLine();
    this.processFoot();
  }

  private mappingKey(ev: Ev, first: boolean): void {
    if (first) this.increaseIndent(false, false);
    this.processHead();
    if (ev.t === 'mapEnd') {
      this.indent = this.indents.pop()!;
      this.state = this.states.pop()!;
      return;
    }
    this.writeIndent();
    if (this.line) {
      // A line comment on a key is kept aside and written after the value's indicator.
      this.keyLine = this.line;
      this.line = '';
    }
    if (this.isSimpleKey(ev)) {
      this.states.push('blockMapSimpleValue');
      this.node(ev, true, true);
    } else {
      this.writeIndicator('?', true, false, true);
      this.states.push('blockMapValue');
      this.node(ev, true, false);
    }
  }

  private mappingValue(ev: Ev, simple: boolean): void {
    if (simple) this.writeIndicator(':', false, false, false);
    else {
      this.writeIndent();
      this.writeIndicator(':', true, false, true);
    }
    if (this.keyLine) {
      if (ev.t === 'scalar') {
        if (!this.line) {
          this.line = this.keyLine;
          this.keyLine = '';
        }
      } else if (ev.t === 'mapStart' || ev.t === 'seqStart') {
        const line = this.line;
        this.line = this.keyLine;
        this.processLine();
        this.line = line;
        this.keyLine = '';
      }
    }
    this.states.push('blockMapKey');
    this.node(ev, true, false);
    this.processLine();
    this.processFoot();
  }

  private node(ev: Ev, _mapping: boolean, simpleKey: boolean): void {
    this.simpleKey = simpleKey;
    const next = this.evs[this.pos + 1];
    switch (ev.t) {
      case 'scalar':
        return this.scalar(ev);
      case 'seqStart':
        this.state = this.flowLevel > 0 || next?.t === 'seqEnd' ? 'flowSeqFirst' : 'blockSeqFirst';
        return;
      case 'mapStart':
        this.state = this.flowLevel > 0 || next?.t === 'mapEnd' ? 'flowMapFirst' : 'blockMapFirstKey';
        return;
      default:
        throw new Error(`yaml emitter: unexpected ${ev.t}`);
    }
  }

  private isSimpleKey(ev: Ev): boolean {
    const next = this.evs[this.pos + 1];
    if (ev.t === 'scalar') return !this.analysis.multiline && Buffer.byteLength(ev.text) <= 128;
    if (ev.t === 'seqStart') return next?.t === 'seqEnd';
    if (ev.t === 'mapStart') return next?.t === 'mapEnd';
    return false;
  }

  private scalar(ev: Extract<Ev, { t: 'scalar' }>): void {
    const a = this.analysis;
    let style = ev.style;
    if (this.simpleKey && a.multiline) style = 'double';
    if (style === 'plain') {
      if ((this.flowLevel > 0 && !a.flowPlain) || (this.flowLevel === 0 && !a.blockPlain)) style = 'single';
      if (ev.text.length === 0 && (this.flowLevel > 0 || this.simpleKey)) style = 'single';
    }
    if (style === 'single' && !a.single) style = 'double';
    if (style === 'literal' && (!a.block || this.flowLevel > 0 || this.simpleKey)) style = 'double';
    this.increaseIndent(true, false);
    switch (style) {
      case 'plain':
        // yaml.v3 resolves a plain `<<` to the merge tag, so it writes the string "<<" (a key
        // or a value) with that tag: `!!merge <<`. sops prints it so; so do we.
        this.writePlain(ev.text === '<<' ? '!!merge <<' : ev.text);
        break;
      case 'single':
        this.writeSingle(ev.text);
        break;
      case 'double':
        this.writeDouble(ev.text);
        break;
      case 'literal':
        this.writeLiteral(ev.text);
        break;
    }
    this.indent = this.indents.pop()!;
    this.state = this.states.pop()!;
  }

  private increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? INDENT : 0;
    else if (!indentless) {
      // In a sequence item the first level only skips the "- "; everything else aligns to
      // the next multiple of the indentation.
      if (this.states[this.states.length - 1] === 'blockSeqItem') this.indent += 2;
      else this.indent = INDENT * Math.floor((this.indent + INDENT) / INDENT);
    }
  }

  // --- writing

  private put(s: string): void {
    this.out.push(s);
    this.column += s.length;
  }

  /** One character of content (a code point counts as one column, as libyaml counts). */
  private writeChar(cp: number): void {
    this.out.push(String.fromCodePoint(cp));
    this.column++;
  }

  private putBreak(): void {
    this.out.push('\n');
    this.column = 0;
    this.indention = true;
  }

  private writeBreak(cp: number): void {
    if (cp === 0x0a) return this.putBreak();
    this.writeChar(cp);
    this.column = 0;
    this.indention = true;
  }

  private writeIndent(): void {
    const indent = Math.max(this.indent, 0);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.putBreak();
    // A blank line after a foot comment at this indentation.
    if (this.footIndent === indent) this.putBreak();
    while (this.column < indent) this.put(' ');
    this.whitespace = true;
    this.footIndent = -1;
  }

  private writeIndicator(ind: string, needWhitespace: boolean, isWhitespace: boolean, isIndention: boolean): void {
    if (needWhitespace && !this.whitespace) this.put(' ');
    this.put(ind);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
  }

  private writeComment(comment: string): void {
    let breaks = false;
    let pound = false;
    for (const ch of comment) {
      const cp = ch.codePointAt(0)!;
      if (isBreak(cp)) {
        this.writeBreak(cp);
        breaks = true;
        pound = false;
        continue;
      }
      if (breaks) this.writeIndent();
      if (!pound) {
        if (ch !== '#') this.put('# ');
        pound = true;
      }
      this.writeChar(cp);
      this.indention = false;
      breaks = false;
    }
    if (!breaks) this.putBreak();
    this.whitespace = true;
  }

  private processHead(): void {
    if (this.tail) {
      this.writeIndent();
      this.writeComment(this.tail);
      this.tail = '';
      this.footIndent = Math.max(this.indent, 0);
    }
    if (!this.head) return;
    this.writeIndent();
    this.writeComment(this.head);
    this.head = '';
  }

  private processLine(linebreak = false): void {
    if (!this.line) {
      if (linebreak) this.putBreak();
      return;
    }
    if (!this.whitespace) this.put(' ');
    this.writeComment(this.line);
    this.line = '';
  }

  private processFoot(): void {
    if (!this.foot) return;
    this.writeIndent();
    this.writeComment(this.foot);
    this.foot = '';
    this.footIndent = Math.max(this.indent, 0);
  }

  /** A run of content characters at once (each code point one column). */
  private writeRun(text: string): void {
    if (text.length === 0) return;
    this.out.push(text);
    this.column += codePoints(text);
  }

  private writePlain(text: string): void {
    if (text.length > 0 && !this.whitespace) this.put(' ');
    this.writeRun(text);
    if (text.length > 0) this.whitespace = false;
    this.indention = false;
  }

  private writeSingle(text: string): void {
    this.writeIndicator("'", true, false, false);
    if (!BREAKS.test(text)) {
      // One line: the text with its quotes doubled.
      this.writeRun(text.replace(/'/g, "''"));
      this.writeIndicator("'", false, false, false);
      this.whitespace = false;
      this.indention = false;
      return;
    }
    let breaks = false;
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0x20) {
        this.writeChar(cp);
      } else if (isBreak(cp)) {
        if (!breaks && cp === 0x0a) this.putBreak();
        this.writeBreak(cp);
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (ch === "'") this.put("'");
        this.writeChar(cp);
        this.indention = false;
        breaks = false;
      }
    }
    this.writeIndicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeDouble(text: string): void {
    this.writeIndicator('"', true, false, false);
    // Runs of characters that need no escape are written at once.
    let run = 0;
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      const next = i + (cp > 0xffff ? 2 : 1);
      if (!isPrintable(cp) || cp === 0xfeff || isBreak(cp) || cp === 0x22 || cp === 0x5c) {
        this.writeRun(text.slice(run, i));
        this.put(escapeDouble(cp));
        run = next;
      }
      i = next;
    }
    this.writeRun(text.slice(run));
    this.writeIndicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeLiteral(text: string): void {
    this.writeIndicator('|', true, false, false);
    const cps = Array.from(text, (c) => c.codePointAt(0)!);
    const firstCp = cps[0];
    if (firstCp !== undefined && (firstCp === 0x20 || isBreak(firstCp))) this.writeIndicator(String(INDENT), false, false, false);
    let chomp = '';
    const last = cps[cps.length - 1];
    if (last === undefined || !isBreak(last)) chomp = '-';
    else if (cps.length === 1 || isBreak(cps[cps.length - 2]!)) chomp = '+';
    if (chomp) this.writeIndicator(chomp, false, false, false);
    this.processLine(true);
    this.whitespace = true;
    let breaks = true;
    for (const cp of cps) {
      if (isBreak(cp)) {
        this.writeBreak(cp);
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.writeChar(cp);
        this.indention = false;
        breaks = false;
      }
    }
  }
}

/** The characters libyaml writes as line breaks. */
const BREAKS = /[\n\r\u0085\u2028\u2029]/;

/** Columns a run of text takes: one per code point (a lone surrogate counts as one). */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

const SHORT_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x00, '0'], [0x07, 'a'], [0x08, 'b'], [0x09, 't'], [0x0a, 'n'], [0x0b, 'v'], [0x0c, 'f'], [0x0d, 'r'],
  [0x1b, 'e'], [0x22, '"'], [0x5c, '\\'], [0x85, 'N'], [0xa0, '_'], [0x2028, 'L'], [0x2029, 'P'],
]);

function escapeDouble(cp: number): string {
  const short = SHORT_ESCAPES.get(cp);
  if (short !== undefined) return '\\' + short;
  const hex = cp.toString(16).toUpperCase();
  if (cp <= 0xff) return '\\x' + hex.padStart(2, '0');
  if (cp <= 0xffff) return '\\u' + hex.padStart(4, '0');
  return '\\U' + hex.padStart(8, '0');
}

/** sops' EmitPlainFile: one document per branch, each a block mapping. */
export function emitYamlDocuments(branches: Branches): string {
  const evs: Ev[] = [];
  for (const b of branches) {
    evs.push({ t: 'docStart' });
    events(mappingNode(b), '', evs);
    evs.push({ t: 'docEnd' });
  }
  evs.push({ t: 'streamEnd' });
  return new Emitter(evs).run();
}

/** sops' EmitValue: yaml.Marshal of one value's node. */
export function emitYamlValue(v: Value): string {
  const evs: Ev[] = [{ t: 'docStart' }];
  events(valueNode(v), '', evs);
  evs.push({ t: 'docEnd' }, { t: 'streamEnd' });
  return new Emitter(evs).run();
}
