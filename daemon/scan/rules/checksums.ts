// Checksums that token formats carry, so that a real token can be told from a look-alike
// without asking the service. Written by hand: a few lines each, on the hot path (and the
// pre-commit hook does not load node:zlib for a CRC32).

let table: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as zlib's) of a string's UTF-8 bytes; token bodies are ASCII. */
export function crc32(s: string): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of Buffer.from(s, 'utf8')) crc = table[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const BASE62_UPPER_FIRST = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE62_LOWER_FIRST = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** `n` in base 62 with `alphabet`, left-padded with its zero to `width` characters. */
export function base62(n: number, width: number, alphabet = BASE62_UPPER_FIRST): string {
  let s = '';
  let v = n >>> 0;
  while (v > 0) {
    s = alphabet[v % 62]! + s;
    v = Math.floor(v / 62);
  }
  return s.padStart(width, alphabet[0]);
}

/**
 * GitHub's token format (2021), also npm's: a prefix, 30 random base62 characters, then the
 * CRC32 of those 30 characters in base 62 (6 characters, zero-padded). Documented in
 * GitHub's "Behind GitHub's new authentication token formats". Both base-62 alphabets in use
 * by implementations (digits, then upper or lower case first) are accepted.
 */
export function githubChecksumOk(token: string): boolean {
  const body = token.slice(token.indexOf('_') + 1);
  if (body.length !== 36) return false;
  const c = crc32(body.slice(0, 30));
  const got = body.slice(30);
  return got === base62(c, 6) || got === base62(c, 6, BASE62_LOWER_FIRST);
}

/** The 6-character checksum for 30 random characters (fakes and tests make valid tokens with it). */
export function githubChecksum(random30: string): string {
  return base62(crc32(random30), 6);
}
