import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { armor, Decrypter, Encrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import {
  decryptToWritable,
  encryptFile,
  fitHeader,
  headerRoom,
  HEADER_ROOM_ALIGN,
  inspect,
  MIN_HEADER_ROOM,
  parseHeader,
  readHeader,
  rewrapByCopy,
  rewrapHeader,
  unwrapWithIdentities,
  unwrapWithPassphrase,
  verifyHeaderMac,
  wrapWithPassphrase,
  wrapFileKey,
  writeHeaderInPlace,
  type FileUnwrap,
} from '../../daemon/age';
import { paddingStanza, PADDING_TYPE } from '../../daemon/age/room';
import { encodeHeader } from '../../daemon/age/header';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';

// Header room (room.ts) and rewrap (rewrap.ts): a padding stanza makes the header of Keyward's
// binary files a multiple of 4 KiB with at least 4 KiB to spare, so a rewrap rewrites only the
// header, in place, at the same length.

const K = 64 * 1024;

async function rejects(p: Promise<unknown>, code: number, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

describe('age header room and rewrap', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let ids: string[];
  let recipients: string[];
  const unwrapAs = (i: number): FileUnwrap => unwrapWithIdentities([ids[i]!]);

  before(async () => {
    ids = await Promise.all([0, 1, 2].map(() => generateX25519Identity()));
    recipients = await Promise.all(ids.map((i) => identityToRecipient(i)));
    ({ dir, cleanup } = await tempDir('keyward-age-room-'));
  });
  after(async () => {
    await cleanup();
  });

  const p = (name: string) => path.join(dir, name);

  async function decrypts(file: string, u: FileUnwrap): Promise<Buffer> {
    const out = new PassThrough();
    const parts: Buffer[] = [];
    out.on('data', (b: Buffer) => parts.push(b));
    await decryptToWritable({ input: file, output: out, unwrap: u });
    return Buffer.concat(parts);
  }

  /** The file key, as the keystore would hand it over. */
  async function fileKeyOf(file: string, i = 0): Promise<Uint8Array> {
    return unwrapAs(i)(await readHeader(file));
  }

  describe('the padding stanza', () => {
    it('takes 16 bytes, or any size from 18 up, and no other', () => {
      // 17 would need a one-character base64 body, which no byte string has.
      for (const bytes of [0, 1, 10, 15, 17]) assert.equal(paddingStanza(bytes), null, String(bytes));
      const key = randomBytes(16);
      const base = encodeHeader([{ type: 'X25519', args: ['a'], body: randomBytes(32) }], key).length;
      for (let bytes = 16; bytes < 3000; bytes++) {
        if (bytes === 17) continue;
        const pad = paddingStanza(bytes);
        assert.ok(pad, `no padding of ${bytes} bytes`);
        assert.equal(pad.type, PADDING_TYPE);
        assert.ok(pad.body.every((b) => b === 0));
        const h = encodeHeader([{ type: 'X25519', args: ['a'], body: randomBytes(32) }, pad], key);
        assert.equal(h.length, base + bytes, String(bytes));
        const parsed = parseHeader(h); // and it is a valid header
        assert.equal(headerRoom(parsed), bytes);
      }
    });

    it('Keyward files: binary ones to recipients get room, armored and passphrase ones do not', async () => {
      await fsp.writeFile(p('plain'), randomBytes(1000));
      const pq = await identityToRecipient(await generateHybridIdentity());
      for (const [r, label] of [
        [[recipients[0]!], 'one X25519'],
        [recipients, 'three X25519'],
        [[pq], 'one post-quantum'],
      ] as const) {
        await encryptFile({ input: p('plain'), output: p('x.age'), recipients: r, overwrite: true });
        const h = await readHeader(p('x.age'));
        assert.equal(h.size % HEADER_ROOM_ALIGN, 0, label);
        assert.ok(headerRoom(h) >= MIN_HEADER_ROOM, label);
        assert.ok(h.size <= 2 * HEADER_ROOM_ALIGN, `${label}: ${h.size}`);
        assert.equal(h.stanzas.at(-1)!.type, PADDING_TYPE);
        assert.equal((await inspect(p('x.age'))).headerRoom, headerRoom(h));
        if (label === 'one X25519') {
          // age-encryption reads the padded file.
          const d = new Decrypter();
          d.addIdentity(ids[0]!);
          assert.equal((await d.decrypt(await fsp.readFile(p('x.age')))).length, 1000);
        }
      }
      await encryptFile({ input: p('plain'), output: p('a.age'), recipients: [recipients[0]!], armor: true });
      assert.equal(headerRoom(await readHeader(p('a.age'))), 0);
      await encryptFile({ input: p('plain'), output: p('pw.age'), passphrase: 'pw', scryptLogN: 10 });
      assert.deepEqual((await readHeader(p('pw.age'))).stanzas.map((s) => s.type), ['scrypt']);
      await encryptFile({ input: p('plain'), output: p('bare.age'), recipients: [recipients[0]!], headerRoom: false });
      assert.equal(headerRoom(await readHeader(p('bare.age'))), 0);
      await rejects(encryptFile({ input: p('plain'), output: p('pw2.age'), passphrase: 'pw', headerRoom: true }), ErrorCode.InvalidInput, /cannot have other stanzas/);
    });
  });

  describe('rewrap in place', () => {
    let data: Buffer;
    beforeEach(async () => {
      data = randomBytes(3 * K + 11);
      await fsp.writeFile(p('plain'), data);
      await encryptFile({ input: p('plain'), output: p('x.age'), recipients: [recipients[0]!], overwrite: true });
    });

    it('adds and removes recipients by rewriting the header only', async () => {
      const before = await fsp.readFile(p('x.age'));
      const old = await readHeader(p('x.age'));
      const key = await fileKeyOf(p('x.age'));
      const next = await rewrapHeader(key, old, [recipients[0]!, recipients[1]!]);
      assert.ok(next);
      assert.equal(next.length, old.size);
      assert.ok(verifyHeaderMac(parseHeader(next), key));
      assert.equal(await writeHeaderInPlace(p('x.age'), old.raw, next), true);
      const after = await fsp.readFile(p('x.age'));
      assert.equal(after.length, before.length);
      assert.ok(after.subarray(old.size).equals(before.subarray(old.size)), 'the payload bytes did not change');
      assert.deepEqual(await decrypts(p('x.age'), unwrapAs(1)), data);
      assert.deepEqual(await decrypts(p('x.age'), unwrapAs(0)), data);

      // Removing the first recipient: it no longer opens the file.
      const h2 = await readHeader(p('x.age'));
      const next2 = await rewrapHeader(key, h2.raw, [recipients[2]!]);
      assert.ok(next2);
      await writeHeaderInPlace(p('x.age'), h2.raw, next2);
      assert.deepEqual(await decrypts(p('x.age'), unwrapAs(2)), data);
      await rejects(decrypts(p('x.age'), unwrapAs(0)), ErrorCode.DecryptFailed, /no identity matched/);
      assert.equal((await fsp.stat(p('x.age'))).size, before.length);
    });

    it('is idempotent (a repeated commit after a crash) and completes a torn write', async () => {
      const old = await readHeader(p('x.age'));
      const key = await fileKeyOf(p('x.age'));
      const next = (await rewrapHeader(key, old, [recipients[1]!]))!;
      assert.equal(await writeHeaderInPlace(p('x.age'), old.raw, next), true);
      assert.equal(await writeHeaderInPlace(p('x.age'), old.raw, next), false);
      // A crash half-way: the first 512-byte blocks new, the rest old.
      const torn = Buffer.concat([next.subarray(0, 1024), Buffer.from(old.raw).subarray(1024)]);
      const handle = await fsp.open(p('x.age'), 'r+');
      await handle.write(torn, 0, torn.length, 0);
      await handle.close();
      assert.equal(await writeHeaderInPlace(p('x.age'), old.raw, next), true);
      assert.deepEqual(await decrypts(p('x.age'), unwrapAs(1)), data);
    });

    it('refuses a file that changed since its header was read, and headers of another length', async () => {
      const old = await readHeader(p('x.age'));
      const key = await fileKeyOf(p('x.age'));
      const next = (await rewrapHeader(key, old, [recipients[1]!]))!;
      // Someone else rewrapped it meanwhile.
      const other = (await rewrapHeader(key, old, [recipients[2]!]))!;
      await writeHeaderInPlace(p('x.age'), old.raw, other);
      await rejects(writeHeaderInPlace(p('x.age'), old.raw, next), ErrorCode.IllegalState, /^the file changed since its header was read$/);
      assert.deepEqual(await decrypts(p('x.age'), unwrapAs(2)), data);
      await assert.rejects(writeHeaderInPlace(p('x.age'), other, next.subarray(0, 100)), /keep its length/);
      await rejects(writeHeaderInPlace(p('missing.age'), old.raw, next), ErrorCode.NotFound, /no such file/);
    });

    it('returns null when the new stanzas do not fit, and refuses the wrong file key', async () => {
      const old = await readHeader(p('x.age'));
      const key = await fileKeyOf(p('x.age'));
      // An X25519 stanza is about 100 bytes; the header is 8 KiB.
      const many = await Promise.all(Array.from({ length: 100 }, async () => identityToRecipient(await generateX25519Identity())));
      assert.equal(old.size, 8192);
      assert.equal(await rewrapHeader(key, old, many), null);
      assert.ok(await rewrapHeader(key, old, many.slice(0, 60)));
      await rejects(rewrapHeader(randomBytes(16), old, [recipients[1]!]), ErrorCode.DecryptFailed, /^header authentication failed/);
      // fitHeader, the building block: exact sizes or null.
      const stanzas = await wrapFileKey(key, [recipients[1]!]);
      assert.equal(fitHeader(stanzas, key, old.size)!.length, old.size);
      assert.equal(fitHeader(stanzas, key, 150), null);
    });

    it('armored headers are not rewritten in place', async () => {
      await encryptFile({ input: p('plain'), output: p('a.age'), recipients: [recipients[0]!], armor: true, overwrite: true });
      const h = await readHeader(p('a.age'));
      await rejects(rewrapHeader(await fileKeyOf(p('a.age')), h, [recipients[1]!]), ErrorCode.InvalidInput, /armored/);
      // A binary header written over an armored file never matches its first bytes.
      const next = fitHeader(await wrapFileKey(await fileKeyOf(p('a.age')), [recipients[1]!]), await fileKeyOf(p('a.age')), h.size + 100)!;
      const fake = Buffer.concat([Buffer.from(h.raw), Buffer.alloc(100)]);
      await rejects(writeHeaderInPlace(p('a.age'), fake, next), ErrorCode.IllegalState, /changed/);
    });
  });

  describe('rewrap by copy', () => {
    it('a file age-encryption wrote: new header with room, the payload bytes as they were', async () => {
      const data = randomBytes(2 * K + 3);
      const e = new Encrypter();
      e.addRecipient(recipients[0]!);
      const original = Buffer.from(await e.encrypt(data));
      await fsp.writeFile(p('lib.age'), original, { mode: 0o640 });
      const old = await readHeader(p('lib.age'));
      assert.equal(headerRoom(old), 0);
      const key = await fileKeyOf(p('lib.age'));
      assert.equal(await rewrapHeader(key, old, [recipients[0]!, recipients[1]!]), null, 'no room in a header age wrote');

      const header = await rewrapByCopy({ input: p('lib.age'), output: p('lib.tmp'), header: old, fileKey: key, recipients: [recipients[1]!] });
      const copy = await fsp.readFile(p('lib.tmp'));
      assert.ok(copy.subarray(0, header.length).equals(header));
      assert.ok(copy.subarray(header.length).equals(original.subarray(old.size)), 'payload copied as is');
      assert.equal(header.length % HEADER_ROOM_ALIGN, 0);
      assert.equal((await fsp.stat(p('lib.tmp'))).mode & 0o777, 0o640);
      await fsp.rename(p('lib.tmp'), p('lib.age'));
      assert.deepEqual(await decrypts(p('lib.age'), unwrapAs(1)), data);
      await rejects(decrypts(p('lib.age'), unwrapAs(0)), ErrorCode.DecryptFailed, /no identity matched/);
      // And now it has room: the next rewrap is in place.
      const h = await readHeader(p('lib.age'));
      assert.ok(await rewrapHeader(key, h, [recipients[0]!]));
    });

    it('an armored file stays armored; given stanzas are used as they are', async () => {
      const data = randomBytes(K + 1);
      await fsp.writeFile(p('plain'), data);
      await encryptFile({ input: p('plain'), output: p('a.age'), recipients: [recipients[0]!], armor: true, overwrite: true });
      const key = await fileKeyOf(p('a.age'));
      const stanzas = await wrapFileKey(key, [recipients[2]!]);
      const header = await rewrapByCopy({ input: p('a.age'), output: p('a.tmp'), fileKey: key, stanzas });
      const text = await fsp.readFile(p('a.tmp'), 'latin1');
      assert.ok(text.startsWith('-----BEGIN AGE ENCRYPTED FILE-----\n'));
      assert.ok(Buffer.from(armor.decode(text)).subarray(0, header.length).equals(header));
      assert.deepEqual(await decrypts(p('a.tmp'), unwrapAs(2)), data);
    });

    it('to a passphrase: the scrypt stanza alone, no room', async () => {
      const data = randomBytes(K + 9);
      await fsp.writeFile(p('plain'), data);
      await encryptFile({ input: p('plain'), output: p('r.age'), recipients: [recipients[0]!], overwrite: true });
      const key = await fileKeyOf(p('r.age'));
      const scrypt = await wrapWithPassphrase(key, 'pw', 10);
      await rewrapByCopy({ input: p('r.age'), output: p('r.tmp'), fileKey: key, stanzas: [scrypt] });
      assert.deepEqual((await readHeader(p('r.tmp'))).stanzas.map((s) => s.type), ['scrypt']);
      assert.deepEqual(await decrypts(p('r.tmp'), unwrapWithPassphrase('pw')), data);
      await rejects(
        rewrapByCopy({ input: p('r.age'), output: p('r2.tmp'), fileKey: key, stanzas: [scrypt, ...(await wrapFileKey(key, [recipients[1]!]))] }),
        ErrorCode.InvalidInput,
        /must be the only one/,
      );
      await assert.rejects(fsp.stat(p('r2.tmp')));
    });

    it('refuses a changed file or the wrong key, and leaves no output', async () => {
      await fsp.writeFile(p('plain'), randomBytes(100));
      await encryptFile({ input: p('plain'), output: p('c.age'), recipients: [recipients[0]!], overwrite: true });
      const old = await readHeader(p('c.age'));
      const key = await fileKeyOf(p('c.age'));
      await encryptFile({ input: p('plain'), output: p('c.age'), recipients: [recipients[0]!], overwrite: true });
      await rejects(rewrapByCopy({ input: p('c.age'), output: p('c.tmp'), header: old, fileKey: key, recipients: [recipients[1]!] }), ErrorCode.IllegalState, /changed/);
      await rejects(rewrapByCopy({ input: p('c.age'), output: p('c.tmp'), fileKey: key, recipients: [recipients[1]!] }), ErrorCode.DecryptFailed, /header authentication failed/);
      const ac = new AbortController();
      ac.abort();
      const k2 = await fileKeyOf(p('c.age'));
      await rejects(rewrapByCopy({ input: p('c.age'), output: p('c.tmp'), fileKey: k2, recipients: [recipients[1]!], signal: ac.signal }), ErrorCode.Cancelled, /cancelled/);
      await assert.rejects(fsp.stat(p('c.tmp')));
    });
  });
});
