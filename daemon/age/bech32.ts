// Bech32 (BIP 173) without the 90-character limit, as age uses it. Written here, not taken
// from a library: decoding tells a person *why* a recipient string is wrong (mixed case, a
// character that cannot occur, a checksum that does not match), which the age library's
// "invalid recipient" does not; encoding makes identities from bytes that do not come from
// age-encryption's own randomness (a team service identity's come from KMS GenerateDataKey).

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3] as const;
const CHECKSUM_LENGTH = 6;

export type Bech32Result =
  | { ok: true; hrp: string; bytes: Uint8Array }
  | { ok: false; reason: string };

/** Decodes `s`; never throws. `hrp` is returned in lowercase. */
export function decodeBech32(s: string): Bech32Result {
  if (s !== s.toLowerCase() && s !== s.toUpperCase()) return fail('mixes upper and lower case');
  const lower = s.toLowerCase();
  const sep = lower.lastIndexOf('1');
  if (sep < 1) return fail('has no separator');
  if (lower.length - sep - 1 < CHECKSUM_LENGTH) return fail('is too short');
  const hrp = lower.slice(0, sep);
  for (let i = 0; i < hrp.length; i++) {
    const c = hrp.charCodeAt(i);
    if (c < 33 || c > 126) return fail('has a character that cannot occur in it');
  }
  const words: number[] = [];
  for (const ch of lower.slice(sep + 1)) {
    const v = CHARSET.indexOf(ch);
    if (v < 0) return fail(`has a character that cannot occur in it (${JSON.stringify(ch)})`);
    words.push(v);
  }
  if (polymod([...expandHrp(hrp), ...words]) !== 1) return fail('has a wrong checksum: it was mistyped or cut short');
  const bytes = fromWords(words.slice(0, -CHECKSUM_LENGTH));
  if (bytes === null) return fail('has invalid padding');
  return { ok: true, hrp, bytes };
}

function fail(reason: string): Bech32Result {
  return { ok: false, reason };
}

function expandHrp(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
}

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) {
      if ((top >>> i) & 1) chk ^= GENERATOR[i]!;
    }
  }
  return chk;
}

/** 5-bit groups to bytes; null if the leftover bits are not zero padding. */
function fromWords(words: readonly number[]): Uint8Array | null {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const w of words) {
    acc = ((acc << 5) | w) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >>> bits) & 0xff);
    }
  }
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) return null;
  return Uint8Array.from(out);
}

function toWords(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >>> bits) & 31);
    }
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
}

/** Bech32 of `bytes` under a lowercase `hrp`, without the 90-character limit (as age). */
export function encodeBech32(hrp: string, bytes: Uint8Array): string {
  const words = toWords(bytes);
  const mod = polymod([...expandHrp(hrp), ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum: number[] = [];
  for (let i = 0; i < CHECKSUM_LENGTH; i++) checksum.push((mod >>> (5 * (CHECKSUM_LENGTH - 1 - i))) & 31);
  return `${hrp}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`;
}

/** The age identity string for 32 secret bytes: X25519 (`AGE-SECRET-KEY-1...`) or hybrid post-quantum (`AGE-SECRET-KEY-PQ-1...`, the bytes are its seed). */
export function identityFromBytes(bytes: Uint8Array, pq: boolean): string {
  if (bytes.length !== 32) throw new Error('an age identity is 32 bytes');
  return encodeBech32(pq ? 'age-secret-key-pq-' : 'age-secret-key-', bytes).toUpperCase();
}
