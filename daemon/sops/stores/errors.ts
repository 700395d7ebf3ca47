// Errors and text decoding shared by the stores. A message names the format, the problem and
// where (line, column), never the content: a sops file holds secrets, and a parse error must
// not echo a line of it into a log.
import { ErrorCode } from '../../protocol/errors';
import { KeywardError } from '../../util/errors';

/**
 * The deepest nesting a store reads or writes. sops allows more (Go's parsers stop at 10000),
 * but the `yaml` package composes recursively and runs out of stack in the high hundreds, and
 * no real configuration comes near: deeper input is refused as malformed rather than risked.
 */
export const MAX_NESTING = 256;

export interface Where {
  line: number;
  column?: number;
}

const PARSE_HINT = 'fix the file so that it parses (sops refuses it too), then try again';

/** Bad input: the bytes are not a valid file of this format (or not one sops accepts). */
export function malformed(format: string, problem: string, at?: Where, hint = PARSE_HINT): KeywardError {
  let where = '';
  if (at) where = at.column === undefined ? ` at line ${at.line}` : ` at line ${at.line}, column ${at.column}`;
  return new KeywardError(ErrorCode.Malformed, `${format}: ${problem}${where}`, hint);
}

/** A tree this format cannot hold (a nested value in dotenv, a non-section in INI, ...). */
export function unsupported(format: string, problem: string, hint = 'write this file in a format that can hold it (yaml or json)'): KeywardError {
  return new KeywardError(ErrorCode.InvalidInput, `${format}: ${problem}`, hint);
}

/** Line and column of offsets in one text, each found by binary search. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }
  where(index: number): Where & { column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: index - this.starts[lo]! + 1 };
  }
}

/** Line (1-based) and column (1-based, in characters) of offset `index` of `text`. */
export function whereIn(text: string, index: number): Where {
  // Called for every node of a document: the line starts are computed once per text and
  // searched, so that locating is O(log n), not a scan from the start (quadratic overall).
  const starts = lineStartsOf(text);
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= index) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: index - starts[lo]! + 1 };
}

let cachedText: string | undefined;
let cachedStarts: number[] = [0];

function lineStartsOf(text: string): number[] {
  if (text !== cachedText) {
    const starts = [0];
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    cachedText = text;
    cachedStarts = starts;
  }
  return cachedStarts;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes UTF-8 text, keeping a BOM as U+FEFF (the stores decide what a BOM means). Invalid
 * UTF-8 is refused, naming the line: sops would carry such bytes through as a Go string or
 * replace them with U+FFFD depending on the format, and Keyward's tree holds JS strings, so
 * refusing is the only way not to change the bytes silently.
 */
export function decodeUtf8(format: string, bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
    throw malformed(format, 'invalid utf-8', { line }, 'save the file as UTF-8 text');
  }
}

/** Byte offset of the first invalid UTF-8 sequence (bytes.length when there is none). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      min = 0x10000;
    } else {
      return i;
    }
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return i;
}
