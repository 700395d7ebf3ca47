// What a YAML scalar means to sops, and how sops writes one: the resolution rules of the YAML
// library sops 3.13 uses (go.yaml.in/yaml/v3: YAML 1.2 core types plus Go's integer syntax,
// 1.1-style timestamps, !!binary), and the style it picks when it writes a string.
import { Float, Int, Time, type Leaf } from '../tree';
import { formatGoFloatG } from './gofmt';

export type ResolvedTag = 'str' | 'null' | 'bool' | 'int' | 'uint' | 'float' | 'timestamp';

export interface Resolved {
  tag: ResolvedTag;
  /** The value; for 'uint' (above int64, which sops cannot encrypt) an Int as well. */
  value: Leaf;
}

const EXACT: ReadonlyMap<string, Resolved> = new Map<string, Resolved>([
  ...['true', 'True', 'TRUE'].map((s) => [s, { tag: 'bool', value: true }] as const),
  ...['false', 'False', 'FALSE'].map((s) => [s, { tag: 'bool', value: false }] as const),
  ...['', '~', 'null', 'Null', 'NULL'].map((s) => [s, { tag: 'null', value: null }] as const),
  ...['.nan', '.NaN', '.NAN'].map((s) => [s, { tag: 'float', value: new Float(NaN) }] as const),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s) => [s, { tag: 'float', value: new Float(Infinity) }] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((s) => [s, { tag: 'float', value: new Float(-Infinity) }] as const),
] as [string, Resolved][]);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

/** strconv.ParseInt(s, 0, 64) / ParseUint(s, 0, 64) syntax (underscores already removed). */
function goParseInteger(s: string, signed: boolean): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const [, sign, body] = m as unknown as [string, string, string];
  if (sign && !signed) return undefined;
  let n: bigint;
  if (/^0[oO]/.test(body)) n = BigInt('0o' + body.slice(2));
  else if (/^0[0-7]+$/.test(body)) n = BigInt('0o' + body.slice(1));
  else n = BigInt(body.toLowerCase());
  if (sign === '-') n = -n;
  if (signed ? n < INT64_MIN || n > INT64_MAX : n > UINT64_MAX) return undefined;
  return n;
}

/** A finite float64 from Go float text, or undefined when it overflows (Go's ErrRange). */
function goParseFloat(s: string): number | undefined {
  const f = Number(s);
  return Number.isFinite(f) ? f : undefined;
}

