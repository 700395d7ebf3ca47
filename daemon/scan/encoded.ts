// Encoded segments of a text (base64, hex, percent-encoding) and the text they decode to, so
// that the engine can scan what a Kubernetes Secret's `data:`, a CI variable holding a base64
// `.env` file or a URL-encoded query parameter hide. Only segments that decode to text are
// kept: most encoded runs in real code are binary (images, fonts, compressed data, hashes,
// keys' DER bodies) and are dropped from a few characters, before anything is decoded.
//
// Written by hand (no library decodes "every base64 run of a text, if it is text"): the
// candidates are found in one pass over the text, and the work is bounded by a budget of
// decoded bytes per file.

import type { Encoding } from './types';

/** A segment that decodes to text: where it is, and how decoded offsets map back to it. */
export interface DecodedSegment {
  encoding: Encoding;
  /** The segment's span in the text it was found in. */
  start: number;
  end: number;
  /** What it decodes to. */
  text: string;
  /** The span in the text that encodes decoded characters `a` to `b` (end exclusive). */
  span(a: number, b: number): [number, number];
}

/** Decoded bytes a file may cost (all segments, all depths): enough for any config, bounded for a crafted blob. */
export const MAX_DECODED_BYTES = 256 * 1024;

/** Work done on one file's segments; `decoded` never exceeds `limit`. */
export class DecodeBudget {
  decoded = 0;
  constructor(readonly limit = MAX_DECODED_BYTES) {}
  get left(): number {
    return this.limit - this.decoded;
  }
}

/** Shortest base64 run looked at: 18 bytes, the shortest `NAME=token` worth decoding. */
const MIN_BASE64 = 24;
/** Shortest hex run: 16 bytes (a hex digest is longer, but binary: dropped at its first bytes). */
const MIN_HEX = 32;
/** A run of base64 characters (either alphabet) long enough to look at. */
// The character before is matched too (or the text's start): the regex then fails at once
// inside a word, instead of trying every position of every short run again.
const B64_RUN = new RegExp(`(?:^|[^A-Za-z0-9+/_-])([A-Za-z0-9+/_-]{${MIN_BASE64},1024})`);
/** Characters checked before decoding a whole segment: 16 base64 characters are 12 bytes. */
const PROBE = 16;

/** Character codes. */
const C = {
  Plus: 43,
  Minus: 45,
  Slash: 47,
  D0: 48,
  D9: 57,
  Eq: 61,
  A: 65,
  F: 70,
  Z: 90,
  Under: 95,
  a: 97,
  f: 102,
  z: 122,
  Percent: 37,
  Nl: 10,
  Cr: 13,
  Tab: 9,
  Space: 32,
} as const;

function isAlnum(c: number): boolean {
  return (c >= C.a && c <= C.z) || (c >= C.A && c <= C.Z) || (c >= C.D0 && c <= C.D9);
}
function isB64(c: number): boolean {
  return isAlnum(c) || c === C.Plus || c === C.Slash || c === C.Minus || c === C.Under;
}
function isHex(c: number): boolean {
  return (c >= C.D0 && c <= C.D9) || (c >= C.a && c <= C.f) || (c >= C.A && c <= C.F);
}
function hexVal(c: number): number {
  return c <= C.D9 ? c - C.D0 : (c | 32) - C.a + 10;
}

/** Bytes of text: printable ASCII, tab, newline, carriage return, or UTF-8 (checked whole later). */
function textByte(b: number): boolean {
  return (b >= 0x20 && b < 0x7f) || b === C.Tab || b === C.Nl || b === C.Cr || b >= 0x80;
}

/**
 * Decoded bytes as text, or null when they are not: a control character, invalid UTF-8, or
 * more than one byte in eight outside ASCII (a binary format that happens to be valid UTF-8).
 */
function asText(bytes: Buffer): string | null {
  let high = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (!textByte(b)) return null;
    if (b >= 0x80) high++;
  }
  if (high === 0) return bytes.toString('latin1');
  if (high * 8 > bytes.length) return null;
  const s = bytes.toString('utf8');
  return s.includes('\uFFFD') ? null : s;
}

