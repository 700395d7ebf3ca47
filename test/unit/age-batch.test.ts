import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { Decrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decryptFile, decryptToWritable, encryptFile, readHeader, shutdownPool, unwrapWithIdentities, type FileUnwrap, type PayloadTuning } from '../../daemon/age';
import { openBatch, sealBatch } from '../../daemon/age/batch';
import { ByteReader } from '../../daemon/age/io';
import { CryptoPool, cryptoPool, SEALED } from '../../daemon/age/pool';
import { decryptPayload, payloadKey, sealChunk } from '../../daemon/age/stream';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';

// The payload on worker threads (batch.ts, pool.ts): the worker script and this thread's batch
// functions give the same bytes, files of several MiB round-trip through the workers with any
// batch size, and damaged payloads fail exactly as the reference (decryptPayload) says.

const K = 64 * 1024;
const MiB = 1024 * 1024;
const ALWAYS: PayloadTuning = { threads: 'always' };

describe('age payload on worker threads', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let id: string;
  let recipient: string;
  let unwrap: FileUnwrap;

  before(async () => {
    id = await generateX25519Identity();
    recipient = await identityToRecipient(id);
    unwrap = unwrapWithIdentities([id]);
    ({ dir, cleanup } = await tempDir('keyward-age-batch-'));
  });
  after(async () => {
    await cleanup();
    await shutdownPool();
  });

  const p = (name: string) => path.join(dir, name);

  async function toBuffer(input: string | AsyncIterable<Uint8Array>, tuning?: PayloadTuning): Promise<Buffer> {
    const out = new PassThrough();
    const parts: Buffer[] = [];
    out.on('data', (b: Buffer) => parts.push(b));
    await decryptToWritable({ input, output: out, unwrap, ...(tuning ? { tuning } : {}) });
    return Buffer.concat(parts);
  }

  describe('the worker script mirrors the batch functions of this thread', () => {
    const cases: [string, number, boolean][] = [
      ['an empty final batch', 0, true],
      ['one byte', 1, true],
      ['one full final chunk', K, true],
      ['three full chunks, not final', 3 * K, false],
      ['three full chunks, final', 3 * K, true],
      ['a short final chunk', 3 * K + 5, true],
    ];
    for (const [name, n, final] of cases) {
      it(name, async () => {
        const key = randomBytes(32);
        const counter = 2 ** 40 + 3; // exercises all six counter bytes
        const plain = randomBytes(n);
        const batch = () => {
          const b = Buffer.from(new ArrayBuffer(4 * SEALED));
          plain.copy(b);
          return b;
        };
        const here = sealBatch(key, counter, final, batch(), n);
        const there = await cryptoPool().run({ op: 'seal', key: Uint8Array.from(key), counter, final, buf: batch().buffer, len: n });
        assert.equal(there.len, here.len);
        const sealed = Buffer.from(here.buf).subarray(0, here.len);
        assert.deepEqual(Buffer.from(there.buf).subarray(0, there.len), sealed);
        // Chunk by chunk, it is the reference's encryption.
        const chunks = Math.max(1, Math.ceil(n / K));
        for (let i = 0; i < chunks; i++) {
          const ref = sealChunk(key, counter + i, final && i === chunks - 1, plain.subarray(i * K, Math.min(n, (i + 1) * K)));
          assert.deepEqual(sealed.subarray(i * SEALED, i * SEALED + ref.length), ref);
        }

        // Opening, intact and with the last chunk damaged.
        for (const damage of [false, true]) {
          const input = () => {
            const b = Buffer.from(new ArrayBuffer(4 * SEALED));
            sealed.copy(b);
            if (damage) b[sealed.length - 1]! ^= 1;
            return b;
          };
          const a = openBatch(key, counter, final, input(), sealed.length);
          const b = await cryptoPool().run({ op: 'open', key: Uint8Array.from(key), counter, final, buf: input().buffer, len: sealed.length });
          assert.deepEqual([b.ok, b.len], [a.ok, a.len]);
          assert.equal(a.ok, damage ? chunks - 1 : chunks);
          assert.deepEqual(Buffer.from(b.buf).subarray(0, b.len), plain.subarray(0, a.len));
          assert.deepEqual(Buffer.from(a.buf).subarray(0, a.len), plain.subarray(0, a.len));
          // The failed chunk's sealed bytes are still where they were, for the error report.
          const at = a.ok * SEALED;
          assert.deepEqual(Buffer.from(b.buf).subarray(at, sealed.length), input().subarray(at, sealed.length));
        }
      });
    }

    it('the wrong key or flag opens nothing', async () => {
      const key = randomBytes(32);
      const b = Buffer.from(new ArrayBuffer(2 * SEALED));
      const { len } = sealBatch(key, 0, false, b, 2 * K);
      for (const [k, final] of [[randomBytes(32), false], [key, true]] as const) {
        const r = await cryptoPool().run({ op: 'open', key: Uint8Array.from(k), counter: 0, final, buf: Buffer.from(b).buffer, len });
        assert.equal(r.ok, final ? 1 : 0); // with final set, only the last chunk's flag is wrong
      }
    });
  });

  describe('files of several MiB', () => {
    for (const size of [5 * MiB + 123, 4 * MiB, 4 * MiB - 1]) {
      it(`${size} bytes: through the workers, and across the two paths`, async () => {
        const data = randomBytes(size);
        await fsp.writeFile(p('plain'), data);
        await encryptFile({ input: p('plain'), output: p('x.age'), recipients: [recipient], overwrite: true });
        assert.deepEqual(await toBuffer(p('x.age')), data);
        assert.deepEqual(await toBuffer(p('x.age'), { threads: 'never' }), data);
        await decryptFile({ input: p('x.age'), output: p('out'), unwrap, overwrite: true });
        assert.deepEqual(await fsp.readFile(p('out')), data);

        await encryptFile({ input: p('plain'), output: p('y.age'), recipients: [recipient], overwrite: true, tuning: { threads: 'never' } });
        assert.deepEqual(await toBuffer(p('y.age'), ALWAYS), data);

        // Streams in, armor out, through the workers.
        await encryptFile({ input: createReadStream(p('plain'), { highWaterMark: 100_000 }), output: p('z.age'), recipients: [recipient], armor: true, overwrite: true, tuning: ALWAYS });
        assert.deepEqual(await toBuffer(createReadStream(p('z.age'), { highWaterMark: 7_777 }), ALWAYS), data);

        const d = new Decrypter();
        d.addIdentity(id);
        assert.deepEqual(Buffer.from(await d.decrypt(await fsp.readFile(p('x.age')))), data);
      });
    }

    it('two files at once share the pool', async () => {
      const a = randomBytes(3 * MiB + 1);
      const b = randomBytes(2 * MiB + 7);
      await fsp.writeFile(p('a'), a);
      await fsp.writeFile(p('b'), b);
      await Promise.all([
        encryptFile({ input: p('a'), output: p('a.age'), recipients: [recipient], overwrite: true, tuning: { batchChunks: 3 } }),
        encryptFile({ input: p('b'), output: p('b.age'), recipients: [recipient], overwrite: true, tuning: { batchChunks: 2 } }),
      ]);
      const [da, db] = await Promise.all([toBuffer(p('a.age'), { batchChunks: 5 }), toBuffer(p('b.age'), ALWAYS)]);
      assert.deepEqual(da, a);
      assert.deepEqual(db, b);
    });
  });

  describe('many small batches', () => {
    const sizes = [0, 1, K, 2 * K, 3 * K - 1, 3 * K, 3 * K + 1, 7 * K + 5, 12 * K];
    for (const batchChunks of [1, 2, 3]) {
      for (const inFlight of [1, 3]) {
        for (const spread of [false, true]) {
          it(`${batchChunks} chunk(s) per batch, ${inFlight} in flight, ${spread ? 'placed by the workers (spread.ts)' : 'read and written by this thread'}`, async () => {
            const tuning: PayloadTuning = { batchChunks, inFlight, threads: 'always', spread };
            for (const size of sizes) {
              const data = randomBytes(size);
              await fsp.writeFile(p('plain'), data);
              const seen: number[] = [];
              await encryptFile({ input: p('plain'), output: p('x.age'), recipients: [recipient], overwrite: true, tuning, onProgress: (n) => seen.push(n) });
              const perChunk = Array.from({ length: Math.max(1, Math.ceil(size / K)) }, (_, i) => Math.min(size, (i + 1) * K));
              if (spread && inFlight > 1) {
                // Progress still comes per chunk, but batches may finish out of order: the
                // short last chunk can be counted before a full one.
                assert.equal(seen.length, perChunk.length, `size ${size}`);
                assert.equal(seen.at(-1), size);
                const steps = seen.map((n, i) => n - (i === 0 ? 0 : seen[i - 1]!)).sort((a, b) => a - b);
                const want = perChunk.map((n, i) => n - (i === 0 ? 0 : perChunk[i - 1]!)).sort((a, b) => a - b);
                assert.deepEqual(steps, want, `size ${size}`);
              } else {
                assert.deepEqual(seen, perChunk, `size ${size}`);
              }
              assert.deepEqual(await toBuffer(p('x.age'), tuning), data, `size ${size}`);
              assert.deepEqual(await toBuffer(p('x.age'), { threads: 'never' }), data, `size ${size}`);
              await decryptFile({ input: p('x.age'), output: p('x.out'), unwrap, overwrite: true, tuning });
              assert.deepEqual(await fsp.readFile(p('x.out')), data, `size ${size}`);
            }
          });
        }
      }
    }
  });

  describe('damaged payloads fail as the reference says, after the same chunks', () => {
    let data: Buffer;
    let file: Buffer;
    let headerSize: number;
    let fileKey: Uint8Array;
    before(async () => {
      data = randomBytes(7 * K + 5); // chunks 0..6 full, 7 short
      await fsp.writeFile(p('plain'), data);
      await encryptFile({ input: p('plain'), output: p('x.age'), recipients: [recipient], overwrite: true });
      file = await fsp.readFile(p('x.age'));
      headerSize = (await readHeader(p('x.age'))).size;
      await decryptFile({ input: p('x.age'), output: p('out'), overwrite: true, unwrap: async (h) => (fileKey = await unwrap(h)) });
    });
    const chunkAt = (i: number) => headerSize + 16 + i * SEALED;

    interface Outcome {
      out: Buffer;
      error?: string;
    }
    const describeError = (e: unknown) => (isKeywardError(e) ? `${e.code}: ${e.message}` : `not a KeywardError: ${String(e)}`);

    async function reference(bytes: Buffer): Promise<Outcome> {
      const parts: Buffer[] = [];
      let off = headerSize;
      const reader = new ByteReader(() => {
        if (off >= bytes.length) return Promise.resolve(null);
        const b = Buffer.from(bytes.subarray(off, off + 100_000));
        off += b.length;
        return Promise.resolve(b);
      });
      try {
        for await (const c of decryptPayload(reader, fileKey)) parts.push(c);
        return { out: Buffer.concat(parts) };
      } catch (e) {
        return { out: Buffer.concat(parts), error: describeError(e) };
      }
    }

    async function ours(bytes: Buffer, tuning: PayloadTuning): Promise<Outcome> {
      await fsp.writeFile(p('bad.age'), bytes);
      const out = new PassThrough();
      const parts: Buffer[] = [];
      out.on('data', (b: Buffer) => parts.push(b));
      try {
        await decryptToWritable({ input: p('bad.age'), output: out, unwrap, tuning });
        return { out: Buffer.concat(parts) };
      } catch (e) {
        return { out: Buffer.concat(parts), error: describeError(e) };
      }
    }

    const flip = (at: number) => {
      const b = Buffer.from(file);
      b[at]! ^= 0x10;
      return b;
    };

    const damaged = (): [string, Buffer][] => {
      const nonce = randomBytes(16);
      const key = payloadKey(fileKey, nonce);
      const emptyFinal = Buffer.concat([file.subarray(0, headerSize), nonce, sealChunk(key, 0, false, randomBytes(K)), sealChunk(key, 1, false, randomBytes(K)), sealChunk(key, 2, true, Buffer.alloc(0))]);
      const fullFinal = Buffer.concat([file.subarray(0, headerSize), nonce, sealChunk(key, 0, false, randomBytes(K)), sealChunk(key, 1, true, randomBytes(K))]);
      return [
        ['intact', file],
        ['flipped nonce', flip(headerSize + 1)],
        ...[0, 1, 2, 3, 6, 7].map((i): [string, Buffer] => [`flipped chunk ${i}`, flip(chunkAt(i) + (i === 7 ? 2 : 100))]),
        ['flipped last tag byte', flip(file.length - 1)],
        ...[1, 2, 3, 4, 7].map((i): [string, Buffer] => [`cut after chunk ${i - 1}`, file.subarray(0, chunkAt(i))]),
        ['cut inside chunk 4', file.subarray(0, chunkAt(4) + 999)],
        ['cut inside the final tag', file.subarray(0, file.length - 3)],
        ['cut 10 bytes into the final chunk', file.subarray(0, chunkAt(7) + 10)],
        ['cut in the nonce', file.subarray(0, headerSize + 9)],
        ['cut after the nonce', file.subarray(0, headerSize + 16)],
        ['a byte appended', Buffer.concat([file, Buffer.from('x')])],
        ['a chunk appended', Buffer.concat([file, file.subarray(chunkAt(0), chunkAt(1))])],
        ['chunks 2 and 3 swapped', Buffer.concat([file.subarray(0, chunkAt(2)), file.subarray(chunkAt(3), chunkAt(4)), file.subarray(chunkAt(2), chunkAt(3)), file.subarray(chunkAt(4))])],
        ['full final chunk, then data', Buffer.concat([fullFinal, Buffer.from('trailing')])],
        ['full final chunk, then a tag-sized tail', Buffer.concat([fullFinal, randomBytes(16)])],
        ['empty final chunk after full ones', emptyFinal],
      ];
    };

    for (const [label, tuning] of [
      ['2 chunks per batch, workers', { batchChunks: 2, threads: 'always', inFlight: 2 }],
      ['3 chunks per batch, workers', { batchChunks: 3, threads: 'always' }],
      ['1 chunk per batch, this thread', { batchChunks: 1, threads: 'never' }],
      ['defaults', {}],
    ] as const) {
      it(label, async () => {
        for (const [name, bytes] of damaged()) {
          const want = await reference(bytes);
          const got = await ours(bytes, tuning);
          assert.equal(got.error, want.error, name);
          assert.ok(got.out.equals(want.out), `${name}: ${got.out.length} bytes out, the reference ${want.out.length}`);
          if (name !== 'intact') assert.ok(want.error, `${name} must fail`);
        }
      });
    }

    // File to file, batches placed by the workers (spread.ts): the same error as the
    // reference, and on any error no output at all; intact, the whole plaintext.
    for (const [label, tuning] of [
      ['placed: 1 chunk per batch, 4 in flight', { batchChunks: 1, threads: 'always', inFlight: 4 }],
      ['placed: 2 chunks per batch', { batchChunks: 2, threads: 'always' }],
      ['placed: 3 chunks per batch, 1 in flight', { batchChunks: 3, threads: 'always', inFlight: 1 }],
    ] as const) {
      it(label, async () => {
        for (const [name, bytes] of damaged()) {
          const want = await reference(bytes);
          await fsp.writeFile(p('bad.age'), bytes);
          let error: string | undefined;
          await decryptFile({ input: p('bad.age'), output: p('bad.out'), unwrap, overwrite: true, tuning }).catch((e: unknown) => {
            error = describeError(e);
          });
          assert.equal(error, want.error, name);
          if (want.error === undefined) {
            assert.ok((await fsp.readFile(p('bad.out'))).equals(want.out), name);
            await fsp.rm(p('bad.out'));
          }
          assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.startsWith('bad.out') || n.endsWith('.keyward-tmp')), [], name);
        }
      });
    }

    it('decryptFile leaves no output and no temp file on the worker path', async () => {
      for (const bytes of [flip(chunkAt(5) + 1), file.subarray(0, chunkAt(6))]) {
        await fsp.writeFile(p('bad.age'), bytes);
        await assert.rejects(decryptFile({ input: p('bad.age'), output: p('bad.out'), unwrap, tuning: { batchChunks: 2, threads: 'always' } }));
        assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.startsWith('bad.out') || n.endsWith('.keyward-tmp')), []);
      }
    });
  });

  describe('cancellation and the pool', () => {
    it('an abort mid-file stops encryption and decryption on the worker path', async () => {
      const data = randomBytes(6 * MiB);
      await fsp.writeFile(p('big'), data);
      await encryptFile({ input: p('big'), output: p('big.age'), recipients: [recipient], overwrite: true });
      const isCancelled = (e: unknown) => isKeywardError(e) && e.code === ErrorCode.Cancelled;
      for (const op of ['encrypt', 'decrypt'] as const) {
        const ac = new AbortController();
        let calls = 0;
        const onProgress = () => {
          if (++calls === 20) ac.abort();
        };
        const run =
          op === 'encrypt'
            ? encryptFile({ input: p('big'), output: p('c.age'), recipients: [recipient], signal: ac.signal, onProgress })
            : decryptFile({ input: p('big.age'), output: p('c.out'), unwrap, signal: ac.signal, onProgress });
        await assert.rejects(run, isCancelled);
        assert.ok(calls < 96, `${op} went on after the abort (${calls} chunks)`);
        assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.startsWith('c.') || n.endsWith('.keyward-tmp')), []);
      }
    });

    it('shutdownPool ends the workers; batches in flight reject as cancelled; the next file gets a new pool', async () => {
      const data = randomBytes(4 * MiB);
      await fsp.writeFile(p('plain'), data);
      let stopping: Promise<void> | undefined;
      await assert.rejects(
        encryptFile({
          input: p('plain'),
          output: p('s.age'),
          recipients: [recipient],
          overwrite: true,
          // Many batches in flight, so that some are surely running when the pool ends
          // (progress fires between batches; with few in flight a loaded machine could drain them).
          tuning: { batchChunks: 1, threads: 'always', inFlight: 16 },
          onProgress: () => {
            stopping ??= shutdownPool();
          },
        }),
        (e: unknown) => isKeywardError(e) && e.code === ErrorCode.Cancelled,
      );
      await stopping;
      await encryptFile({ input: p('plain'), output: p('s.age'), recipients: [recipient], overwrite: true, tuning: ALWAYS });
      assert.deepEqual(await toBuffer(p('s.age'), ALWAYS), data);
    });

    it('every worker collects its garbage, even when several start at once', async () => {
      for (let round = 0; round < 3; round++) {
        const pool = new CryptoPool(4);
        const replies = await Promise.all(
          Array.from({ length: 8 }, () => pool.run({ op: 'seal', key: new Uint8Array(32), counter: 0, final: true, buf: new ArrayBuffer(SEALED), len: 0 })),
        );
        await pool.terminate();
        assert.deepEqual(
          replies.map((r) => r.collects),
          replies.map(() => true),
        );
      }
    });

    it('a pool whose worker cannot start says so once, and is then marked unusable', async () => {
      const broken = new CryptoPool(2, 'throw new Error("no workers here")');
      assert.equal(broken.usable, true);
      const job = () => ({ op: 'seal' as const, key: new Uint8Array(32), counter: 0, final: true, buf: new ArrayBuffer(SEALED), len: 0 });
      await assert.rejects(broken.run(job()), /crypto worker failed: no workers here/);
      assert.equal(broken.usable, false);
      await assert.rejects(broken.run(job()), /crypto worker failed/);
      await broken.terminate();
    });

    it('an idle pool does not keep the process alive', () => {
      const script = p('exits.ts');
      const engine = path.resolve(__dirname, '../../daemon/age/index.ts');
      const src = [
        `import { encryptFile } from ${JSON.stringify(engine)};`,
        `import { writeFileSync } from 'node:fs';`,
        `const dir = ${JSON.stringify(dir)};`,
        `writeFileSync(dir + '/exit-plain', Buffer.alloc(3 * 1024 * 1024, 7));`,
        `void encryptFile({ input: dir + '/exit-plain', output: dir + '/exit.age', recipients: [${JSON.stringify(recipient)}], overwrite: true, tuning: { threads: 'always' } }).then(() => console.log('done'));`,
      ].join('\n');
      return fsp.writeFile(script, src).then(() => {
        const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 30_000 });
        assert.equal(r.signal, null, 'the process had to be killed: something kept it alive');
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), 'done');
      });
    });
  });
});
