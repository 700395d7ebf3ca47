import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../daemon/protocol/errors';
import { decryptValue, encryptValue, formatGoFloat, goRfc3339, normalizeGoTime, parseEnc, plainBytes } from '../../daemon/sops/cipher';
import { Comment, Float, Int, Time } from '../../daemon/sops/tree';
import { isKeywardError } from '../../daemon/util/errors';

const key = Buffer.alloc(32, 7);

function fails(fn: () => unknown, code: number, message: RegExp, secret?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    if (secret) assert.ok(!e.message.includes(secret) && !(e.hint ?? '').includes(secret), 'the error reveals the value');
    return true;
  });
}

describe('sops cipher', () => {
  it('writes the exact sops format: 32-byte iv, 16-byte tag, type tag', () => {
    const iv = Buffer.alloc(32, 1);
    const s = encryptValue('hello', key, 'a:b:', 'utf8', iv);
    assert.match(s, /^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]+,iv:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,tag:[A-Za-z0-9+/=]{24},type:str\]$/);
    const p = parseEnc(s, 'a:b')!;
    assert.equal(p.iv.length, 32);
    assert.equal(p.tag.length, 16);
    assert.equal(p.data.length, 5);
  });

  it('round-trips every type, as sops encodes it', () => {
    const cases: [unknown, string, string][] = [
      ['héllo', 'str', 'héllo'],
      [new Int(-42n), 'int', '-42'],
      [new Int(9223372036854775807n), 'int', '9223372036854775807'],
      [new Float(1234.56789), 'float', '1234.56789'],
      [new Float(1e21), 'float', '1000000000000000000000'],
      [new Float(1e-7), 'float', '0.0000001'],
      [new Float(-0.5), 'float', '-0.5'],
      [true, 'bool', 'True'],
      [false, 'bool', 'False'],
      [new Time('2001-12-14T21:59:43.10-05:00'), 'time', '2001-12-14T21:59:43.1-05:00'],
      [new Comment(' a comment'), 'comment', ' a comment'],
    ];
    for (const [v, type, bytes] of cases) {
      const s = encryptValue(v as never, key, 'k:', 'utf8');
      assert.ok(s.endsWith(`type:${type}]`), s);
      const d = decryptValue(s, key, 'k:', 'k');
      assert.equal(d.bytes.toString('utf8'), bytes);
      assert.equal(plainBytes(d.value).toString('utf8'), bytes);
    }
  });

  it('leaves empty strings and empty comments unencrypted, as sops does', () => {
    assert.equal(encryptValue('', key, 'a:'), '');
    assert.equal(encryptValue(new Comment(''), key, 'a:'), '');
    assert.equal(decryptValue('', key, 'a:', 'a').value, '');
  });

  it('keeps arbitrary bytes with the latin1 encoding (binary store)', () => {
    const raw = randomBytes(300);
    const s = encryptValue(raw.toString('latin1'), key, 'data:', 'latin1');
    const d = decryptValue(s, key, 'data:', 'data', 'latin1');
    assert.ok(Buffer.from(d.value as string, 'latin1').equals(raw));
    assert.ok(d.bytes.equals(raw));
  });

  it('formats floats as Go strconv.FormatFloat(f, -1)', () => {
    assert.equal(formatGoFloat(0.1 + 0.2), '0.30000000000000004');
    assert.equal(formatGoFloat(1234568000), '1234568000');
    assert.equal(formatGoFloat(5), '5');
    assert.equal(formatGoFloat(-0), '-0');
    assert.equal(formatGoFloat(Infinity), '+Inf');
    assert.equal(formatGoFloat(NaN), 'NaN');
    assert.equal(formatGoFloat(1.7976931348623157e308).length, 309);
  });

  it('normalizes times as Go MarshalText and Format(RFC3339)', () => {
    assert.equal(normalizeGoTime('2024-03-26T00:43:54.500Z'), '2024-03-26T00:43:54.5Z');
    assert.equal(normalizeGoTime('2024-03-26T00:43:54+00:00'), '2024-03-26T00:43:54Z');
    assert.equal(normalizeGoTime('2024-03-26 00:43:54Z'), undefined);
    assert.equal(goRfc3339('2024-03-26T00:43:54.123456+02:00'), '2024-03-26T00:43:54+02:00');
  });

  it('reads the plaintext types sops reads (Go ParseBool, Atoi, ParseFloat)', () => {
    const enc = (text: string, type: string) => {
      const s = encryptValue(text, key, 'k:');
      return s.replace(/type:str\]$/, `type:${type}]`);
    };
    assert.equal(decryptValue(enc('true', 'bool'), key, 'k:', 'k').value, true);
    assert.equal(decryptValue(enc('F', 'bool'), key, 'k:', 'k').value, false);
    assert.equal((decryptValue(enc('+7', 'int'), key, 'k:', 'k').value as Int).value, 7n);
    assert.equal((decryptValue(enc('1e3', 'float'), key, 'k:', 'k').value as Float).value, 1000);
    fails(() => decryptValue(enc('yes', 'bool'), key, 'k:', 'k'), ErrorCode.Malformed, /k does not read as its type bool/, 'yes');
    fails(() => decryptValue(enc('99999999999999999999', 'int'), key, 'k:', 'k'), ErrorCode.Malformed, /type int/);
    fails(() => decryptValue(enc('1.5x', 'float'), key, 'k:', 'k'), ErrorCode.Malformed, /type float/);
  });

  describe('must fail', () => {
    const secret = 'hunter2-secret';
    const s = encryptValue(secret, key, 'a:b:');

    it('a tampered value', () => {
      const p = parseEnc(s, 'x')!;
      p.data[0]! ^= 1;
      const t = `ENC[AES256_GCM,data:${p.data.toString('base64')},iv:${p.iv.toString('base64')},tag:${p.tag.toString('base64')},type:str]`;
      fails(() => decryptValue(t, key, 'a:b:', 'a:b'), ErrorCode.DecryptFailed, /^value at a:b failed authentication \(tampered, or moved from another key\)$/, secret);
    });

    it('a value moved to another key (associated data)', () => {
      fails(() => decryptValue(s, key, 'a:c:', 'a:c'), ErrorCode.DecryptFailed, /value at a:c failed authentication/, secret);
    });

    it('a wrong data key', () => {
      fails(() => decryptValue(s, Buffer.alloc(32, 8), 'a:b:', 'a:b'), ErrorCode.DecryptFailed, /failed authentication/, secret);
    });

    it('a changed type tag', () => {
      fails(() => decryptValue(s.replace('type:str', 'type:int'), key, 'a:b:', 'a:b'), ErrorCode.Malformed, /type int/, secret);
    });

    it('malformed ENC strings', () => {
      const bad = [
        'ENC[AES256_GCM,data:abc,iv:AAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]',
        'ENC[AES256_GCM,data:,iv:AAAA,tag:AAAA,type:str]',
        'ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:blob]',
        'ENC[AES256_GCM,data:AAAA,iv:,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]',
        'ENC[AES256_GCM,data:AAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,iv:AAAA,type:str]',
        'ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str',
        `${s}x`,
        `ENC[AES256_GCM,data:${'A'.repeat(200_000)},iv:${','.repeat(50_000)}]`,
      ];
      for (const b of bad) fails(() => decryptValue(b, key, 'a:', 'a'), ErrorCode.Malformed, /^malformed encrypted value at a: /);
      fails(() => decryptValue('plain text', key, 'a:', 'a'), ErrorCode.Malformed, /^value at a is not encrypted$/, 'plain text');
    });

    it('a data key that is not 32 bytes', () => {
      fails(() => encryptValue('x', Buffer.alloc(16), 'a:'), ErrorCode.InvalidInput, /32 bytes/);
    });

    it('an integer outside 64 bits', () => {
      fails(() => encryptValue(new Int(2n ** 64n), key, 'a:'), ErrorCode.InvalidInput, /out of range/);
    });
  });
});
