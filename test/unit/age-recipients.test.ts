import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { Decrypter, Encrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decodeBech32 } from '../../daemon/age/bech32';
import { encodeRaw } from '../../daemon/age/base64';
import { encodeHeader, parseHeader, type ParsedHeader, type Stanza } from '../../daemon/age/header';
import { unwrapWithIdentities } from '../../daemon/age/identities';
import { parseRecipient, parseRecipients, wrapFileKey } from '../../daemon/age/recipients';
import { X25519Identity } from '../../daemon/age/x25519';
import { MAX_SCRYPT_LOG_N, unwrapWithPassphrase, wrapWithPassphrase } from '../../daemon/age/scrypt';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError } from '../../daemon/util/errors';

// A bech32 encoder for building test strings (the engine only decodes).
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
function bech32(hrp: string, bytes: Uint8Array): string {
  const words: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      words.push((acc >> bits) & 31);
    }
  }
  if (bits > 0) words.push((acc << (5 - bits)) & 31);
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  const polymod = (vs: number[]) =>
    vs.reduce((chk, v) => {
      const top = chk >>> 25;
      let c = ((chk & 0x1ffffff) << 5) ^ v;
      for (let i = 0; i < 5; i++) if ((top >>> i) & 1) c ^= gen[i]!;
      return c;
    }, 1);
  const hrpx = [...hrp].map((c) => c.charCodeAt(0) >> 5).concat([0], [...hrp].map((c) => c.charCodeAt(0) & 31));
  const mod = polymod([...hrpx, ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const check = Array.from({ length: 6 }, (_, i) => (mod >> (5 * (5 - i))) & 31);
  return `${hrp}1${[...words, ...check].map((w) => CHARSET[w]).join('')}`;
}

function fails(fn: () => unknown, code: number, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}
async function rejects(p: Promise<unknown>, code: number, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

const headerFor = (stanzas: Stanza[], key = randomBytes(16)): ParsedHeader => parseHeader(encodeHeader(stanzas, key));

describe('age recipients', () => {
  let x25519Id: string;
  let x25519: string;
  let pqId: string;
  let pq: string;
  before(async () => {
    x25519Id = await generateX25519Identity();
    x25519 = await identityToRecipient(x25519Id);
    pqId = await generateHybridIdentity();
    pq = await identityToRecipient(pqId);
  });

  describe('bech32', () => {
    it('decodes what the encoder produces, of any length', () => {
      for (const n of [0, 1, 32, 1216]) {
        const bytes = randomBytes(n);
        const r = decodeBech32(bech32('age', bytes));
        assert.ok(r.ok);
        assert.deepEqual(Buffer.from(r.bytes), bytes);
      }
    });
    it('explains what is wrong', () => {
      const good = bech32('age', randomBytes(32));
      const flip = good.slice(0, 10) + (good[10] === 'q' ? 'p' : 'q') + good.slice(11);
      assert.deepEqual(decodeBech32(flip), { ok: false, reason: 'has a wrong checksum: it was mistyped or cut short' });
      assert.deepEqual(decodeBech32(good.slice(0, -1)), { ok: false, reason: 'has a wrong checksum: it was mistyped or cut short' });
      assert.equal((decodeBech32(good.slice(0, 5) + 'B' + good.slice(6)) as { reason: string }).reason, 'mixes upper and lower case');
      assert.match((decodeBech32(`${good.slice(0, 8)}b${good.slice(9)}`) as { reason: string }).reason, /character that cannot occur/);
      assert.equal((decodeBech32('age1qqq') as { reason: string }).reason, 'is too short');
      assert.equal((decodeBech32('qqqqqqqqqq') as { reason: string }).reason, 'has no separator');
    });
  });

  describe('parseRecipient', () => {
    it('accepts X25519, post-quantum and tag recipients, normalising case', () => {
      assert.deepEqual(parseRecipient(x25519), { recipient: x25519, type: 'X25519', postQuantum: false });
      assert.deepEqual(parseRecipient(pq), { recipient: pq, type: 'mlkem768x25519', postQuantum: true });
      assert.equal(parseRecipient(x25519.toUpperCase()).recipient, x25519);
      // From the spec's examples.
      assert.equal(parseRecipient('age1tag1qt8lw0ual6avlwmwatk888yqnmdamm7xfd0wak53ut6elz5c4swx2yqdj4e').type, 'p256tag');
    });

    it('says why a string is not a recipient, without repeating it', () => {
      fails(() => parseRecipient(''), ErrorCode.InvalidInput, /^recipient is empty$/);
      fails(() => parseRecipient(x25519Id), ErrorCode.InvalidInput, /^this is a secret key, not a recipient$/);
      fails(() => parseRecipient(pqId), ErrorCode.InvalidInput, /^this is a secret key, not a recipient$/);
      fails(() => parseRecipient(` ${x25519}`), ErrorCode.InvalidInput, /whitespace/);
      fails(() => parseRecipient(`${x25519}\n`), ErrorCode.InvalidInput, /whitespace/);
      fails(() => parseRecipient('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG'), ErrorCode.InvalidInput, /ssh keys are not supported/);
      fails(() => parseRecipient('npub1xyz'), ErrorCode.InvalidInput, /^unknown recipient type$/);
      fails(() => parseRecipient(x25519.slice(0, -3)), ErrorCode.InvalidInput, /wrong checksum/);
      fails(() => parseRecipient(x25519.slice(0, 20) + x25519.slice(20).toUpperCase()), ErrorCode.InvalidInput, /mixes upper and lower case/);
      fails(() => parseRecipient(bech32('age', randomBytes(31))), ErrorCode.InvalidInput, /X25519 key is 32 bytes, this one is 31/);
      fails(() => parseRecipient(bech32('age1pq', randomBytes(32))), ErrorCode.InvalidInput, /mlkem768x25519 key is 1216 bytes/);
      assert.deepEqual(parseRecipient(bech32('age1yubikey', Buffer.alloc(33, 1))).plugin, 'yubikey', 'a plugin recipient (its plugin reads its data)');
      // Right length, but not a point on P-256: the library's own check.
      fails(() => parseRecipient(bech32('age1tag', Buffer.alloc(33, 0xff))), ErrorCode.InvalidInput, /not a valid p256tag key/);
      try {
        parseRecipient(x25519Id);
      } catch (e) {
        assert.ok(isKeywardError(e));
        assert.ok(!`${e.message} ${e.hint}`.includes(x25519Id.slice(16)), 'the secret key leaked into the error');
      }
    });

    it('a set of recipients: de-duplicated, not empty, not mixing post-quantum and classic', () => {
      assert.equal(parseRecipients([x25519, x25519.toUpperCase()]).length, 1);
      fails(() => parseRecipients([]), ErrorCode.InvalidInput, /^no recipients$/);
      fails(() => parseRecipients([x25519, pq]), ErrorCode.InvalidInput, /can't mix post-quantum and classic recipients/);
    });
  });

  describe('wrapFileKey (a known file key)', () => {
    it('X25519 and post-quantum stanzas that age-encryption unwraps to the same key', async () => {
      for (const [id, r] of [
        [x25519Id, x25519],
        [pqId, pq],
      ] as const) {
        const key = randomBytes(16);
        const stanzas = await wrapFileKey(key, [r]);
        assert.equal(stanzas.length, 1);
        const d = new Decrypter();
        d.addIdentity(id);
        assert.deepEqual(Buffer.from(await d.decryptHeader(encodeHeader(stanzas, key))), key);
      }
    });

    it('one stanza per recipient, each opening with its own identity', async () => {
      const other = await generateX25519Identity();
      const key = randomBytes(16);
      const stanzas = await wrapFileKey(key, [x25519, await identityToRecipient(other)]);
      assert.deepEqual(stanzas.map((s) => s.type), ['X25519', 'X25519']);
      for (const id of [x25519Id, other]) {
        const d = new Decrypter();
        d.addIdentity(id);
        assert.deepEqual(Buffer.from(await d.decryptHeader(encodeHeader(stanzas, key))), key);
      }
    });

    it('tag recipients wrap too (opening them needs hardware)', async () => {
      const stanzas = await wrapFileKey(randomBytes(16), ['age1tag1qt8lw0ual6avlwmwatk888yqnmdamm7xfd0wak53ut6elz5c4swx2yqdj4e']);
      assert.equal(stanzas[0]!.type, 'p256tag');
      assert.equal(stanzas[0]!.args.length, 2);
    });

    it('refuses a wrong-size key and bad recipients', async () => {
      await rejects(wrapFileKey(randomBytes(32), [x25519]), ErrorCode.InternalError, /16 bytes/);
      await rejects(wrapFileKey(randomBytes(16), [x25519, pq]), ErrorCode.InvalidInput, /can't mix/);
      await rejects(wrapFileKey(randomBytes(16), ['age1nope']), ErrorCode.InvalidInput, /invalid recipient/);
    });
  });

  describe('unwrapWithIdentities', () => {
    it('finds the file key with the right identity, among others', async () => {
      const key = randomBytes(16);
      const header = headerFor(await wrapFileKey(key, [pq]), key);
      const unwrap = unwrapWithIdentities([await generateX25519Identity(), x25519Id, pqId]);
      assert.deepEqual(Buffer.from(await unwrap(header)), key);
    });

    it('says "no identity matched" for a file that is for other keys', async () => {
      const header = headerFor(await wrapFileKey(randomBytes(16), [x25519]));
      await rejects(unwrapWithIdentities([await generateX25519Identity()])(header), ErrorCode.DecryptFailed, /^no identity matched any of the file's recipients$/);
      // No identity of the file's type at all: the same answer, without asking the library.
      await rejects(unwrapWithIdentities([pqId])(header), ErrorCode.DecryptFailed, /^no identity matched any of the file's recipients$/);
    });

    it('says which types the file is for when Keyward opens none of them', async () => {
      const header = headerFor([
        { type: 'p256tag', args: ['AAAAAA', 'x'], body: randomBytes(32) },
        { type: 'example.com/enigma', args: [], body: randomBytes(10) },
      ]);
      await rejects(unwrapWithIdentities([x25519Id])(header), ErrorCode.DecryptFailed, /^no identity matched: the file's recipients are of types p256tag, example.com\/enigma$/);
    });

    it('refuses passphrase files, and scrypt mixed with anything', async () => {
      const key = randomBytes(16);
      const scrypt = await wrapWithPassphrase(key, 'pw', 10);
      await rejects(unwrapWithIdentities([x25519Id])(headerFor([scrypt], key)), ErrorCode.DecryptFailed, /encrypted with a passphrase/);
      const mixed = headerFor([scrypt, ...(await wrapFileKey(key, [x25519]))], key);
      await rejects(unwrapWithIdentities([x25519Id])(mixed), ErrorCode.Malformed, /scrypt stanza must be the only stanza/);
    });

    it('rejects malformed stanzas of its own types', async () => {
      const bad = (s: Stanza) => unwrapWithIdentities([x25519Id, pqId])(headerFor([s]));
      await rejects(bad({ type: 'X25519', args: [], body: randomBytes(32) }), ErrorCode.Malformed, /malformed X25519 stanza/);
      await rejects(bad({ type: 'X25519', args: [encodeRaw(randomBytes(31))], body: randomBytes(32) }), ErrorCode.Malformed, /malformed X25519 stanza/);
      await rejects(bad({ type: 'X25519', args: [encodeRaw(randomBytes(32))], body: randomBytes(33) }), ErrorCode.Malformed, /malformed X25519 stanza/);
      await rejects(bad({ type: 'mlkem768x25519', args: [encodeRaw(randomBytes(1119))], body: randomBytes(32) }), ErrorCode.Malformed, /malformed mlkem768x25519 stanza/);
    });

    it('reports a header MAC that does not match the unwrapped key', async () => {
      const key = randomBytes(16);
      const stanzas = await wrapFileKey(key, [x25519]);
      const forged = headerFor(stanzas, randomBytes(16)); // right stanza, MAC under another key
      await rejects(unwrapWithIdentities([x25519Id])(forged), ErrorCode.DecryptFailed, /^header authentication failed/);
    });

    it('refuses invalid identities up front, without repeating them', () => {
      fails(() => unwrapWithIdentities([]), ErrorCode.InvalidInput, /no identities/);
      fails(() => unwrapWithIdentities([x25519]), ErrorCode.InvalidInput, /^identity 1 is not a valid age secret key$/);
      fails(() => unwrapWithIdentities([x25519Id, `${x25519Id.slice(0, -1)}${x25519Id.endsWith('Q') ? 'P' : 'Q'}`]), ErrorCode.InvalidInput, /^identity 2 is not a valid age secret key$/);
    });
  });

  describe('X25519Identity (the keystore\'s OpenSSL unwrap)', () => {
    it('opens what age-encryption and wrapFileKey wrap, among stanzas for others', async () => {
      const id = X25519Identity.parse(x25519Id)!;
      const key = randomBytes(16);
      const others = [...(await wrapFileKey(key, [await identityToRecipient(await generateX25519Identity())])), ...(await wrapFileKey(key, [pq]))];
      assert.deepEqual(Buffer.from(id.open(headerFor([...others, ...(await wrapFileKey(key, [x25519]))], key))!), key);
      // A stanza age-encryption's own Encrypter made (its own random file key).
      const e = new Encrypter();
      e.addRecipient(x25519);
      const file = await e.encrypt('x');
      const d = new Decrypter();
      d.addIdentity(x25519Id);
      const libKey = await d.decryptHeader(file);
      assert.deepEqual(Buffer.from(id.open(parseHeader(file))!), Buffer.from(libKey));
      // Lowercase identities are the same key.
      assert.deepEqual(Buffer.from(X25519Identity.parse(x25519Id.toLowerCase())!.open(parseHeader(file))!), Buffer.from(libKey));
    });

    it('finds nothing in files for other keys, or with a tampered stanza', async () => {
      const id = X25519Identity.parse(x25519Id)!;
      const key = randomBytes(16);
      assert.equal(id.open(headerFor(await wrapFileKey(key, [await identityToRecipient(await generateX25519Identity())]), key)), undefined);
      assert.equal(id.open(headerFor(await wrapFileKey(key, [pq]), key)), undefined);
      const [mine] = await wrapFileKey(key, [x25519]);
      const body = Uint8Array.from(mine!.body);
      body[3]! ^= 1;
      assert.equal(id.open(headerFor([{ ...mine!, body }], key)), undefined);
    });

    it('refuses malformed X25519 stanzas, low-order shares and scrypt mixed in', async () => {
      const id = X25519Identity.parse(x25519Id)!;
      const bad = (stanzas: Stanza[]) => () => id.open(headerFor(stanzas));
      fails(bad([{ type: 'X25519', args: [], body: randomBytes(32) }]), ErrorCode.Malformed, /malformed X25519 stanza/);
      fails(bad([{ type: 'X25519', args: [encodeRaw(randomBytes(31))], body: randomBytes(32) }]), ErrorCode.Malformed, /malformed X25519 stanza/);
      fails(bad([{ type: 'X25519', args: [encodeRaw(randomBytes(32))], body: randomBytes(16) }]), ErrorCode.Malformed, /malformed X25519 stanza/);
      fails(bad([{ type: 'X25519', args: [encodeRaw(Buffer.alloc(32))], body: randomBytes(32) }]), ErrorCode.Malformed, /low-order share/);
      const key = randomBytes(16);
      fails(bad([await wrapWithPassphrase(key, 'pw', 10), ...(await wrapFileKey(key, [x25519]))]), ErrorCode.Malformed, /scrypt stanza must be the only stanza/);
    });

    it('parses only X25519 identities', () => {
      assert.equal(X25519Identity.parse(pqId), undefined);
      assert.equal(X25519Identity.parse(x25519), undefined);
      assert.equal(X25519Identity.parse(`${x25519Id.slice(0, -1)}${x25519Id.endsWith('Q') ? 'P' : 'Q'}`), undefined);
    });
  });

  describe('scrypt (passphrase)', () => {
    it('round-trips, and interoperates with age-encryption both ways', async () => {
      const key = randomBytes(16);
      const stanza = await wrapWithPassphrase(key, 'correct horse', 10);
      assert.equal(stanza.type, 'scrypt');
      assert.equal(stanza.args[1], '10');
      const header = headerFor([stanza], key);
      assert.deepEqual(Buffer.from(await unwrapWithPassphrase('correct horse')(header)), key);

      const d = new Decrypter();
      d.addPassphrase('correct horse');
      assert.deepEqual(Buffer.from(await d.decryptHeader(header.raw)), key);

      const e = new Encrypter();
      e.setPassphrase('pässwörd');
      e.setScryptWorkFactor(10);
      const theirs = parseHeader(await e.encrypt('x'));
      const theirKey = await unwrapWithPassphrase('pässwörd')(theirs);
      const d2 = new Decrypter();
      d2.addPassphrase('pässwörd');
      assert.deepEqual(Buffer.from(theirKey), Buffer.from(await d2.decryptHeader(theirs.raw)));
    });

    it('wrong passphrase, or a file that is for keys', async () => {
      const key = randomBytes(16);
      await rejects(unwrapWithPassphrase('wrong')(headerFor([await wrapWithPassphrase(key, 'right', 10)], key)), ErrorCode.DecryptFailed, /^incorrect passphrase$/);
      await rejects(unwrapWithPassphrase('pw')(headerFor(await wrapFileKey(key, [x25519]), key)), ErrorCode.DecryptFailed, /not encrypted with a passphrase/);
    });

    it(`refuses a work factor above the cap (2^${MAX_SCRYPT_LOG_N}) before doing any work`, async () => {
      const stanza = (logN: string): Stanza => ({ type: 'scrypt', args: [encodeRaw(randomBytes(16)), logN], body: randomBytes(32) });
      const started = Date.now();
      await rejects(unwrapWithPassphrase('pw')(headerFor([stanza(String(MAX_SCRYPT_LOG_N + 1))])), ErrorCode.DecryptFailed, /scrypt work factor too high/);
      await rejects(unwrapWithPassphrase('pw')(headerFor([stanza('99999999999999999999')])), ErrorCode.DecryptFailed, /scrypt work factor too high/);
      assert.ok(Date.now() - started < 1000);
      const key = randomBytes(16);
      await rejects(
        unwrapWithPassphrase('pw', { maxLogN: 10 })(headerFor([await wrapWithPassphrase(key, 'pw', 11)], key)),
        ErrorCode.DecryptFailed,
        /over the limit of 2\^10/,
      );
    });

    it('rejects malformed scrypt stanzas and scrypt mixed with other stanzas', async () => {
      const salt = encodeRaw(randomBytes(16));
      const bad = (args: string[], body = randomBytes(32)) => unwrapWithPassphrase('pw')(headerFor([{ type: 'scrypt', args, body }]));
      for (const args of [[salt], [salt, '10', 'x'], [salt, '010'], [salt, '0'], [salt, '-1'], [salt, '1e1'], [encodeRaw(randomBytes(15)), '10'], [`${salt}A`, '10']]) {
        await rejects(bad(args), ErrorCode.Malformed, /malformed scrypt stanza/);
      }
      await rejects(bad([salt, '10'], randomBytes(31)), ErrorCode.Malformed, /malformed scrypt stanza/);
      const key = randomBytes(16);
      const two = headerFor([await wrapWithPassphrase(key, 'pw', 10), await wrapWithPassphrase(key, 'pw', 10)], key);
      await rejects(unwrapWithPassphrase('pw')(two), ErrorCode.Malformed, /scrypt stanza must be the only stanza/);
    });

    it('refuses an empty passphrase and work factors out of range when encrypting', async () => {
      fails(() => unwrapWithPassphrase(''), ErrorCode.InvalidInput, /passphrase is empty/);
      await rejects(wrapWithPassphrase(randomBytes(16), '', 10), ErrorCode.InvalidInput, /passphrase is empty/);
      for (const logN of [0, MAX_SCRYPT_LOG_N + 1, 10.5]) {
        await rejects(wrapWithPassphrase(randomBytes(16), 'pw', logN), ErrorCode.InvalidInput, /work factor must be between/);
      }
    });
  });
});
