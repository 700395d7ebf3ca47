import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { armor, Decrypter, Encrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import {
  decryptFile,
  decryptToWritable,
  decryptWithPassphrase,
  encodeHeader,
  encryptFile,
  inspect,
  readHeader,
  unwrapWithIdentities,
  wrapFileKey,
  type FileUnwrap,
} from '../../daemon/age';
import { ByteReader } from '../../daemon/age/io';
import { encryptPayload } from '../../daemon/age/stream';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';

const K = 64 * 1024;

async function rejects(p: Promise<unknown>, code: number, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    assert.ok(e.hint, 'every failure has a hint');
    return true;
  });
}

describe('age files', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let id: string;
  let recipient: string;
  let pqId: string;
  let pqRecipient: string;
  let unwrap: FileUnwrap;

  before(async () => {
    id = await generateX25519Identity();
    recipient = await identityToRecipient(id);
    pqId = await generateHybridIdentity();
    pqRecipient = await identityToRecipient(pqId);
    unwrap = unwrapWithIdentities([id]);
  });
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('keyward-age-'));
  });
  afterEach(async () => {
    await cleanup();
  });

  const p = (name: string) => path.join(dir, name);
  const write = async (name: string, data: Uint8Array) => {
    await fsp.writeFile(p(name), data);
    return p(name);
  };
  const read = (name: string) => fsp.readFile(p(name));
  /** The directory holds exactly these files: no output, no temp file left behind. */
  const assertOnly = async (...names: string[]) => assert.deepEqual((await fsp.readdir(dir)).sort(), [...names].sort());

  async function decryptToBuffer(input: string | AsyncIterable<Uint8Array>, u: FileUnwrap = unwrap): Promise<Buffer> {
    const out = new PassThrough();
    const parts: Buffer[] = [];
    out.on('data', (b: Buffer) => parts.push(b));
    await decryptToWritable({ input, output: out, unwrap: u });
    return Buffer.concat(parts);
  }

  describe('round trips', () => {
    for (const size of [0, 1, K - 1, K, K + 1, 3 * K, (1 << 20) + 123]) {
      for (const armored of [false, true]) {
        it(`X25519, ${size} bytes, ${armored ? 'armored' : 'binary'}`, async () => {
          const data = randomBytes(size);
          const input = await write('plain', data);
          const enc = await encryptFile({ input, output: p('x.age'), recipients: [recipient], armor: armored });
          const file = await read('x.age');
          assert.deepEqual(enc, { bytesIn: size, bytesOut: file.length });
          assert.equal(file.toString('latin1').startsWith(armored ? '-----BEGIN AGE ENCRYPTED FILE-----\n' : 'age-encryption.org/v1\n'), true);

          const dec = await decryptFile({ input: p('x.age'), output: p('out'), unwrap });
          assert.deepEqual(dec, { bytesIn: file.length, bytesOut: size });
          assert.deepEqual(await read('out'), data);
          assert.equal((await fsp.stat(p('out'))).mode & 0o777, 0o600);
          assert.deepEqual(await decryptToBuffer(p('x.age')), data);
          await assertOnly('plain', 'x.age', 'out');

          // The reference TypeScript implementation reads what we wrote.
          const d = new Decrypter();
          d.addIdentity(id);
          assert.deepEqual(Buffer.from(await d.decrypt(armored ? armor.decode(file.toString('latin1')) : file)), data);
        });
      }
    }

    it('post-quantum (ML-KEM-768 + X25519), binary and armored', async () => {
      for (const [size, armored] of [[0, false], [K, true], [K + 1, false]] as const) {
        const data = randomBytes(size);
        await encryptFile({ input: await write('plain', data), output: p('pq.age'), recipients: [pqRecipient], armor: armored, overwrite: true });
        const h = await readHeader(p('pq.age'));
        // Binary files get a padding stanza (room for a rewrap in place), armored ones do not.
        assert.deepEqual(h.stanzas.map((s) => s.type), armored ? ['mlkem768x25519'] : ['mlkem768x25519', 'keyward-pad']);
        assert.deepEqual(await decryptToBuffer(p('pq.age'), unwrapWithIdentities([id, pqId])), data);
      }
    });

    it('passphrase (scrypt), binary and armored', async () => {
      for (const [size, armored] of [[0, true], [K + 1, false]] as const) {
        const data = randomBytes(size);
        await encryptFile({ input: await write('plain', data), output: p('pw.age'), passphrase: 'hunter2 hunter2', scryptLogN: 10, armor: armored, overwrite: true });
        const h = await readHeader(p('pw.age'));
        assert.deepEqual(h.stanzas.map((s) => [s.type, s.args[1]]), [['scrypt', '10']]);
        await decryptWithPassphrase({ input: p('pw.age'), output: p('out'), passphrase: 'hunter2 hunter2', overwrite: true });
        assert.deepEqual(await read('out'), data);
      }
    });

    it('several recipients: each one decrypts', async () => {
      const other = await generateX25519Identity();
      const data = randomBytes(1000);
      await encryptFile({ input: await write('plain', data), output: p('x.age'), recipients: [recipient, await identityToRecipient(other)] });
      assert.deepEqual(await decryptToBuffer(p('x.age'), unwrapWithIdentities([other])), data);
      assert.deepEqual(await decryptToBuffer(p('x.age'), unwrapWithIdentities([id])), data);
    });

    it('streams in and out: a Readable as input, for both directions', async () => {
      const data = randomBytes(3 * K + 7);
      await write('plain', data);
      await encryptFile({ input: createReadStream(p('plain'), { highWaterMark: 1000 }), output: p('x.age'), recipients: [recipient] });
      assert.deepEqual(await decryptToBuffer(createReadStream(p('x.age'), { highWaterMark: 333 })), data);
    });

    it('reads what age-encryption wrote, binary and armored', async () => {
      const data = randomBytes(2 * K + 1);
      const e = new Encrypter();
      e.addRecipient(recipient);
      const bytes = await e.encrypt(data);
      assert.deepEqual(await decryptToBuffer(await write('lib.age', bytes)), data);
      assert.deepEqual(await decryptToBuffer(await write('lib.txt', Buffer.from(armor.encode(bytes)))), data);
    });

    it('reports progress', async () => {
      const seen: number[] = [];
      await encryptFile({ input: await write('plain', randomBytes(2 * K + 1)), output: p('x.age'), recipients: [recipient], onProgress: (n) => seen.push(n) });
      assert.deepEqual(seen, [K, 2 * K, 2 * K + 1]);
      const back: number[] = [];
      await decryptFile({ input: p('x.age'), output: p('out'), unwrap, onProgress: (n) => back.push(n) });
      assert.deepEqual(back, seen);
    });
  });

  describe('headers without the payload', () => {
    it('readHeader: stanzas, raw header for the keystore, armored flag', async () => {
      await encryptFile({ input: await write('plain', randomBytes(10)), output: p('x.age'), recipients: [recipient], armor: true });
      const h = await readHeader(p('x.age'));
      assert.equal(h.armored, true);
      assert.deepEqual(h.stanzas.map((s) => s.type), ['X25519']);
      assert.ok(Buffer.from(h.raw).toString('latin1').startsWith('age-encryption.org/v1\n'));
      const d = new Decrypter();
      d.addIdentity(id);
      assert.equal((await d.decryptHeader(h.raw)).length, 16);
    });

    it('inspect: types and sizes, binary and armored, and null plaintext size when truncated', async () => {
      for (const armored of [false, true]) {
        await encryptFile({ input: await write('plain', randomBytes(K + 1)), output: p('x.age'), recipients: [recipient], armor: armored, overwrite: true });
        const info = await inspect(p('x.age'));
        assert.equal(info.armored, armored);
        assert.deepEqual(info.stanzas.map((s) => [s.type, s.args.length]), [['X25519', 1]]); // not the padding
        assert.equal(info.headerRoom > 0, !armored);
        assert.equal(info.payloadSize, 16 + K + 1 + 32);
        assert.equal(info.plaintextSize, K + 1);
        assert.equal(info.headerSize, (await readHeader(p('x.age'))).size);
      }
      const bin = await read('x.age');
      // The last chunk (1 byte + tag) cut inside its tag: no valid payload has that size.
      await write('x.age', armor.decode(bin.toString('latin1')).subarray(0, -10));
      assert.equal((await inspect(p('x.age'))).plaintextSize, null);
    });
  });

  describe('must fail, leaving no output and no temp file', () => {
    const data = randomBytes(3 * K + 5); // four chunks: 0..2 full, 3 short
    let file: Buffer;
    let headerSize: number;
    beforeEach(async () => {
      await encryptFile({ input: await write('plain', data), output: p('x.age'), recipients: [recipient] });
      file = await read('x.age');
      headerSize = (await readHeader(p('x.age'))).size;
      await fsp.rm(p('plain'));
    });
    const chunkAt = (i: number) => headerSize + 16 + i * (K + 16);

    async function failsOn(bytes: Uint8Array, code: number, message: RegExp, u: FileUnwrap = unwrap) {
      await write('bad.age', bytes);
      await rejects(decryptFile({ input: p('bad.age'), output: p('out'), unwrap: u }), code, message);
      await assertOnly('x.age', 'bad.age');
    }
    const flip = (at: number, bits = 0x01) => {
      const b = Buffer.from(file);
      b[at]! ^= bits;
      return b;
    };
    /** Another base64 character (not the last of its line): the header still parses. */
    const swapBase64 = (at: number) => {
      const b = Buffer.from(file);
      b[at] = b[at] === 0x41 ? 0x42 : 0x41;
      return b;
    };

    it('a flipped byte in the header MAC', async () => {
      await failsOn(swapBase64(headerSize - 5), ErrorCode.DecryptFailed, /^header authentication failed: the file was modified or is not for this key$/);
    });

    it('a flipped byte in the recipient stanza: the key no longer unwraps', async () => {
      const at = file.indexOf('\n', file.indexOf('-> X25519')) + 5; // inside the body line
      await failsOn(swapBase64(at), ErrorCode.DecryptFailed, /^no identity matched any of the file's recipients$/);
    });

    it('a header changed under an unwrapper that still returns the key: the engine checks the MAC itself', async () => {
      let key: Uint8Array | undefined;
      await decryptFile({ input: p('x.age'), output: p('ok'), unwrap: async (h) => (key = await unwrap(h)) });
      await fsp.rm(p('ok'));
      const lying: FileUnwrap = () => Promise.resolve(key!);
      const text = file.toString('latin1');
      const edited = Buffer.from(text.replace('-> X25519 ', '-> X25519 extra '), 'latin1');
      await failsOn(edited, ErrorCode.DecryptFailed, /^header authentication failed/, lying);
      await failsOn(flip(file.indexOf('-> X25519') + 12, 0x01), ErrorCode.DecryptFailed, /^header authentication failed/, lying);
    });

    it('a flipped byte in the first, a middle and the last chunk', async () => {
      await failsOn(flip(chunkAt(0) + 10), ErrorCode.DecryptFailed, /^payload authentication failed at chunk 0: the file is corrupted or was tampered with$/);
      await failsOn(flip(chunkAt(1) + K), ErrorCode.DecryptFailed, /^payload authentication failed at chunk 1:/);
      await failsOn(flip(file.length - 1), ErrorCode.DecryptFailed, /^payload authentication failed at chunk 3:/);
      await failsOn(flip(headerSize + 2), ErrorCode.DecryptFailed, /^payload authentication failed at chunk 0:/); // the nonce
    });

    it('truncation at a chunk boundary and inside a chunk', async () => {
      await failsOn(file.subarray(0, chunkAt(3)), ErrorCode.Malformed, /^file is truncated$/);
      await failsOn(file.subarray(0, chunkAt(1)), ErrorCode.Malformed, /^file is truncated$/);
      await failsOn(file.subarray(0, chunkAt(2) + 100), ErrorCode.DecryptFailed, /^payload authentication failed at chunk 2:/);
      await failsOn(file.subarray(0, headerSize + 8), ErrorCode.Malformed, /^file is truncated$/);
      await failsOn(file.subarray(0, headerSize), ErrorCode.Malformed, /^file is truncated$/);
      await failsOn(file.subarray(0, headerSize - 10), ErrorCode.Malformed, /^file is truncated$/);
    });

    it('trailing garbage', async () => {
      await failsOn(Buffer.concat([file, Buffer.from('garbage')]), ErrorCode.DecryptFailed, /^payload authentication failed at chunk 3:/);
      await fsp.writeFile(p('plain'), randomBytes(2 * K));
      await encryptFile({ input: p('plain'), output: p('full.age'), recipients: [recipient] });
      const full = await read('full.age');
      await fsp.rm(p('plain'));
      await fsp.rm(p('full.age'));
      await failsOn(Buffer.concat([full, Buffer.from('garbage')]), ErrorCode.Malformed, /^trailing data after the end of the encrypted file$/);
    });

    it('the wrong key', async () => {
      await failsOn(file, ErrorCode.DecryptFailed, /^no identity matched any of the file's recipients$/, unwrapWithIdentities([await generateX25519Identity()]));
    });

    it('a wrong passphrase', async () => {
      await fsp.writeFile(p('plain'), data);
      await encryptFile({ input: p('plain'), output: p('pw.age'), passphrase: 'right', scryptLogN: 10 });
      await fsp.rm(p('plain'));
      await rejects(decryptWithPassphrase({ input: p('pw.age'), output: p('out'), passphrase: 'wrong' }), ErrorCode.DecryptFailed, /^incorrect passphrase$/);
      await rejects(decryptWithPassphrase({ input: p('x.age'), output: p('out'), passphrase: 'right' }), ErrorCode.DecryptFailed, /not encrypted with a passphrase/);
      await assertOnly('x.age', 'pw.age');
    });

    it('bad armor', async () => {
      const text = armor.encode(file);
      const lines = text.split('\n');
      await failsOn(Buffer.from(lines.slice(0, -2).join('\n') + '\n'), ErrorCode.Malformed, /^invalid armor: missing END line$/);
      await failsOn(Buffer.from(`${text}x\n`), ErrorCode.Malformed, /^invalid armor: data after the END line$/);
      const short = [...lines];
      short[3] = short[3]!.slice(0, 60);
      await failsOn(Buffer.from(short.join('\n')), ErrorCode.Malformed, /^invalid armor: a short line must be the last one/);
      // A changed character is still valid base64: the authentication catches it.
      const changed = [...lines];
      const mid = Math.floor(lines.length / 2);
      changed[mid] = changed[mid]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
      await failsOn(Buffer.from(changed.join('\n')), ErrorCode.DecryptFailed, /^payload authentication failed at chunk 1:/);
    });

    it('only stanzas of types Keyward cannot open', async () => {
      const key = randomBytes(16);
      const header = encodeHeader([{ type: 'example.com/enigma', args: ['x'], body: randomBytes(20) }, ...(await wrapFileKey(key, ['age1tag1qt8lw0ual6avlwmwatk888yqnmdamm7xfd0wak53ut6elz5c4swx2yqdj4e']))], key);
      const parts: Buffer[] = [header];
      let done = false;
      const src = new ByteReader(() => Promise.resolve(done ? null : ((done = true), Buffer.from('hello'))));
      for await (const piece of encryptPayload(src, key)) parts.push(piece);
      await failsOn(Buffer.concat(parts), ErrorCode.DecryptFailed, /^no identity matched: the file's recipients are of types example.com\/enigma, p256tag$/);
    });

    it('not an age file', async () => {
      await failsOn(Buffer.from('just some text\n'), ErrorCode.Malformed, /^not an age file$/);
      await failsOn(Buffer.alloc(0), ErrorCode.Malformed, /^not an age file$/);
      await failsOn(Buffer.from('-----BEGIN PGP MESSAGE-----\n'), ErrorCode.Malformed, /^not an age file$/);
      await failsOn(Buffer.from(file.toString('latin1').replace('age-encryption.org/v1', 'age-encryption.org/v2'), 'latin1'), ErrorCode.Malformed, /^unsupported age version$/);
    });

    it('a truncated file streamed to a Writable: chunks known to be good arrive, then the promise rejects', async () => {
      await write('bad.age', file.subarray(0, chunkAt(3)));
      const out = new PassThrough();
      const parts: Buffer[] = [];
      out.on('data', (b: Buffer) => parts.push(b));
      await rejects(decryptToWritable({ input: p('bad.age'), output: out, unwrap }), ErrorCode.Malformed, /^file is truncated$/);
      // Chunk 2 authenticates only as a non-final chunk, which the cut-off end contradicts:
      // it is held back, like everything after a failure.
      assert.deepEqual(Buffer.concat(parts), data.subarray(0, 2 * K));
    });

    it('an existing output is refused unless overwrite, and stays as it was', async () => {
      await fsp.writeFile(p('out'), 'keep me');
      await rejects(decryptFile({ input: p('x.age'), output: p('out'), unwrap }), ErrorCode.AlreadyExists, /already exists/);
      assert.equal(await fsp.readFile(p('out'), 'utf8'), 'keep me');
      await fsp.writeFile(p('plain'), 'new');
      await rejects(encryptFile({ input: p('plain'), output: p('out'), recipients: [recipient] }), ErrorCode.AlreadyExists, /already exists/);
      assert.equal(await fsp.readFile(p('out'), 'utf8'), 'keep me');
      await assertOnly('x.age', 'out', 'plain');

      await decryptFile({ input: p('x.age'), output: p('out'), unwrap, overwrite: true });
      assert.deepEqual(await read('out'), data);
      await encryptFile({ input: p('plain'), output: p('out'), recipients: [recipient], overwrite: true });
      assert.equal((await decryptToBuffer(p('out'))).toString(), 'new');
      await assertOnly('x.age', 'out', 'plain');
    });

    it('a failure while decrypting over an existing file keeps the old file', async () => {
      await fsp.writeFile(p('out'), 'keep me');
      await write('bad.age', flip(chunkAt(2)));
      await rejects(decryptFile({ input: p('bad.age'), output: p('out'), unwrap, overwrite: true }), ErrorCode.DecryptFailed, /at chunk 2/);
      assert.equal(await fsp.readFile(p('out'), 'utf8'), 'keep me');
      await assertOnly('x.age', 'bad.age', 'out');
    });

    it('cancellation mid-way', async () => {
      await fsp.writeFile(p('plain'), data);
      const ac = new AbortController();
      await rejects(
        encryptFile({ input: p('plain'), output: p('y.age'), recipients: [recipient], signal: ac.signal, onProgress: () => ac.abort() }),
        ErrorCode.Cancelled,
        /^cancelled$/,
      );
      const ac2 = new AbortController();
      await rejects(decryptFile({ input: p('x.age'), output: p('out'), unwrap, signal: ac2.signal, onProgress: () => ac2.abort() }), ErrorCode.Cancelled, /^cancelled$/);
      await assertOnly('x.age', 'plain');
    });

    it('bad encryption options and inputs', async () => {
      await fsp.writeFile(p('plain'), 'x');
      await rejects(encryptFile({ input: p('plain'), output: p('y.age') }), ErrorCode.InvalidInput, /either recipients or a passphrase/);
      await rejects(encryptFile({ input: p('plain'), output: p('y.age'), recipients: [recipient], passphrase: 'pw' }), ErrorCode.InvalidInput, /either recipients or a passphrase/);
      await rejects(encryptFile({ input: p('plain'), output: p('y.age'), recipients: [recipient, pqRecipient] }), ErrorCode.InvalidInput, /can't mix/);
      await rejects(encryptFile({ input: p('plain'), output: p('y.age'), recipients: [id] }), ErrorCode.InvalidInput, /secret key/);
      await rejects(encryptFile({ input: p('missing'), output: p('y.age'), recipients: [recipient] }), ErrorCode.NotFound, /no such file/);
      await rejects(encryptFile({ input: p('plain'), output: p('nodir/y.age'), recipients: [recipient] }), ErrorCode.NotFound, /no such file/);
      await rejects(encryptFile({ input: dir, output: p('y.age'), recipients: [recipient] }), ErrorCode.InvalidInput, /is a directory/);
      await rejects(decryptFile({ input: p('missing'), output: p('out'), unwrap }), ErrorCode.NotFound, /no such file/);
      await assertOnly('x.age', 'plain');
    });
  });
});
