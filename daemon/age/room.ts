import { encodeRaw } from './base64';
import { internal, invalidInput } from './errors';
import { encodeHeader, encodeHeaderWithoutMac, type ParsedHeader, type Stanza } from './header';
import { SCRYPT_TYPE } from './scrypt';

// Room in the header, so that a rewrap (new recipients for the same file key) can rewrite the
// header in place without moving the payload. Keyward ends the headers of the binary files it
// writes with a padding stanza of its own type:
//
//   -> keyward-pad
//   AAAAAAAA...            (base64 of zero bytes, in the usual 64-column lines)
//
// An age identity looks only at the stanzas of its own type and skips the others, so age,
// typage and Keyward decrypt such files as usual (test/interop/age.test.ts checks age, the
// unit tests typage). The MAC covers the padding like any stanza. A rewrap shrinks or grows
// the padding so that the new header has exactly the old length. Base64 lengths skip some
// values (none is 1 mod 4), so a filler argument of 1 to 3 characters makes up the sizes the
// body alone cannot; every size of 16 bytes or more can be padded, except 17.
//
// Not for passphrase files: an scrypt stanza must be the only stanza (age refuses others).

/** Stanza types of Keyward's own bookkeeping (padding, metadata): never recipients. */
export const KEYWARD_STANZA_PREFIX = 'keyward-';
export const PADDING_TYPE = `${KEYWARD_STANZA_PREFIX}pad`;
/** Headers with room are a multiple of this size... */
export const HEADER_ROOM_ALIGN = 4096;
/** ...and leave at least this much padding: about 40 X25519 or 2 post-quantum recipients more. */
export const MIN_HEADER_ROOM = 4096;

/** `--- ` + 43 base64 characters of the 32-byte MAC + newline. */
const MAC_LINE_TAIL = 1 + 43 + 1;
const STANZA_LINE = `-> ${PADDING_TYPE}\n`.length;

export function isPadding(s: { type: string }): boolean {
  return s.type === PADDING_TYPE;
}

export function isKeywardStanza(s: { type: string }): boolean {
  return s.type.startsWith(KEYWARD_STANZA_PREFIX);
}

/** Bytes the padding stanza of a header takes, i.e. what a rewrap can use (0 without one). */
export function headerRoom(header: ParsedHeader): number {
  const pad = header.stanzas.find(isPadding);
  if (pad === undefined) return 0;
  return paddingLength(pad);
}

/** A header with room: the smallest multiple of 4 KiB that leaves at least 4 KiB of padding. */
export function encodeHeaderWithRoom(stanzas: readonly Stanza[], fileKey: Uint8Array): Buffer {
  const bare = bareSize(stanzas);
  const size = Math.ceil((bare + MIN_HEADER_ROOM) / HEADER_ROOM_ALIGN) * HEADER_ROOM_ALIGN;
  const h = fitHeader(stanzas, fileKey, size);
  if (h === null) throw internal('header room arithmetic is wrong');
  return h;
}

/**
 * A header for `stanzas` (recipients; any padding among them is dropped) that is exactly `size`
 * bytes long thanks to a padding stanza, MACed with `fileKey`; null if they do not fit.
 */
export function fitHeader(stanzas: readonly Stanza[], fileKey: Uint8Array, size: number): Buffer | null {
  const recipients = stanzas.filter((s) => !isPadding(s));
  if (recipients.some((s) => s.type === SCRYPT_TYPE)) throw invalidInput('a passphrase-encrypted header cannot be padded', 'an scrypt stanza must be the only one in the header');
  const pad = paddingStanza(size - bareSize(recipients));
  if (pad === null) return null;
  const header = encodeHeader([...recipients, pad], fileKey);
  if (header.length !== size) throw internal('padded header has the wrong size');
  return header;
}

/** The size of a header with these stanzas and no padding. */
function bareSize(stanzas: readonly Stanza[]): number {
  return encodeHeaderWithoutMac(stanzas.filter((s) => !isPadding(s))).length + MAC_LINE_TAIL;
}

/** A padding stanza whose text is exactly `bytes` long, or null when none is (below 16, or 17). */
export function paddingStanza(bytes: number): Stanza | null {
  for (let filler = 0; filler <= 3; filler++) {
    const args = filler === 0 ? [] : ['x'.repeat(filler)];
    // What the body lines must take: each full line is 64 characters and a newline, and the
    // body ends with a shorter (possibly empty) line.
    const lines = bytes - STANZA_LINE - (filler === 0 ? 0 : filler + 1);
    if (lines < 1) continue;
    const target = lines - 1; // m + floor(m / 64), for m base64 characters
    for (let m = Math.max(0, target - Math.floor(target / 65) - 1); m <= target; m++) {
      if (m + Math.floor(m / 64) !== target) continue;
      if (m % 4 === 1) break; // no byte count encodes to this length
      const stanza = { type: PADDING_TYPE, args, body: new Uint8Array(Math.floor((m * 3) / 4)) };
      if (paddingLength(stanza) !== bytes) throw internal('padding arithmetic is wrong');
      return stanza;
    }
  }
  return null;
}

/** The stanza's length as encodeHeader writes it: its line, then the body lines. */
function paddingLength(s: Stanza): number {
  const m = encodeRaw(s.body).length;
  return `-> ${[s.type, ...s.args].join(' ')}\n`.length + m + Math.floor(m / 64) + 1;
}
