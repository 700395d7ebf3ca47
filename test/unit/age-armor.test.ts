import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { armor } from 'age-encryption';
import { ARMOR_BEGIN, ARMOR_END, ArmorReader, ArmorWriter, detectArmor, MAX_ARMOR_WHITESPACE } from '../../daemon/age/armor';
import { ByteReader, type Sink } from '../../daemon/age/io';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError } from '../../daemon/util/errors';

function readerOf(bytes: Uint8Array, piece = 1000): ByteReader {
  let off = 0;
  return new ByteReader(() => {
    if (off >= bytes.length) return Promise.resolve(null);
    const out = Buffer.from(bytes.subarray(off, off + piece));
    off += piece;
    return Promise.resolve(out);
  }, 1);
}

class MemorySink implements Sink {
  parts: Buffer[] = [];
  written = 0;
  write(chunk: Uint8Array): Promise<void> {
    this.parts.push(Buffer.from(chunk));
    this.written += chunk.length;
    return Promise.resolve();
  }
  async end(): Promise<void> {}
  text(): string {
    return Buffer.concat(this.parts).toString('latin1');
  }
}

async function armorOf(data: Uint8Array, writes: number[] = []): Promise<string> {
  const sink = new MemorySink();
  const w = new ArmorWriter(sink);
  let off = 0;
  for (const n of writes) {
    await w.write(data.subarray(off, off + n));
    off += n;
  }
  await w.write(data.subarray(off));
  await w.end();
  return sink.text();
}

async function dearmor(text: string | Uint8Array, piece = 1000): Promise<Buffer> {
  const r = new ByteReader(new ArmorReader(readerOf(typeof text === 'string' ? Buffer.from(text, 'latin1') : text, piece)).pull, 1);
  const parts: Buffer[] = [];
  for (let b = await r.read(1 << 16); b.length > 0; b = await r.read(1 << 16)) parts.push(b);
  return Buffer.concat(parts);
}

async function invalid(text: string, message: RegExp): Promise<void> {
  await assert.rejects(dearmor(text), (e: unknown) => {
    assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
    assert.equal(e.code, ErrorCode.Malformed);
    assert.match(e.message, /^invalid armor: /);
    assert.match(e.message, message);
    return true;
  });
}

const lines = (...l: string[]) => `${l.join('\n')}\n`;

