import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decryptFile, encryptFile, readHeader, shutdownPool, unwrapWithIdentities, type FileUnwrap, type PayloadTuning } from '../../daemon/age';
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
    assert.equal(spreads({}, 16 * SEALED, true), false);
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
      const writer = spawn('sh', ['-c', 'for i in $(seq 1 400); do head -c 65536 /dev/urandom >> "$0"; sleep 0.005; done', p('growing')]);
      try {
        await new Promise((r) => setTimeout(r, 50));
        await assert.rejects(encryptFile({ input: p('growing'), output: p('growing.age'), recipients: [recipient], tuning: { batchChunks: 1, inFlight: 1 } }), changed);
        assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.startsWith('growing.age') || n.endsWith('.keyward-tmp')), []);
      } finally {
        writer.kill();
      }
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