/**
 * A `data:` URI's payload starts at `i` (`data:image/png;base64,` ends there) and is not worth
 * decoding: images, fonts, audio, video and octet streams are binary however they are named,
 * and an inline source map (`sourceMappingURL=data:application/json;base64,`) is the code's
 * own twin, read as `.map` files are (not decoded).
 */
function skippedDataUri(t: string, i: number): boolean {
  if (t.charCodeAt(i - 1) !== 44 /* , */ || !t.startsWith(';base64', i - 8)) return false;
  const head = t.slice(Math.max(0, i - 160), i);
  const at = head.lastIndexOf('data:');
  if (at < 0) return false;
  if (head.endsWith('sourceMappingURL=', at)) return true;
  return /^data:(?:image|font|audio|video)\/|^data:application\/(?:octet-stream|x-font|font|wasm|pdf|zip|gzip)/i.test(head.slice(at));
}

/**
 * The encoded segments of `text` that decode to text, in order. Base64 (standard or URL
 * alphabet, on one line or wrapped in lines of one width, as `base64` and PEM write it), hex
 * (an even run of hex digits) and percent-encoding (a run of URL characters holding at least
 * two `%XX` escapes of ASCII). Each decoded byte counts against `budget`; a segment larger
 * than what is left is decoded up to it.
 */
export function encodedSegments(text: string, budget: DecodeBudget): DecodedSegment[] {
  const out: DecodedSegment[] = [];
  // Runs of base64 characters, MIN_BASE64 or longer, found by the regex engine: native code
  // from its second use, where a loop over characters here would run in the interpreter in a
  // short-lived process (the pre-commit hook) and cost more than the rest of the scan.
  // A regex of its own per call: this runs again, nested, on what a segment decodes to.
  const run = new RegExp(B64_RUN.source, 'g');
  for (let m = run.exec(text); m !== null && budget.left > 0; m = run.exec(text)) {
    let j = m.index + m[0].length;
    const i = j - m[1]!.length;
    // Longer runs are walked to their end here (a regex's greedy loop that long overflows its backtrack stack).
    if (j - i === 1024) {
      while (j < text.length && isB64(text.charCodeAt(j))) j++;
      run.lastIndex = j;
    }
    // Runs that touch a `%XX` escape are the percent pass's (`%2F` is base64 characters too).
    if (text.charCodeAt(j) !== C.Percent && text.charCodeAt(i - 1) !== C.Percent && !skippedDataUri(text, i)) {
      const r = hexOrBase64(text, i, j, budget);
      if (r.seg) out.push(r.seg);
      // A wrapped block's later lines are part of its segment: the next run starts after them.
      if (r.end > j) run.lastIndex = r.end;
    }
  }
  // Percent-encoding, from each `%` (found by indexOf); a run that fails is not looked at again
  // from its next `%` (linear on `%%%%...`).
  let pct = false;
  for (let k = text.indexOf('%'); k >= 0 && budget.left > 0; k = text.indexOf('%', k)) {
    const r = percentSegment(text, k, budget);
    if (r.seg) {
      out.push(r.seg);
      pct = true;
    }
    k = Math.max(r.end, k + 1);
  }
  if (!pct) return out;
  // A base64 run inside a percent-encoded segment is that segment's.
  out.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: DecodedSegment[] = [];
  for (const s of out) if (kept.length === 0 || s.start >= kept[kept.length - 1]!.end) kept.push(s);
  return kept;
}

/** The segment of the run `i`..`j`, if it decodes to text, and where the next candidate may start. */
function hexOrBase64(t: string, i: number, j: number, budget: DecodeBudget): { seg: DecodedSegment | null; end: number } {
  let allHex = true;
  for (let k = i; k < j && allHex; k++) allHex = isHex(t.charCodeAt(k));
  if (allHex) return { seg: j - i >= MIN_HEX && (j - i) % 2 === 0 ? hexSegment(t, i, j, budget) : null, end: j };
  return base64Segment(t, i, j, budget);
}

/**
 * Hex of text: every other digit (a byte's high nibble) is 2 to 7 (printable ASCII), or 0 with
 * a tab or newline; checked on the first bytes before decoding.
 */