/** yaml.v3 resolve("", s): the type of a plain scalar. */
export function resolvePlain(s: string): Resolved {
  const exact = EXACT.get(s);
  if (exact) return exact;
  const c = s[0];
  if (c === '.') {
    if (/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s)) {
      const f = goParseFloat(s);
      if (f !== undefined) return { tag: 'float', value: new Float(f) };
    }
  } else if (c !== undefined && '+-0123456789'.includes(c)) {
    const t = parseTimestamp(s);
    if (t !== undefined) return { tag: 'timestamp', value: new Time(t) };
    const plain = s.replaceAll('_', '');
    const i = goParseInteger(plain, true);
    if (i !== undefined) return { tag: 'int', value: new Int(i) };
    const u = goParseInteger(plain, false);
    if (u !== undefined) return { tag: 'uint', value: new Int(u) };
    if (YAML_FLOAT.test(plain)) {
      const f = goParseFloat(plain);
      if (f !== undefined) return { tag: 'float', value: new Float(f) };
    }
  }
  return { tag: 'str', value: s };
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(month: number, year: number): number {
  if (month === 2 && (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return 29;
  return DAYS[month - 1]!;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * A YAML timestamp as yaml.v3 reads it (time.Parse with "2006-1-2T15:4:5.999999999Z07:00",
 * the same with "t", "2006-1-2 15:4:5.999999999" in UTC, or "2006-1-2"), printed as Go's
 * RFC 3339 with nanoseconds (what sops writes and encrypts). Undefined when it is not one.
 */
export function parseTimestamp(s: string): string | undefined {
  const d = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})/.exec(s);
  if (!d) return undefined;
  const year = Number(d[1]);
  const month = Number(d[2]);
  const day = Number(d[3]);
  const rest = s.slice(d[0].length);
  if (month < 1 || month > 12) return undefined;
  if (day < 1 || day > daysIn(month, year)) return undefined;
  const date = `${d[1]}-${pad(month)}-${pad(day)}`;
  if (rest === '') return `${date}T00:00:00Z`;
  // Go's layout digits take one or two digits; the fraction takes any number (nanoseconds
  // from the first nine); a single space in the layout matches a run of spaces.
  const t = /^(?:([Tt])| +)([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,]([0-9]+))?(.*)$/.exec(rest);
  if (!t) return undefined;
  const [, sep, hh, mm, ss, frac, zone] = t as unknown as [string, string | undefined, string, string, string, string | undefined, string];
  const hour = Number(hh);
  const min = Number(mm);
  const sec = Number(ss);
  if (hour > 23 || min > 59 || sec > 59) return undefined;
  let z: string;
  if (sep === undefined) {
    if (zone !== '') return undefined;
    z = 'Z';
  } else if (zone === 'Z') {
    z = 'Z';
  } else {
    const o = /^([+-])([0-9]{2}):([0-9]{2})$/.exec(zone);
    if (!o) return undefined;
    const oh = Number(o[2]);
    const om = Number(o[3]);
    if (oh > 24 || om > 60) return undefined;
    const secs = oh * 3600 + om * 60;
    if (secs === 0) z = 'Z';
    else {
      // Go prints the zone offset from its seconds: 60 minutes read as one more hour.
      const h = Math.floor(secs / 3600);
      const m = Math.floor((secs % 3600) / 60);
      z = `${o[1]}${pad(h)}:${pad(m)}`;
    }
  }
  let f = (frac ?? '').slice(0, 9).replace(/0+$/, '');
  if (f) f = '.' + f;
  return `${date}T${pad(hour)}:${pad(min)}:${pad(sec)}${f}${z}`;
}

/** YAML 1.1 base-60 floats, which yaml.v3 still quotes on output. */
function isBase60Float(s: string): boolean {
  return /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/.test(s);
}

const OLD_BOOLS = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF']);

export type ScalarStyle = 'plain' | 'single' | 'double' | 'literal';

/** How the YAML emitter may write a scalar (libyaml's scalar analysis). */
export interface ScalarAnalysis {
  multiline: boolean;
  flowPlain: boolean;
  blockPlain: boolean;
  single: boolean;
  block: boolean;
}

export const isBreak = (c: number) => c === 0x0a || c === 0x0d || c === 0x85 || c === 0x2028 || c === 0x2029;
const isBlank = (c: number) => c === 0x20 || c === 0x09;
/** libyaml's printable set, as yaml.v3 checks it on UTF-8: no C0/C1 controls but "\n", nothing above U+FFFF. */
export const isPrintable = (c: number) =>
  c === 0x0a || (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff);

/** Indicators that make a scalar starting with them neither flow- nor block-plain. */
const FIRST_INDICATORS = new Set(Array.from('#,[]{}&*!|>\'"%@`', (c) => c.charCodeAt(0)));
/** Indicators anywhere else that rule out flow-plain. */
const FLOW_INDICATORS = new Set(Array.from(',?[]{}', (c) => c.charCodeAt(0)));

/** One line of printable ASCII without spaces, starting with a letter or digit. */
const SIMPLE = /^[A-Za-z0-9][\x21-\x7e]*$/;
const FLOW_INDICATOR = /[,?[\]{}:]/;

export function analyzeScalar(value: string): ScalarAnalysis {
  const n = value.length;
  if (n === 0) return { multiline: false, flowPlain: false, blockPlain: true, single: true, block: false };
  // Most values (every ENC[...] among them): no blanks, breaks or special characters, and no
  // indicator at the start, so only flow indicators and a final ":" matter.
  if (SIMPLE.test(value)) return { multiline: false, flowPlain: !FLOW_INDICATOR.test(value), blockPlain: !value.endsWith(':'), single: true, block: true };
  let blockInd = false;
  let flowInd = false;
  let lineBreaks = false;
  let special = false;
  let tabs = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let prevSpace = false;
  let prevBreak = false;
  if (value.startsWith('---') || value.startsWith('...')) {
    blockInd = true;
    flowInd = true;
  }
  let precededByWs = true;
  // Code point by code point (a lone surrogate counts as one, as Array.from counts it), without
  // allocating: this runs for every scalar the YAML store writes.
  for (let i = 0; i < n; ) {
    let c = value.charCodeAt(i);
    let next = i + 1;
    if (c >= 0xd800 && c <= 0xdbff && next < n) {
      const lo = value.charCodeAt(next);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        c = ((c - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
        next++;
      }
    }
    const first = i === 0;
    const last = next >= n;
    // Only whether the next code point is a blank or a break matters: a surrogate is neither.
    const nc = last ? -1 : value.charCodeAt(next);
    const followedByWs = last || isBlank(nc) || isBreak(nc);
    if (first) {
      if (FIRST_INDICATORS.has(c)) {
        flowInd = true;
        blockInd = true;
      } else if (c === 0x3f /* ? */ || c === 0x3a /* : */) {
        flowInd = true;
        if (followedByWs) blockInd = true;
      } else if (c === 0x2d /* - */ && followedByWs) {
        flowInd = true;
        blockInd = true;
      }
    } else if (FLOW_INDICATORS.has(c)) {
      flowInd = true;
    } else if (c === 0x3a /* : */) {
      flowInd = true;
      if (followedByWs) blockInd = true;
    } else if (c === 0x23 /* # */ && precededByWs) {
      flowInd = true;
      blockInd = true;
    }
    if (c === 0x09) tabs = true;
    else if (!isPrintable(c)) special = true;
    if (c === 0x20) {
      if (first) leadingSpace = true;
      if (last) trailingSpace = true;
      if (prevBreak) breakSpace = true;
      prevSpace = true;
      prevBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (first) leadingBreak = true;
      if (last) trailingBreak = true;
      if (prevSpace) spaceBreak = true;
      prevSpace = false;
      prevBreak = true;
    } else {
      prevSpace = false;
      prevBreak = false;
    }
    precededByWs = isBlank(c) || isBreak(c);
    i = next;
  }
  const a: ScalarAnalysis = { multiline: lineBreaks, flowPlain: true, blockPlain: true, single: true, block: true };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) a.flowPlain = a.blockPlain = false;
  if (trailingSpace) a.block = false;
  if (breakSpace) a.flowPlain = a.blockPlain = a.single = false;
  if (spaceBreak || tabs || special) a.flowPlain = a.blockPlain = a.single = false;
  if (spaceBreak || special) a.block = false;
  if (lineBreaks) a.flowPlain = a.blockPlain = false;
  if (flowInd) a.flowPlain = false;
  if (blockInd) a.blockPlain = false;
  return a;
}

/**
 * The text and style of a leaf as sops writes it: yaml.v3 encodes the Go value on its own
 * (choosing plain, quoted or literal), reads that back into a node, and the node keeps the style.
 */
export function encodeLeaf(v: Leaf): { text: string; style: ScalarStyle } {
  if (typeof v === 'string') return { text: v, style: stringStyle(v) };
  if (v === null) return { text: 'null', style: 'plain' };
  if (typeof v === 'boolean') return { text: v ? 'true' : 'false', style: 'plain' };
  if (v instanceof Int) return { text: v.value.toString(), style: 'plain' };
  if (v instanceof Float) {
    const x = v.value;
    const text = Number.isNaN(x) ? '.nan' : x === Infinity ? '.inf' : x === -Infinity ? '-.inf' : formatGoFloatG(x);
    return { text, style: 'plain' };
  }
  return { text: v.text, style: 'plain' };
}

function stringStyle(s: string): ScalarStyle {
  let style: ScalarStyle;
  if (s.includes('\n')) style = 'literal';
  else if (resolvePlain(s).tag === 'str' && !isBase60Float(s) && !OLD_BOOLS.has(s)) style = 'plain';
  else style = 'double';
  const a = analyzeScalar(s);
  if (style === 'plain' && !a.blockPlain) style = 'single';
  if (style === 'single' && !a.single) style = 'double';
  if (style === 'literal' && !a.block) style = 'double';
  return style;
}
