import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { armor, Decrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { parse } from 'yaml';
import { decryptDataKeyAge, encryptDataKeyAge, parseSopsAgeRecipient } from '../../daemon/sops/agekey';
import { describeGroups, rewrapGroups, unwrapDataKey, wrapDataKey } from '../../daemon/sops/keygroups';
import type { AgeKeyEntry, KeyGroup, KeyServices, KmsKeyEntry, SopsKmsClient } from '../../daemon/sops/keys';
import { combine } from '../../daemon/sops/shamir';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError, KeywardError } from '../../daemon/util/errors';

const env = { ...process.env, SOPS_AGE_KEY_FILE: '/nonexistent' };
const run = (cmd: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}) =>
  execFileSync(cmd, args, { env: opts.env ?? env, cwd: opts.cwd, input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });

const FIXTURES = path.join(__dirname, '../fixtures/sops');
const FIXTURE_ID = readFileSync(path.join(FIXTURES, 'age-key.txt'), 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
const FIXTURE_RECIPIENT = 'age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr';

/** A fake KeyServices holding the given identities, as the keystore does it. */
function fakeServices(identities: string[], kms?: SopsKmsClient): KeyServices {
  return {
    async unwrapAgeFileKey(header) {
      for (const [i, id] of identities.entries()) {
        const d = new Decrypter();
        d.addIdentity(id);
        try {
          return { fileKey: await d.decryptHeader(header), ref: `key${i + 1}@v1` };
        } catch (e) {
          // As the keystore maps them.
          if (e instanceof Error && /no identity matched/.test(e.message)) continue;
          if (e instanceof Error && /HMAC/.test(e.message)) throw new KeywardError(ErrorCode.DecryptFailed, 'header authentication failed: the file was modified');
          throw e;
        }
      }
      throw new KeywardError(ErrorCode.DecryptFailed, "no identity matched any of the file's recipients");
    },
    ...(kms ? { kms } : {}),
  };
}

/** A KMS stand-in: "encrypts" by XOR with a per-ARN pad, and can be told to refuse an ARN. */
function fakeKms(refuse: string[] = []): SopsKmsClient & { calls: string[] } {
  const pad = (arn: string) => Buffer.from(arn.padEnd(64, '#')).subarray(0, 64);
  const xor = (b: Buffer, arn: string) => Buffer.from(b.map((x, i) => x ^ pad(arn)[i % 64]!));
  const calls: string[] = [];
  return {
    calls,
    encrypt(key, plaintext) {
      calls.push(`encrypt ${key.arn}`);
      return Promise.resolve(xor(plaintext, key.arn).toString('base64'));
    },
    decrypt(key) {
      calls.push(`decrypt ${key.arn}`);
      if (refuse.includes(key.arn)) return Promise.reject(new KeywardError(ErrorCode.DecryptFailed, 'kms: access denied'));
      return Promise.resolve(xor(Buffer.from(key.enc, 'base64'), key.arn));
    },
  };
}

async function rejectsCode(p: Promise<unknown>, code: number, message: RegExp): Promise<KeywardError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    assert.ok(isKeywardError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
  return caught as KeywardError;
}

const X = Array.from({ length: 6 }, () => ({ id: '', recipient: '' }));
before(async () => {
  for (const k of X) {
    k.id = await generateX25519Identity();
    k.recipient = await identityToRecipient(k.id);
  }
});

/** The age entries of a sops YAML file's metadata, as key groups. */
function groupsOf(doc: { sops: { age?: AgeYaml[]; key_groups?: { age?: AgeYaml[] }[] } }): KeyGroup[] {
  const conv = (a: AgeYaml[] = []) => ({ keys: a.map((k): AgeKeyEntry => ({ type: 'age', recipient: k.recipient, enc: k.enc })) });
  return doc.sops.key_groups ? doc.sops.key_groups.map((g) => conv(g.age)) : [conv(doc.sops.age)];
}
type AgeYaml = { recipient: string; enc: string };

function decryptSopsValue(value: string, dataKey: Buffer, keyPath: string[]): string {
  const m = /^ENC\[AES256_GCM,data:(.*),iv:(.*),tag:(.*),type:(.*)\]$/.exec(value)!;
  const d = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(m[2]!, 'base64'));
  d.setAAD(Buffer.from(`${keyPath.join(':')}:`));
  d.setAuthTag(Buffer.from(m[3]!, 'base64'));
  return Buffer.concat([d.update(Buffer.from(m[1]!, 'base64')), d.final()]).toString('utf8');
}

