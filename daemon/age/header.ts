import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { decodeRaw, encodeRaw } from './base64';
import { internal, invalidHeader, malformed, notAgeFile, truncated } from './errors';

// The age v1 header (c2sp.org/age): a version line, one or more recipient stanzas and a MAC
// line. Parsed by hand rather than through age-encryption because the library does not
// export its parser, and the engine needs the exact header bytes, the bytes the MAC covers
// and the payload offset, with limits that a daemon reading untrusted files must have.

export const VERSION_LINE = 'age-encryption.org/v1';
const VERSION_PREFIX = 'age-encryption.org/';

/** A header bigger than this is refused before it is read any further (PQ stanzas are ~1.6 KB). */
export const MAX_HEADER_BYTES = 1024 * 1024;
/** More recipients than any team needs, few enough that trying each identity stays cheap. */
export const MAX_STANZAS = 256;

export const FILE_KEY_SIZE = 16;
const MAC_SIZE = 32;
const COLUMNS = 64;
const VCHARS = /^[\x21-\x7e]+$/;

/** One recipient stanza. `type` is the first argument (`X25519`, `mlkem768x25519`, `scrypt`, ...). */
export interface Stanza {
  readonly type: string;
  readonly args: readonly string[];
  readonly body: Uint8Array;
}

export interface ParsedHeader {
  readonly stanzas: readonly Stanza[];
  readonly mac: Uint8Array;
  /** The header through the MAC line's newline: what `Decrypter.decryptHeader` takes. */
  readonly raw: Uint8Array;
  /** The header through the `---` mark: the bytes the MAC covers. */
  readonly withoutMac: Uint8Array;
  /** Length of `raw`: where the payload starts in the binary (dearmored) file. */
  readonly size: number;
}

/**
 * Parses a complete header at the start of `bytes` (anything after it is ignored).
 * Throws a Malformed KeywardError if the bytes are not an age v1 header or end inside it.
 */
export function parseHeader(bytes: Uint8Array): ParsedHeader {
  const h = scanHeader(bytes, true);
  if (h === null) throw internal('header scan wanted more input at end of file');
  return h;
}

/**
 * Parses the header at the start of `bytes`, which may be a prefix of the input.
 * Returns null when the header is fine so far but continues past `bytes` and `final` is
 * false (read more and call again); throws a Malformed KeywardError as soon as the bytes
 * cannot start an age v1 header, or, with `final`, when they end inside it.
 */
export function scanHeader(bytes: Uint8Array, final: boolean): ParsedHeader | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length === 0 && final) throw notAgeFile();
  // Answer "not an age file" from the first bytes, without waiting for a newline that a
  // binary file may never contain.
  if (!VERSION_PREFIX.startsWith(buf.toString('latin1', 0, Math.min(buf.length, VERSION_PREFIX.length)))) {
    throw notAgeFile();
  }

  let pos = 0;
  /** The next line without its LF, or undefined when it is not all in `buf` yet. */
  const nextLine = (): string | undefined => {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0 || nl >= MAX_HEADER_BYTES) {
      if (buf.length >= MAX_HEADER_BYTES) throw tooLarge();
      if (final) throw truncated();
      return undefined;
    }
    const line = buf.toString('latin1', pos, nl);
    pos = nl + 1;
    return line;
  };

  const version = nextLine();
  if (version === undefined) return null;
  if (version !== VERSION_LINE) {
    throw malformed('unsupported age version', `Keyward reads ${VERSION_LINE} files; this one needs a newer age`);
  }

  const stanzas: Stanza[] = [];
  for (;;) {
    const lineStart = pos;
    const line = nextLine();
    if (line === undefined) return null;

    if (line.startsWith('---')) {
      if (line === '---') throw invalidHeader('missing MAC');
      const mac = line.startsWith('--- ') ? decodeRaw(line.slice(4)) : null;
      if (mac === null || mac.length !== MAC_SIZE) throw invalidHeader('malformed MAC line');
      if (stanzas.length === 0) throw invalidHeader('no recipient stanzas');
      // Copy: `bytes` may be a slice of a large read buffer that should not stay alive.
      const raw = Buffer.from(buf.subarray(0, pos));
      return { stanzas, mac, raw, withoutMac: raw.subarray(0, lineStart + 3), size: pos };
    }

    if (!line.startsWith('-> ')) {
      throw invalidHeader(line.startsWith('->') ? 'malformed stanza' : 'expected a stanza or the MAC line');
    }
    if (stanzas.length === MAX_STANZAS) throw tooLarge();
    const args = line.slice(3).split(' ');
    if (!args.every((a) => VCHARS.test(a))) throw invalidHeader('malformed stanza arguments');

    let body = '';
    for (;;) {
      const bodyLine = nextLine();
      if (bodyLine === undefined) return null;
      if (bodyLine.startsWith('-')) {
        // The next stanza or the MAC where a body line should be: either no body at all or
        // a body whose last line is full (a full line means "more follows").
        throw invalidHeader(
          body === '' ? 'stanza has no body line' : 'stanza body must end with a line shorter than 64 columns',
        );
      }
      if (bodyLine.length > COLUMNS) throw invalidHeader('stanza body line longer than 64 columns');
      body += bodyLine;
      if (bodyLine.length < COLUMNS) break;
    }
    // Full lines are 64 characters (48 bytes), so decoding the joined lines decodes each
    // line, and canonical-ness is decided by the last one.
    const decoded = decodeRaw(body);
    if (decoded === null) throw invalidHeader('stanza body is not canonical base64');
    const [type, ...rest] = args as [string, ...string[]];
    stanzas.push({ type, args: rest, body: decoded });
  }
}

