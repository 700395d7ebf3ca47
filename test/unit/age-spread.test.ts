import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decryptFile, digestFile, encryptFile, readHeader, reencryptFile, shutdownPool, unwrapWithIdentities, type FileUnwrap, type PayloadTuning } from '../../daemon/age';
import { FileSink } from '../../daemon/age/io';
import { SEALED } from '../../daemon/age/pool';
import { decryptSpread, encryptSpread, spreads } from '../../daemon/age/spread';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';

// File to file with the workers placing each batch themselves (spread.ts): the files are
// those of the ordered path, a file that changes while it is read is refused rather than
// half-encrypted, and inputs that are not regular files keep the ordered path.

const K = 64 * 1024;
const MiB = 1024 * 1024;

describe('age payload placed by the workers (spread.ts)', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let recipient: string;
  let unwrap: FileUnwrap;

  before(async () => {
    const id = await generateX25519Identity();
    recipient = await identityToRecipient(id);
    unwrap = unwrapWithIdentities([id]);
    ({ dir, cleanup } = await tempDir('keyward-age-spread-'));
  });
  after(async () => {
    await cleanup();
    await shutdownPool();
  });

  const p = (name: string) => path.join(dir, name);
  const changed = (e: unknown) => isKeywardError(e) && e.code === ErrorCode.IoFailed && /changed while it was being read/.test(e.message);

  it('is the default for a file of more than one batch, and not for one batch or with threads off', () => {
    assert.equal(spreads({}, 16 * K + 1, false), true);
    assert.equal(spreads({}, 16 * K, false), false);
    assert.equal(spreads({}, 16 + 16 * SEALED, true), false);
    assert.equal(spreads({}, 16 + 16 * SEALED + 1, true), true);
    assert.equal(spreads({ tuning: { threads: 'never' } }, 100 * MiB, false), false);
    assert.equal(spreads({ tuning: { spread: false } }, 100 * MiB, false), false);
    assert.equal(spreads({ tuning: { threads: 'always' } }, 0, false), true);
  });

  it('writes the same file as the ordered path, byte counts included, for sizes around batch edges', async () => {
    for (const size of [16 * K + 1, 32 * K, 32 * K - 1, 5 * MiB + 17]) {
      const data = randomBytes(size);
      await fsp.writeFile(p('plain'), data);
      const placed = await encryptFile({ input: p('plain'), output: p('a.age'), recipients: [recipient], overwrite: true });
      const ordered = await encryptFile({ input: p('plain'), output: p('b.age'), recipients: [recipient], overwrite: true, tuning: { spread: false } });
      const [a, b] = await Promise.all([fsp.stat(p('a.age')), fsp.stat(p('b.age'))]);
      assert.equal(a.size, b.size, `size ${size}`);
      assert.deepEqual(placed, { bytesIn: size, bytesOut: a.size });
      assert.deepEqual(ordered, placed);
      for (const [from, tuning] of [
        ['a.age', {}],
        ['b.age', {}],
        ['a.age', { spread: false }],
      ] as const) {
        const r = await decryptFile({ input: p(from), output: p('out'), unwrap, overwrite: true, tuning });
        assert.deepEqual(r, { bytesIn: a.size, bytesOut: size });
        assert.ok((await fsp.readFile(p('out'))).equals(data), `size ${size} from ${from}`);
      }
    }
  });

  describe('an input that changes while it is read is refused', () => {
    const tuning: PayloadTuning = { batchChunks: 2, threads: 'always' };

    async function encryptAs(size: number): Promise<unknown> {
      const input = await fsp.open(p('plain'), 'r');
      const output = await fsp.open(p('partial.age'), 'w');
      try {
        await encryptSpread({ handle: input, path: p('plain') }, size, { sink: new FileSink(output, p('partial.age')), path: p('partial.age') }, randomBytes(16), { tuning });
        return undefined;
      } catch (e) {
        return e;
      } finally {
        await input.close();
        await output.close();
      }
    }

    it('encrypting: shorter or longer than its size said', async () => {
      await fsp.writeFile(p('plain'), randomBytes(5 * K + 3));
      assert.ok(changed(await encryptAs(5 * K + 4)), 'shorter');
      assert.ok(changed(await encryptAs(9 * K)), 'much shorter');
      assert.ok(changed(await encryptAs(5 * K + 2)), 'longer');
      assert.ok(changed(await encryptAs(2 * K)), 'much longer');
      assert.equal(await encryptAs(5 * K + 3), undefined, 'as said');
    });

    it('decrypting: longer than its size said, whatever its chunks say', async () => {
      await fsp.writeFile(p('plain'), randomBytes(5 * K + 3));
      await encryptFile({ input: p('plain'), output: p('x.age'), recipients: [recipient], overwrite: true });
      const header = await readHeader(p('x.age'));
      const size = (await fsp.stat(p('x.age'))).size;
      const fileKey = await unwrap({ ...header, armored: false });
      for (const length of [size - header.size - 1, size - header.size - SEALED, size - header.size - 3 * SEALED]) {
        const input = await fsp.open(p('x.age'), 'r');
        const output = await fsp.open(p('partial.out'), 'w');
        try {
          await assert.rejects(
            decryptSpread({ handle: input, path: p('x.age') }, header.size, length, { sink: new FileSink(output, p('partial.out')), path: p('partial.out') }, fileKey, { tuning }),
            changed,
            `length ${length}`,
          );
        } finally {
          await input.close();
          await output.close();
        }
      }
    });

    it('a file appended to while it is encrypted is refused, and no output appears', async () => {
      // A writer keeps appending to the input while it is encrypted; whichever batch notices
      // first, the result is the same.
      await fsp.writeFile(p('growing'), randomBytes(8 * MiB));
      // Appends without a pause (4 KiB per `head`, a few MiB a second) until killed: the file grows
      // all the while it is read, on a busy machine too (a writer that paused between appends
      // could let a fast encryption slip through between two of them).
      const writer = spawn('sh', ['-c', 'while :; do head -c 4096 /dev/zero >> "$0" || exit; done', p('growing')]);
      try {
        const grown = Date.now() + 10_000;
        while ((await fsp.stat(p('growing'))).size <= 8 * MiB && Date.now() < grown) await new Promise((r) => setTimeout(r, 5));
        await assert.rejects(encryptFile({ input: p('growing'), output: p('growing.age'), recipients: [recipient], tuning: { batchChunks: 1, inFlight: 1 } }), changed);
        assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.startsWith('growing.age') || n.endsWith('.keyward-tmp')), []);
      } finally {
        writer.kill();
      }
    });
  });

  describe('re-encryption under a new file key (the rotate job)', () => {
    let keyOf: (file: string) => Promise<Uint8Array>;
    before(() => {
      keyOf = async (file) => unwrap(await readHeader(file));
    });
    /** SHA-256 over the SHA-256 of each 64 KiB of plaintext: what the digest is said to be. */
    const expectedDigest = (data: Buffer) => {
      const outer = createHash('sha256');
      for (let at = 0; at < data.length || at === 0; at += K) outer.update(createHash('sha256').update(data.subarray(at, at + K)).digest());
      return outer.digest();
    };

    it('writes a file that opens only with the new key, to the same plaintext, with the digest both ways', async () => {
      for (const [size, tuning] of [
        [5 * MiB + 9, {}],
        [16 * K + 1, {}],
        [7 * K, { batchChunks: 2, threads: 'always', inFlight: 3 }],
        [0, { threads: 'always' }],
      ] as const) {
        const data = randomBytes(size);
        await fsp.writeFile(p('plain'), data);
        await encryptFile({ input: p('plain'), output: p('old.age'), recipients: [recipient], overwrite: true });
        const fileKey = await keyOf(p('old.age'));
        const newFileKey = randomBytes(16);
        const seen: number[] = [];
        const r = await reencryptFile({ input: p('old.age'), output: p('new.age'), fileKey, newFileKey, recipients: [recipient], overwrite: true, tuning, onProgress: (n) => seen.push(n) });
        assert.ok(r !== null, `size ${size}`);
        assert.ok(r.digest.equals(expectedDigest(data)), `size ${size}`);
        assert.equal(seen.at(-1), size);
        assert.deepEqual(r, { bytesIn: (await fsp.stat(p('old.age'))).size, bytesOut: (await fsp.stat(p('new.age'))).size, digest: r.digest });
        assert.ok(Buffer.from(await keyOf(p('new.age'))).equals(newFileKey));
        await decryptFile({ input: p('new.age'), output: p('out'), unwrap, overwrite: true });
        assert.ok((await fsp.readFile(p('out'))).equals(data), `size ${size}`);
        const check = await digestFile({ input: p('new.age'), fileKey: newFileKey, tuning });
        assert.ok(check?.digest.equals(r.digest), `size ${size}`);
        await assert.rejects(digestFile({ input: p('new.age'), fileKey, tuning }), (e: unknown) => isKeywardError(e) && e.code === ErrorCode.DecryptFailed);
      }
    });

    it('leaves what it does not suit to the caller: an armored file, a file of one batch', async () => {
      await fsp.writeFile(p('plain'), randomBytes(3 * MiB));
      await encryptFile({ input: p('plain'), output: p('armored.age'), recipients: [recipient], armor: true, overwrite: true });
      const fileKey = await keyOf(p('armored.age'));
      const args = { fileKey, newFileKey: randomBytes(16), recipients: [recipient], overwrite: true };
      assert.equal(await reencryptFile({ ...args, input: p('armored.age'), output: p('no.age') }), null);
      await fsp.writeFile(p('plain'), randomBytes(16 * K));
      await encryptFile({ input: p('plain'), output: p('small.age'), recipients: [recipient], overwrite: true });
      assert.equal(await reencryptFile({ ...args, fileKey: await keyOf(p('small.age')), input: p('small.age'), output: p('no.age') }), null);
      assert.equal(await digestFile({ input: p('small.age'), fileKey: await keyOf(p('small.age')) }), null);
      assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.startsWith('no.age')), []);
    });

    it('a damaged or cut file, a wrong key or a cancellation: the error decryptFile gives, and no output', async () => {
      const data = randomBytes(3 * MiB + 5);
      await fsp.writeFile(p('plain'), data);
      await encryptFile({ input: p('plain'), output: p('good.age'), recipients: [recipient], overwrite: true });
      const good = await fsp.readFile(p('good.age'));
      const fileKey = await keyOf(p('good.age'));
      const headerSize = (await readHeader(p('good.age'))).size;
      const flipped = Buffer.from(good);
      flipped[headerSize + 16 + 20 * SEALED + 7]! ^= 1;
      const tuning: PayloadTuning = { batchChunks: 4 };
      for (const [name, bytes] of [
        ['a flipped byte in chunk 20', flipped],
        ['cut at a chunk edge', good.subarray(0, headerSize + 16 + 30 * SEALED)],
        ['cut inside a chunk', good.subarray(0, headerSize + 16 + 30 * SEALED + 100)],
        ['a chunk appended', Buffer.concat([good, good.subarray(headerSize + 16, headerSize + 16 + SEALED)])],
      ] as const) {
        await fsp.writeFile(p('bad.age'), bytes);
        const want = await decryptFile({ input: p('bad.age'), output: p('bad.out'), unwrap, tuning: { spread: false } }).then(
          () => assert.fail(`${name}: decrypted`),
          (e: unknown) => (isKeywardError(e) ? e : assert.fail(`${name}: ${String(e)}`)),
        );
        await assert.rejects(
          reencryptFile({ input: p('bad.age'), output: p('bad.new'), fileKey, newFileKey: randomBytes(16), recipients: [recipient], tuning }),
          (e: unknown) => isKeywardError(e) && e.code === want.code && e.message === want.message,
          name,
        );
        await assert.rejects(digestFile({ input: p('bad.age'), fileKey, tuning }), (e: unknown) => isKeywardError(e) && e.message === want.message, name);
      }
      await assert.rejects(
        reencryptFile({ input: p('good.age'), output: p('bad.new'), fileKey: randomBytes(16), newFileKey: randomBytes(16), recipients: [recipient] }),
        (e: unknown) => isKeywardError(e) && e.code === ErrorCode.DecryptFailed && /header/.test(e.message),
      );
      const ac = new AbortController();
      await assert.rejects(
        reencryptFile({ input: p('good.age'), output: p('bad.new'), fileKey, newFileKey: randomBytes(16), recipients: [recipient], signal: ac.signal, tuning: { batchChunks: 1, inFlight: 1 }, onProgress: (n) => n > 10 * K && ac.abort() }),
        (e: unknown) => isKeywardError(e) && e.code === ErrorCode.Cancelled,
      );
      assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.startsWith('bad.new') || n.startsWith('bad.out') || n.endsWith('.keyward-tmp')), []);
    });
  });

  it('an input that is not a regular file (a named pipe) takes the ordered path', async () => {
    const data = randomBytes(3 * MiB + 5);
    await fsp.writeFile(p('plain'), data);
    const fifo = p('fifo');
    await fsp.rm(fifo, { force: true });
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const writer = spawn('sh', ['-c', 'cat "$0" > "$1"', p('plain'), fifo]);
    const exited = new Promise((r) => writer.once('exit', r));
    await encryptFile({ input: fifo, output: p('fifo.age'), recipients: [recipient], overwrite: true });
    await exited;
    // And back, the age file read through the pipe.
    const back = spawn('sh', ['-c', 'cat "$0" > "$1"', p('fifo.age'), fifo]);
    const backExited = new Promise((r) => back.once('exit', r));
    await decryptFile({ input: fifo, output: p('fifo.out'), unwrap, overwrite: true });
    await backExited;
    assert.ok((await fsp.readFile(p('fifo.out'))).equals(data));
  });
});
