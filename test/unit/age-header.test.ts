import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { Decrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decodePadded, decodeRaw, encodeRaw } from '../../daemon/age/base64';
import { encodeHeader, encodeHeaderWithoutMac, headerMac, MAX_HEADER_BYTES, MAX_STANZAS, parseHeader, scanHeader, verifyHeaderMac, type Stanza } from '../../daemon/age/header';
import { wrapFileKey } from '../../daemon/age/recipients';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError } from '../../daemon/util/errors';

const MAC = encodeRaw(Buffer.alloc(32, 7));
const header = (...lines: string[]) => Buffer.from(`${lines.join('\n')}\n`, 'latin1');
const valid = () => header('age-encryption.org/v1', '-> X25519 c2hhcmU', encodeRaw(Buffer.alloc(32, 1)), `--- ${MAC}`);

function throwsWith(fn: () => unknown, code: number, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}
const malformed = (bytes: Uint8Array, message: RegExp) => throwsWith(() => parseHeader(bytes), ErrorCode.Malformed, message);

describe('age header', () => {
  describe('strict base64', () => {
    it('round-trips every length without padding', () => {
      for (let n = 0; n < 70; n++) {
        const b = randomBytes(n);
        assert.deepEqual(decodeRaw(encodeRaw(b)), b);
      }
    });
    it('rejects padding, stray characters, impossible lengths and non-zero trailing bits', () => {
      for (const s of ['AA==', 'AAA=', 'A', 'AAAAA', 'AB', 'AAB', 'AA\nAA', 'AA AA', 'AA-_', 'ÀA']) assert.equal(decodeRaw(s), null, s);
    });
    it('padded variant (armor) is just as strict', () => {
      assert.deepEqual(decodePadded('AA=='), Buffer.from([0]));
      for (const s of ['AA', 'AB==', 'AAB=', 'AA=A', 'A===', 'AA==AA==']) assert.equal(decodePadded(s), null, s);
    });
  });

  describe('parse', () => {
    it('returns stanzas, MAC, the exact raw and MACed bytes, and the payload offset', () => {
      const bytes = valid();
      const withPayload = Buffer.concat([bytes, Buffer.from('\x00payload\n--- not a header')]);
      const h = parseHeader(withPayload);
      assert.equal(h.size, bytes.length);
      assert.deepEqual(Buffer.from(h.raw), bytes);
      assert.equal(Buffer.from(h.withoutMac).toString('latin1'), bytes.toString('latin1').replace(/ [^ ]+\n$/, ''));
      assert.equal(h.stanzas.length, 1);
      assert.equal(h.stanzas[0]!.type, 'X25519');
      assert.deepEqual(h.stanzas[0]!.args, ['c2hhcmU']);
      assert.deepEqual(Buffer.from(h.stanzas[0]!.body), Buffer.alloc(32, 1));
      assert.deepEqual(Buffer.from(h.mac), Buffer.alloc(32, 7));
    });

    it('accepts an empty body, several stanzas and many arguments', () => {
      const h = parseHeader(header('age-encryption.org/v1', '-> a', '', '-> example.com/x 1 2 3 !~', 'AAAA', `--- ${MAC}`));
      assert.deepEqual(h.stanzas.map((s) => [s.type, s.args, s.body.length]), [['a', [], 0], ['example.com/x', ['1', '2', '3', '!~'], 3]]);
    });

    it('encode → parse round-trips body lengths around the 48-byte line boundary', () => {
      for (const n of [0, 1, 2, 47, 48, 49, 95, 96, 97, 1000]) {
        const stanzas: Stanza[] = [{ type: 'test', args: ['x'], body: randomBytes(n) }];
        const key = randomBytes(16);
        const bytes = encodeHeader(stanzas, key);
        const h = parseHeader(bytes);
        assert.equal(h.size, bytes.length);
        assert.deepEqual(Buffer.from(h.stanzas[0]!.body), Buffer.from(stanzas[0]!.body), `body of ${n}`);
        assert.ok(verifyHeaderMac(h, key));
        assert.ok(!verifyHeaderMac(h, randomBytes(16)));
        // Every body line is 64 columns except the last, which is shorter (maybe empty).
        const body = bytes.toString('latin1').split('\n').slice(2, -2);
        body.slice(0, -1).forEach((l) => assert.equal(l.length, 64));
        assert.ok(body.at(-1)!.length < 64);
      }
    });

    it('scanHeader asks for more bytes on every proper prefix, and says truncated at the end', () => {
      const bytes = valid();
      for (let i = 1; i < bytes.length; i++) {
        assert.equal(scanHeader(bytes.subarray(0, i), false), null, `prefix ${i}`);
        throwsWith(() => scanHeader(bytes.subarray(0, i), true), ErrorCode.Malformed, /^file is truncated$/);
      }
      assert.equal(scanHeader(bytes, false)?.size, bytes.length);
    });

    it('headers made by the library parse, and ours MAC like the library expects', async () => {
      const id = await generateX25519Identity();
      const key = randomBytes(16);
      const stanzas = await wrapFileKey(key, [await identityToRecipient(id)]);
      const bytes = encodeHeader(stanzas, key);
      const d = new Decrypter();
      d.addIdentity(id);
      assert.deepEqual(Buffer.from(await d.decryptHeader(bytes)), key);
      assert.deepEqual(headerMac(key, parseHeader(bytes).withoutMac), Buffer.from(parseHeader(bytes).mac));
    });
  });

  describe('must fail', () => {
    it('not an age file', () => {
      malformed(Buffer.alloc(0), /^not an age file$/);
      malformed(Buffer.from('hello world\n'), /^not an age file$/);
      malformed(randomBytes(64).fill(0xff, 0, 1), /^not an age file$/);
      malformed(Buffer.from('-----BEGIN AGE ENCRYPTED FILE-----\n'), /^not an age file$/);
    });

    it('wrong version line', () => {
      malformed(Buffer.from(valid().toString('latin1').replace('/v1', '/v2')), /^unsupported age version$/);
      malformed(Buffer.from(valid().toString('latin1').replace('/v1', '/v1 ')), /^unsupported age version$/);
      malformed(Buffer.from(valid().toString('latin1').replace(/\n/g, '\r\n')), /^unsupported age version$/);
    });

    it('non-canonical base64 in a stanza body', () => {
      malformed(header('age-encryption.org/v1', '-> X25519 a', 'AAB', `--- ${MAC}`), /not canonical base64/);
      malformed(header('age-encryption.org/v1', '-> X25519 a', 'AA==', `--- ${MAC}`), /not canonical base64/);
      malformed(header('age-encryption.org/v1', '-> X25519 a', 'AA A', `--- ${MAC}`), /not canonical base64/);
      malformed(header('age-encryption.org/v1', '-> X25519 a', 'A', `--- ${MAC}`), /not canonical base64/);
    });

    it('a body whose last line is a full 64 columns', () => {
      const full = 'A'.repeat(64);
      malformed(header('age-encryption.org/v1', '-> X25519 a', full, `--- ${MAC}`), /must end with a line shorter than 64 columns/);
      malformed(header('age-encryption.org/v1', '-> X25519 a', full, '-> X25519 b', '', `--- ${MAC}`), /must end with a line shorter than 64 columns/);
      malformed(header('age-encryption.org/v1', '-> X25519 a', 'A'.repeat(65), `--- ${MAC}`), /longer than 64 columns/);
    });

    it('malformed stanzas', () => {
      malformed(header('age-encryption.org/v1', '-> X25519 a', `--- ${MAC}`), /stanza has no body line/);
      malformed(header('age-encryption.org/v1', '->X25519 a', '', `--- ${MAC}`), /malformed stanza/);
      malformed(header('age-encryption.org/v1', '-> ', '', `--- ${MAC}`), /malformed stanza arguments/);
      malformed(header('age-encryption.org/v1', '-> X25519  a', '', `--- ${MAC}`), /malformed stanza arguments/);
      malformed(header('age-encryption.org/v1', '-> X25519 a ', '', `--- ${MAC}`), /malformed stanza arguments/);
      malformed(header('age-encryption.org/v1', '-> X25519\ta', '', `--- ${MAC}`), /malformed stanza arguments/);
      malformed(header('age-encryption.org/v1', '-> X25519 é', '', `--- ${MAC}`), /malformed stanza arguments/);
      malformed(header('age-encryption.org/v1', 'garbage', `--- ${MAC}`), /expected a stanza or the MAC line/);
    });

    it('missing or malformed MAC, and no stanzas', () => {
      malformed(header('age-encryption.org/v1', '-> X25519 a', '', '---'), /^invalid header: missing MAC$/);
      malformed(header('age-encryption.org/v1', '-> X25519 a', '', '--- '), /malformed MAC line/);
      malformed(header('age-encryption.org/v1', '-> X25519 a', '', `---${MAC}`), /malformed MAC line/);
      malformed(header('age-encryption.org/v1', '-> X25519 a', '', `--- ${MAC.slice(1)}`), /malformed MAC line/);
      malformed(header('age-encryption.org/v1', '-> X25519 a', '', `--- ${MAC}=`), /malformed MAC line/);
      malformed(header('age-encryption.org/v1', '-> X25519 a', '', `--- ${MAC} x`), /malformed MAC line/);
      malformed(header('age-encryption.org/v1', `--- ${MAC}`), /no recipient stanzas/);
      malformed(header('age-encryption.org/v1', '-> X25519 a', ''), /^file is truncated$/);
    });

    it('a header over the stanza or byte limit', () => {
      const many = Array.from({ length: MAX_STANZAS + 1 }, () => '-> X25519 a\n').join('\n');
      malformed(Buffer.from(`age-encryption.org/v1\n${many}\n--- ${MAC}\n`), /^header too large$/);
      const longArg = `-> X25519 ${'a'.repeat(MAX_HEADER_BYTES)}`;
      malformed(header('age-encryption.org/v1', longArg, '', `--- ${MAC}`), /^header too large$/);
      // Even before the end is seen: a streaming reader must not wait for more.
      throwsWith(() => scanHeader(Buffer.from(`age-encryption.org/v1\n${longArg}`), false), ErrorCode.Malformed, /^header too large$/);
    });

    it('encoding refuses what it could not parse back', () => {
      throwsWith(() => encodeHeaderWithoutMac([]), ErrorCode.InternalError, /at least one stanza/);
      throwsWith(() => encodeHeaderWithoutMac([{ type: 'a b', args: [], body: new Uint8Array() }]), ErrorCode.InternalError, /argument/);
      throwsWith(() => encodeHeaderWithoutMac([{ type: 'a', args: [''], body: new Uint8Array() }]), ErrorCode.InternalError, /argument/);
      throwsWith(() => encodeHeader([{ type: 'a', args: [], body: new Uint8Array() }], randomBytes(15)), ErrorCode.InternalError, /16 bytes/);
    });
  });
});
