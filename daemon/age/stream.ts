import { hkdfSync, randomBytes } from 'node:crypto';
import { TAG_SIZE } from './aead';
import { CHUNK_SIZE, openChunk, SEALED_CHUNK_SIZE, sealChunk } from './chunk';
import { internal, malformed, payloadAuthFailed, throwIfAborted, truncated } from './errors';
import { FILE_KEY_SIZE } from './header';
import type { ByteReader } from './io';

// The age payload: a 16-byte nonce, then STREAM (ChaCha20-Poly1305 over 64 KiB chunks, see
// ./chunk.ts, whose chunk functions also run on worker threads). The generators here do the
// framing and the end-of-file rules.

export { CHUNK_SIZE, chunkNonce, openChunk, SEALED_CHUNK_SIZE, sealChunk } from './chunk';
export const PAYLOAD_NONCE_SIZE = 16;

export interface StreamOptions {
  signal?: AbortSignal;
  /** Called after each chunk with the plaintext bytes processed so far. */
  onProgress?: (plaintextBytes: number) => void;
}

/** payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload"). */
export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  if (fileKey.length !== FILE_KEY_SIZE) throw internal('file key must be 16 bytes');
  if (nonce.length !== PAYLOAD_NONCE_SIZE) throw internal('payload nonce must be 16 bytes');
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
}

/** Ciphertext payload size (nonce included) for a plaintext size. */
export function payloadSize(plaintextSize: number): number {
  const chunks = Math.max(1, Math.ceil(plaintextSize / CHUNK_SIZE));
  return PAYLOAD_NONCE_SIZE + plaintextSize + chunks * TAG_SIZE;
}

/** Plaintext size for a payload size (nonce included), or null if no valid payload has that size. */
export function plaintextSize(payload: number): number | null {
  const sealed = payload - PAYLOAD_NONCE_SIZE;
  if (sealed < TAG_SIZE) return null;
  const chunks = Math.ceil(sealed / SEALED_CHUNK_SIZE);
  const lastSealed = sealed - (chunks - 1) * SEALED_CHUNK_SIZE;
  if (lastSealed < TAG_SIZE || (lastSealed === TAG_SIZE && chunks > 1)) return null;
  return sealed - chunks * TAG_SIZE;
}

/**
 * Yields the payload for everything `source` holds: the nonce, then each sealed chunk.
 * A chunk is final when the source has nothing after it, so an exact multiple of 64 KiB
 * ends with a full final chunk and empty input is one empty final chunk.
 */
export async function* encryptPayload(source: ByteReader, fileKey: Uint8Array, opts: StreamOptions = {}): AsyncGenerator<Buffer> {
  const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
  const key = payloadKey(fileKey, nonce);
  try {
    yield nonce;
    let done = 0;
    for (let counter = 0; ; counter++) {
      throwIfAborted(opts.signal);
      const plaintext = await source.read(CHUNK_SIZE);
      const last = plaintext.length < CHUNK_SIZE || (await source.atEnd());
      yield sealChunk(key, counter, last, plaintext);
      done += plaintext.length;
      opts.onProgress?.(done);
      if (last) return;
    }
  } finally {
    key.fill(0);
  }
}

/**
 * Reads the payload (nonce and chunks) from `source` and yields each chunk's plaintext only
 * after it authenticated. Throws, after the chunks that did authenticate, if the payload is
 * tampered with, truncated (including exactly at a chunk boundary: the last chunk read must
 * carry the final flag), followed by trailing data, or ends with an empty chunk after a full one.
 */
export async function* decryptPayload(source: ByteReader, fileKey: Uint8Array, opts: StreamOptions = {}): AsyncGenerator<Buffer> {
  const nonce = await source.read(PAYLOAD_NONCE_SIZE);
  if (nonce.length < PAYLOAD_NONCE_SIZE) throw truncated();
  const key = payloadKey(fileKey, nonce);
  try {
    let done = 0;
    for (let counter = 0; ; counter++) {
      throwIfAborted(opts.signal);
      const sealed = await source.read(SEALED_CHUNK_SIZE);
      if (sealed.length < TAG_SIZE) throw truncated(); // no final chunk, or a cut-off tag
      // A short read means end of input; a full one is final only if nothing follows it.
      const last = sealed.length < SEALED_CHUNK_SIZE || (await source.atEnd());
      const plaintext = openChunk(key, counter, last, sealed);
      if (plaintext === null) throw explainFailure(key, counter, last, sealed);
      if (last && plaintext.length === 0 && counter > 0) {
        throw malformed('invalid payload: empty final chunk', 'the file was not written by a conforming age implementation');
      }
      done += plaintext.length;
      yield plaintext;
      opts.onProgress?.(done);
      if (last) return;
    }
  } finally {
    key.fill(0);
  }
}

/**
 * A full-size chunk that fails with the flag its position implies may be intact but in the
 * wrong place: a non-final chunk at the end of the file means it was cut at a chunk boundary,
 * a final chunk with bytes after it means data was appended. Anything else is damage.
 */
export function explainFailure(key: Uint8Array, counter: number, last: boolean, sealed: Buffer): Error {
  const other = sealed.length === SEALED_CHUNK_SIZE ? openChunk(key, counter, !last, sealed) : null;
  if (other !== null) {
    other.fill(0);
    return last
      ? truncated()
      : malformed('trailing data after the end of the encrypted file', 'something was appended to the file; copy it again from its source');
  }
  return payloadAuthFailed(counter);
}