describe('sops age master key', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kw-agekey-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes an armored age file that age -d opens to the raw data key', async () => {
    const dataKey = randomBytes(32);
    const enc = await encryptDataKeyAge(X[0]!.recipient, dataKey);
    assert.match(enc, /^-----BEGIN AGE ENCRYPTED FILE-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END AGE ENCRYPTED FILE-----\n$/);
    writeFileSync(path.join(dir, 'x.txt'), `${X[0]!.id}\n`);
    assert.deepEqual(run('age', ['-d', '-i', path.join(dir, 'x.txt')], { input: enc }), dataKey);
    assert.deepEqual((await decryptDataKeyAge(enc, fakeServices([X[1]!.id, X[0]!.id]))), { dataKey, ref: 'key2@v1' });
  });

  it('opens the enc of a real sops file', async () => {
    const doc = parse(readFileSync(path.join(FIXTURES, 'humphd-secret.enc.yaml'), 'utf8')) as { secret: string; sops: { age: AgeYaml[] } };
    const entry = doc.sops.age.find((a) => a.recipient === FIXTURE_RECIPIENT)!;
    const { dataKey, ref } = await decryptDataKeyAge(entry.enc, fakeServices([FIXTURE_ID]));
    assert.equal(ref, 'key1@v1');
    assert.equal(dataKey.length, 32);
    assert.equal(decryptSopsValue(doc.secret, dataKey, ['secret']), 'this is a secret');
  });

  it('post-quantum recipients work both ways with sops 3.13', async () => {
    const keyFile = path.join(dir, 'pq.txt');
    run('age-keygen', ['-pq', '-o', keyFile]);
    const pqId = readFileSync(keyFile, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-PQ-1'))!;
    const pqRecipient = run('age-keygen', ['-y', keyFile]).toString().trim();
    assert.equal(parseSopsAgeRecipient(pqRecipient).type, 'mlkem768x25519');

    // sops -> us
    writeFileSync(path.join(dir, 'p.yaml'), 'k: v\n');
    const doc = parse(run('sops', ['-e', '--age', pqRecipient, 'p.yaml'], { cwd: dir }).toString()) as { k: string; sops: { age: AgeYaml[] } };
    const { dataKey } = await decryptDataKeyAge(doc.sops.age[0]!.enc, fakeServices([pqId]));
    assert.equal(decryptSopsValue(doc.k, dataKey, ['k']), 'v');

    // us -> age and sops
    const enc = await encryptDataKeyAge(pqRecipient, dataKey);
    assert.match(armorBody(enc).toString('latin1'), /-> mlkem768x25519 /);
    assert.deepEqual(run('age', ['-d', '-i', keyFile], { input: enc }), dataKey);
    const fresh = run('sops', ['-e', '--age', pqRecipient, 'p.yaml'], { cwd: dir }).toString();
    const freshKey = (await decryptDataKeyAge((parse(fresh) as { sops: { age: AgeYaml[] } }).sops.age[0]!.enc, fakeServices([pqId]))).dataKey;
    writeFileSync(path.join(dir, 'p.enc.yaml'), swapEncs(fresh, [await encryptDataKeyAge(pqRecipient, freshKey)]));
    assert.match(run('sops', ['-d', 'p.enc.yaml'], { cwd: dir, env: { ...env, SOPS_AGE_KEY: pqId } }).toString(), /k: v/);

    // Generated in-process too.
    const id = await generateHybridIdentity();
    const r = await identityToRecipient(id);
    assert.deepEqual((await decryptDataKeyAge(await encryptDataKeyAge(r, dataKey), fakeServices([id]))).dataKey, dataKey);
  });

  it('a wrong key is DecryptFailed', async () => {
    const enc = await encryptDataKeyAge(X[0]!.recipient, randomBytes(32));
    await rejectsCode(decryptDataKeyAge(enc, fakeServices([X[1]!.id])), ErrorCode.DecryptFailed, /no identity matched/);
  });

  it('tampering is Malformed or DecryptFailed, and yields no data', async () => {
    const enc = await encryptDataKeyAge(X[0]!.recipient, randomBytes(32));
    const svc = fakeServices([X[0]!.id]);
    await rejectsCode(decryptDataKeyAge(enc.replace('BEGIN AGE', 'BEGIN PGP'), svc), ErrorCode.Malformed, /invalid age armor/);
    await rejectsCode(decryptDataKeyAge(enc.replace(/\n-----END/, 'x\n-----END'), svc), ErrorCode.Malformed, /invalid age armor/);
    await rejectsCode(decryptDataKeyAge('', svc), ErrorCode.Malformed, /empty/);
    await rejectsCode(decryptDataKeyAge('x'.repeat(70_000), svc), ErrorCode.Malformed, /too large/);

    const bin = armorBody(enc);
    // Flip a payload bit: the chunk does not authenticate.
    const p = Buffer.from(bin);
    p[p.length - 1]! ^= 1;
    await rejectsCode(decryptDataKeyAge(armor.encode(p), svc), ErrorCode.DecryptFailed, /payload authentication failed/);
    // Cut the payload.
    await rejectsCode(decryptDataKeyAge(armor.encode(bin.subarray(0, bin.length - 40)), svc), ErrorCode.Malformed, /truncated/);
    // Break the header.
    const h = Buffer.from(bin);
    h.write('X', 0, 'latin1');
    await rejectsCode(decryptDataKeyAge(armor.encode(h), svc), ErrorCode.Malformed, /encrypted data key: /);
    // Change the header MAC.
    const text = bin.toString('latin1');
    const macAt = text.indexOf('\n--- ') + 5;
    const m = Buffer.from(bin);
    m[macAt] = m[macAt] === 0x41 ? 0x42 : 0x41;
    await rejectsCode(decryptDataKeyAge(armor.encode(m), svc), ErrorCode.DecryptFailed, /header authentication failed/);
    // An unwrapper that skips the MAC check (it answers for the untouched header): ours catches it.
    const original = bin.subarray(0, text.indexOf('\n--- ') + 1 + 48);
    const lax: KeyServices = { unwrapAgeFileKey: () => svc.unwrapAgeFileKey(original) };
    await rejectsCode(decryptDataKeyAge(armor.encode(m), lax), ErrorCode.DecryptFailed, /header authentication failed/);
  });

  it('checks recipients as sops parses them', async () => {
    for (const [r, why] of [
      ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG', /ssh recipients are not supported/],
      [X[0]!.recipient.toUpperCase(), /lower case/],
      ['age1yubikey1qwertyuiopasdfghjklzxcvbnm', /invalid recipient/],
      ['age1tag1qwertyuiopasdfghjklzxcvbnm', /invalid recipient/],
      ['AGE-SECRET-KEY-1QQQQ', /secret key/],
      ['team@v2', /unknown recipient type/],
      [`${X[0]!.recipient.slice(0, -1)}${X[0]!.recipient.endsWith('q') ? 'p' : 'q'}`, /invalid recipient/], // one character changed
    ] as const) {
      await rejectsCode(encryptDataKeyAge(r, randomBytes(32)), ErrorCode.InvalidInput, why);
    }
  });
});

