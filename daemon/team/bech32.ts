// Bech32 encoding of an age identity from its 32 bytes. age-encryption only generates
// identities from its own randomness; a service identity's bytes come from KMS
// (GenerateDataKey), so they are encoded here. Decoding, with the reasons a string is wrong,
// lives in daemon/age/bech32.ts; the unit test checks both agree and that age-encryption
// accepts what this writes.

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3] as const;

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i]!;
  }
  return chk;
}

function expandHrp(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
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
  for (let i = 0; i < 6; i++) checksum.push((mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`;
}

/** The age identity string for 32 secret bytes: X25519 (`AGE-SECRET-KEY-1...`) or hybrid post-quantum (`AGE-SECRET-KEY-PQ-1...`, the bytes are its seed). */
export function identityFromBytes(bytes: Uint8Array, pq: boolean): string {
  if (bytes.length !== 32) throw new Error('an age identity is 32 bytes');
  return encodeBech32(pq ? 'age-secret-key-pq-' : 'age-secret-key-', bytes).toUpperCase();
}
