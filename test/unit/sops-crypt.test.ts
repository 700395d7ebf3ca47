// The tree walk, the rules and the MAC, against real sops. Files are JSON here, read and written
// by a small converter below, so that these tests need no store; sops-engine.test.ts covers the
// other formats end to end.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../../daemon/protocol/errors';
import { checkMac, decryptTree, encryptMac, encryptTree, macError, Rules } from '../../daemon/sops/crypt';
import { effectiveRules, joinMetadata, metadataBranch, parseMetadata, patchMetadataBranch, splitMetadata, type SopsMetadata } from '../../daemon/sops/metadata';
import type { EncryptRules } from '../../daemon/sops/options';
import { Branch, Comment, Float, Int, type Value } from '../../daemon/sops/tree';
import { isKeywardError } from '../../daemon/util/errors';
import { requireTool, tempDir } from '../helpers/tools';

const FIX = path.join(__dirname, '../fixtures/sops');
const KEY_FILE = path.join(FIX, 'age-key.txt');
const RECIPIENT = 'age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr';

// ---- JSON <-> tree, as the sops JSON store reads it (enough for these tests) -----------------

function toTree(v: unknown): Value {
  if (v === null) return null;
  if (Array.isArray(v)) return v.map(toTree);
  if (typeof v === 'object') return new Branch(Object.entries(v as Record<string, unknown>).map(([key, value]) => ({ key, value: toTree(value) })));
  if (typeof v === 'number') return Number.isInteger(v) ? new Int(BigInt(v)) : new Float(v);
  return v as string | boolean;
}

function fromTree(v: Value): unknown {
  if (v instanceof Branch) return Object.fromEntries(v.items.filter((i) => typeof i.key === 'string').map((i) => [i.key, fromTree(i.value)]));
  if (Array.isArray(v)) return v.filter((e) => !(e instanceof Comment)).map(fromTree);
  if (v instanceof Int) return Number(v.value);
  if (v instanceof Float) return v.value;
  return v;
}

function loadJson(text: string): Branch[] {
  return [toTree(JSON.parse(text)) as Branch];
}

function emitJson(bs: Branch[]): string {
  return `${JSON.stringify(fromTree(bs[0]!), null, '\t')}\n`;
}

// ---- keys ------------------------------------------------------------------------------------

function run(cmd: string, args: string[], input?: Buffer | string, env?: Record<string, string>): { stdout: Buffer; stderr: string; status: number | null } {
  const r = spawnSync(cmd, args, { input, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { stdout: r.stdout, stderr: r.stderr.toString('utf8'), status: r.status };
}

function ageDecrypt(armored: string): Buffer {
  const r = run('age', ['-d', '-i', KEY_FILE], armored);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function ageEncrypt(data: Buffer): string {
  const r = run('age', ['-a', '-r', RECIPIENT], data);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.toString('utf8');
}

function dataKeyOf(meta: SopsMetadata): Buffer {
  for (const g of meta.keyGroups) for (const k of g.keys) if (k.type === 'age' && k.recipient === RECIPIENT) return ageDecrypt(k.enc);
  throw new Error('no age key for the test recipient');
}

function sops(args: string[], input?: string): { stdout: string; stderr: string; status: number | null } {
  const r = run('sops', args, input, { SOPS_AGE_KEY_FILE: KEY_FILE });
  return { stdout: r.stdout.toString('utf8'), stderr: r.stderr, status: r.status };
}

/** Opens a JSON sops file: the MAC must verify. */
function open(text: string, encoding: 'utf8' | 'latin1' = 'utf8') {
  const split = splitMetadata(loadJson(text));
  const meta = parseMetadata(split.metadata);
  const key = dataKeyOf(meta);
  const d = decryptTree(split.branches, key, new Rules(effectiveRules(meta.rules)), { encoding });
  return { split, meta, key, d, mac: checkMac(meta.mac, d.mac, key, meta.lastModified) };
}

/** Encrypts like sops 3.13: one age key, the given rules, a fresh data key. */
function encryptJson(plain: Branch[], rules: EncryptRules): string {
  const key = randomBytes(32);
  const r = encryptTree(plain, key, new Rules(effectiveRules(rules)));
  const lastModified = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const meta: SopsMetadata = {
    keyGroups: [{ keys: [{ type: 'age', recipient: RECIPIENT, enc: ageEncrypt(key) }] }],
    lastModified,
    mac: encryptMac(r.mac, key, lastModified),
    version: '3.13.2',
    rules,
  };
  return emitJson(joinMetadata(r.branches, metadataBranch(meta)));
}

function fails(fn: () => unknown, code: number, message: RegExp, secrets: string[] = []): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    for (const s of secrets) assert.ok(!e.message.includes(s) && !(e.hint ?? '').includes(s), `the error reveals ${s}`);
    return true;
  });
}

