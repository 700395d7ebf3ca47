import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decryptRange, encryptFile, readHeader, shutdownPool, unwrapWithIdentities, type FileUnwrap } from '../../daemon/age';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';

// Random access (range.ts): only the chunks a range needs are read, each authenticated with its
// counter and, for the file's last chunk, the final flag.

const K = 64 * 1024;
const S = K + 16;

async function rejects(p: Promise<unknown>, code: number, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

describe('age random access (decryptRange)', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let id: string;
  let recipient: string;
  let unwrap: FileUnwrap;
  let data: Buffer;
  let file: string;
  let headerSize: number;

  const p = (name: string) => path.join(dir, name);
  const chunkAt = (i: number) => headerSize + 16 + i * S;

  before(async () => {
    id = await generateX25519Identity();
    recipient = await identityToRecipient(id);
    unwrap = unwrapWithIdentities([id]);
    ({ dir, cleanup } = await tempDir('keyward-age-range-'));
    data = randomBytes(5 * K + 100); // chunks 0..4 full, 5 short
    await fsp.writeFile(p('plain'), data);
    file = p('x.age');
    await encryptFile({ input: p('plain'), output: file, recipients: [recipient] });
    headerSize = (await readHeader(file)).size;
  });
  after(async () => {
    await cleanup();
    await shutdownPool();
  });

  const range = (start: number, end: number, input = file) => decryptRange({ input, start, end, unwrap });

  it('ranges within a chunk, across chunk boundaries, the whole file, the last byte', async () => {
    const cases: [number, number][] = [
      [0, 1],
      [10, 1000],
      [K - 1, K + 1],
      [K - 10, 3 * K + 10],
      [2 * K, 3 * K],
      [K, 5 * K],
      [0, data.length],
      [data.length - 1, data.length],
      [5 * K, data.length],
      [3 * K + 17, 3 * K + 18],
    ];
    for (const [start, end] of cases) assert.deepEqual(await range(start, end), data.subarray(start, end), `${start}:${end}`);
  });

  it('an empty range, and ends past the file clamped to its size', async () => {
    assert.equal((await range(100, 100)).length, 0);
    assert.equal((await range(data.length, data.length)).length, 0);
    assert.equal((await range(data.length, data.length + 50)).length, 0);
    assert.deepEqual(await range(data.length - 5, Number.MAX_SAFE_INTEGER), data.subarray(-5));
  });

  it('files whose size is a multiple of 64 KiB (the final chunk is full)', async () => {
    for (const size of [K, 3 * K]) {
      const d = randomBytes(size);
      await fsp.writeFile(p('m'), d);
      await encryptFile({ input: p('m'), output: p('m.age'), recipients: [recipient], overwrite: true });
      for (const [s, e] of [
        [0, size],
        [size - K, size],
        [size - 1, size],
        [0, K],
        [size - K - 1, size - K + 1],
      ] as const) {
        assert.deepEqual(await range(Math.max(0, s), e, p('m.age')), d.subarray(Math.max(0, s), e), `${size}: ${s}:${e}`);
      }
    }
    // An empty file has one empty final chunk and only empty ranges.
    await fsp.writeFile(p('e'), '');
    await encryptFile({ input: p('e'), output: p('e.age'), recipients: [recipient], overwrite: true });
    assert.equal((await range(0, 10, p('e.age'))).length, 0);
  });

  it('a file age-encryption wrote (no header room)', async () => {
    const e = new Encrypter();
    e.addRecipient(recipient);
    await fsp.writeFile(p('lib.age'), await e.encrypt(data));
    assert.deepEqual(await range(K - 3, 4 * K + 3, p('lib.age')), data.subarray(K - 3, 4 * K + 3));
  });

  it('reads only the chunks it needs', async () => {
    const r = await decryptRange({ input: file, start: 2 * K + 5, end: 2 * K + 10, unwrap, output: new PassThrough() });
    assert.equal(r.bytesIn, headerSize + 16 + S);
    assert.deepEqual([r.start, r.end, r.plaintextSize, r.bytesOut], [2 * K + 5, 2 * K + 10, data.length, 5]);
  });

  it('into a file and into a stream', async () => {
    const r = await decryptRange({ input: file, start: K - 7, end: 4 * K, unwrap, output: p('part') });
    assert.equal(r.bytesOut, 3 * K + 7);
    assert.deepEqual(await fsp.readFile(p('part')), data.subarray(K - 7, 4 * K));
    assert.equal((await fsp.stat(p('part'))).mode & 0o777, 0o600);
    await rejects(decryptRange({ input: file, start: 0, end: 1, unwrap, output: p('part') }), ErrorCode.AlreadyExists, /already exists/);
    await decryptRange({ input: file, start: 0, end: 1, unwrap, output: p('part'), overwrite: true });
    assert.deepEqual(await fsp.readFile(p('part')), data.subarray(0, 1));

    const out = new PassThrough();
    const parts: Buffer[] = [];
    out.on('data', (b: Buffer) => parts.push(b));
    await decryptRange({ input: file, start: 3, end: data.length, unwrap, output: out });
    assert.deepEqual(Buffer.concat(parts), data.subarray(3));
  });

  it('a large range on the worker path, with small batches', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 333);
    await fsp.writeFile(p('big'), big);
    await encryptFile({ input: p('big'), output: p('big.age'), recipients: [recipient], overwrite: true });
    for (const tuning of [{}, { batchChunks: 2, threads: 'always' as const }]) {
      for (const [s, e] of [
        [12345, big.length - 54321],
        [K, 40 * K],
        [0, big.length],
      ]) {
        const got = await decryptRange({ input: p('big.age'), start: s!, end: e!, unwrap, tuning });
        assert.ok(got.equals(big.subarray(s, e)), `${s}:${e}`);
      }
    }
  });

  describe('must fail', () => {
    it('a bad range, a start past the end (saying the size), an armored file', async () => {
      for (const [s, e] of [
        [-1, 5],
        [5, 4],
        [0.5, 3],
        [0, Number.NaN],
      ]) {
        await rejects(range(s!, e!), ErrorCode.InvalidInput, /^invalid range/);
      }
      await rejects(range(data.length + 1, data.length + 2), ErrorCode.InvalidInput, new RegExp(`past the end of the plaintext \\(${data.length} bytes\\)`));
      await encryptFile({ input: p('plain'), output: p('a.age'), recipients: [recipient], armor: true, overwrite: true });
      await rejects(range(0, 10, p('a.age')), ErrorCode.InvalidInput, /^random access needs a binary age file; decrypt it whole or re-encrypt without -a$/);
    });

    it('a damaged chunk inside the range; one outside it is not read (and not noticed)', async () => {
      const bytes = await fsp.readFile(file);
      bytes[chunkAt(3) + 50]! ^= 1;
      await fsp.writeFile(p('bad.age'), bytes);
      await rejects(range(3 * K, 3 * K + 1, p('bad.age')), ErrorCode.DecryptFailed, /^payload authentication failed at chunk 3:/);
      await rejects(range(K, 5 * K, p('bad.age')), ErrorCode.DecryptFailed, /at chunk 3:/);
      // Documented: only the chunks read are authenticated.
      assert.deepEqual(await range(0, 3 * K, p('bad.age')), data.subarray(0, 3 * K));
      assert.deepEqual(await range(4 * K, data.length, p('bad.age')), data.subarray(4 * K));
    });

    it('a damaged header MAC, or the wrong key, fail even for an empty range', async () => {
      const bytes = await fsp.readFile(file);
      bytes[headerSize - 5] = bytes[headerSize - 5] === 0x41 ? 0x42 : 0x41;
      await fsp.writeFile(p('mac.age'), bytes);
      await rejects(range(0, 0, p('mac.age')), ErrorCode.DecryptFailed, /^header authentication failed/);
      await rejects(decryptRange({ input: file, start: 0, end: 0, unwrap: unwrapWithIdentities([await generateX25519Identity()]) }), ErrorCode.DecryptFailed, /no identity matched/);
    });

    it('a truncated file: an impossible size, or a cut at a chunk boundary that the last chunk shows', async () => {
      const bytes = await fsp.readFile(file);
      // No payload has these sizes: a last chunk shorter than a tag, an empty one after a full
      // one, less than a nonce and a tag.
      for (const cut of [chunkAt(2) + 10, chunkAt(5) + 15, chunkAt(5) + 16, headerSize + 10, headerSize + 16]) {
        await fsp.writeFile(p('cut.age'), bytes.subarray(0, cut));
        await rejects(range(0, 1, p('cut.age')), ErrorCode.Malformed, /^invalid payload size: the file is truncated or has data appended$/);
      }
      // Cut inside chunk 2 but past a tag's length: a possible size, whose last chunk fails.
      await fsp.writeFile(p('cut.age'), bytes.subarray(0, chunkAt(2) + 100));
      await rejects(range(2 * K, 2 * K + 1, p('cut.age')), ErrorCode.DecryptFailed, /at chunk 2:/);
      // Cut after chunk 2: a valid size for a 3-chunk file, but chunk 2 was not sealed as final.
      await fsp.writeFile(p('cut.age'), bytes.subarray(0, chunkAt(3)));
      await rejects(range(2 * K, 2 * K + 1, p('cut.age')), ErrorCode.Malformed, /^file is truncated$/);
      await rejects(range(0, 3 * K, p('cut.age')), ErrorCode.Malformed, /^file is truncated$/);
      assert.deepEqual(await range(0, 2 * K, p('cut.age')), data.subarray(0, 2 * K)); // not read: not noticed
      // Appended data that makes a valid size: the old final chunk is no longer last.
      await fsp.writeFile(p('long.age'), Buffer.concat([bytes, bytes.subarray(chunkAt(0), chunkAt(1))]));
      await rejects(range(5 * K, 5 * K + 1, p('long.age')), ErrorCode.DecryptFailed, /at chunk 5:/);
    });

    it('no output file is left after a failure', async () => {
      const bytes = await fsp.readFile(file);
      bytes[chunkAt(1) + 5]! ^= 1;
      await fsp.writeFile(p('bad2.age'), bytes);
      await rejects(decryptRange({ input: p('bad2.age'), start: 0, end: data.length, unwrap, output: p('nope') }), ErrorCode.DecryptFailed, /at chunk 1/);
      assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.startsWith('nope') || n.endsWith('.keyward-tmp')), []);
    });
  });
});