/** The header through the `---` mark, as the MAC covers it. */
export function encodeHeaderWithoutMac(stanzas: readonly Stanza[]): Buffer {
  if (stanzas.length === 0) throw internal('a header needs at least one stanza');
  const parts: string[] = [`${VERSION_LINE}\n`];
  for (const s of stanzas) {
    const args = [s.type, ...s.args];
    if (!args.every((a) => VCHARS.test(a))) throw internal('stanza argument is empty or not printable ascii');
    parts.push(`-> ${args.join(' ')}\n`);
    const b64 = encodeRaw(s.body);
    for (let i = 0; i < b64.length; i += COLUMNS) parts.push(`${b64.slice(i, i + COLUMNS)}\n`);
    // The body always ends with a short line; after a full one (or no body) it is empty.
    if (b64.length % COLUMNS === 0) parts.push('\n');
  }
  parts.push('---');
  return Buffer.from(parts.join(''), 'latin1');
}

/** A complete header for `stanzas`, MACed with `fileKey`. */
export function encodeHeader(stanzas: readonly Stanza[], fileKey: Uint8Array): Buffer {
  const withoutMac = encodeHeaderWithoutMac(stanzas);
  const mac = headerMac(fileKey, withoutMac);
  return Buffer.concat([withoutMac, Buffer.from(` ${encodeRaw(mac)}\n`, 'latin1')]);
}

/** HMAC-SHA-256 keyed with HKDF-SHA-256(ikm = file key, salt = empty, info = "header"). */
export function headerMac(fileKey: Uint8Array, withoutMac: Uint8Array): Buffer {
  if (fileKey.length !== FILE_KEY_SIZE) throw internal('file key must be 16 bytes');
  const key = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
  try {
    return createHmac('sha256', key).update(withoutMac).digest();
  } finally {
    key.fill(0);
  }
}

/** True when the header's MAC is right for `fileKey` (compared in constant time). */
export function verifyHeaderMac(header: ParsedHeader, fileKey: Uint8Array): boolean {
  const expected = headerMac(fileKey, header.withoutMac);
  return header.mac.length === expected.length && timingSafeEqual(header.mac, expected);
}

function tooLarge() {
  return malformed(
    'header too large',
    `an age header is at most ${MAX_HEADER_BYTES} bytes and ${MAX_STANZAS} recipients here; the file is damaged or hostile`,
  );
}

/**
 * Finds the file key in a header: returns it (16 bytes) or throws a KeywardError saying why
 * it cannot (no matching identity, wrong passphrase, malformed stanza). The engine checks the
 * header MAC with the returned key itself, so an unwrapper need not be trusted for that.
 */
export type Unwrap = (header: ParsedHeader) => Promise<Uint8Array>;
