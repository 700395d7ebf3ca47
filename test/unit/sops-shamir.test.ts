import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Decrypter } from 'age-encryption';
import { parse } from 'yaml';
import { wrapDataKey } from '../../daemon/sops/keygroups';
import type { KeyServices } from '../../daemon/sops/keys';
import { combine, gf256, split } from '../../daemon/sops/shamir';
import { decryptDataKeyAge } from '../../daemon/sops/agekey';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError, KeywardError } from '../../daemon/util/errors';

const env = { ...process.env };
const run = (cmd: string, args: string[], opts: { cwd?: string; input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}) =>
  execFileSync(cmd, args, { env: opts.env ?? env, cwd: opts.cwd, input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });

/** A fake KeyServices holding the given identities, as the keystore does it. */
function fakeServices(...identities: string[]): KeyServices {
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
  };
}

function throwsCode(fn: () => unknown, code: number, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isKeywardError(e), String(e));
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

/** Every k-subset of 0..n-1. */
function subsets(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  if (n < k) return [];
  return [...subsets(n - 1, k - 1).map((s) => [...s, n - 1]), ...subsets(n - 1, k)];
}

/** sops' value encryption: AES-256-GCM, 32-byte IV, AAD = key path joined by ':' plus ':'. */
function decryptSopsValue(value: string, dataKey: Buffer, keyPath: string[]): string {
  const m = /^ENC\[AES256_GCM,data:(.*),iv:(.*),tag:(.*),type:(.*)\]$/.exec(value);
  assert.ok(m, 'not a sops value');
  const d = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(m[2]!, 'base64'));
  d.setAAD(Buffer.from(`${keyPath.join(':')}:`));
  d.setAuthTag(Buffer.from(m[3]!, 'base64'));
  return Buffer.concat([d.update(Buffer.from(m[1]!, 'base64')), d.final()]).toString('utf8');
}

