// The engine end to end, every format, against real sops in both directions.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Decrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { ErrorCode } from '../../daemon/protocol/errors';
import { closeFile, encryptNew, extract, openFile, readInfo, renderPlain, rotate, saveText, setValue, unsetValue, updateKeys, type OpenedFile } from '../../daemon/sops/engine';
import type { KeyServices } from '../../daemon/sops/keys';
import type { EncryptRules } from '../../daemon/sops/options';
import type { SopsFormat } from '../../daemon/sops/store';
import { YamlStore } from '../../daemon/sops/stores/yaml';
import { Branch, Comment, Float, Int, Time, type Value } from '../../daemon/sops/tree';
import { isKeywardError, KeywardError } from '../../daemon/util/errors';
import { requireTool, tempDir } from '../helpers/tools';

const FIX = path.join(__dirname, '../fixtures/sops');
const KEY_FILE = path.join(FIX, 'age-key.txt');
const RECIPIENT = 'age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr';
const IDENTITY = /AGE-SECRET-KEY-1[0-9A-Z]+/.exec(readFileSync(KEY_FILE, 'utf8'))![0];

/** KeyServices over a fixed set of identities (the keystore's role). */
function servicesFor(...identities: string[]): KeyServices {
  return {
    async unwrapAgeFileKey(header) {
      for (const [i, id] of identities.entries()) {
        const d = new Decrypter();
        d.addIdentity(id);
        try {
          return { fileKey: await d.decryptHeader(header), ref: `test@v${i + 1}` };
        } catch {
          // not this one
        }
      }
      throw new KeywardError(ErrorCode.DecryptFailed, 'no identity matched any of the file\'s recipients');
    },
  };
}
const services = servicesFor(IDENTITY);
const spec = (rules: EncryptRules = {}, age = [RECIPIENT]) => ({ keyGroups: [{ age, kms: [] }], rules });

function toJson(v: Value): unknown {
  if (v instanceof Branch) return Object.fromEntries(v.items.filter((i) => typeof i.key === 'string').map((i) => [i.key, toJson(i.value)]));
  if (Array.isArray(v)) return v.filter((e) => !(e instanceof Comment)).map(toJson);
  if (v instanceof Int) return Number(v.value);
  if (v instanceof Float) return v.value;
  if (v instanceof Time) return v.text;
  return v;
}

function sops(args: string[], env: Record<string, string> = {}): { stdout: Buffer; stderr: string; status: number | null } {
  const r = spawnSync('sops', args, { env: { ...process.env, SOPS_AGE_KEY_FILE: KEY_FILE, ...env }, maxBuffer: 64 << 20 });
  return { stdout: r.stdout, stderr: r.stderr.toString('utf8'), status: r.status };
}

const EXT: Record<SopsFormat, string> = { yaml: 'yaml', json: 'json', dotenv: 'env', ini: 'ini', binary: 'bin' };

async function rejects(p: Promise<unknown>, code: number, message: RegExp, secrets: string[] = []): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    for (const s of secrets) assert.ok(!e.message.includes(s) && !(e.hint ?? '').includes(s), `the error reveals ${s}`);
    return true;
  });
}

/** Lines of b that differ from a (same line count required). */
function changedLines(a: string, b: string): string[] {
  const x = a.split('\n');
  const y = b.split('\n');
  assert.equal(y.length, x.length, 'line count changed');
  return y.filter((l, i) => l !== x[i]);
}

const SAMPLES: Record<Exclude<SopsFormat, 'binary'>, string> = {
  yaml: '# top comment\nname: alice\npassword: s3cr3t-pw\nport: 5432\nratio: 2.5\n"on": true\nempty: ""\nlist:\n    - a\n    - b\ndb:\n    # about the user\n    user_unencrypted: admin\n    token: tok-123\n',
  json: '{\n\t"name": "alice",\n\t"password": "s3cr3t-pw",\n\t"port": 5432,\n\t"ratio": 2.5,\n\t"list": [\n\t\t"a",\n\t\t"b"\n\t],\n\t"db": {\n\t\t"user_unencrypted": "admin",\n\t\t"token": "tok-123"\n\t}\n}\n',
  dotenv: '# a comment\nNAME=alice\nPASSWORD=s3cr3t-pw\nEMPTY=\nMULTI=line1\\nline2\n',
  ini: '[db]\nuser = admin\npassword = s3cr3t-pw\n\n[app]\nname = alice\n',
};