describe('age armor', () => {
  describe('encode', () => {
    it('matches the reference encoding for sizes around the 48-byte line, however the writes are cut', async () => {
      for (const n of [1, 2, 47, 48, 49, 95, 96, 97, 1000, 65536 + 3]) {
        const data = randomBytes(n);
        const expected = armor.encode(data);
        assert.equal(await armorOf(data), expected, `size ${n}`);
        assert.equal(await armorOf(data, [1, 47, 5, 100]), expected, `size ${n}, cut`);
      }
    });

    it('writes 64-column lines, a shorter last one, and the END line', async () => {
      const text = await armorOf(randomBytes(100));
      const l = text.split('\n');
      assert.equal(l[0], ARMOR_BEGIN);
      assert.equal(l[1]!.length, 64);
      assert.equal(l[2]!.length, 64);
      assert.ok(l[3]!.length < 64 && l[3]!.endsWith('='));
      assert.equal(l[4], ARMOR_END);
      assert.equal(l[5], '');
    });
  });

  describe('decode', () => {
    it('round-trips, whatever the read boundaries', async () => {
      for (const n of [1, 47, 48, 49, 96, 5000, 200_000]) {
        const data = randomBytes(n);
        const text = await armorOf(data);
        assert.deepEqual(await dearmor(text), data, `size ${n}`);
        assert.deepEqual(await dearmor(text, 7), data, `size ${n}, 7-byte reads`);
      }
    });

    it('accepts CRLF, bounded whitespace around the block, and no final newline', async () => {
      const data = randomBytes(200);
      const text = await armorOf(data);
      assert.deepEqual(await dearmor(text.replace(/\n/g, '\r\n')), data);
      assert.deepEqual(await dearmor(`\n \t\r\n${text}\n  \n\t`), data);
      assert.deepEqual(await dearmor(text.slice(0, -1)), data);
      assert.deepEqual(await dearmor(`${' '.repeat(MAX_ARMOR_WHITESPACE - 1)}\n${text}${' '.repeat(MAX_ARMOR_WHITESPACE)}`), data);
    });

    it('accepts a final line of 64 columns that carries padding', async () => {
      const data = randomBytes(48 + 47); // the last line is 47 bytes: 63 characters and one '='
      const text = await armorOf(data);
      assert.equal(text.split('\n')[2]!.length, 64);
      assert.deepEqual(await dearmor(text), data);
    });
  });

  describe('must fail', () => {
    const full = 'A'.repeat(64);
    it('missing END line, or END without data', async () => {
      await invalid(lines(ARMOR_BEGIN, full, 'AAAA'), /missing END line/);
      await invalid(lines(ARMOR_BEGIN, full), /missing END line/);
      await invalid(ARMOR_BEGIN, /missing END line/);
      await invalid(lines(ARMOR_BEGIN, ARMOR_END), /no data/);
    });

    it('data after the END line', async () => {
      await invalid(lines(ARMOR_BEGIN, 'AAAA', ARMOR_END, 'x'), /data after the END line/);
      await invalid(lines(ARMOR_BEGIN, 'AAAA', ARMOR_END, ARMOR_BEGIN, 'AAAA', ARMOR_END), /data after the END line/);
    });

    it('non-canonical base64', async () => {
      await invalid(lines(ARMOR_BEGIN, 'AB==', ARMOR_END), /malformed base64/); // non-zero trailing bits
      await invalid(lines(ARMOR_BEGIN, 'AA', ARMOR_END), /malformed base64/); // padding missing
      await invalid(lines(ARMOR_BEGIN, 'AA=A', ARMOR_END), /malformed base64/);
      await invalid(lines(ARMOR_BEGIN, `${'A'.repeat(63)}*`, ARMOR_END), /malformed base64/);
      await invalid(lines(ARMOR_BEGIN, `${'A'.repeat(60)}AAA=`, 'AAAA', ARMOR_END), /a short line must be the last one/);
    });

    it('lines of the wrong length, empty lines and stray whitespace', async () => {
      await invalid(lines(ARMOR_BEGIN, 'A'.repeat(68), ARMOR_END), /longer than 64 columns/);
      await invalid(lines(ARMOR_BEGIN, 'A'.repeat(60), full, ARMOR_END), /a short line must be the last one/);
      await invalid(lines(ARMOR_BEGIN, full, '', full, ARMOR_END), /empty line/);
      await invalid(lines(ARMOR_BEGIN, `${full} `, ARMOR_END), /longer than 64 columns/);
      await invalid(lines(ARMOR_BEGIN, ` ${'A'.repeat(63)}`, ARMOR_END), /malformed base64/);
      await invalid(lines(ARMOR_BEGIN, 'AAAA', `${ARMOR_END} `), /a short line must be the last one/);
      await invalid(lines(`${ARMOR_BEGIN} `, 'AAAA', ARMOR_END), /the first line is not/);
      await invalid(lines(ARMOR_BEGIN, full + 'A'.repeat(100)), /longer than 64 columns/);
    });

    it('too much whitespace around the block', async () => {
      await invalid(`${'\n'.repeat(MAX_ARMOR_WHITESPACE + 1)}${lines(ARMOR_BEGIN, 'AAAA', ARMOR_END)}`, /too much whitespace before/);
      await invalid(`${lines(ARMOR_BEGIN, 'AAAA', ARMOR_END)}${' '.repeat(MAX_ARMOR_WHITESPACE + 1)}`, /too much whitespace after/);
    });

    it('another label or a lowercase one', async () => {
      await invalid(lines('-----BEGIN AGE ENCRYPTED FILE----', 'AAAA', ARMOR_END), /the first line is not/);
      await invalid(lines(ARMOR_BEGIN.toLowerCase(), 'AAAA', ARMOR_END), /the first line is not/);
      await invalid(lines(ARMOR_BEGIN, 'AAAA', ARMOR_END.replace('AGE', 'PGP')), /a short line must be the last one/);
    });
  });

  describe('detect', () => {
    it('armored after whitespace, binary otherwise, and other PEM is not an age file', async () => {
      assert.equal(await detectArmor(readerOf(Buffer.from(`\n  ${ARMOR_BEGIN}\n`))), 'armored');
      assert.equal(await detectArmor(readerOf(Buffer.from('age-encryption.org/v1\n'))), 'binary');
      assert.equal(await detectArmor(readerOf(Buffer.alloc(0))), 'binary');
      assert.equal(await detectArmor(readerOf(Buffer.from(`${' '.repeat(MAX_ARMOR_WHITESPACE + 1)}${ARMOR_BEGIN}\n`))), 'binary');
      await assert.rejects(detectArmor(readerOf(Buffer.from('-----BEGIN PGP MESSAGE-----\n'))), (e: unknown) => isKeywardError(e) && e.message === 'not an age file');
    });
  });
});
