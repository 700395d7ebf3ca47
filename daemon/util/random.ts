// Random names for temp files and private directories, from the platform's CSPRNG (Web Crypto's
// getRandomValues, which Node loads on first use): `keyward exec` loads no node:crypto at start.

/** `bytes` random bytes as lowercase hex. */
export function randomHex(bytes: number): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
}
