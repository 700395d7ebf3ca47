// The scanner: runs every rule over a text and turns matches into findings (positions,
// fingerprint, redacted form), after the allowlists that live in the text itself
// (placeholder values, `keyward:allow` comments). Path allowlists and the baseline are
// applied by the callers that know paths (run.ts, handlers.ts).

import { findAssignments, type Assignment } from './assignments';
import { DecodeBudget, decodedValue, encodedSegments, type DecodedSegment } from './encoded';
import { fingerprint } from './fingerprint';
import { KeywordSet } from './keywords';
import { isKnownPublic } from './known';
import { notebookParts, type NotebookPart } from './notebook';
import { isPlaceholder } from './placeholders';
import { redact } from './redact';
import { ASSIGNMENT_RULES, PATTERN_RULES } from './rules';
import { genericSecret } from './rules/generic';
import type { Encoding, Finding, NotebookCell, RuleContext, Severity } from './types';

export interface ScanTextOptions {
  /** POSIX path relative to the scan root: decides code vs config style and lockfiles, and enters the fingerprint. */
  path?: string;
  /** A VS Code language id, when there is no path (or to override the extension). */
  languageId?: string;
  /** The commit that added the text (`--since`). */
  commit?: string;
  /** Decoded bytes this text may cost (encoded.ts); a test reads what was spent. */
  budget?: DecodeBudget;
}

/** The inline allowlist marker: on the secret's line, or `keyward:allow-next-line` on the line above. */
export const ALLOW_MARKER = 'keyward:allow';
const ALLOW_NEXT = 'keyward:allow-next-line';

interface Hit {
  ruleId: string;
  description: string;
  severity: Severity;
  priority: number;
  start: number;
  end: number;
  /** The secret, when the text at start..end is an encoding of it (a JSON string in a notebook, base64). */
  secret?: string;
  cell?: NotebookCell;
  /** Found in a decoded segment: its encodings, outermost first. */
  decoded?: Encoding[];
}

export function scanText(text: string, opts: ScanTextOptions = {}): Finding[] {
  const path = opts.path ?? '';
  const fileName = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const budget = opts.budget ?? new DecodeBudget();
  if (fileName.endsWith('.ipynb') || opts.languageId === 'jupyter') {
    const parts = notebookParts(text);
    if (parts) return scanNotebook(text, parts, { path, fileName, budget }, opts.commit);
  }
  const hits = findHits(text, { path, fileName, languageId: opts.languageId, budget });
  if (hits.length === 0) return [];
  return toFindings(text, dropOverlaps(hits), path, opts.commit);
}

let keywords: KeywordSet | null = null;

/** The keywords of every pattern rule, compiled once. */
function keywordSet(): KeywordSet {
  keywords ??= new KeywordSet(PATTERN_RULES.flatMap((r) => r.keywords ?? []));
  return keywords;
}

interface HitOptions {
  path: string;
  fileName: string;
  languageId?: string | undefined;
  budget: DecodeBudget;
  /** Encodings this text is already inside (0 for a file's own text). */
  depth?: number;
  /** Strict rules only, whatever the name says (decoded text that is generated). */
  strict?: boolean;
}

