import { createCipheriv, createDecipheriv } from 'node:crypto';

// ChaCha20-Poly1305 (RFC 8439) from node:crypto, i.e. OpenSSL: native speed, and the only
// AEAD age uses (stanza bodies and payload chunks). Sealed output is ciphertext || tag.

export const TAG_SIZE = 16;
export const KEY_SIZE = 32;
export const NONCE_SIZE = 12;

export function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const [body, tag] = sealParts(key, nonce, plaintext);
  return Buffer.concat([body, tag], body.length + TAG_SIZE);
}

/** seal's ciphertext and tag as two buffers, for a writer that gathers them (writev) without a copy. */
export function sealParts(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): [Buffer, Buffer] {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_SIZE });
  const body = c.update(plaintext);
  c.final();
  return [body, c.getAuthTag()];
}

/** The plaintext, or null if `sealed` does not authenticate under `key` and `nonce`. */
export function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Buffer | null {
  if (sealed.length < TAG_SIZE) return null;
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_SIZE });
  d.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  const body = d.update(sealed.subarray(0, sealed.length - TAG_SIZE));
  try {
    d.final();
  } catch {
    // OpenSSL's only failure here is a tag mismatch; the unauthenticated bytes are dropped.
    body.fill(0);
    return null;
  }
  return body;
}