function hexSegment(t: string, i: number, j: number, budget: DecodeBudget): DecodedSegment | null {
  for (let k = i; k < Math.min(j, i + 2 * PROBE); k += 2) {
    const hi = hexVal(t.charCodeAt(k));
    if (hi < 2 || hi > 7) return null;
  }
  const end = Math.min(j, i + 2 * budget.left);
  const bytes = Buffer.from(t.slice(i, end - ((end - i) % 2)), 'hex');
  budget.decoded += bytes.length;
  const s = asText(bytes);
  if (s === null || !ascii(s)) return null;
  return { encoding: 'hex', start: i, end: j, text: s, span: (a, b) => [i + 2 * a, i + 2 * b] };
}

function ascii(s: string): boolean {
  return !/[^\t\n\r\x20-\x7e]/.test(s);
}

/**
 * Base64 of text. A run mixing the standard (`+/`) and URL (`-_`) alphabets is an identifier or
 * a path, not base64. The first character of every 4 encodes a byte's top 6 bits: for printable
 * ASCII that is `I`-`Z` or `a`-`f` (`C`, `D` for a tab or newline), so the first quartets are
 * checked on characters alone, then their bytes, before the rest is decoded. A full-width
 * line (64 or 76 characters) followed by more of the same width continues the segment.
 */
function base64Segment(t: string, i: number, j: number, budget: DecodeBudget): { seg: DecodedSegment | null; end: number } {
  const none = { seg: null, end: j };
  let std = false;
  let url = false;
  for (let k = i; k < j; k++) {
    const c = t.charCodeAt(k);
    if (c === C.Plus || c === C.Slash) std = true;
    else if (c === C.Minus || c === C.Under) url = true;
  }
  if (std && url) return none;
  for (let k = i; k < i + PROBE; k += 4) {
    const c = t.charCodeAt(k);
    if (!((c >= C.A && c <= C.Z) || (c >= C.a && c <= C.f))) return none;
  }
  // The first bytes are ASCII: a text starts so (`{`, `#`, a name), binary rarely does.
  const probe = Buffer.from(t.slice(i, i + PROBE), url ? 'base64url' : 'base64');
  for (const b of probe) if (!textByte(b) || b >= 0x80) return none;

  // What is left of the budget bounds what is decoded: the head of the segment, whole quartets.
  const cap = Math.floor(budget.left / 3) * 4;
  if (cap < 4) return none;
  // The pieces of the encoded text: one run, or the lines of a wrapped block (walked to its
  // end once, so that a block that is not text is skipped whole; kept up to the budget).
  const pieces: { from: number; to: number }[] = [{ from: i, to: j }];
  const starts: number[] = [0];
  let size = j - i;
  let end = j;
  const width = j - i;
  if (width === 64 || width === 76) {
    for (;;) {
      const next = nextLineRun(t, end);
      if (!next) break;
      if (size < cap) {
        starts.push(size);
        pieces.push(next);
        size += next.to - next.from;
      }
      end = next.to;
      if (next.to - next.from !== width) break;
    }
  }
  const last = pieces[pieces.length - 1]!;
  const runEnd = end;
  while (t.charCodeAt(end) === C.Eq && end - runEnd < 2) end++;
  if (last.to === runEnd) last.to = end;

  let enc = '';
  for (const p of pieces) enc += t.slice(p.from, p.to);
  if (enc.length > cap) enc = enc.slice(0, cap);
  const bytes = Buffer.from(enc, url ? 'base64url' : 'base64');
  budget.decoded += bytes.length;
  const s = asText(bytes);
  if (s === null) return { seg: null, end };
  const map = ascii(s) ? null : byteOffsets(s);
  // Byte `b` starts in character b/3*4 + b%3 of the encoded text, and ends in the next one.
  const toText = (e: number, isEnd: boolean): number => {
    // The piece that holds encoded offset `e` (binary search: a wrapped block has many).
    let lo = 0;
    let hi = pieces.length - 1;
    while (lo < hi) {
      const m = (lo + hi + 1) >> 1;
      if (isEnd ? starts[m]! < e : starts[m]! <= e) lo = m;
      else hi = m - 1;
    }
    return Math.min(pieces[lo]!.from + (e - starts[lo]!), pieces[lo]!.to);
  };
  const span = (a: number, b: number): [number, number] => {
    const x = map ? map[a]! : a;
    const y = (map ? map[b]! : b) - 1;
    const first = Math.floor(x / 3) * 4 + (x % 3);
    const last = Math.min(enc.length, Math.floor(y / 3) * 4 + (y % 3) + 2);
    return [toText(first, false), toText(Math.max(last, first + 1), true)];
  };
  return { seg: { encoding: 'base64', start: i, end, text: s, span }, end };
}