describe('sops shamir', () => {
  describe('field', () => {
    it('multiplies as the AES field does', () => {
      // FIPS-197 4.2: {57} x {83} = {c1}, {57} x {13} = {fe}.
      assert.equal(gf256.mul(0x57, 0x83), 0xc1);
      assert.equal(gf256.mul(0x57, 0x13), 0xfe);
      for (let a = 0; a < 256; a++) {
        assert.equal(gf256.mul(a, 1), a);
        assert.equal(gf256.mul(a, 0), 0);
      }
    });
    it('inverts every non-zero element', () => {
      assert.equal(gf256.inverse(0), 0);
      for (let a = 1; a < 256; a++) assert.equal(gf256.mul(a, gf256.inverse(a)), 1, `a=${a}`);
    });
  });

  describe('split and combine', () => {
    it('use sops layout: one byte longer, x = 1..n as the last byte', () => {
      const shares = split(randomBytes(32), 5, 3);
      assert.equal(shares.length, 5);
      shares.forEach((s, i) => {
        assert.equal(s.length, 33);
        assert.equal(s[32], i + 1);
      });
    });

    it('round-trip many sizes and thresholds, from every threshold subset', () => {
      for (const len of [1, 2, 16, 32, 33, 100]) {
        for (const [parts, threshold] of [[2, 2], [3, 2], [3, 3], [5, 3], [6, 4], [7, 7]] as const) {
          const secret = randomBytes(len);
          const shares = split(secret, parts, threshold);
          for (const idx of subsets(parts, threshold)) assert.deepEqual(combine(idx.map((i) => shares[i]!)), secret, `${len} ${parts}/${threshold} ${idx.join(',')}`);
          // More shares than needed, in any order, still give the secret.
          assert.deepEqual(combine([...shares].reverse()), secret);
        }
      }
    });

    it('handles 255 parts', () => {
      const secret = randomBytes(32);
      const shares = split(secret, 255, 2);
      assert.equal(shares[254]![32], 255);
      assert.deepEqual(combine([shares[254]!, shares[0]!]), secret);
      assert.deepEqual(combine([shares[100]!, shares[200]!]), secret);
    });

    it('gives a wrong secret from fewer shares than the threshold', () => {
      const secret = randomBytes(32);
      const shares = split(secret, 5, 3);
      for (const idx of subsets(5, 2)) assert.notDeepEqual(combine(idx.map((i) => shares[i]!)), secret);
    });

    it('puts threshold-2 shares on one line through the secret', () => {
      // With threshold 2 the polynomial is a line: shares 1 and 2 determine share 3.
      const s = split(Buffer.from([0x42]), 3, 2);
      const slope = s[0]![0]! ^ 0x42; // y1 = a0 ^ a1*1
      assert.equal(s[1]![0], 0x42 ^ gf256.mul(slope, 2));
      assert.equal(s[2]![0], 0x42 ^ gf256.mul(slope, 3));
    });

    it('validates split arguments', () => {
      const k = randomBytes(32);
      throwsCode(() => split(k, 1, 2), ErrorCode.InvalidInput, /parts must be 2 to 255/);
      throwsCode(() => split(k, 256, 2), ErrorCode.InvalidInput, /parts must be 2 to 255/);
      throwsCode(() => split(k, 3, 1), ErrorCode.InvalidInput, /threshold must be at least 2/);
      throwsCode(() => split(k, 3, 4), ErrorCode.InvalidInput, /threshold 4 is more than the 3 parts/);
      throwsCode(() => split(k, 3, 2.5), ErrorCode.InvalidInput, /threshold/);
      throwsCode(() => split(Buffer.alloc(0), 3, 2), ErrorCode.InvalidInput, /empty secret/);
    });

    it('validates shares', () => {
      const shares = split(randomBytes(32), 3, 2);
      throwsCode(() => combine([shares[0]!]), ErrorCode.Malformed, /at least two shares/);
      throwsCode(() => combine([shares[0]!, shares[0]!]), ErrorCode.Malformed, /duplicate share/);
      throwsCode(() => combine([shares[0]!, shares[1]!.subarray(1)]), ErrorCode.Malformed, /differ in length/);
      throwsCode(() => combine([Buffer.from([1]), Buffer.from([2])]), ErrorCode.Malformed, /at least two bytes/);
      const zero = Buffer.from(shares[1]!);
      zero[32] = 0;
      throwsCode(() => combine([shares[0]!, zero]), ErrorCode.Malformed, /x coordinate 0/);
    });
  });

  describe('against real sops', function () {
    this.timeout(60_000);
    let dir: string;
    const ids: string[] = [];
    const recipients: string[] = [];

    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'kw-shamir-'));
      for (let i = 0; i < 3; i++) {
        const id = run('age-keygen', []).toString().split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
        ids.push(id);
        writeFileSync(path.join(dir, `k${i}.txt`), `${id}\n`);
        recipients.push(run('age-keygen', ['-y', path.join(dir, `k${i}.txt`)]).toString().trim());
      }
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('recovers the data key of a 2-of-3 sops file from any 2 groups', async () => {
      writeFileSync(
        path.join(dir, '.sops.yaml'),
        `creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n${recipients.map((r) => `      - age: [${r}]\n`).join('')}`,
      );
      writeFileSync(path.join(dir, 'plain.yaml'), 'db:\n  password: hunter2\n');
      const enc = parse(run('sops', ['-e', 'plain.yaml'], { cwd: dir }).toString()) as {
        db: { password: string };
        sops: { shamir_threshold: number; key_groups: { age: { recipient: string; enc: string }[] }[] };
      };
      assert.equal(enc.sops.shamir_threshold, 2);
      assert.equal(enc.sops.key_groups.length, 3);
      const shares: Buffer[] = [];
      for (const [i, g] of enc.sops.key_groups.entries()) {
        assert.equal(g.age[0]!.recipient, recipients[i]);
        const { dataKey } = await decryptDataKeyAge(g.age[0]!.enc, fakeServices(ids[i]!));
        assert.equal(dataKey.length, 33);
        assert.equal(dataKey[32], i + 1);
        shares.push(dataKey);
      }
      for (const pair of subsets(3, 2)) {
        const dataKey = combine(pair.map((i) => shares[i]!));
        assert.equal(dataKey.length, 32);
        assert.equal(decryptSopsValue(enc.db.password, dataKey, ['db', 'password']), 'hunter2');
      }
    });

    it('writes 2-of-3 key groups whose encs age opens into shares of the data key', async () => {
      const dataKey = randomBytes(32);
      const groups = await wrapDataKey(dataKey, recipients.map((r) => ({ age: [r], kms: [] })), 2, fakeServices());
      const shares = groups.map((g, i) => {
        const k = g.keys[0]!;
        assert.equal(k.type, 'age');
        if (k.type !== 'age') throw new Error('unreachable');
        assert.equal(k.recipient, recipients[i]);
        const share = run('age', ['-d', '-i', path.join(dir, `k${i}.txt`)], { input: k.enc });
        assert.equal(share.length, 33);
        assert.equal(share[32], i + 1);
        return share;
      });
      for (const pair of subsets(3, 2)) assert.deepEqual(combine(pair.map((i) => shares[i]!)), dataKey);
    });

    it('writes a file real sops decrypts with 2 of 3 groups', async () => {
      // Re-key the sops file's groups with our split of its own data key: sops then reads
      // our shares (the MAC and values stay sops' own).
      writeFileSync(
        path.join(dir, '.sops.yaml'),
        `creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n${recipients.map((r) => `      - age: [${r}]\n`).join('')}`,
      );
      writeFileSync(path.join(dir, 'plain2.yaml'), 'token: abc123\n');
      const text = run('sops', ['-e', 'plain2.yaml'], { cwd: dir }).toString();
      const doc = parse(text) as { sops: { key_groups: { age: { recipient: string; enc: string }[] }[] } };
      const s0 = (await decryptDataKeyAge(doc.sops.key_groups[0]!.age[0]!.enc, fakeServices(ids[0]!))).dataKey;
      const s1 = (await decryptDataKeyAge(doc.sops.key_groups[1]!.age[0]!.enc, fakeServices(ids[1]!))).dataKey;
      const dataKey = combine([s0, s1]);
      const ours = await wrapDataKey(dataKey, recipients.map((r) => ({ age: [r], kms: [] })), 2, fakeServices());
      let out = text;
      doc.sops.key_groups.forEach((g, i) => {
        const k = ours[i]!.keys[0]!;
        if (k.type !== 'age') throw new Error('unreachable');
        out = out.replace(indentBlock(g.age[0]!.enc), indentBlock(k.enc));
      });
      assert.notEqual(out, text);
      const file = path.join(dir, 'ours.enc.yaml');
      writeFileSync(file, out);
      // Only groups 2 and 3 available to sops: key 1's identity is left out.
      for (const avail of [[1, 2], [0, 2], [0, 1]]) {
        const keys = avail.map((i) => ids[i]).join('\n');
        const plain = run('sops', ['-d', file], { cwd: dir, env: { ...env, SOPS_AGE_KEY: keys, SOPS_AGE_KEY_FILE: '/nonexistent' } }).toString();
        assert.match(plain, /token: abc123/);
      }
      assert.ok(readFileSync(file, 'utf8').includes('BEGIN AGE ENCRYPTED FILE'));
    });
  });
});

/** An armored enc as it appears in sops' YAML (a literal block indented 16 spaces). */
function indentBlock(enc: string): string {
  return enc.trimEnd().split('\n').join('\n                ');
}
