import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { ByteReader } from '../../daemon/age/io';
import {
  CHUNK_SIZE,
  chunkNonce,
  decryptPayload,
  encryptPayload,
  openChunk,
  payloadKey,
  payloadSize,
  plaintextSize,
  sealChunk,
  SEALED_CHUNK_SIZE,
} from '../../daemon/age/stream';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError } from '../../daemon/util/errors';

const K = 64 * 1024;

/** A reader over `bytes` that hands them out in pieces of `piece` bytes (boundaries anywhere). */
function readerOf(bytes: Uint8Array, piece = 10_007): ByteReader {
  let off = 0;
  return new ByteReader(
    () => {
      if (off >= bytes.length) return Promise.resolve(null);
      const out = Buffer.from(bytes.subarray(off, off + piece));
      off += piece;
      return Promise.resolve(out);
    },
    1,
  );
}

async function collect(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of gen) parts.push(p);
  return Buffer.concat(parts);
}

async function encrypt(plaintext: Uint8Array, fileKey: Uint8Array): Promise<Buffer> {
  return collect(encryptPayload(readerOf(plaintext), fileKey));
}

async function decryptFails(payload: Uint8Array, fileKey: Uint8Array, code: number, message: RegExp): Promise<Buffer[]> {
  const got: Buffer[] = [];
  await assert.rejects(
    (async () => {
      for await (const p of decryptPayload(readerOf(payload), fileKey)) got.push(p);
    })(),
    (e: unknown) => {
      assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.match(e.message, message);
      return true;
    },
  );
  return got;
}

const SIZES = [0, 1, K - 1, K, K + 1, 2 * K, 3 * K, 3 * K + 5];