/** Every rule's matches in `text`, and in what its encoded segments decode to, before overlaps are resolved. */
function findHits(text: string, o: HitOptions): Hit[] {
  const { path, fileName, languageId } = o;
  const lockfile = LOCKFILES.has(fileName);
  const ctx: RuleContext = { text, path, fileName, style: styleFor(fileName, languageId), lockfile, strict: o.strict === true || lockfile || generated(fileName, text, languageId) };

  const hits: Hit[] = [];
  const present = keywordSet().presentIn(text);
  for (const rule of PATTERN_RULES) {
    if (ctx.strict && !rule.strict) continue;
    if (rule.keywords && !rule.keywords.some((k) => present.has(k))) continue;
    rule.scan(ctx, (m) => {
      if (!rule.noPlaceholderCheck && isPlaceholder(text.slice(m.start, m.end))) return;
      if (markedExample(text, m.start)) return;
      if (inBase64Block(text, m.start, m.end)) return;
      hits.push({ ruleId: rule.id, description: rule.description, severity: m.severity ?? rule.severity, priority: rule.priority, start: m.start, end: m.end });
    });
  }
  if (!ctx.strict) {
    findAssignments(ctx, (a) => {
      if (!a.value) return;
      judgeDecodedValue(a, ctx, o.budget, hits);
      for (const rule of ASSIGNMENT_RULES) {
        const v = rule.judge(a, ctx);
        if (v === false) continue;
        if (!rule.noPlaceholderCheck && isPlaceholder(a.value)) return;
        if (markedExample(text, a.nameStart)) return;
        hits.push({ ruleId: rule.id, description: rule.description, severity: v === true ? rule.severity : v, priority: rule.priority, start: a.start, end: a.end });
        return;
      }
    });
  }
  // Generated text (lockfiles, bundles, source maps) is not decoded: its base64 is data URIs,
  // inline maps and integrity hashes, and its strict rules already see what a prefix marks.
  const depth = o.depth ?? 0;
  if (!ctx.strict && depth < MAX_DECODE_DEPTH) hits.push(...decodedHits(text, o, depth + 1));
  return hits;
}

/**
 * A value assigned in base64 (`AWS_SECRET_ACCESS_KEY: <base64>` in a Kubernetes Secret's
 * `data:`): what it decodes to is judged by the rules of a service's secret by its name, so the
 * finding says what it is. The generic rule judges the value as written (it already flags a
 * random value under a secret's name), not twice.
 */
function judgeDecodedValue(a: Assignment, ctx: RuleContext, budget: DecodeBudget, hits: Hit[]): void {
  const plain = decodedValue(a.value, budget);
  if (plain === null || isPlaceholder(plain) || markedExample(ctx.text, a.nameStart)) return;
  const d: Assignment = { ...a, value: plain };
  for (const rule of ASSIGNMENT_RULES) {
    if (rule === genericSecret) continue;
    const v = rule.judge(d, ctx);
    if (v === false) continue;
    hits.push({ ruleId: rule.id, description: rule.description, severity: v === true ? rule.severity : v, priority: rule.priority, start: a.start, end: a.end, secret: plain, decoded: ['base64'] });
    return;
  }
}

/**
 * Encodings looked through, one inside another: base64 of a `.dockerconfigjson` whose `auth` is
 * base64 again is one (the Docker rule reads its `auth`), a base64 `.env` in a base64 Secret two.
 */
export const MAX_DECODE_DEPTH = 2;
/** Decoded text whose lines average this many characters is generated (a source map, a bundle): strict rules only. */
const DECODED_GENERATED_LINE = 250;

/**
 * The hits in what `text`'s encoded segments decode to, moved back to the encoded text. The
 * segments are scanned as one text (one pass of the rules however many there are), blank lines
 * between them; a hit that runs from one into the next is dropped. Decoded text has no file
 * name: its values count bare (config style), and its own names, not the encoded value's,
 * are what the assignment rules judge.
 */
function decodedHits(text: string, o: HitOptions, depth: number): Hit[] {
  const segs = encodedSegments(text, o.budget);
  if (segs.length === 0) return [];
  const loose: DecodedSegment[] = [];
  const gen: DecodedSegment[] = [];
  for (const s of segs) (looksGenerated(s.text) ? gen : loose).push(s);
  const out: Hit[] = [];
  for (const [group, strict] of [[loose, false], [gen, true]] as const) {
    if (group.length === 0) continue;
    const bases: number[] = [];
    let joined = '';
    for (const s of group) {
      if (joined) joined += '\n\n';
      bases.push(joined.length);
      joined += s.text;
    }
    for (const h of findHits(joined, { path: o.path, fileName: '', budget: o.budget, depth, strict })) {
      let k = bases.length - 1;
      while (k > 0 && bases[k]! > h.start) k--;
      const seg = group[k]!;
      const base = bases[k]!;
      if (h.end > base + seg.text.length) continue;
      // A key block that starts a base64 segment is private-key-base64's to judge (its body's entropy, in the file's own text).
      if (h.start === base && seg.encoding === 'base64' && seg.text.startsWith('-----BEGIN ')) continue;
      const [start, end] = seg.span(h.start - base, h.end - base);
      out.push({ ...h, start, end, secret: h.secret ?? joined.slice(h.start, h.end), decoded: [seg.encoding, ...(h.decoded ?? [])] });
    }
  }
  return out;
}

