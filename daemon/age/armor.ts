import { decodePadded } from './base64';
import { invalidArmor, notAgeFile } from './errors';
import type { ByteReader, Sink } from './io';

// age's ASCII armor: strict PEM (RFC 7468) labelled "AGE ENCRYPTED FILE", padded base64 in
// 64-column lines, canonical. As the spec asks, nothing is tolerated except whitespace before
// and after the block (bounded, like the reference implementation) and CRLF line endings.
// Encoding and decoding are streaming; bulk regular expressions and Buffer base64 do the
// per-byte work natively, so no JavaScript runs per byte.

export const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
export const ARMOR_END = '-----END AGE ENCRYPTED FILE-----';
const COLUMNS = 64;
const BYTES_PER_LINE = 48;
/** Whitespace allowed before and after the PEM block, as in age's own reader. */
export const MAX_ARMOR_WHITESPACE = 1024;
const RAW_BLOCK = 128 * 1024;

const WHITESPACE = /^[ \t\n\v\f\r]*$/;
const NOT_BASE64_OR_EOL = /[^A-Za-z0-9+/\r\n]/;

/** Armors everything written to it into `out`; `end()` writes the last line and the footer. */
export class ArmorWriter implements Sink {
  private pending = Buffer.alloc(0);
  private started = false;

  constructor(private readonly out: Sink) {}

  get written(): number {
    return this.out.written;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const whole = data.length - (data.length % BYTES_PER_LINE);
    // Copy the short tail so that the caller's (possibly large) buffer is not kept alive.
    this.pending = Buffer.from(data.subarray(whole));
    const text = this.begin() + lines(data.subarray(0, whole));
    if (text.length > 0) await this.out.write(Buffer.from(text, 'latin1'));
  }

  /** Nothing to wait for: `write` copies what it keeps (the short tail). */
  settle(): Promise<void> {
    return Promise.resolve();
  }

  async end(): Promise<void> {
    const tail = this.pending.length > 0 ? `${this.pending.toString('base64')}\n` : '';
    await this.out.write(Buffer.from(`${this.begin()}${tail}${ARMOR_END}\n`, 'latin1'));
    this.pending = Buffer.alloc(0);
    await this.out.end();
  }

  private begin(): string {
    if (this.started) return '';
    this.started = true;
    return `${ARMOR_BEGIN}\n`;
  }
}

function lines(bytes: Buffer): string {
  const b64 = bytes.toString('base64');
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += COLUMNS) out.push(b64.slice(i, i + COLUMNS), '\n');
  return out.join('');
}

/**
 * Says how to read `input`: 'armored' if, after at most MAX_ARMOR_WHITESPACE bytes of
 * whitespace, it starts with the age armor line, else 'binary' (the header parser then
 * decides whether it is age at all). Throws "not an age file" for PEM of another kind.
 */
export async function detectArmor(input: ByteReader): Promise<'armored' | 'binary'> {
  const head = (await input.peek(MAX_ARMOR_WHITESPACE + ARMOR_BEGIN.length + 1)).toString('latin1');
  const start = head.search(/[^ \t\n\v\f\r]/);
  if (start < 0 || start > MAX_ARMOR_WHITESPACE || !head.startsWith('-----BEGIN', start)) return 'binary';
  if (!head.startsWith(`${ARMOR_BEGIN}`, start)) throw notAgeFile();
  return 'armored';
}

/**
 * Decodes armored bytes from `raw`. Use `pull` as the source of a ByteReader: it returns
 * decoded bytes, null once the footer and the trailing whitespace have been checked, and
 * throws an "invalid armor: ..." Malformed KeywardError at the first violation.
 */
export class ArmorReader {
  private state: 'begin' | 'body' | 'footer' | 'trailer' | 'done' = 'begin';
  private carry: Buffer = Buffer.alloc(0);
  private leading = 0;
  private trailing = 0;
  private sawData = false;

  constructor(private readonly raw: ByteReader) {}

  readonly pull = async (): Promise<Buffer | null> => {
    while (!this.done()) {
      const block = await this.raw.read(RAW_BLOCK);
      const eof = block.length < RAW_BLOCK;
      const out = this.consume(this.carry.length > 0 ? Buffer.concat([this.carry, block]) : block, eof);
      if (eof && !this.done()) throw invalidArmor('missing END line');
      if (out.length > 0) return out;
    }
    return null;
  };

  private done(): boolean {
    return this.state === 'done';
  }

