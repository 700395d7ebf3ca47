import { open, sealParts, TAG_SIZE } from './aead';
import { internal } from './errors';

// The age payload's chunks, the one copy of the payload crypto: STREAM is ChaCha20-Poly1305 over
// 64 KiB chunks, the nonce of chunk i being i as 11 big-endian bytes followed by 0x01 on the
// final chunk, else 0x00. Pure functions of their arguments, so that the same code runs on the
// calling thread (stream.ts, batch.ts) and on the worker threads (worker.ts). A batch is a run
// of chunks processed in place in one buffer.

export const CHUNK_SIZE = 64 * 1024;
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
/** 2^48 chunks (16 EiB) fit the 11-byte counter many times over and a JS integer exactly. */
export const MAX_CHUNKS = 2 ** 48;

export function chunkNonce(counter: number, last: boolean): Buffer {
  if (!Number.isSafeInteger(counter) || counter < 0 || counter >= MAX_CHUNKS) {
    throw internal('chunk counter out of range');
  }
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6); // bytes 0-4 of the 11-byte counter stay zero
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Encrypts one chunk (at most 64 KiB; only the last may be shorter, or empty if it is the only one): its ciphertext and its tag. */
export function sealChunkParts(key: Uint8Array, counter: number, last: boolean, plaintext: Uint8Array): [Buffer, Buffer] {
  if (plaintext.length > CHUNK_SIZE || (!last && plaintext.length !== CHUNK_SIZE)) {
    throw internal('only the final chunk may be shorter than 64 KiB');
  }
  return sealParts(key, chunkNonce(counter, last), plaintext);
}

/** Encrypts one chunk: ciphertext || tag. */
export function sealChunk(key: Uint8Array, counter: number, last: boolean, plaintext: Uint8Array): Buffer {
  const [body, tag] = sealChunkParts(key, counter, last, plaintext);
  return Buffer.concat([body, tag], body.length + TAG_SIZE);
}

/** Decrypts one chunk; null if it does not authenticate as chunk `counter` with that last flag. */
export function openChunk(key: Uint8Array, counter: number, last: boolean, sealed: Uint8Array): Buffer | null {
  return open(key, chunkNonce(counter, last), sealed);
}

/** What a batch function did: `len` bytes now at the start of the buffer, the first `ok` chunks done. */
export interface BatchResult {
  len: number;
  ok: number;
}

/** Seals the `n` plaintext bytes at the start of `buf` in place as chunks `counter`, ...; `len` is the sealed length. */
export function sealChunksInPlace(key: Uint8Array, counter: number, final: boolean, buf: Buffer, n: number): BatchResult {
  const chunks = Math.max(1, Math.ceil(n / CHUNK_SIZE));
  // Backwards: chunk i's sealed bytes go to i * SEALED_CHUNK_SIZE, over plaintext already consumed.
  for (let i = chunks - 1; i >= 0; i--) {
    const start = i * CHUNK_SIZE;
    const [body, tag] = sealChunkParts(key, counter + i, final && i === chunks - 1, buf.subarray(start, Math.min(n, start + CHUNK_SIZE)));
    body.copy(buf, i * SEALED_CHUNK_SIZE);
    tag.copy(buf, i * SEALED_CHUNK_SIZE + body.length);
  }
  return { len: n + chunks * TAG_SIZE, ok: chunks };
}

/**
 * Opens the `len` sealed bytes at the start of `buf` in place, chunk by chunk, up to the first
 * that does not authenticate (whose sealed bytes stay where they were).
 */
export function openChunksInPlace(key: Uint8Array, counter: number, final: boolean, buf: Buffer, len: number): BatchResult {
  const chunks = Math.ceil(len / SEALED_CHUNK_SIZE);
  let plain = 0;
  // Forwards: each plaintext lands on sealed bytes already consumed.
  for (let i = 0; i < chunks; i++) {
    const start = i * SEALED_CHUNK_SIZE;
    const body = openChunk(key, counter + i, final && i === chunks - 1, buf.subarray(start, Math.min(len, start + SEALED_CHUNK_SIZE)));
    if (body === null) return { len: plain, ok: i };
    body.copy(buf, i * CHUNK_SIZE);
    plain += body.length;
  }
  return { len: plain, ok: chunks };
}