/** The UTF-8 byte offset of each character of `s` (and of its end). */
function byteOffsets(s: string): number[] {
  const out: number[] = [];
  let b = 0;
  for (let k = 0; k < s.length; k++) {
    out.push(b);
    const c = s.charCodeAt(k);
    b += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? 4 : c >= 0xdc00 && c < 0xe000 ? 0 : 3;
  }
  out.push(b);
  return out;
}

/** The base64 run that makes up the next line (after indentation), or null. */
function nextLineRun(t: string, from: number): { from: number; to: number } | null {
  let k = from;
  if (t.charCodeAt(k) === C.Cr) k++;
  if (t.charCodeAt(k) !== C.Nl) return null;
  k++;
  while (t.charCodeAt(k) === C.Space || t.charCodeAt(k) === C.Tab) k++;
  const s = k;
  while (k < t.length && isB64(t.charCodeAt(k))) k++;
  if (k - s < 4) return null;
  let e = k;
  while (t.charCodeAt(e) === C.Eq && e - k < 2) e++;
  const after = t.charCodeAt(e);
  if (e < t.length && after !== C.Nl && after !== C.Cr && after !== C.Space && after !== 34 && after !== 39) return null;
  return { from: s, to: k };
}

/** Characters a URL (or a form value) holds besides escapes. */
function urlChar(c: number): boolean {
  return isAlnum(c) || (c >= 33 && c <= 126 && '-._~:/?#[]@!$&()*+,;='.includes(String.fromCharCode(c)));
}

/**
 * A run of URL characters around the `%` at `p` holding at least two escapes of printable
 * ASCII (`%3A%2F%2F`, `%22`): what it decodes to, escapes of other bytes left as written.
 */
function percentSegment(t: string, p: number, budget: DecodeBudget): { seg: DecodedSegment | null; end: number } {
  let s = p;
  while (s > 0 && p - s < 256 && urlChar(t.charCodeAt(s - 1)) && t.charCodeAt(s - 1) !== C.Percent) s--;
  let escapes = 0;
  let k = p;
  let out = '';
  const offs: number[] = [];
  for (let x = s; x < p; x++) {
    offs.push(x);
    out += t[x];
  }
  while (k < t.length && out.length < budget.left) {
    const c = t.charCodeAt(k);
    if (c === C.Percent && isHex(t.charCodeAt(k + 1)) && isHex(t.charCodeAt(k + 2))) {
      const v = hexVal(t.charCodeAt(k + 1)) * 16 + hexVal(t.charCodeAt(k + 2));
      if ((v >= 0x20 && v < 0x7f) || v === C.Nl || v === C.Tab) {
        offs.push(k);
        out += String.fromCharCode(v);
        escapes++;
        k += 3;
        continue;
      }
    }
    if (c !== C.Percent && !urlChar(c)) break;
    offs.push(k);
    out += t[k];
    k++;
  }
  if (escapes < 2 || out.length < 16) return { seg: null, end: k };
  budget.decoded += out.length;
  offs.push(k);
  return { seg: { encoding: 'percent', start: s, end: k, text: out, span: (a, b) => [offs[a]!, offs[b]!] }, end: k };
}

/**
 * A whole assigned value that is base64 of one word of text (a Kubernetes Secret's
 * `AWS_SECRET_ACCESS_KEY: <base64>`): the word, for the rules that judge a value by the name
 * it is assigned to. Null when it is anything else.
 */
export function decodedValue(v: string, budget: DecodeBudget): string | null {
  if (v.length < MIN_BASE64 || v.length > 4096 || v.length % 4 !== 0 || budget.left < v.length) return null;
  let j = v.length;
  while (j > 0 && v.charCodeAt(j - 1) === C.Eq) j--;
  if (v.length - j > 2) return null;
  for (let k = 0; k < j; k++) if (!isB64(v.charCodeAt(k))) return null;
  const { seg } = base64Segment(v, 0, j, budget);
  if (!seg || seg.end !== v.length) return null;
  return /^[\x21-\x7e]+$/.test(seg.text) ? seg.text : null;
}