const PLAIN = {
  name: 'alice',
  password: 's3cr3t-pw',
  port: 5432,
  ratio: 2.5,
  on: true,
  empty: '',
  nothing: null,
  list: ['a', 'b', 'a'],
  db: { user_unencrypted: 'admin', token: 'tok-123', nested: { deep: 'x' } },
  public_unencrypted: { all: 'clear', n: 1.5 },
  meta_enc: 'encme',
  data: { 'tls.crt': 'cert' },
};

describe('sops crypt (tree, rules, MAC)', function () {
  before(function () {
    requireTool(this, 'age');
  });

  describe('sops-written JSON fixtures', () => {
    for (const name of ['humphd-secret.enc.json', 'sops-example.json', 'sops-static_github.json']) {
      it(`${name} decrypts to its expected tree, MAC verified`, () => {
        const { d, mac } = open(readFileSync(path.join(FIX, name), 'utf8'));
        assert.equal(mac, 'ok');
        const expected: unknown = JSON.parse(readFileSync(path.join(FIX, 'expected', `${name}.json`), 'utf8'));
        assert.deepEqual(fromTree(d.branches[0]!), expected);
      });
    }

    it('sops-example.txt (binary store) decrypts, MAC verified, bytes exact', () => {
      const { d, mac } = open(readFileSync(path.join(FIX, 'sops-example.txt'), 'utf8'), 'latin1');
      assert.equal(mac, 'ok');
      const expected = JSON.parse(readFileSync(path.join(FIX, 'expected', 'sops-example.txt.json'), 'utf8')) as { data: string };
      assert.equal(Buffer.from(d.branches[0]!.items[0]!.value as string, 'latin1').toString('utf8'), expected.data);
    });

    it('re-encrypting an unchanged tree keeps every ciphertext and the MAC', () => {
      const text = readFileSync(path.join(FIX, 'sops-example.json'), 'utf8');
      const { split, meta, key, d } = open(text);
      const r = encryptTree(d.branches, key, new Rules(effectiveRules(meta.rules)), { reuse: d.stash.clone() });
      assert.deepEqual(fromTree(r.branches[0]!), fromTree(split.branches[0]!));
      assert.equal(r.mac, d.mac);
      assert.equal(r.changed, 0);
      assert.ok(r.unchanged > 5);
    });
  });

  describe('interop with real sops, every option', function () {
    before(function () {
      requireTool(this, 'sops');
    });
    let dir: string;
    let cleanup: () => Promise<void>;
    before(async () => ({ dir, cleanup } = await tempDir()));
    after(() => cleanup());

    const options: [string, EncryptRules, string[]][] = [
      ['default (_unencrypted suffix)', {}, []],
      ['unencrypted_suffix', { unencryptedSuffix: '_unencrypted' }, ['--unencrypted-suffix', '_unencrypted']],
      ['encrypted_suffix', { encryptedSuffix: '_enc' }, ['--encrypted-suffix', '_enc']],
      ['unencrypted_regex', { unencryptedRegex: '^(name|db)$' }, ['--unencrypted-regex', '^(name|db)$']],
      ['encrypted_regex', { encryptedRegex: '^(password|data|token)$' }, ['--encrypted-regex', '^(password|data|token)$']],
      ['mac_only_encrypted', { unencryptedSuffix: '_unencrypted', macOnlyEncrypted: true }, ['--mac-only-encrypted']],
      ['mac_only_encrypted + encrypted_regex', { encryptedRegex: 'pass', macOnlyEncrypted: true }, ['--mac-only-encrypted', '--encrypted-regex', 'pass']],
    ];
    for (const [label, rules, flags] of options) {
      it(`${label}: sops decrypts ours, we decrypt sops'`, async () => {
        const plain = loadJson(JSON.stringify(PLAIN));
        const ours = encryptJson(plain, rules);
        const f = path.join(dir, 'ours.json');
        await fsp.writeFile(f, ours);
        const r = sops(['-d', f]);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), PLAIN);

        const p = path.join(dir, 'plain.json');
        await fsp.writeFile(p, JSON.stringify(PLAIN));
        const e = sops(['-e', '--age', RECIPIENT, ...flags, p]);
        assert.equal(e.status, 0, e.stderr);
        const theirs = open(e.stdout);
        assert.equal(theirs.mac, 'ok');
        assert.deepEqual(fromTree(theirs.d.branches[0]!), PLAIN);
        // The same values are encrypted, or left clear, in both files.
        const clear = (t: string) => JSON.stringify(JSON.parse(t, (k, v: unknown) => (k === 'sops' ? undefined : typeof v === 'string' && v.startsWith('ENC[') ? v.replace(/^ENC\[.*type:(\w+)\]$/, 'ENC:$1') : v)));
        assert.equal(clear(ours), clear(e.stdout));
      });
    }

    it('sops -d reads our MAC with a lastmodified that has an offset', async () => {
      const key = randomBytes(32);
      const r = encryptTree(loadJson('{"a":"b"}'), key, new Rules(effectiveRules({})));
      const lastModified = '2024-05-01T10:00:00+02:00';
      const meta: SopsMetadata = {
        keyGroups: [{ keys: [{ type: 'age', recipient: RECIPIENT, enc: ageEncrypt(key) }] }],
        lastModified,
        mac: encryptMac(r.mac, key, lastModified),
        version: '3.13.2',
        rules: {},
      };
      const f = path.join(dir, 'offset.json');
      await fsp.writeFile(f, emitJson(joinMetadata(r.branches, metadataBranch(meta))));
      const out = sops(['-d', f]);
      assert.equal(out.status, 0, out.stderr);
    });
  });

  describe('rules', () => {
    const rules = (r: EncryptRules) => new Rules(effectiveRules(r));
    it('suffixes apply to whole subtrees (any key of the path)', () => {
      const r = rules({});
      assert.equal(r.shouldEncrypt(['a_unencrypted', 'b'], [[]], false), false);
      assert.equal(r.shouldEncrypt(['a', 'b'], [[]], false), true);
      const e = rules({ encryptedSuffix: '_enc' });
      assert.equal(e.shouldEncrypt(['x_enc', 'y'], [[]], false), true);
      assert.equal(e.shouldEncrypt(['x', 'y'], [[]], false), false);
    });

    it('comment regexes: a matching comment marks what follows; encrypted_comment_regex leaves the marker clear', () => {
      const u = rules({ unencryptedCommentRegex: 'sops:noenc' });
      assert.equal(u.shouldEncrypt(['a'], [[' sops:noenc']], false), false);
      assert.equal(u.shouldEncrypt(['a'], [[' other']], false), true);
      const e = rules({ encryptedCommentRegex: 'sops:enc' });
      assert.equal(e.shouldEncrypt(['a'], [[' sops:enc']], true), false, 'the marker itself');
      assert.equal(e.shouldEncrypt(['a'], [[' sops:enc', ' next']], true), true);
      assert.equal(e.shouldEncrypt(['a'], [[' sops:enc']], false), true);
      assert.equal(e.shouldEncrypt(['a'], [[' sops:enc'], []], false), true, 'outer levels count');
      assert.equal(e.shouldEncrypt(['a'], [[]], false), false);
    });

    it('regexes are Go regexes, unanchored, tested on every key of the path', () => {
      const r = rules({ encryptedRegex: '(?i)pass' });
      assert.equal(r.shouldEncrypt(['db', 'PASSWORD'], [[]], false), true);
      assert.equal(r.shouldEncrypt(['db', 'user'], [[]], false), false);
      assert.equal(r.shouldEncrypt(['passwords', 'user'], [[]], false), true);
      fails(() => rules({ encryptedRegex: '(?=x)' }), ErrorCode.InvalidInput, /regular expression/);
    });

    it('an encrypted comment that matches unencrypted_comment_regex is refused (as sops)', () => {
      const tree = [new Branch([{ key: new Comment('hello'), value: null }, { key: 'a', value: 'b' }])];
      fails(() => encryptTree(tree, randomBytes(32), rules({ unencryptedCommentRegex: 'ENC' })), ErrorCode.InvalidInput, /matches unencrypted_comment_regex/, ['hello']);
    });
  });

  describe('comments', () => {
    const key = randomBytes(32);
    const r = new Rules(effectiveRules({}));

    it('are encrypted with the parent path as associated data, kept out of the MAC, inline kept', () => {
      const plain = [new Branch([
        { key: new Comment(' top'), value: null },
        { key: 'a', value: new Branch([{ key: 'b', value: 'x' }, { key: new Comment(' inline', true), value: null }]) },
        { key: 'l', value: [new Comment(' in list'), 'y'] },
      ])];
      const e = encryptTree(plain, key, r);
      const noComments = encryptTree([new Branch([{ key: 'a', value: new Branch([{ key: 'b', value: 'x' }]) }, { key: 'l', value: ['y'] }])], key, r);
      assert.equal(e.mac, noComments.mac);
      const top = e.branches[0]!.items[0]!.key as Comment;
      assert.match(top.value, /type:comment\]$/);
      const inner = (e.branches[0]!.items[1]!.value as Branch).items[1]!.key as Comment;
      assert.equal(inner.inline, true);
      const list = e.branches[0]!.items[2]!.value as Value[];
      assert.ok(list[0] instanceof Comment, 'a comment in a list stays a comment (sops makes it a value)');
      const d = decryptTree(e.branches, key, r);
      assert.equal(d.mac, e.mac);
      assert.deepEqual(d.branches, plain);
    });

    it("reads sops' form of a list comment (an element) as a comment outside the MAC", () => {
      const plain = [new Branch([{ key: 'l', value: [new Comment(' c'), 'y'] }])];
      const e = encryptTree(plain, key, r);
      const list = e.branches[0]!.items[0]!.value as Value[];
      const sopsForm = [new Branch([{ key: 'l', value: [(list[0] as Comment).value, list[1]!] }])];
      const d = decryptTree(sopsForm, key, r);
      assert.equal(d.mac, e.mac);
      assert.ok((d.branches[0]!.items[0]!.value as Value[])[0] instanceof Comment);
    });

    it('a tampered encrypted comment is refused, or kept when lenient', () => {
      const e = encryptTree([new Branch([{ key: new Comment(' secret note'), value: null }, { key: 'a', value: 'b' }])], key, r);
      const c = e.branches[0]!.items[0]!.key as Comment;
      const moved = [new Branch([{ key: 'x', value: new Branch([{ key: c, value: null }]) }, { key: 'a', value: e.branches[0]!.items[1]!.value }])];
      fails(() => decryptTree(moved, key, r), ErrorCode.DecryptFailed, /comment at x failed authentication/, ['secret note']);
      const d = decryptTree(moved, key, r, { lenientComments: true });
      assert.equal(d.warnings.length, 1);
    });
  });

  describe('must fail, with a clear error that reveals no value', () => {
    const text = readFileSync(path.join(FIX, 'sops-example.json'), 'utf8');
    const secrets = ['John', 'Smith', 'New York', '21 2nd Street', '212 555-1234'];
    const mutate = (fn: (j: Record<string, unknown>) => void): string => {
      const j = JSON.parse(text) as Record<string, unknown>;
      fn(j);
      return JSON.stringify(j);
    };
    const openAll = (t: string) => {
      const o = open(t);
      if (o.mac !== 'ok') throw macError(o.mac);
      return o;
    };

    it('a tampered value', () => {
      const t = mutate((j) => {
        j.firstName = (j.firstName as string).replace(/data:(.)/, (_m, c: string) => `data:${c === 'A' ? 'B' : 'A'}`);
      });
      fails(() => openAll(t), ErrorCode.DecryptFailed, /^value at firstName failed authentication \(tampered, or moved from another key\)$/, secrets);
    });

    it('a value moved to another key (associated data)', () => {
      const t = mutate((j) => {
        [j.firstName, j.lastName] = [j.lastName, j.firstName];
      });
      fails(() => openAll(t), ErrorCode.DecryptFailed, /value at firstName failed authentication/, secrets);
    });

    it('a deleted key (MAC)', () => {
      fails(() => openAll(mutate((j) => delete j.lastName)), ErrorCode.DecryptFailed, /^mac mismatch/, secrets);
    });

    it('an injected plaintext key: clear in an encrypted place, or under the unencrypted suffix (MAC)', () => {
      fails(() => openAll(mutate((j) => (j.injected = 'evil'))), ErrorCode.Malformed, /^value at injected is not encrypted$/, ['evil']);
      fails(() => openAll(mutate((j) => (j.extra_unencrypted = 'evil'))), ErrorCode.DecryptFailed, /^mac mismatch/, [...secrets, 'evil']);
    });

    it('reordered list elements (MAC)', () => {
      const t = mutate((j) => (j.phoneNumbers as unknown[]).reverse());
      fails(() => openAll(t), ErrorCode.DecryptFailed, /^mac mismatch/, secrets);
    });

    it('a removed MAC', () => {
      fails(() => openAll(mutate((j) => delete (j.sops as Record<string, unknown>).mac)), ErrorCode.DecryptFailed, /^the file has no mac$/, secrets);
      fails(() => openAll(mutate((j) => ((j.sops as Record<string, unknown>).mac = ''))), ErrorCode.DecryptFailed, /^the file has no mac$/);
    });

    it('a wrong MAC, and a changed lastmodified', () => {
      const other = JSON.parse(readFileSync(path.join(FIX, 'sops-static_github.json'), 'utf8')) as { sops: { mac: string } };
      fails(() => openAll(mutate((j) => ((j.sops as Record<string, unknown>).mac = other.sops.mac))), ErrorCode.DecryptFailed, /^the mac failed authentication/);
      fails(() => openAll(mutate((j) => ((j.sops as Record<string, unknown>).lastmodified = '2020-01-01T00:00:00Z'))), ErrorCode.DecryptFailed, /^the mac failed authentication/);
      const { key, meta, d } = open(text);
      const forged = encryptMac('00'.repeat(64), key, meta.lastModified);
      assert.equal(checkMac(forged, d.mac, key, meta.lastModified), 'mismatch');
    });

    it('a wrong data key', () => {
      const { split, meta } = open(text);
      fails(() => decryptTree(split.branches, randomBytes(32), new Rules(effectiveRules(meta.rules)), { macOpened: false }), ErrorCode.DecryptFailed, /^the data key does not open this file$/);
    });

    it('a malformed ENC value', () => {
      const t = mutate((j) => (j.lastName = 'ENC[AES256_GCM,data:@@@,iv:x,tag:y,type:str]'));
      fails(() => openAll(t), ErrorCode.Malformed, /^malformed encrypted value at lastName/, secrets);
    });

    it('a value of the wrong type where a ciphertext belongs', () => {
      fails(() => openAll(mutate((j) => (j.firstName = 12))), ErrorCode.Malformed, /^value at firstName is not encrypted$/);
    });

    it('mac_only_encrypted: a clear value is not covered (sops semantics); an encrypted one is', () => {
      const plain = loadJson(JSON.stringify({ secret: 'x', note_unencrypted: 'clear' }));
      const onlyEnc = encryptJson(plain, { unencryptedSuffix: '_unencrypted', macOnlyEncrypted: true });
      const tampered = onlyEnc.replace('"clear"', '"changed"');
      assert.equal(open(tampered).mac, 'ok', 'sops does not cover clear values with mac_only_encrypted');
      const full = encryptJson(plain, { unencryptedSuffix: '_unencrypted' });
      fails(() => openAll(full.replace('"clear"', '"changed"')), ErrorCode.DecryptFailed, /^mac mismatch/);
      const j = JSON.parse(onlyEnc) as Record<string, unknown>;
      delete j.secret;
      fails(() => openAll(JSON.stringify(j)), ErrorCode.DecryptFailed, /^mac mismatch/);
    });

    it('huge and deep trees are bounded', () => {
      let deep: Value = 'x';
      for (let i = 0; i < 600; i++) deep = new Branch([{ key: 'k', value: deep }]);
      fails(() => encryptTree([deep as Branch], randomBytes(32), new Rules({})), ErrorCode.InvalidInput, /nested too deeply/);
    });
  });

  describe('metadata', () => {
    it('writes fields in sops 3.13 order; several groups as key_groups with age and hc_vault', () => {
      const meta: SopsMetadata = {
        keyGroups: [
          { keys: [{ type: 'age', recipient: 'r1', enc: 'e1' }] },
          { keys: [{ type: 'kms', arn: 'arn:x', createdAt: '2024-01-01T00:00:00Z', enc: 'k', awsProfile: '', context: { b: '2', a: null } }, { type: 'pgp', fields: { fp: 'FP', enc: 'p', created_at: 't' } }] },
        ],
        shamirThreshold: 2,
        lastModified: '2024-01-01T00:00:00Z',
        mac: 'ENC[...]',
        version: '3.13.2',
        rules: { encryptedRegex: '^data$', macOnlyEncrypted: true },
      };
      const b = metadataBranch(meta);
      assert.deepEqual(b.items.map((i) => i.key), ['encrypted_regex', 'key_groups', 'lastmodified', 'mac', 'mac_only_encrypted', 'shamir_threshold', 'version']);
      const groups = b.items[1]!.value as Branch[];
      assert.deepEqual(groups[0]!.items.map((i) => i.key), ['age', 'hc_vault']);
      assert.deepEqual(groups[1]!.items.map((i) => i.key), ['age', 'hc_vault', 'kms', 'pgp']);
      const kms = (groups[1]!.items[2]!.value as Branch[])[0]!;
      assert.deepEqual(kms.items.map((i) => i.key), ['arn', 'aws_profile', 'context', 'created_at', 'enc']);
      const back = parseMetadata(b);
      assert.deepEqual(back, meta);
      assert.deepEqual(metadataBranch(back), b);
    });

    it('reproduces what sops 3.13 wrote, and patches only lastmodified and mac', async function () {
      requireTool(this, 'sops');
      const t = await tempDir();
      const f = path.join(t.dir, 'a.json');
      await fsp.writeFile(f, '{"a":"b","n":{"c":1.5}}');
      const p = sops(['-e', '--age', RECIPIENT, f]);
      await t.cleanup();
      assert.equal(p.status, 0, p.stderr);
      const split = splitMetadata(loadJson(p.stdout));
      const meta = parseMetadata(split.metadata);
      assert.equal(emitJson(joinMetadata(split.branches, metadataBranch(meta))), p.stdout);
      const patched = patchMetadataBranch(split.metadata, { lastModified: 'L', mac: 'M' });
      assert.deepEqual(patched.items.map((i) => i.key), split.metadata.items.map((i) => i.key));
      const old = loadJson(readFileSync(path.join(FIX, 'sops-example.json'), 'utf8'));
      const oldMeta = splitMetadata(old).metadata;
      assert.deepEqual(patchMetadataBranch(oldMeta, { lastModified: 'L', mac: 'M' }).items.map((i) => i.key), oldMeta.items.map((i) => i.key));
    });

    it('refuses malformed metadata with a clear error', () => {
      const bad = (items: Record<string, unknown>, msg: RegExp) => fails(() => parseMetadata(toTree(items) as Branch), ErrorCode.Malformed, msg);
      bad({ lastmodified: '2024-01-01T00:00:00Z', mac: '', version: '3' }, /no master keys/);
      bad({ age: [{ recipient: 'r', enc: 'e' }], lastmodified: 'yesterday' }, /lastmodified/);
      bad({ age: [{ recipient: 'r', enc: 'e' }], lastmodified: '2024-01-01T00:00:00Z', encrypted_regex: 'a', unencrypted_suffix: '_u' }, /more than one/);
      bad({ age: 'x', lastmodified: '2024-01-01T00:00:00Z' }, /age is not a list/);
      fails(() => splitMetadata(loadJson('{"a":1}')), ErrorCode.Malformed, /sops metadata not found/);
    });
  });
});
