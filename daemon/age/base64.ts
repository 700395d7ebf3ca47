// Strict base64 for age. Node's decoder is lenient (it skips bad characters, accepts missing
// or extra padding and non-zero trailing bits), and the spec requires decoders to reject
// anything but the canonical encoding, so every decode here re-checks what it decoded.

const RAW_ALPHABET = /^[A-Za-z0-9+/]*$/;
const PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard alphabet, no `=` padding (the header's encoding). */
export function encodeRaw(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/=+$/, '');
}

/**
 * Decodes unpadded standard base64. Returns null unless `s` is the canonical encoding of
 * its bytes: no padding, no stray characters, no impossible length, zero trailing bits.
 */
export function decodeRaw(s: string): Buffer | null {
  if (s.length % 4 === 1 || !RAW_ALPHABET.test(s)) return null;
  const bytes = Buffer.from(s, 'base64');
  return encodeRaw(bytes) === s ? bytes : null;
}

/** Decodes padded standard base64 (the armor's encoding); null unless canonical. */
export function decodePadded(s: string): Buffer | null {
  if (!PADDED.test(s)) return null;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : null;
}