  /** Processes the complete lines of `data`, keeps an incomplete last line in `carry`. */
  private consume(data: Buffer, eof: boolean): Buffer {
    const out: Buffer[] = [];
    let pos = 0;
    this.carry = Buffer.alloc(0);
    for (;;) {
      if (this.state === 'trailer') {
        const rest = data.toString('latin1', pos);
        this.trailing += rest.length;
        if (!WHITESPACE.test(rest)) throw invalidArmor('data after the END line');
        if (this.trailing > MAX_ARMOR_WHITESPACE) throw invalidArmor('too much whitespace after the END line');
        if (eof) this.state = 'done';
        break;
      }
      if (this.state === 'body') {
        const run = fullLines(data, pos);
        if (run.bytes.length > 0) {
          out.push(run.bytes);
          this.sawData = true;
          pos = run.end;
        }
      }
      const nl = data.indexOf(0x0a, pos);
      let line: string;
      if (nl >= 0) {
        line = data.toString('latin1', pos, nl);
        pos = nl + 1;
      } else if (eof && pos < data.length) {
        line = data.toString('latin1', pos); // a last line without its newline
        pos = data.length;
      } else {
        this.carry = Buffer.from(data.subarray(pos));
        this.checkCarry();
        break;
      }
      const bytes = nl < 0 ? line.length : line.length + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.line(line, bytes, out);
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** An unfinished line may not grow without bound while we wait for its newline. */
  private checkCarry(): void {
    if (this.state === 'begin') {
      if (this.carry.length > MAX_ARMOR_WHITESPACE + ARMOR_BEGIN.length + 1) {
        throw invalidArmor('too much whitespace before the BEGIN line');
      }
    } else if (this.state === 'body' || this.state === 'footer') {
      if (this.carry.length > COLUMNS + 1) throw invalidArmor('line longer than 64 columns');
    }
  }

  private line(line: string, bytes: number, out: Buffer[]): void {
    switch (this.state) {
      case 'begin':
        if (WHITESPACE.test(line)) {
          this.leading += bytes;
          if (this.leading > MAX_ARMOR_WHITESPACE) throw invalidArmor('too much whitespace before the BEGIN line');
          return;
        }
        if (line !== ARMOR_BEGIN) throw invalidArmor(`the first line is not ${ARMOR_BEGIN}`);
        this.state = 'body';
        return;
      case 'body': {
        // Full lines were taken in bulk; this is the END line or the one short last line.
        if (line === ARMOR_END) {
          if (!this.sawData) throw invalidArmor('no data between BEGIN and END');
          this.state = 'trailer';
          return;
        }
        if (line.length > COLUMNS) throw invalidArmor('line longer than 64 columns');
        if (line.length === 0) throw invalidArmor('empty line');
        const decoded = decodePadded(line);
        if (decoded === null || decoded.length >= BYTES_PER_LINE) throw invalidArmor('malformed base64 line');
        out.push(decoded);
        this.sawData = true;
        this.state = 'footer';
        return;
      }
      case 'footer':
        if (line !== ARMOR_END) throw invalidArmor('a short line must be the last one before the END line');
        this.state = 'trailer';
        return;
      default:
        return;
    }
  }
}

/**
 * Decodes the run of full data lines (64 base64 characters, then LF or CRLF) at `pos`: the
 * bulk of any armored file, decoded without JavaScript work per byte. Stops before the
 * first line that is not one (the last line, the footer, an error), which the caller then
 * examines on its own. Node's decoder skips line breaks but also stray characters and
 * accepts '-' and '_', hence the explicit character check and the length check.
 */
function fullLines(data: Buffer, pos: number): { bytes: Buffer; end: number } {
  const start = pos;
  let lines = 0;
  for (;;) {
    const nl = data.indexOf(0x0a, pos);
    const len = nl - pos;
    if (nl < 0 || !(len === COLUMNS || (len === COLUMNS + 1 && data[pos + COLUMNS] === 0x0d))) break;
    pos = nl + 1;
    lines += 1;
  }
  if (lines === 0) return { bytes: Buffer.alloc(0), end: start };
  let text = data.toString('latin1', start, pos);
  const bad = NOT_BASE64_OR_EOL.exec(text);
  if (bad !== null) {
    // Keep the lines before the odd one; it may still be a padded last line.
    text = text.slice(0, text.lastIndexOf('\n', bad.index) + 1);
    lines = text.split('\n').length - 1;
  }
  const bytes = Buffer.from(text, 'base64');
  // A CR inside a line would have been skipped: the byte count tells.
  if (bytes.length !== lines * BYTES_PER_LINE) throw invalidArmor('malformed base64 line');
  return { bytes, end: start + text.length };
}
