import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';

// Shamir's secret sharing over GF(2^8), byte-compatible with sops' `shamir` package (HashiCorp
// Vault's scheme): every byte of the secret is the constant term of its own random polynomial
// of degree threshold-1, and share i (i = 0..parts-1) is the polynomial values at x = i+1, one
// per secret byte, followed by x itself as the last byte: {y1, ..., yN, x}.
//
// The field is AES's (x^8 + x^4 + x^3 + x + 1). Since 3.10 sops multiplies and inverts without
// log/exp tables, with no branch or memory access that depends on the operands; so do we.
// Written by hand: it is a few lines, and the share layout must be exactly sops'.

/** The x coordinate appended to each share. */
export const SHARE_OVERHEAD = 1;
export const MAX_PARTS = 255;

/** a * b in GF(2^8), in constant time (shift-and-add over b's bits, reduction by mask). */
function mul(a: number, b: number): number {
  let acc = 0;
  for (let i = 7; i >= 0; i--) {
    const bit = (b >>> i) & 1;
    const reduce = (-(acc >>> 7) & 0x1b) ^ ((acc << 1) & 0xff);
    acc = reduce ^ (-bit & a);
  }
  return acc & 0xff;
}

/** a^254 = a^-1 for a != 0 (0 for 0), by a fixed chain of multiplications. */
function inverse(a: number): number {
  let b = mul(a, a); // a^2
  let c = mul(a, b); // a^3
  b = mul(c, c); // a^6
  b = mul(b, b); // a^12
  c = mul(b, c); // a^15
  b = mul(b, b); // a^24
  b = mul(b, b); // a^48
  b = mul(b, c); // a^63
  b = mul(b, b); // a^126
  b = mul(a, b); // a^127
  return mul(b, b); // a^254
}

function invalid(message: string): KeywardError {
  return new KeywardError(ErrorCode.InvalidInput, message);
}

function malformedShares(message: string): KeywardError {
  return new KeywardError(ErrorCode.Malformed, message, 'the key groups of the file are damaged or were edited');
}

/**
 * Splits `secret` into `parts` shares, any `threshold` of which recover it; each share is one
 * byte longer than the secret. Throws InvalidInput unless 2 <= threshold <= parts <= 255 and
 * the secret is not empty.
 */
export function split(secret: Uint8Array, parts: number, threshold: number): Buffer[] {
  if (!Number.isInteger(parts) || parts < 2 || parts > MAX_PARTS) throw invalid(`shamir: parts must be 2 to ${MAX_PARTS}, not ${parts}`);
  if (!Number.isInteger(threshold) || threshold < 2) throw invalid(`shamir: threshold must be at least 2, not ${threshold}`);
  if (threshold > parts) throw invalid(`shamir: threshold ${threshold} is more than the ${parts} parts`);
  if (secret.length === 0) throw invalid('shamir: cannot split an empty secret');

  const shares = Array.from({ length: parts }, (_, i) => {
    const s = Buffer.alloc(secret.length + SHARE_OVERHEAD);
    s[secret.length] = i + 1;
    return s;
  });
  // One polynomial per secret byte: coefficient 0 is the byte, the others random.
  const coefficients = Buffer.alloc(threshold);
  try {
    for (let idx = 0; idx < secret.length; idx++) {
      randomBytes(threshold - 1).copy(coefficients, 1);
      coefficients[0] = secret[idx]!;
      for (let i = 0; i < parts; i++) {
        const x = i + 1;
        // Horner's rule from the highest coefficient down.
        let y = coefficients[threshold - 1]!;
        for (let k = threshold - 2; k >= 0; k--) y = mul(y, x) ^ coefficients[k]!;
        shares[i]![idx] = y;
      }
    }
  } finally {
    coefficients.fill(0);
  }
  return shares;
}

/**
 * Recovers the secret from shares made by `split` (sops' layout). With fewer shares than the
 * threshold the result is a wrong secret, not an error: the scheme cannot tell. Throws
 * Malformed for fewer than two shares, shares of different or too short lengths, a duplicate
 * x coordinate or an x coordinate of 0 (which `split` never makes).
 */
export function combine(shares: readonly Uint8Array[]): Buffer {
  if (shares.length < 2) throw malformedShares('shamir: at least two shares are needed');
  const len = shares[0]!.length;
  if (len < 2) throw malformedShares('shamir: a share must be at least two bytes');
  if (shares.some((s) => s.length !== len)) throw malformedShares('shamir: shares differ in length');
  const xs = shares.map((s) => s[len - 1]!);
  const seen = new Set<number>();
  for (const x of xs) {
    if (x === 0) throw malformedShares('shamir: a share has x coordinate 0');
    if (seen.has(x)) throw malformedShares('shamir: duplicate share');
    seen.add(x);
  }

  // Lagrange basis at x = 0: the x coordinates are public, so these need not be constant time,
  // but they use the same arithmetic anyway. Subtraction is XOR in GF(2^8).
  const basis = xs.map((xi, i) => {
    let b = 1;
    xs.forEach((xj, j) => {
      if (i !== j) b = mul(b, mul(xj, inverse(xi ^ xj)));
    });
    return b;
  });
  const secret = Buffer.alloc(len - SHARE_OVERHEAD);
  for (let idx = 0; idx < secret.length; idx++) {
    let v = 0;
    for (let i = 0; i < shares.length; i++) v ^= mul(shares[i]![idx]!, basis[i]!);
    secret[idx] = v;
  }
  return secret;
}

/** Exposed for tests: field arithmetic checked against the AES field's known values. */
export const gf256 = { mul, inverse };