describe('age payload (STREAM)', () => {
  describe('chunks', () => {
    it('nonce is the 11-byte big-endian counter and the last flag', () => {
      assert.equal(chunkNonce(0, false).toString('hex'), '000000000000000000000000');
      assert.equal(chunkNonce(0, true).toString('hex'), '000000000000000000000001');
      assert.equal(chunkNonce(1, false).toString('hex'), '000000000000000000000100');
      assert.equal(chunkNonce(0x0102030405, true).toString('hex'), '000000000000010203040501');
      assert.equal(chunkNonce(2 ** 48 - 1, false).toString('hex'), '0000000000ffffffffffff00');
      assert.throws(() => chunkNonce(-1, false));
      assert.throws(() => chunkNonce(2 ** 48, false));
    });

    it('seal/open round-trip, and opening fails for another counter, flag, key or a flipped bit', () => {
      const key = randomBytes(32);
      const pt = randomBytes(CHUNK_SIZE);
      const sealed = sealChunk(key, 7, false, pt);
      assert.equal(sealed.length, SEALED_CHUNK_SIZE);
      assert.deepEqual(openChunk(key, 7, false, sealed), pt);
      assert.equal(openChunk(key, 8, false, sealed), null);
      assert.equal(openChunk(key, 7, true, sealed), null);
      assert.equal(openChunk(randomBytes(32), 7, false, sealed), null);
      for (const at of [0, 1000, sealed.length - 17, sealed.length - 1]) {
        const bad = Buffer.from(sealed);
        bad[at]! ^= 1;
        assert.equal(openChunk(key, 7, false, bad), null, `bit flipped at ${at}`);
      }
      assert.equal(openChunk(key, 0, true, Buffer.alloc(15)), null);
    });

    it('only the final chunk may be short', () => {
      assert.throws(() => sealChunk(randomBytes(32), 0, false, randomBytes(10)), /only the final chunk/);
      assert.throws(() => sealChunk(randomBytes(32), 0, true, randomBytes(CHUNK_SIZE + 1)), /only the final chunk/);
    });

    it('payload key is HKDF over the file key and the nonce', () => {
      const fk = randomBytes(16);
      assert.notDeepEqual(payloadKey(fk, Buffer.alloc(16, 1)), payloadKey(fk, Buffer.alloc(16, 2)));
      assert.throws(() => payloadKey(randomBytes(15), Buffer.alloc(16)));
    });

    it('sizes: payload for a plaintext and back; impossible payload sizes give null', () => {
      const expected: [number, number][] = [
        [0, 16 + 16],
        [1, 16 + 17],
        [K, 16 + K + 16],
        [K + 1, 16 + K + 1 + 32],
        [3 * K, 16 + 3 * K + 48],
      ];
      for (const [pt, payload] of expected) {
        assert.equal(payloadSize(pt), payload, `payload for ${pt}`);
        assert.equal(plaintextSize(payload), pt, `plaintext for ${payload}`);
      }
      for (const bad of [0, 16, 31, 16 + SEALED_CHUNK_SIZE + 5, 16 + SEALED_CHUNK_SIZE + 16]) assert.equal(plaintextSize(bad), null, String(bad));
    });
  });

  describe('round trips', () => {
    for (const size of SIZES) {
      it(`${size} bytes`, async () => {
        const fk = randomBytes(16);
        const pt = randomBytes(size);
        const payload = await encrypt(pt, fk);
        assert.equal(payload.length, payloadSize(size));
        assert.deepEqual(await collect(decryptPayload(readerOf(payload), fk)), pt);
        // Independent of how the source cuts its bytes.
        assert.deepEqual(await collect(decryptPayload(readerOf(payload, 1 + (size % 977)), fk)), pt);
      });
    }

    it('exactly 64 KiB is one full final chunk, not followed by an empty one', async () => {
      const fk = randomBytes(16);
      const payload = await encrypt(randomBytes(K), fk);
      assert.equal(payload.length, 16 + SEALED_CHUNK_SIZE);
      const key = payloadKey(fk, payload.subarray(0, 16));
      assert.ok(openChunk(key, 0, true, payload.subarray(16)));
    });

    it('empty input is one empty final chunk', async () => {
      const fk = randomBytes(16);
      const payload = await encrypt(new Uint8Array(0), fk);
      assert.deepEqual(openChunk(payloadKey(fk, payload.subarray(0, 16)), 0, true, payload.subarray(16)), Buffer.alloc(0));
    });

    it('reports progress and stops on abort', async () => {
      const fk = randomBytes(16);
      const seen: number[] = [];
      const payload = await collect(encryptPayload(readerOf(randomBytes(2 * K + 3)), fk, { onProgress: (n) => seen.push(n) }));
      assert.deepEqual(seen, [K, 2 * K, 2 * K + 3]);
      const back: number[] = [];
      await collect(decryptPayload(readerOf(payload), fk, { onProgress: (n) => back.push(n) }));
      assert.deepEqual(back, [K, 2 * K, 2 * K + 3]);

      const ac = new AbortController();
      ac.abort();
      await assert.rejects(collect(encryptPayload(readerOf(randomBytes(10)), fk, { signal: ac.signal })), (e: unknown) => isKeywardError(e) && e.code === ErrorCode.Cancelled);
      await assert.rejects(collect(decryptPayload(readerOf(payload), fk, { signal: ac.signal })), (e: unknown) => isKeywardError(e) && e.code === ErrorCode.Cancelled);
    });
  });

  describe('must fail', () => {
    const fk = randomBytes(16);
    let three: Buffer; // 3 full chunks + 5 bytes: chunks 0..3
    const pt = randomBytes(3 * K + 5);
    before(async () => {
      three = await encrypt(pt, fk);
    });
    const chunkAt = (i: number) => 16 + i * SEALED_CHUNK_SIZE;

    it('a flipped byte in the first, a middle and the last chunk, after yielding only the chunks before it', async () => {
      for (const [i, at] of [
        [0, chunkAt(0) + 5],
        [1, chunkAt(1) + 100],
        [2, chunkAt(3) - 1],
        [3, three.length - 1],
      ] as const) {
        const bad = Buffer.from(three);
        bad[at]! ^= 0x40;
        const got = await decryptFails(bad, fk, ErrorCode.DecryptFailed, new RegExp(`^payload authentication failed at chunk ${i}:`));
        assert.deepEqual(Buffer.concat(got), pt.subarray(0, i * K));
      }
    });

    it('a flipped byte in the nonce, and the wrong file key', async () => {
      const bad = Buffer.from(three);
      bad[3]! ^= 1;
      await decryptFails(bad, fk, ErrorCode.DecryptFailed, /at chunk 0/);
      await decryptFails(three, randomBytes(16), ErrorCode.DecryptFailed, /at chunk 0/);
    });

    it('truncation exactly at a chunk boundary (which would otherwise look like a shorter valid file)', async () => {
      for (const n of [1, 2, 3]) {
        await decryptFails(three.subarray(0, chunkAt(n)), fk, ErrorCode.Malformed, /^file is truncated$/);
      }
    });

    it('truncation inside a chunk, inside the tag, in the nonce, and right after it', async () => {
      await decryptFails(three.subarray(0, chunkAt(1) + 1000), fk, ErrorCode.DecryptFailed, /at chunk 1/);
      await decryptFails(three.subarray(0, three.length - 1), fk, ErrorCode.DecryptFailed, /at chunk 3/);
      await decryptFails(three.subarray(0, chunkAt(3) + 10), fk, ErrorCode.Malformed, /^file is truncated$/);
      await decryptFails(three.subarray(0, 15), fk, ErrorCode.Malformed, /^file is truncated$/);
      await decryptFails(three.subarray(0, 16), fk, ErrorCode.Malformed, /^file is truncated$/);
    });

    it('trailing data after the final chunk', async () => {
      const full = await encrypt(randomBytes(2 * K), fk); // final chunk is full-size
      await decryptFails(Buffer.concat([full, Buffer.from('x')]), fk, ErrorCode.Malformed, /^trailing data after the end of the encrypted file$/);
      await decryptFails(Buffer.concat([full, randomBytes(SEALED_CHUNK_SIZE)]), fk, ErrorCode.Malformed, /^trailing data/);
      // After a short final chunk the extra bytes become part of it: it no longer authenticates.
      await decryptFails(Buffer.concat([three, Buffer.from('x')]), fk, ErrorCode.DecryptFailed, /at chunk 3/);
    });

    it('an empty final chunk after a full one', async () => {
      const nonce = randomBytes(16);
      const key = payloadKey(fk, nonce);
      const payload = Buffer.concat([nonce, sealChunk(key, 0, false, randomBytes(K)), sealChunk(key, 1, true, Buffer.alloc(0))]);
      await decryptFails(payload, fk, ErrorCode.Malformed, /empty final chunk/);
    });

    it('swapped or repeated chunks', async () => {
      const swapped = Buffer.concat([three.subarray(0, 16), three.subarray(chunkAt(1), chunkAt(2)), three.subarray(chunkAt(0), chunkAt(1)), three.subarray(chunkAt(2))]);
      await decryptFails(swapped, fk, ErrorCode.DecryptFailed, /at chunk 0/);
      const repeated = Buffer.concat([three.subarray(0, chunkAt(1)), three.subarray(chunkAt(0), chunkAt(1)), three.subarray(chunkAt(2))]);
      await decryptFails(repeated, fk, ErrorCode.DecryptFailed, /at chunk 1/);
    });
  });
});