describe('sops key groups', function () {
  this.timeout(60_000);

  describe('one group', () => {
    it('every key wraps the data key itself; any one opens it', async () => {
      const dataKey = randomBytes(32);
      const groups = await wrapDataKey(dataKey, [{ age: [X[0]!.recipient, X[1]!.recipient], kms: [] }], 3, fakeServices([]));
      assert.equal(groups.length, 1);
      assert.deepEqual(groups[0]!.keys.map((k) => k.type), ['age', 'age']);
      for (const k of groups[0]!.keys) assert.deepEqual((await decryptDataKeyAge((k as AgeKeyEntry).enc, fakeServices([X[0]!.id, X[1]!.id]))).dataKey, dataKey);
      const r = await unwrapDataKey(groups, 3, fakeServices([X[1]!.id]));
      assert.deepEqual(r.dataKey, dataKey);
      assert.deepEqual(r.usedKeys, ['key1@v1']);
    });

    it('reads a real sops file', async () => {
      const doc = parse(readFileSync(path.join(FIXTURES, 'humphd-secret.enc.yaml'), 'utf8')) as Parameters<typeof groupsOf>[0] & { string: string };
      const { dataKey } = await unwrapDataKey(groupsOf(doc), undefined, fakeServices([FIXTURE_ID]));
      assert.equal(decryptSopsValue(doc.string, dataKey, ['string']), 'string');
    });

    it('nothing opens: DecryptFailed naming the recipients and keyward keys import', async () => {
      const groups = await wrapDataKey(randomBytes(32), [{ age: [X[0]!.recipient], kms: [] }], undefined, fakeServices([]));
      const e = await rejectsCode(unwrapDataKey(groups, undefined, fakeServices([X[5]!.id])), ErrorCode.DecryptFailed, /^no key of this keystore opens the data key$/);
      assert.match(e.hint ?? '', new RegExp(X[0]!.recipient));
      assert.match(e.hint ?? '', /keyward keys import/);
    });

    it('a tampered enc is named in the hint; a KMS outage does not stop the search', async () => {
      const arn = 'arn:aws:kms:us-east-1:1:key/k';
      const dataKey = randomBytes(32);
      const groups = await wrapDataKey(dataKey, [{ age: [X[0]!.recipient], kms: [{ arn }] }], undefined, fakeServices([], fakeKms()));
      const age = groups[0]!.keys[0] as AgeKeyEntry;
      const bin = Buffer.from(armor.decode(age.enc));
      bin[bin.length - 1]! ^= 1;
      const tampered: KeyGroup[] = [{ keys: [{ ...age, enc: armor.encode(bin) }, groups[0]!.keys[1]!] }];
      const down: SopsKmsClient = { encrypt: () => Promise.reject(new Error('x')), decrypt: () => Promise.reject(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' })) };
      const e = await rejectsCode(unwrapDataKey(tampered, undefined, fakeServices([X[0]!.id], down)), ErrorCode.DecryptFailed, /no key of this keystore/);
      assert.match(e.hint ?? '', /payload authentication failed/);
      assert.match(e.hint ?? '', /kms: TimeoutError/);
      // The KMS key still opens it when KMS answers.
      assert.deepEqual((await unwrapDataKey(tampered, undefined, fakeServices([X[0]!.id], fakeKms()))).dataKey, dataKey);
    });

    it('rejects wrong data key sizes and empty specs', async () => {
      await rejectsCode(wrapDataKey(randomBytes(16), [{ age: [X[0]!.recipient], kms: [] }], undefined, fakeServices([])), ErrorCode.InternalError, /32 bytes/);
      await rejectsCode(wrapDataKey(randomBytes(32), [], undefined, fakeServices([])), ErrorCode.InvalidInput, /no keys to encrypt to/);
      await rejectsCode(wrapDataKey(randomBytes(32), [{ age: [], kms: [] }], undefined, fakeServices([])), ErrorCode.InvalidInput, /no keys to encrypt to/);
      await rejectsCode(unwrapDataKey([], undefined, fakeServices([])), ErrorCode.Malformed, /no key groups/);
    });
  });

  describe('several groups', () => {
    const specs = () => [0, 1, 2].map((i) => ({ age: [X[i]!.recipient], kms: [] }));

    it('splits with the threshold; any threshold groups open it, fewer say how many', async () => {
      const dataKey = randomBytes(32);
      const groups = await wrapDataKey(dataKey, specs(), 2, fakeServices([]));
      for (const pair of [[0, 1], [0, 2], [1, 2]]) {
        const r = await unwrapDataKey(groups, 2, fakeServices(pair.map((i) => X[i]!.id)));
        assert.deepEqual(r.dataKey, dataKey);
        assert.equal(r.usedKeys.length, 2);
      }
      const e = await rejectsCode(unwrapDataKey(groups, 2, fakeServices([X[1]!.id])), ErrorCode.DecryptFailed, /^1 of 3 key groups opened, 2 needed$/);
      assert.match(e.hint ?? '', /keyward keys import/);
      await rejectsCode(unwrapDataKey(groups, 2, fakeServices([X[4]!.id])), ErrorCode.DecryptFailed, /^no key of this keystore opens the data key$/);
    });

    it('defaults the threshold to all groups, as sops does', async () => {
      const dataKey = randomBytes(32);
      const groups = await wrapDataKey(dataKey, specs(), undefined, fakeServices([]));
      const shares = groups.map((g, i) => decryptDataKeyAge((g.keys[0] as AgeKeyEntry).enc, fakeServices([X[i]!.id])));
      const s = await Promise.all(shares);
      assert.notDeepEqual(combine([s[0]!.dataKey, s[1]!.dataKey]), dataKey);
      assert.deepEqual(combine(s.map((x) => x.dataKey)), dataKey);
      await rejectsCode(unwrapDataKey(groups, undefined, fakeServices([X[0]!.id, X[1]!.id])), ErrorCode.DecryptFailed, /2 of 3 key groups opened, 3 needed/);
      assert.deepEqual((await unwrapDataKey(groups, 0, fakeServices([X[0]!.id, X[1]!.id, X[2]!.id]))).dataKey, dataKey);
    });

    it('a group opens with any one of its keys', async () => {
      const dataKey = randomBytes(32);
      const groups = await wrapDataKey(dataKey, [{ age: [X[0]!.recipient, X[3]!.recipient], kms: [] }, { age: [X[1]!.recipient, X[4]!.recipient], kms: [] }], 2, fakeServices([]));
      assert.deepEqual((await unwrapDataKey(groups, 2, fakeServices([X[3]!.id, X[4]!.id]))).dataKey, dataKey);
    });

    it('refuses bad thresholds', async () => {
      await rejectsCode(wrapDataKey(randomBytes(32), specs(), 4, fakeServices([])), ErrorCode.InvalidInput, /threshold 4 is more than the 3 key groups/);
      await rejectsCode(wrapDataKey(randomBytes(32), specs(), 1, fakeServices([])), ErrorCode.InvalidInput, /at least 2/);
      await rejectsCode(wrapDataKey(randomBytes(32), [...specs(), { age: [], kms: [] }], 2, fakeServices([])), ErrorCode.InvalidInput, /key group 4 is empty/);
      const groups = await wrapDataKey(randomBytes(32), specs(), 2, fakeServices([]));
      await rejectsCode(unwrapDataKey(groups, 5, fakeServices([X[0]!.id])), ErrorCode.Malformed, /shamir_threshold 5 does not fit 3 key groups/);
    });
  });

  describe('kms and other kinds', () => {
    const arn = 'arn:aws:kms:us-east-1:111122223333:key/abc';

    it('wraps and unwraps with the KMS client, keeping role, context and profile', async () => {
      const kms = fakeKms();
      const dataKey = randomBytes(32);
      const groups = await wrapDataKey(dataKey, [{ age: [X[0]!.recipient], kms: [{ arn, role: 'arn:aws:iam::1:role/r', context: { a: 'b' }, awsProfile: 'dev' }] }], undefined, fakeServices([], kms));
      const k = groups[0]!.keys[1] as KmsKeyEntry;
      assert.equal(k.type, 'kms');
      assert.equal(k.arn, arn);
      assert.equal(k.role, 'arn:aws:iam::1:role/r');
      assert.deepEqual(k.context, { a: 'b' });
      assert.equal(k.awsProfile, 'dev');
      assert.match(k.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const r = await unwrapDataKey(groups, undefined, fakeServices([], kms));
      assert.deepEqual(r.dataKey, dataKey);
      assert.deepEqual(r.usedKeys, [arn]);
    });

    it('tries age before KMS', async () => {
      const kms = fakeKms();
      const groups = await wrapDataKey(randomBytes(32), [{ age: [X[0]!.recipient], kms: [{ arn }] }], undefined, fakeServices([], kms));
      const reordered: KeyGroup[] = [{ keys: [...groups[0]!.keys].reverse() }];
      kms.calls.length = 0;
      await unwrapDataKey(reordered, undefined, fakeServices([X[0]!.id], kms));
      assert.deepEqual(kms.calls, []);
    });

    it('without KMS configured: wrapping fails clearly, unwrapping says why', async () => {
      await rejectsCode(wrapDataKey(randomBytes(32), [{ age: [], kms: [{ arn }] }], undefined, fakeServices([])), ErrorCode.KeyUnusable, /kms is not configured/);
      const groups = await wrapDataKey(randomBytes(32), [{ age: [X[0]!.recipient], kms: [{ arn }] }], undefined, fakeServices([], fakeKms()));
      const e = await rejectsCode(unwrapDataKey(groups, undefined, fakeServices([])), ErrorCode.DecryptFailed, /no key of this keystore/);
      assert.match(e.hint ?? '', /KMS, which is not configured/);
      // A KMS refusal does not stop the other groups from being tried.
      const two = await wrapDataKey(randomBytes(32), [{ age: [], kms: [{ arn }] }, { age: [X[0]!.recipient], kms: [] }], 1 + 1, fakeServices([], fakeKms()));
      await rejectsCode(unwrapDataKey(two, 2, fakeServices([X[0]!.id], fakeKms([arn]))), ErrorCode.DecryptFailed, /1 of 2 key groups opened/);
    });

    it('skips pgp and the like, and describes every key by its public id', async () => {
      const dataKey = randomBytes(32);
      const groups = await wrapDataKey(dataKey, [{ age: [X[0]!.recipient], kms: [{ arn }] }], undefined, fakeServices([], fakeKms()));
      groups[0]!.keys.unshift({ type: 'pgp', fields: { fp: 'FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4', created_at: 'x', enc: 'y' } });
      groups[0]!.keys.push({ type: 'gcp_kms', fields: { resource_id: 'projects/p/locations/global/keyRings/r/cryptoKeys/k', enc: 'z' } });
      assert.deepEqual((await unwrapDataKey(groups, undefined, fakeServices([X[0]!.id]))).dataKey, dataKey);
      assert.deepEqual(describeGroups(groups), [[
        'pgp:FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4',
        X[0]!.recipient,
        arn,
        'gcp_kms:projects/p/locations/global/keyRings/r/cryptoKeys/k',
      ]]);
      await rejectsCode(unwrapDataKey([{ keys: [groups[0]!.keys[0]!] }], undefined, fakeServices([X[0]!.id])), ErrorCode.DecryptFailed, /no key of this keystore/);
    });
  });

  describe('rewrapGroups (updatekeys)', () => {
    it('one group: kept keys keep their enc, new keys wrap the data key, removed keys go', async () => {
      const dataKey = randomBytes(32);
      const svc = fakeServices([X[0]!.id]);
      const cur = await wrapDataKey(dataKey, [{ age: [X[0]!.recipient, X[1]!.recipient], kms: [] }], undefined, svc);
      const r = await rewrapGroups(dataKey, cur, [{ age: [X[0]!.recipient, X[2]!.recipient], kms: [] }], undefined, svc);
      assert.equal(r.resplit, false);
      const [a, b] = r.groups[0]!.keys as AgeKeyEntry[];
      assert.equal(a!.enc, (cur[0]!.keys[0] as AgeKeyEntry).enc);
      assert.equal(b!.recipient, X[2]!.recipient);
      assert.deepEqual((await unwrapDataKey(r.groups, undefined, fakeServices([X[2]!.id]))).dataKey, dataKey);
      await rejectsCode(unwrapDataKey(r.groups, undefined, fakeServices([X[1]!.id])), ErrorCode.DecryptFailed, /no key/);
    });

    it('several groups, same layout: encs kept, a new key gets its group share', async () => {
      const dataKey = randomBytes(32);
      const specs = [0, 1, 2].map((i) => ({ age: [X[i]!.recipient], kms: [] }));
      const cur = await wrapDataKey(dataKey, specs, 2, fakeServices([]));
      const target = specs.map((s, i) => (i === 1 ? { age: [...s.age, X[4]!.recipient], kms: [] } : s));
      const r = await rewrapGroups(dataKey, cur, target, 2, fakeServices([X[1]!.id]), { currentThreshold: 2 });
      assert.equal(r.resplit, false);
      for (const i of [0, 1, 2]) assert.equal((r.groups[i]!.keys[0] as AgeKeyEntry).enc, (cur[i]!.keys[0] as AgeKeyEntry).enc);
      // The new key opens group 2 with the same share: with group 1 that is 2 of 3.
      assert.deepEqual((await unwrapDataKey(r.groups, 2, fakeServices([X[0]!.id, X[4]!.id]))).dataKey, dataKey);
    });

    it('several groups: no kept key of the changed group opens, so everything is split again', async () => {
      const dataKey = randomBytes(32);
      const specs = [0, 1, 2].map((i) => ({ age: [X[i]!.recipient], kms: [] }));
      const cur = await wrapDataKey(dataKey, specs, 2, fakeServices([]));
      const target = specs.map((s, i) => (i === 1 ? { age: [...s.age, X[4]!.recipient], kms: [] } : s));
      const r = await rewrapGroups(dataKey, cur, target, 2, fakeServices([X[0]!.id]), { currentThreshold: 2 });
      assert.equal(r.resplit, true);
      assert.match(r.notes.join(), /splitting the data key again/);
      assert.notEqual((r.groups[0]!.keys[0] as AgeKeyEntry).enc, (cur[0]!.keys[0] as AgeKeyEntry).enc);
      assert.deepEqual((await unwrapDataKey(r.groups, 2, fakeServices([X[0]!.id, X[4]!.id]))).dataKey, dataKey);
    });

    it('a new layout splits afresh; pgp & co. block that but survive a one-group update', async () => {
      const dataKey = randomBytes(32);
      const cur = await wrapDataKey(dataKey, [{ age: [X[0]!.recipient], kms: [] }], undefined, fakeServices([]));
      const r = await rewrapGroups(dataKey, cur, [{ age: [X[0]!.recipient], kms: [] }, { age: [X[1]!.recipient], kms: [] }], undefined, fakeServices([]));
      assert.equal(r.resplit, true);
      assert.equal(r.groups.length, 2);
      assert.deepEqual((await unwrapDataKey(r.groups, undefined, fakeServices([X[0]!.id, X[1]!.id]))).dataKey, dataKey);

      const pgp = { type: 'pgp' as const, fields: { fp: 'ABCD', enc: 'x' } };
      const withPgp: KeyGroup[] = [{ keys: [...cur[0]!.keys, pgp] }];
      await rejectsCode(
        rewrapGroups(dataKey, withPgp, [{ age: [X[0]!.recipient], kms: [] }, { age: [X[1]!.recipient], kms: [] }], undefined, fakeServices([])),
        ErrorCode.IllegalState,
        /pgp keys keyward cannot re-wrap/,
      );
      const one = await rewrapGroups(dataKey, withPgp, [{ age: [X[1]!.recipient], kms: [] }], undefined, fakeServices([]));
      assert.deepEqual(one.groups[0]!.keys.at(-1), pgp);
    });

    it('needs the data key', async () => {
      await rejectsCode(rewrapGroups(undefined, [], [{ age: [X[0]!.recipient], kms: [] }], undefined, fakeServices([])), ErrorCode.IllegalState, /data key is not available/);
    });
  });

  describe('against real sops', () => {
    it('sops decrypts a one-group file whose encs we wrote', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'kw-kg-'));
      try {
        writeFileSync(path.join(dir, 'a.yaml'), 'x: 1\n');
        const text = run('sops', ['-e', '--age', `${X[0]!.recipient},${X[1]!.recipient}`, 'a.yaml'], { cwd: dir }).toString();
        const doc = parse(text) as Parameters<typeof groupsOf>[0];
        const { dataKey } = await unwrapDataKey(groupsOf(doc), undefined, fakeServices([X[1]!.id]));
        const ours = await wrapDataKey(dataKey, [{ age: [X[0]!.recipient, X[1]!.recipient], kms: [] }], undefined, fakeServices([]));
        const out = swapEncs(text, ours[0]!.keys.map((k) => (k as AgeKeyEntry).enc));
        assert.notEqual(out, text);
        writeFileSync(path.join(dir, 'a.enc.yaml'), out);
        for (const id of [X[0]!.id, X[1]!.id]) {
          assert.match(run('sops', ['-d', 'a.enc.yaml'], { cwd: dir, env: { ...env, SOPS_AGE_KEY: id } }).toString(), /x: 1/);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

/** The binary age file inside an armored enc. */
function armorBody(enc: string): Buffer {
  return Buffer.from(armor.decode(enc));
}

/** Replaces the armored encs of a sops YAML file, in order, with `encs`. */
function swapEncs(text: string, encs: string[]): string {
  let n = 0;
  return text.replace(/( +)-----BEGIN AGE ENCRYPTED FILE-----\n[\s\S]*?-----END AGE ENCRYPTED FILE-----/g, (_m, indent: string) => {
    const enc = encs[n++];
    assert.ok(enc, 'more encs in the file than given');
    return enc.trimEnd().split('\n').map((l) => indent + l).join('\n');
  });
}
