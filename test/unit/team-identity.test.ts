import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decodeBech32 } from '../../daemon/age/bech32';
import { ErrorCode } from '../../daemon/protocol';
import { encodeBech32, identityFromBytes } from '../../daemon/age/bech32';
import { identityContext, IDENTITY_FORMAT, parseIdentityFile } from '../../daemon/team/identity';
import { KeywardError } from '../../daemon/util/errors';

describe('service identities: encoding and the identity file', () => {
  it('encodes identities that decode back and that age-encryption accepts (X25519 and post-quantum)', async () => {
    for (const gen of [generateX25519Identity, generateHybridIdentity]) {
      const id = await gen();
      const d = decodeBech32(id);
      assert.ok(d.ok);
      const again = identityFromBytes(d.bytes, id.startsWith('AGE-SECRET-KEY-PQ-'));
      assert.equal(again, id);
      assert.equal(await identityToRecipient(again), await identityToRecipient(id));
    }
    const bytes = randomBytes(32);
    const s = encodeBech32('age', bytes);
    const d = decodeBech32(s);
    assert.ok(d.ok && Buffer.from(d.bytes).equals(bytes) && d.hrp === 'age');
    assert.throws(() => identityFromBytes(randomBytes(31), false));
  });

  async function sample(name = 'serving') {
    const id = await generateX25519Identity();
    return {
      format: IDENTITY_FORMAT,
      name,
      versions: [
        {
          version: 1,
          state: 'active',
          kind: 'x25519',
          recipient: await identityToRecipient(id),
          kms: { keyId: 'arn:aws:kms:us-east-1:123456789012:alias/serving', keyArn: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' },
          context: identityContext(name, 1),
          ciphertext: randomBytes(120).toString('base64'),
          createdAt: '2026-01-01T00:00:00Z',
        },
      ],
    };
  }

  const invalid = (text: string, file: string, re: RegExp) =>
    assert.throws(
      () => parseIdentityFile(text, file),
      (e: unknown) => e instanceof KeywardError && e.code === ErrorCode.InvalidInput && re.test(e.message),
    );

  it('parses a valid file and refuses a tampered or foreign one, naming the field', async () => {
    const ok = await sample();
    const f = '/r/.keyward/identities/serving.kms.json';
    assert.equal(parseIdentityFile(JSON.stringify(ok), f).versions[0]!.recipient, ok.versions[0]!.recipient);
    invalid('{', f, /not valid JSON/);
    invalid(JSON.stringify({ ...ok, format: 'x' }), f, /not a service identity file/);
    invalid(JSON.stringify(ok), '/r/.keyward/identities/other.kms.json', /does not match the file name/);
    invalid(JSON.stringify({ ...ok, extra: 1 }), f, /unknown field\(s\): extra/);
    const v = ok.versions[0]!;
    invalid(JSON.stringify({ ...ok, versions: [{ ...v, recipient: v.recipient.slice(0, -1) + (v.recipient.endsWith('q') ? 'p' : 'q') }] }), f, /versions\[0\]\.recipient/);
    invalid(JSON.stringify({ ...ok, versions: [{ ...v, context: identityContext('other', 1) }] }), f, /does not bind the key to serving@v1/);
    invalid(JSON.stringify({ ...ok, versions: [{ ...v, kind: 'mlkem768x25519' }] }), f, /not a valid mlkem768x25519 age recipient/);
    invalid(JSON.stringify({ ...ok, versions: [{ ...v, kms: { keyId: 'alias/x', keyArn: v.kms.keyArn } }] }), f, /kms: must hold/);
    invalid(JSON.stringify({ ...ok, versions: [v, v] }), f, /listed twice/);
    invalid(JSON.stringify({ ...ok, versions: [{ ...v, state: 'retired' }] }), f, /no active version/);
    invalid(JSON.stringify({ ...ok, versions: [{ ...v, ciphertext: 'not base64!' }] }), f, /ciphertext: must be base64/);
  });
});