describe('sops engine', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async function () {
    requireTool(this, 'sops');
    ({ dir, cleanup } = await tempDir());
  });
  after(() => cleanup?.());

  async function write(name: string, data: string | Buffer): Promise<string> {
    const f = path.join(dir, name);
    await fsp.writeFile(f, data);
    return f;
  }

  async function sopsEncrypt(format: SopsFormat, plain: string | Buffer, flags: string[] = []): Promise<Buffer> {
    const f = await write(`plain-${randomBytes(4).toString('hex')}.${EXT[format]}`, plain);
    const r = sops(['-e', '--age', RECIPIENT, ...flags, f]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  }

  async function sopsDecrypt(format: SopsFormat, enc: Buffer): Promise<Buffer> {
    const f = await write(`enc-${randomBytes(4).toString('hex')}.${EXT[format]}`, enc);
    const r = sops(['-d', f]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  }

  describe('fixtures made by sops', () => {
    const formats: [string, SopsFormat][] = [
      ['humphd-secret.enc.yaml', 'yaml'],
      ['humphd-secret.enc.json', 'json'],
      ['humphd-secret.enc.env', 'dotenv'],
      ['humphd-secret.enc.ini', 'ini'],
      ['sops-comments.enc.yaml', 'yaml'],
      ['sops-example.yaml', 'yaml'],
      ['sops-example.json', 'json'],
      ['sops-example.ini', 'ini'],
      ['sops-example.txt', 'binary'],
      ['sops-format.enc.env', 'dotenv'],
      ['sops-static_github.json', 'json'],
    ];
    for (const [name, format] of formats) {
      it(`${name} decrypts to its expected tree with the MAC verified, and prints as sops -d`, async () => {
        const bytes = readFileSync(path.join(FIX, name));
        const f = await openFile(bytes, format, services);
        assert.equal(f.macVerified, true);
        assert.deepEqual(f.usedKeys, ['test@v1']);
        const expected: unknown = JSON.parse(readFileSync(path.join(FIX, 'expected', `${name}.json`), 'utf8'));
        if (format === 'binary') assert.deepEqual({ data: renderPlain(f).toString('utf8') }, expected);
        else {
          const tree = f.branches[0]!;
          // sops' INI reader has an empty DEFAULT section that its writer leaves out.
          const items = format === 'ini' ? tree.items.filter((i) => !(i.key === 'DEFAULT' && i.value instanceof Branch && i.value.items.length === 0)) : tree.items;
          assert.deepEqual(toJson(new Branch(items)), expected);
        }
        const info = readInfo(bytes, format);
        assert.equal(info.lastModified, f.metadata.lastModified);
        assert.ok(info.keyGroups[0]!.keys.some((k) => k.type === 'age' && k.recipient === RECIPIENT));
        // sops moves inline comments to their own line on decryption; the plain text matches otherwise.
        if (!/inline/.test(name)) assert.equal(renderPlain(f).toString('utf8'), (await sopsDecrypt(format, bytes)).toString('utf8'));
      });
    }
  });

  describe('files we write decrypt with sops -d, and files sops writes decrypt with ours', () => {
    for (const format of ['yaml', 'json', 'dotenv', 'ini'] as const) {
      it(`${format}: both directions, same plaintext`, async () => {
        const plain = Buffer.from(SAMPLES[format]);
        const ours = await encryptNew(plain, format, spec(), services);
        const theirs = await sopsEncrypt(format, plain);
        // sops -d prints what sops -e read (INI aligns the '=' of a section, as go-ini does).
        const printed = (await sopsDecrypt(format, theirs)).toString('utf8');
        if (format !== 'ini') assert.equal(printed, SAMPLES[format]);
        assert.equal((await sopsDecrypt(format, ours)).toString('utf8'), printed);
        const f = await openFile(ours, format, services);
        assert.equal(renderPlain(f).toString('utf8'), printed);
        const g = await openFile(theirs, format, services);
        assert.equal(g.macVerified, true);
        assert.equal(renderPlain(g).toString('utf8'), printed);
      });
    }

    it('binary: arbitrary bytes round-trip both ways', async () => {
      const raw = Buffer.concat([randomBytes(4096), Buffer.from([0, 0xff, 0xfe, 0x80, 0x0a])]);
      const ours = await encryptNew(raw, 'binary', spec({ encryptedRegex: 'ignored' }), services);
      assert.ok((await sopsDecrypt('binary', ours)).equals(raw));
      assert.equal(readInfo(ours, 'binary').options.unencrypted_suffix, undefined, 'sops writes no selector for binary files');
      const theirs = await sopsEncrypt('binary', raw);
      const f = await openFile(theirs, 'binary', services);
      assert.ok(renderPlain(f).equals(raw));
      const set = await setValue(f, ['data'], 'héllo');
      assert.equal((await sopsDecrypt('binary', set.bytes)).toString('utf8'), 'héllo');
      const empty = await encryptNew(Buffer.alloc(0), 'binary', spec(), services);
      assert.equal((await sopsDecrypt('binary', empty)).length, 0);
    });

    const yamlOptions: [string, EncryptRules, string[], string][] = [
      ['unencrypted_suffix', { unencryptedSuffix: '_clear' }, ['--unencrypted-suffix', '_clear'], 'a_clear:\n    b: x\nc: y\n'],
      ['encrypted_suffix', { encryptedSuffix: '_secret' }, ['--encrypted-suffix', '_secret'], 'a_secret:\n    b: x\nc: y\n'],
      ['unencrypted_regex', { unencryptedRegex: '^(c|meta)$' }, ['--unencrypted-regex', '^(c|meta)$'], 'a: x\nc: y\nmeta:\n    deep: z\n'],
      ['encrypted_regex', { encryptedRegex: '^(data|stringData)$' }, ['--encrypted-regex', '^(data|stringData)$'], 'kind: Secret\ndata:\n    k: v\nstringData:\n    - s\n'],
      ['unencrypted_comment_regex', { unencryptedCommentRegex: 'sops:noenc' }, ['--unencrypted-comment-regex', 'sops:noenc'], '# sops:noenc\na: clear\n# other\nb: secret\nn:\n    # sops:noenc\n    x: 1\n    y: 2\n'],
      ['encrypted_comment_regex', { encryptedCommentRegex: 'sops:enc' }, ['--encrypted-comment-regex', 'sops:enc'], 'a: clear\n# sops:enc\n# hidden too\nb: secret\nc: clear\n'],
      ['mac_only_encrypted', { unencryptedSuffix: '_unencrypted', macOnlyEncrypted: true }, ['--mac-only-encrypted'], 'a: x\nb_unencrypted: y\n'],
      ['multi-document', {}, [], 'a: 1\n---\nb: two\n# c\nc: [x, y]\n'],
      ['types', {}, [], 'd: 2002-12-14\nhex: 0x1F\nexp: 1e3\ni: -12\nf: 0.1\nt: true\nts: 2001-12-14T21:59:43.10-05:00\nbig: 9223372036854775807\nn: null\ne: ""\nu: "ünïcødé ✓"\n'],
    ];
    for (const [label, rules, flags, text] of yamlOptions) {
      it(`yaml ${label}: same plaintext and same clear/encrypted shape as sops`, async () => {
        const ours = await encryptNew(Buffer.from(text), 'yaml', spec(rules), services);
        const theirs = await sopsEncrypt('yaml', text, flags);
        assert.equal((await sopsDecrypt('yaml', ours)).toString('utf8'), (await sopsDecrypt('yaml', theirs)).toString('utf8'));
        const g = await openFile(theirs, 'yaml', services);
        assert.equal(g.macVerified, true);
        assert.equal(renderPlain(g).toString('utf8'), (await sopsDecrypt('yaml', theirs)).toString('utf8'));
        const shape = (b: Buffer) =>
          b
            .toString('utf8')
            .replace(/ENC\[AES256_GCM,[^\]]*type:(\w+)\]/g, 'ENC:$1')
            .replace(/\nsops:[\s\S]*?(?=\n---|$)/g, '');
        assert.equal(shape(ours), shape(theirs));
        assert.equal(renderPlain(await openFile(ours, 'yaml', services)).toString('utf8'), renderPlain(g).toString('utf8'));
      });
    }

    it('several key groups with a Shamir threshold', async function () {
      const other = await generateX25519Identity();
      const two = { keyGroups: [{ age: [RECIPIENT], kms: [] }, { age: [await identityToRecipient(other)], kms: [] }], shamirThreshold: 1 + 1, rules: {} };
      const ours = await encryptNew(Buffer.from('a: b\n'), 'yaml', two, servicesFor(IDENTITY, other));
      assert.match(ours.toString('utf8'), /key_groups:[\s\S]*hc_vault: \[\][\s\S]*shamir_threshold: 2/);
      await rejects(openFile(ours, 'yaml', services), ErrorCode.DecryptFailed, /1 of 2 key groups opened, 2 needed/);
      const f = await openFile(ours, 'yaml', servicesFor(IDENTITY, other));
      assert.equal(renderPlain(f).toString('utf8'), 'a: b\n');
      const keyFile = await write('both.txt', `${IDENTITY}\n${other}\n`);
      const p = await write('groups.yaml', ours);
      const r = sops(['-d', p], { SOPS_AGE_KEY_FILE: keyFile });
      assert.equal(r.status, 0, r.stderr);
    });

    it('refuses more than one selector, and a plaintext that holds a sops key', async () => {
      await rejects(encryptNew(Buffer.from('a: b\n'), 'yaml', spec({ encryptedRegex: 'a', unencryptedSuffix: '_u' }), services), ErrorCode.InvalidInput, /more than one/);
      await rejects(encryptNew(Buffer.from('sops: x\n'), 'yaml', spec(), services), ErrorCode.InvalidInput, /named sops/);
      await rejects(encryptNew(Buffer.from('sops_version=1\n'), 'dotenv', spec(), services), ErrorCode.InvalidInput, /starting with sops_/);
    });
  });

  describe('diff-stable edits', () => {
    for (const format of ['yaml', 'json', 'dotenv', 'ini'] as const) {
      it(`${format}: editing one value of a sops-written file changes only its line, mac and lastmodified`, async () => {
        const theirs = await sopsEncrypt(format, SAMPLES[format]);
        const f = await openFile(theirs, format, services);
        const text = renderPlain(f).toString('utf8');
        const edited = text.replace('s3cr3t-pw', 'n3w-pa55');
        assert.notEqual(edited, text);
        const r = await saveText(f, Buffer.from(edited));
        assert.equal(r.changed, 1);
        assert.ok(r.unchanged >= 2);
        // lastmodified has a one-second resolution: it may not have changed within this test.
        const lines = changedLines(theirs.toString('utf8'), r.bytes.toString('utf8'));
        const mac = lines.filter((l) => /(\bmac|sops_mac)["]?\s*[:=]/.test(l));
        const modified = lines.filter((l) => /lastmodified/.test(l));
        const value = lines.filter((l) => /password|PASSWORD/.test(l));
        assert.equal(mac.length, 1);
        assert.equal(value.length, 1);
        assert.ok(modified.length <= 1);
        assert.equal(lines.length, mac.length + value.length + modified.length, lines.join('\n'));
        assert.equal((await sopsDecrypt(format, r.bytes)).toString('utf8'), edited);
        assert.equal(renderPlain(r.file).toString('utf8'), edited);
      });
    }

    it("a comment in a list: sops writes it as a list element, outside the MAC; we verify its file, and sops reads ours", async () => {
      const text = 'list:\n    - a\n    # about b\n    - b\n';
      const theirs = await sopsEncrypt('yaml', text);
      assert.match(theirs.toString('utf8'), /- ENC\[[^\]]*type:comment\]/, 'sops writes the comment as a list element');
      const f = await write('listcomment.yaml', theirs);
      assert.equal(sops(['-d', f]).stdout.toString('utf8'), text, 'sops 3.13.3 reads back its own file (3.13.2 failed its MAC)');
      const g = await openFile(theirs, 'yaml', services);
      assert.equal(g.macVerified, true);
      assert.equal(renderPlain(g).toString('utf8'), text);
      const r = await saveText(g, text.replace('- b', '- c'));
      assert.match(r.bytes.toString('utf8'), /\n {4}#ENC\[[^\]]*type:comment\]\n/);
      assert.equal((await sopsDecrypt('yaml', r.bytes)).toString('utf8'), text.replace('- b', '- c'));
    });

    it('multi-document yaml: one value, and the mac and lastmodified of every document', async () => {
      const text = 'a: one\nb: two\n---\nc: three\n';
      const theirs = await sopsEncrypt('yaml', text);
      const f = await openFile(theirs, 'yaml', services);
      const r = await saveText(f, text.replace('three', '3'));
      const lines = changedLines(theirs.toString('utf8'), r.bytes.toString('utf8'));
      assert.equal(lines.filter((l) => /^c: ENC/.test(l)).length, 1);
      assert.ok(lines.every((l) => /^(c: ENC| {4}mac:| {4}lastmodified:)/.test(l)), lines.join('\n'));
      assert.equal(lines.filter((l) => /^ {4}mac:/.test(l)).length, 2);
      assert.equal((await sopsDecrypt('yaml', r.bytes)).toString('utf8'), text.replace('three', '3'));
    });

    it('inline comments stay inline (sops -d moves them above their key)', async () => {
      const text = 'a: 1 # one\nb:\n    c: x # about c\n';
      const ours = await encryptNew(Buffer.from(text), 'yaml', spec(), services);
      assert.equal((await sopsDecrypt('yaml', ours)).toString('utf8'), '# one\na: 1\nb:\n    # about c\n    c: x\n');
      const f = await openFile(ours, 'yaml', services);
      assert.equal(renderPlain(f).toString('utf8'), text);
      const r = await saveText(f, text.replace('x', 'y'));
      const comments = (b: Buffer) => b.toString('utf8').match(/#ENC\[[^\]]*\]/g);
      assert.deepEqual(comments(r.bytes), comments(ours), 'the comments keep their ciphertexts');
    });

    it('saving unchanged text writes nothing', async () => {
      const theirs = await sopsEncrypt('yaml', SAMPLES.yaml);
      const f = await openFile(theirs, 'yaml', services);
      const r = await saveText(f, renderPlain(f));
      assert.equal(r.noop, true);
      assert.equal(r.bytes, theirs);
      assert.equal(r.changed, 0);
    });

    it('set and unset keep every other ciphertext; sops reads the result', async () => {
      const theirs = await sopsEncrypt('yaml', SAMPLES.yaml);
      const f = await openFile(theirs, 'yaml', services);
      const s = await setValue(f, ['db', 'token'], 'tok-456');
      assert.equal(s.changed, true);
      const setLines = changedLines(theirs.toString('utf8'), s.bytes.toString('utf8'));
      assert.equal(setLines.filter((l) => /^ {4}token: ENC/.test(l)).length, 1);
      assert.ok(setLines.every((l) => /^ {4}(token|mac|lastmodified):/.test(l)), setLines.join('\n'));
      const added = await setValue(s.file, ['db', 'new'], { deep: [1, 2.5, 'x'] });
      const plain = (await sopsDecrypt('yaml', added.bytes)).toString('utf8');
      assert.match(plain, /token: tok-456\n {4}new:\n {8}deep:\n {12}- 1\n {12}- 2\.5\n {12}- x\n/);
      const same = await setValue(added.file, ['name'], 'alice');
      assert.equal(same.changed, false);
      const u = await unsetValue(added.file, ['db', 'new']);
      const lines = changedLines(s.bytes.toString('utf8'), u.bytes.toString('utf8'));
      assert.ok(lines.length >= 1 && lines.every((l) => /^ {4}(mac|lastmodified):/.test(l)), 'only mac and lastmodified differ from before the set');
      await rejects(unsetValue(u.file, ['db', 'missing']), ErrorCode.NotFound, /no value at \["db"\]\["missing"\]/);
      const l = await setValue(u.file, ['list', 1], 'B');
      assert.match(renderPlain(l.file).toString('utf8'), /- a\n {4}- B\n/);
    });

    it('extract gives one value as sops --extract does', async () => {
      const f = await openFile(await encryptNew(Buffer.from(SAMPLES.yaml), 'yaml', spec(), services), 'yaml', services);
      assert.equal(extract(f, ['password']).toString('utf8'), 's3cr3t-pw');
      assert.equal(extract(f, ['db']).toString('utf8'), '# about the user\nuser_unencrypted: admin\ntoken: tok-123\n');
      assert.equal(extract(f, ['list', 1]).toString('utf8'), 'b');
      assert.throws(() => extract(f, ['nope']), /no value at \["nope"\]/);
    });
  });

  describe('keys', () => {
    it('updatekeys adds a recipient, keeps values, mac and lastmodified byte for byte', async () => {
      const theirs = await sopsEncrypt('yaml', SAMPLES.yaml);
      const f = await openFile(theirs, 'yaml', services);
      const other = await generateX25519Identity();
      const out = await updateKeys(f, spec({}, [RECIPIENT, await identityToRecipient(other)]), services);
      const data = (b: Buffer) => b.toString('utf8').split('\nsops:')[0];
      const meta = (b: Buffer) => /lastmodified: .*\n {4}mac: .*/.exec(b.toString('utf8'))![0];
      assert.equal(data(out), data(theirs));
      assert.equal(meta(out), meta(theirs));
      const g = await openFile(out, 'yaml', servicesFor(other));
      assert.equal(renderPlain(g).toString('utf8'), renderPlain(f).toString('utf8'));
      assert.equal((await sopsDecrypt('yaml', out)).toString('utf8'), renderPlain(f).toString('utf8'));
    });

    it('keys of kinds keyward cannot use (pgp) are kept by edits and updatekeys; rotate refuses to drop them', async () => {
      const theirs = (await sopsEncrypt('yaml', 'a: b\n')).toString('utf8');
      const pgp = '    pgp:\n        - created_at: "2020-01-01T00:00:00Z"\n          enc: |-\n            -----BEGIN PGP MESSAGE-----\n            AAAA\n            -----END PGP MESSAGE-----\n          fp: 0123456789ABCDEF\n';
      const withPgp = Buffer.from(theirs.replace(/(\n {4}unencrypted_suffix:)/, `\n${pgp.slice(0, -1)}$1`));
      const f = await openFile(withPgp, 'yaml', services);
      assert.ok(f.metadata.keyGroups[0]!.keys.some((k) => k.type === 'pgp' && k.fields.fp === '0123456789ABCDEF'));
      const r = await saveText(f, 'a: c\n');
      assert.ok(r.bytes.toString('utf8').includes(pgp), 'the pgp entry is written back as it was');
      const other = await generateX25519Identity();
      const u = await updateKeys(f, spec({}, [RECIPIENT, await identityToRecipient(other)]), services);
      assert.ok(readInfo(u, 'yaml').keyGroups[0]!.keys.some((k) => k.type === 'pgp'));
      await rejects(rotate(f, services), ErrorCode.IllegalState, /pgp keys/);
      await rejects(rotate(f, services, { keyGroups: [{ age: [RECIPIENT], kms: [] }] }), ErrorCode.IllegalState, /pgp keys/);
    });

    it('rotate makes a new data key and re-encrypts every value', async () => {
      const theirs = await sopsEncrypt('yaml', SAMPLES.yaml);
      const f = await openFile(theirs, 'yaml', services);
      const out = await rotate(f, services);
      const encs = (b: Buffer) => new Set(b.toString('utf8').match(/ENC\[[^\]]+\]/g));
      const before = encs(theirs);
      for (const e of encs(out)) assert.ok(!before.has(e));
      assert.equal((await sopsDecrypt('yaml', out)).toString('utf8'), renderPlain(f).toString('utf8'));
      closeFile(f);
      await rejects(saveText(f, 'a: b\n'), ErrorCode.IllegalState, /not an opened sops file/);
    });
  });

  describe('must fail, clearly, without revealing a value', () => {
    const SECRET = 's3cr3t-pw';
    let enc: string;
    before(async () => {
      enc = (await sopsEncrypt('yaml', SAMPLES.yaml)).toString('utf8');
    });
    const open = (t: string, o = {}) => openFile(Buffer.from(t), 'yaml', services, o);
    const line = (t: string, key: string) => new RegExp(`^(\\s*)${key}: (.*)$`, 'm').exec(t)!;

    it('a store that does not give back what it was given: caught by the read-back, nothing returned', async () => {
      // The read-back opens new values from what the writer knows; it must still catch a store
      // that moves, retypes or garbles a ciphertext on its way to the bytes.
      const original = Object.getOwnPropertyDescriptor(YamlStore.prototype, 'emitEncrypted')!.value as (this: YamlStore, b: Branch[]) => Buffer;
      const damage: ((t: string) => string)[] = [
        (t) => {
          const pw = line(t, 'password')[2]!;
          const name = line(t, 'name')[2]!;
          return t.replace(`password: ${pw}`, `password: ${name}`).replace(`name: ${name}`, `name: ${pw}`);
        },
        (t) => t.replace(/type:int\]/, 'type:float]'),
        (t) => t.replace(/(password: ENC\[AES256_GCM,data:)(.)/, (_m, a: string, c: string) => a + (c === 'A' ? 'B' : 'A')),
      ];
      try {
        for (const d of damage) {
          YamlStore.prototype.emitEncrypted = function (this: YamlStore, b) {
            return Buffer.from(d(original.call(this, b).toString('utf8')));
          };
          await assert.rejects(encryptNew(Buffer.from(SAMPLES.yaml), 'yaml', spec(), services));
          YamlStore.prototype.emitEncrypted = original;
          const f = await open(enc);
          YamlStore.prototype.emitEncrypted = function (this: YamlStore, b) {
            return Buffer.from(d(original.call(this, b).toString('utf8')));
          };
          await assert.rejects(setValue(f, ['name'], 'bob'));
          await assert.rejects(rotate(f, services));
          YamlStore.prototype.emitEncrypted = original;
          closeFile(f);
        }
      } finally {
        YamlStore.prototype.emitEncrypted = original;
      }
    });

    it('a tampered value', async () => {
      const t = enc.replace(/(password: ENC\[AES256_GCM,data:)(.)/, (_m, a: string, c: string) => a + (c === 'A' ? 'B' : 'A'));
      await rejects(open(t), ErrorCode.DecryptFailed, /^value at password failed authentication \(tampered, or moved from another key\)$/, [SECRET]);
    });

    it('a value moved to another key', async () => {
      const pw = line(enc, 'password')[2]!;
      const name = line(enc, 'name')[2]!;
      const t = enc.replace(`password: ${pw}`, `password: ${name}`).replace(`name: ${name}`, `name: ${pw}`);
      await rejects(open(t), ErrorCode.DecryptFailed, /^value at name failed authentication/, [SECRET, 'alice']);
    });

    it('a deleted key', async () => {
      await rejects(open(enc.replace(/^password: .*\n/m, '')), ErrorCode.DecryptFailed, /^mac mismatch/, [SECRET]);
    });

    it('an injected key', async () => {
      await rejects(open(enc.replace('name:', 'evil: injected\nname:')), ErrorCode.Malformed, /^value at evil is not encrypted$/, ['injected']);
      await rejects(open(enc.replace('name:', 'evil_unencrypted: injected\nname:')), ErrorCode.DecryptFailed, /^mac mismatch/, ['injected']);
    });

    it('a removed MAC; --ignore-mac reads it, says so, and will not re-sign it by default', async () => {
      const t = enc.replace(/^ {4}mac: .*\n/m, '');
      await rejects(open(t), ErrorCode.DecryptFailed, /^the file has no mac$/);
      const f = await open(t, { ignoreMac: true });
      assert.equal(f.macVerified, false);
      assert.equal(f.macProblem, 'missing');
      await rejects(saveText(f, renderPlain(f)), ErrorCode.IllegalState, /mac was not verified/);
      const r = await saveText(f, renderPlain(f).toString('utf8').replace('alice', 'bob'), { allowUnverified: true });
      assert.equal((await openFile(r.bytes, 'yaml', services)).macVerified, true);
    });

    it('a wrong MAC', async () => {
      const other = (await sopsEncrypt('yaml', 'x: y\n')).toString('utf8');
      const t = enc.replace(/^ {4}mac: .*$/m, /^ {4}mac: .*$/m.exec(other)![0]);
      await rejects(open(t), ErrorCode.DecryptFailed, /^the mac failed authentication/);
      await rejects(open(enc.replace(/lastmodified: "(\d{4})/, (_m, y: string) => `lastmodified: "${Number(y) - 1}`)), ErrorCode.DecryptFailed, /^the mac failed authentication/);
    });

    it('a wrong data key (the enc of another file)', async () => {
      const other = (await sopsEncrypt('yaml', 'x: y\n')).toString('utf8');
      const encBlock = (t: string) => /- enc: \|\n(?: {12}.*\n)+/.exec(t)![0];
      await rejects(open(enc.replace(encBlock(enc), encBlock(other))), ErrorCode.DecryptFailed, /^the data key does not open this file$/);
    });

    it('malformed ENC values and metadata', async () => {
      await rejects(open(enc.replace(/(password: ENC\[AES256_GCM,data:)[^,]*/, '$1!!')), ErrorCode.Malformed, /^malformed encrypted value at password: /);
      await rejects(open(enc.replace(/type:str\]/, 'type:nope]')), ErrorCode.Malformed, /unknown type/);
      await rejects(open('a: b\n'), ErrorCode.Malformed, /sops metadata not found/);
      await rejects(open(enc.replace(/lastmodified: .*/, 'lastmodified: never')), ErrorCode.Malformed, /lastmodified/);
    });

    it('mac_only_encrypted: a clear value may change (sops semantics), an encrypted one may not move', async () => {
      const t = (await sopsEncrypt('yaml', 'a: x\nb_unencrypted: clear\n', ['--mac-only-encrypted'])).toString('utf8');
      const f = await open(t.replace('b_unencrypted: clear', 'b_unencrypted: changed'));
      assert.equal(f.macVerified, true);
      assert.match(renderPlain(f).toString('utf8'), /changed/);
      await rejects(open(t.replace(/^a: .*\n/m, '')), ErrorCode.DecryptFailed, /^mac mismatch/);
    });

    it('no key of the keystore', async () => {
      await rejects(openFile(Buffer.from(enc), 'yaml', servicesFor(await generateX25519Identity())), ErrorCode.DecryptFailed, /no key of this keystore opens the data key/);
    });

    it('a huge input', async () => {
      await rejects(saveText(await open(enc), Buffer.alloc(65 * 1024 * 1024)), ErrorCode.InvalidInput, /larger than 64 MiB/);
    });
  });

  it('keeps opened files private: no data key on the object', async () => {
    const f: OpenedFile = await openFile(await encryptNew(Buffer.from('a: b\n'), 'yaml', spec(), services), 'yaml', services);
    assert.ok(!JSON.stringify(Object.entries(f)).includes('dataKey'));
  });
});