function looksGenerated(s: string): boolean {
  if (s.length < 4 * DECODED_GENERATED_LINE) return false;
  let lines = 1;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) lines++;
  return s.length / lines > DECODED_GENERATED_LINE;
}

/** Words that present what follows as an illustration: `e.g. shpat_...`, `for example: ghp_...`. */
const EXAMPLE_MARK = /\b(?:e\.g\.|i\.e\.|for (?:example|instance)|such as)[\s:)(,{["'-]{0,4}$/i;

/** The secret at `start` follows an example marker on its line (within 40 characters). */
function markedExample(text: string, start: number): boolean {
  const lo = Math.max(0, start - 40);
  const before = text.slice(lo, start);
  const nl = before.lastIndexOf('\n');
  return EXAMPLE_MARK.test(nl < 0 ? before : before.slice(nl + 1));
}

/** A full line of a base64 block: 64 (PEM) or 76 (MIME) characters. */
const B64_LINE = /^[A-Za-z0-9+/]{62,76}={0,2}$/;
/** A base64 line of any length, up to a full one (a block's last line is shorter). */
const B64_ANY = /^[A-Za-z0-9+/]{4,76}={0,2}$/;

/**
 * The match lies within a line of a base64 block (the body of a certificate or of any DER or
 * binary blob, the line above of the same width or the line below base64 too): a run of the
 * blob that happens to have a token's shape (`AAAAAAAAAAAAAAAAAAAAA...` of a certificate), not one.
 */
function inBase64Block(text: string, start: number, end: number): boolean {
  // The line's ends are looked for near the match only (a base64 line is short): a long line of many matches costs no more per match.
  const lo = Math.max(0, start - 100);
  const back = text.slice(lo, start).lastIndexOf('\n');
  if (back < 0 && lo > 0) return false;
  const ls = lo + back + 1;
  const fwd = text.slice(start, start + 100).indexOf('\n');
  if (fwd < 0 && start + 100 < text.length) return false;
  const le = fwd < 0 ? text.length : start + fwd;
  if (end > le) return false;
  const line = text.slice(ls, le).trim();
  if ((line.length !== 64 && line.length !== 76) || !B64_LINE.test(line)) return false;
  const pl = Math.max(0, ls - 100);
  const prev = ls > 0 ? text.slice(pl + text.slice(pl, ls - 1).lastIndexOf('\n') + 1, ls - 1).trim() : '';
  if (prev.length === line.length && B64_LINE.test(prev)) return true;
  const next = text.slice(le + 1, le + 100);
  const nl = next.indexOf('\n');
  return le < text.length && B64_ANY.test((nl < 0 ? next : next.slice(0, nl)).trim());
}

/**
 * A notebook: each cell's source and text outputs are scanned as their own texts (with the
 * cell's language), and the hits are moved back to offsets in the file.
 */
function scanNotebook(raw: string, parts: readonly NotebookPart[], o: HitOptions, commit: string | undefined): Finding[] {
  const all: Hit[] = [];
  for (const p of parts) {
    for (const h of dropOverlaps(findHits(p.text, { ...o, languageId: p.languageId }))) {
      let line = 1;
      for (let i = p.text.indexOf('\n'); i >= 0 && i < h.start; i = p.text.indexOf('\n', i + 1)) line++;
      all.push({ ...h, start: p.offsets[h.start]!, end: p.offsets[h.end]!, secret: h.secret ?? p.text.slice(h.start, h.end), cell: { index: p.cell, line, output: p.kind === 'output' } });
    }
  }
  if (all.length === 0) return [];
  all.sort((a, b) => a.start - b.start);
  return toFindings(raw, all, o.path, commit);
}

/**
 * Of overlapping hits, the one of the highest priority (then the earliest, then the one found
 * undecoded, then the longest) is kept: a secret found both as written and in what its
 * encoding decodes to is reported once. `out` never holds two overlapping hits and is sorted by start, so its ends are
 * sorted too: the walk back stops at the first hit that ends before this one starts.
 */
function dropOverlaps(hits: Hit[]): Hit[] {
  hits.sort((a, b) => a.start - b.start || b.priority - a.priority || (a.decoded ? 1 : 0) - (b.decoded ? 1 : 0) || b.end - b.start - (a.end - a.start));
  const out: Hit[] = [];
  for (const h of hits) {
    let dominated = false;
    let i = out.length - 1;
    const beaten: number[] = [];
    for (; i >= 0; i--) {
      const o = out[i]!;
      if (o.end <= h.start) break;
      if (o.priority >= h.priority) {
        dominated = true;
        break;
      }
      beaten.push(i);
    }
    if (dominated) continue;
    for (const j of beaten) out.splice(j, 1);
    out.push(h);
  }
  return out;
}

/**
 * `keyward:allow` on the secret's line, or `keyward:allow-next-line` on the line above. The
 * markers are found in one pass; each line's bounds are looked up once, however many
 * findings it holds (a minified file is one long line).
 */
class InlineAllow {
  private readonly plain: number[] = [];
  private readonly next: number[] = [];
  private readonly ends = new Map<number, number>();

  constructor(private readonly text: string) {
    for (let i = text.indexOf(ALLOW_MARKER); i >= 0; i = text.indexOf(ALLOW_MARKER, i + 1)) {
      (text.startsWith(ALLOW_NEXT, i) ? this.next : this.plain).push(i);
    }
  }

  get none(): boolean {
    return this.plain.length === 0 && this.next.length === 0;
  }

  allowed(lineStart: number): boolean {
    if (this.none) return false;
    if (anyIn(this.plain, lineStart, this.lineEnd(lineStart))) return true;
    if (lineStart === 0 || this.next.length === 0) return false;
    const prev = this.text.lastIndexOf('\n', lineStart - 2) + 1;
    return anyIn(this.next, prev, lineStart);
  }

  private lineEnd(start: number): number {
    let e = this.ends.get(start);
    if (e === undefined) {
      e = this.text.indexOf('\n', start);
      if (e < 0) e = this.text.length;
      this.ends.set(start, e);
    }
    return e;
  }
}

/** Whether sorted `xs` holds a value in [lo, hi). */
function anyIn(xs: readonly number[], lo: number, hi: number): boolean {
  let a = 0;
  let b = xs.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (xs[m]! < lo) a = m + 1;
    else b = m;
  }
  return a < xs.length && xs[a]! < hi;
}

function toFindings(text: string, hits: Hit[], path: string, commit: string | undefined): Finding[] {
  // Line and column of every start and end, in one pass over the text.
  const points = [...new Set(hits.flatMap((h) => [h.start, h.end]))].sort((a, b) => a - b);
  const pos = new Map<number, { line: number; column: number }>();
  let line = 1;
  let lineStart = 0;
  let nextNl = text.indexOf('\n');
  for (const p of points) {
    while (nextNl >= 0 && nextNl < p) {
      line++;
      lineStart = nextNl + 1;
      nextNl = text.indexOf('\n', lineStart);
    }
    pos.set(p, { line, column: p - lineStart + 1 });
  }
  const allow = new InlineAllow(text);
  const out: Finding[] = [];
  for (const h of hits) {
    const a = pos.get(h.start)!;
    const b = pos.get(h.end)!;
    if (allow.allowed(h.start - a.column + 1)) continue;
    const secret = h.secret ?? text.slice(h.start, h.end);
    if (isKnownPublic(secret)) continue;
    out.push({
      ruleId: h.ruleId,
      description: h.description,
      severity: h.severity,
      path,
      line: a.line,
      column: a.column,
      endLine: b.line,
      endColumn: b.column,
      start: h.start,
      end: h.end,
      redacted: redact(secret),
      fingerprint: fingerprint(h.ruleId, path, secret),
      ...(commit ? { commit } : {}),
      ...(h.cell ? { cell: h.cell } : {}),
      ...(h.decoded ? { decoded: h.decoded } : {}),
    });
  }
  return out;
}

const CODE_EXTENSIONS = new Set([
  'js', 'jsx', 'ts', 'tsx', 'mjs', 'cjs', 'mts', 'cts', 'py', 'pyi', 'ipynb', 'go', 'java', 'kt', 'kts', 'scala', 'groovy',
  'rb', 'php', 'cs', 'fs', 'vb', 'rs', 'swift', 'c', 'h', 'cc', 'cpp', 'cxx', 'hpp', 'hh', 'm', 'mm', 'dart', 'lua',
  'r', 'jl', 'ex', 'exs', 'erl', 'clj', 'hs', 'ml', 'pl', 'pm', 'vue', 'svelte', 'sol', 'zig', 'nim',
]);
const CODE_LANGUAGES = new Set([
  'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'python', 'go', 'java', 'kotlin', 'scala', 'groovy',
  'ruby', 'php', 'csharp', 'fsharp', 'vb', 'rust', 'swift', 'c', 'cpp', 'objective-c', 'objective-cpp', 'dart', 'lua',
  'r', 'julia', 'elixir', 'erlang', 'clojure', 'haskell', 'ocaml', 'perl', 'vue', 'svelte', 'solidity', 'zig',
  'jupyter',
]);

/** Code: a value counts only as a quoted literal. Config (and anything unknown): bare values count too. */
function styleFor(fileName: string, languageId: string | undefined): 'code' | 'config' {
  if (languageId) return CODE_LANGUAGES.has(languageId) ? 'code' : 'config';
  const dot = fileName.lastIndexOf('.');
  return dot > 0 && CODE_EXTENSIONS.has(fileName.slice(dot + 1)) ? 'code' : 'config';
}

const STYLESHEETS = new Set(['css', 'scss', 'sass', 'less', 'styl']);
const BUNDLED = new Set(['js', 'mjs', 'cjs', 'css']);
/** Average line length above which a script or stylesheet is taken for minified. */
const MINIFIED_LINE = 250;

/**
 * Generated text, scanned with the strict rules only: source maps, minified bundles and
 * stylesheets (by name, or a script whose lines average hundreds of characters).
 */
function generated(fileName: string, text: string, languageId: string | undefined): boolean {
  if (languageId === 'css' || languageId === 'scss' || languageId === 'less') return true;
  const dot = fileName.lastIndexOf('.');
  if (dot < 0) return false;
  const ext = fileName.slice(dot + 1);
  if (ext === 'map' || STYLESHEETS.has(ext)) return true;
  if (!BUNDLED.has(ext)) return false;
  if (/[.-]min\.[a-z]+$/.test(fileName)) return true;
  if (text.length < 4 * MINIFIED_LINE) return false;
  let lines = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
  return text.length / lines > MINIFIED_LINE;
}

const LOCKFILES = new Set([
  'package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lock', 'poetry.lock', 'pipfile.lock',
  'uv.lock', 'pdm.lock', 'cargo.lock', 'go.sum', 'gemfile.lock', 'composer.lock', 'mix.lock', 'pubspec.lock',
  'packages.lock.json', 'flake.lock', 'podfile.lock', 'gradle.lockfile', 'conda-lock.yml', 'pixi.lock',
]);
