// Policy checks without keys: protected globs (.keyward.yaml), .sops.yaml path_regex, and the
// structure of sops files; plus the small readers and glob matcher they use.
import { strict as assert } from 'node:assert';
import { Baseline } from '../../daemon/scan/baseline';
import { fileGlobMatcher, globLiteral, globToRegExp, pathMatcher, trustedGlobCompile } from '../../daemon/scan/glob';
import { tryCompile } from '../../daemon/scan/lazy';
import { isAgeFile, Policy } from '../../daemon/scan/encryption-checks';
import { DEFAULT_PROTECTED_GLOBS, readProtectedGlobs } from '../../daemon/scan/protected-globs';
import { checkSopsFile } from '../../daemon/scan/sops';
import { readSopsPathRegexes } from '../../daemon/scan/sops-reader';
import { compileGoRegexp } from '../../daemon/util/goregex';
import type { Finding } from '../../daemon/scan/types';
import { Fakes, sopsEnc, sopsMetaYaml } from '../fixtures/secrets/fakes';

const f = new Fakes('scan-policy.test');
const AGE_BINARY = Buffer.from('age-encryption.org/v1\n-> X25519 abc\nxyz\n--- mac\n\x00\x01binary');
const AGE_ARMORED = Buffer.from('-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCg==\n-----END AGE ENCRYPTED FILE-----\n');
const PLAIN_MODEL = Buffer.concat([Buffer.from([0x48, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"__metadata__":{}}')]);
const LFS = Buffer.from('version https://git-lfs.github.com/spec/v1\noid sha256:' + f.hex(64) + '\nsize 1234567\n');

function sopsYaml(opts: { mac?: boolean; body?: string; extra?: string[] } = {}): Buffer {
  const body = opts.body ?? `db:\n    user: ${sopsEnc(f)}\n    password: ${sopsEnc(f)}\n    port_unencrypted: 5432\nreplicas: ${sopsEnc(f, 'int', 1)}\n`;
  return Buffer.from(`${body}${sopsMetaYaml(f, opts)}\n`);
}

describe('scanner policy checks', () => {
  describe('globs (gitignore-style, as .keyward.yaml)', () => {
    const cases: [string, string, boolean][] = [
      ['*.safetensors', 'model.safetensors', true],
      ['*.safetensors', 'a/b/model.safetensors', true],
      ['*.safetensors', 'model.safetensors.age', false],
      ['models/**', 'models/x.bin', true],
      ['models/**', 'models/a/b/c.pt', true],
      ['models/**', 'src/models/x.bin', false],
      ['/*.pt', 'a.pt', true],
      ['/*.pt', 'sub/a.pt', false],
      ['data/', 'data/train.csv', true],
      ['**/secrets/*.yaml', 'deploy/secrets/db.yaml', true],
      ['**/secrets/*.yaml', 'secrets/db.yaml', true],
      ['*.{pt,pth}', 'w.pth', true],
      ['ckpt-?.bin', 'ckpt-1.bin', true],
      ['ckpt-[0-9].bin', 'ckpt-x.bin', false],
      ['.env*', '.env.production', true],
    ];
    for (const [glob, p, want] of cases) {
      it(`${glob} ${want ? 'matches' : 'does not match'} ${p}`, () => {
        assert.equal(globToRegExp(glob, compileGoRegexp).test(p), want);
        assert.equal(globToRegExp(glob, trustedGlobCompile).test(p), want, 'JavaScript reads the translation as Go does');
      });
    }
    it('knows the literal a path must hold for a glob to match it', () => {
      assert.equal(globLiteral('dist/'), 'dist');
      assert.equal(globLiteral('*.min.js'), '.min.js');
      assert.equal(globLiteral('**/test/fixtures/**'), 'test/fixtures');
      assert.equal(globLiteral('ckpt-[0-9]*.{pt,bin}'), 'ckpt-');
      assert.equal(globLiteral('*'), null);
      assert.equal(globLiteral('{a,b}/*'), null);
    });
    it('a file\'s globs for known paths: no engine when no path holds a glob\'s literal, the engine otherwise', async () => {
      const none = await fileGlobMatcher(['dist/', '*.min.js'], ['src/a.ts', 'README.md']);
      assert.equal(none('src/a.ts'), false);
      assert.throws(() => none('dist/x.js'), /not made for/);
      const some = await fileGlobMatcher(['dist/', '*.min.js'], ['src/a.ts', 'web/app.min.js']);
      assert.deepEqual(['src/a.ts', 'web/app.min.js', 'dist/x.js'].map(some), [false, true, true]);
      const wild = await fileGlobMatcher(['*'], ['src/a.ts']);
      assert.equal(wild('src/a.ts'), true);
    });
    it('ignores comments and blank lines in lists', () => {
      const m = pathMatcher(['# fixtures', '', 'test/fixtures/secrets/'], compileGoRegexp);
      assert.equal(m('test/fixtures/secrets/corpus/a.env'), true);
      assert.equal(m('src/a.env'), false);
    });
  });

  describe('.keyward.yaml reader (protected globs only)', () => {
    it('uses the defaults without a file or without protect:', () => {
      assert.deepEqual(readProtectedGlobs(null), [...DEFAULT_PROTECTED_GLOBS]);
      assert.deepEqual(readProtectedGlobs('version: 1\nrecipients: [team]\n'), [...DEFAULT_PROTECTED_GLOBS]);
    });
    it('reads protect: entries with glob:, plain globs, flow lists and plain lists', () => {
      const full = 'version: 1\nrecipients:\n  - team\nprotect:\n  - glob: "*.safetensors"\n    plaintext: remove\n  - plaintext: keep\n    glob: \'weights/**\'  # trained\n  - "*.gguf"\n  - { glob: "*.onnx", plaintext: keep }\nsettle_ms: 2000\n';
      assert.deepEqual(readProtectedGlobs(full), ['*.safetensors', 'weights/**', '*.gguf', '*.onnx']);
      assert.deepEqual(readProtectedGlobs('protect: ["*.pt", \'models/**\']\n'), ['*.pt', 'models/**']);
      assert.deepEqual(readProtectedGlobs('protect:\n- "*.ckpt"\n- data/**\n'), ['*.ckpt', 'data/**']);
      assert.deepEqual(readProtectedGlobs('- "*.h5"\n- checkpoints/\n'), ['*.h5', 'checkpoints/']);
      assert.deepEqual(readProtectedGlobs('protect: []\n'), []);
    });
  });

  describe('.sops.yaml reader', () => {
    it('reads every creation rule path_regex', () => {
      const text = "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: age1abc\n  - path_regex: '\\.enc\\.json$'\n  - age: age1catchall\nstores:\n  path_regex: notarule\n";
      assert.deepEqual(readSopsPathRegexes(text), ['secrets/.*\\.yaml$', '\\.enc\\.json$']);
    });
    it('converts Go regex flags', () => {
      assert.equal(tryCompile(compileGoRegexp, '(?i)SECRETS/.*')?.test('secrets/a.yaml'), true);
      assert.equal(tryCompile(compileGoRegexp, '\\Aprod/.*\\z')?.test('prod/x'), true);
      assert.equal(tryCompile(compileGoRegexp, '(unclosed'), null);
    });
  });

  describe('protected files', () => {
    let policy: Policy;
    before(async () => ({ policy } = await Policy.from('protect:\n  - glob: "*.safetensors"\n  - glob: "models/**"\n', [])));
    const check = (p: string, data: Buffer) => policy.check(p, data.length, data.subarray(0, 1024), data);

    it('refuses a plaintext file that matches a protected glob, naming the glob', async () => {
      const r = await check('weights/model.safetensors', PLAIN_MODEL);
      assert.equal(r?.ruleId, 'unencrypted-protected-file');
      assert.match(r.detail, /"\*\.safetensors"/);
      assert.equal((await check('models/tokenizer.json', Buffer.from('{}')))?.ruleId, 'unencrypted-protected-file');
    });
    it('accepts age files, binary or armored, under protected names', async () => {
      assert.equal(await check('models/model.safetensors.age', AGE_BINARY), null);
      assert.equal(await check('models/model.bin', AGE_ARMORED), null);
      assert.equal(isAgeFile(Buffer.from('  \n' + AGE_ARMORED.toString())), true);
    });
    it('refuses a Git LFS pointer to a plaintext model', async () => {
      const r = await check('model.safetensors', LFS);
      assert.match(r!.detail, /Git LFS pointer/);
    });
    it('refuses a .age file that is not an age file', async () => {
      assert.equal((await check('src/notes.age', Buffer.from('plain text')))?.ruleId, 'unencrypted-protected-file');
    });
    it('leaves other files, empty files and the config files alone', async () => {
      assert.equal(await check('src/train.py', Buffer.from('print(1)')), null);
      assert.equal(await check('models/empty.safetensors', Buffer.alloc(0)), null);
      assert.equal(await check('models/.gitignore', Buffer.from('*\n')), null);
      assert.equal(await check('node_modules/x/models/a.safetensors', PLAIN_MODEL), null);
    });
    it('applies the default globs when .keyward.yaml has none', async () => {
      const d = (await Policy.from(null, [])).policy;
      for (const p of ['a.pt', 'b.pth', 'c.ckpt', 'd.onnx', 'e.pkl', 'f.joblib', 'g.h5', 'h.keras', 'i.gguf', 'models/j.bin']) {
        assert.equal((await d.check(p, 10, PLAIN_MODEL, PLAIN_MODEL))?.ruleId, 'unencrypted-protected-file', p);
      }
    });
  });

  describe('sops-governed files (.sops.yaml path_regex)', () => {
    let policy: Policy;
    before(async () => {
      ({ policy } = await Policy.from(null, [
        { dir: '', text: 'creation_rules:\n  - path_regex: secrets/.*\\.(ya?ml|json|env|ini)$\n    age: age1x\n' },
        { dir: 'deploy', text: 'creation_rules:\n  - path_regex: ^prod\\.yaml$\n    age: age1y\n' },
      ]));
    });
    const check = (p: string, data: Buffer) => policy.check(p, data.length, data.subarray(0, 1024), data);

    it('accepts a well-formed sops YAML file', async () => {
      assert.equal(await check('secrets/db.yaml', sopsYaml()), null);
    });
    it('refuses a plaintext file that a path_regex governs (getsops/sops#571)', async () => {
      const r = await check('secrets/db.yaml', Buffer.from('db:\n  password: hunter2hunter2\n'));
      assert.equal(r?.ruleId, 'sops-file-not-encrypted');
      assert.match(r.detail, /path_regex/);
      assert.ok(!r.detail.includes('hunter2'));
    });
    it('refuses a sops file whose MAC is missing (getsops/sops#1832)', async () => {
      assert.equal((await check('secrets/db.yaml', sopsYaml({ mac: false })))?.ruleId, 'sops-mac-missing');
    });
    it('refuses structurally broken sops files', async () => {
      const broken = sopsYaml().toString().replace(/,iv:[^,]+,/, ',iv:,');
      assert.equal((await check('secrets/a.yaml', Buffer.from(broken)))?.ruleId, 'sops-file-malformed');
      const noKeys = sopsYaml().toString().replace(/ {4}age:\n[\s\S]*?-----END AGE ENCRYPTED FILE-----\n/, '');
      assert.equal((await check('secrets/b.yaml', Buffer.from(noKeys)))?.ruleId, 'sops-file-malformed');
      const badYaml = sopsYaml().toString() + '\n  bad: [unclosed\n';
      assert.equal((await check('secrets/c.yaml', Buffer.from(badYaml)))?.ruleId, 'sops-file-malformed');
    });
    it('refuses a plaintext value in a sops file, naming the key but not the value', async () => {
      const body = `db:\n    user: ${sopsEnc(f)}\n    password: s3cretvalue\n`;
      const r = await check('secrets/d.yaml', sopsYaml({ body }));
      assert.equal(r?.ruleId, 'sops-file-not-encrypted');
      assert.match(r.detail, /db\.password/);
      assert.ok(!r.detail.includes('s3cretvalue'));
    });
    it('follows the file\'s own encrypted_regex', async () => {
      const body = `apiVersion: v1\nkind: Secret\nstringData:\n    token: ${sopsEnc(f)}\n`;
      assert.equal(await check('secrets/k8s.yaml', sopsYaml({ body, extra: ['    encrypted_regex: ^(data|stringData)$'] })), null);
      const leaked = `apiVersion: v1\nkind: Secret\nstringData:\n    token: plain\n`;
      assert.equal((await check('secrets/k8s.yaml', sopsYaml({ body: leaked, extra: ['    encrypted_regex: ^(data|stringData)$'] })))?.ruleId, 'sops-file-not-encrypted');
    });
    it('checks JSON, dotenv and INI sops files', async () => {
      const meta = { age: [{ recipient: 'age1x', enc: '-----BEGIN AGE ENCRYPTED FILE-----\nx\n-----END AGE ENCRYPTED FILE-----\n' }], lastmodified: '2024-05-01T10:00:00Z', mac: sopsEnc(f, 'str', 64), version: '3.9.1' };
      assert.equal(await check('secrets/a.json', Buffer.from(JSON.stringify({ key: sopsEnc(f), sops: meta }))), null);
      assert.equal((await check('secrets/b.json', Buffer.from(JSON.stringify({ key: sopsEnc(f), sops: { ...meta, mac: '' } }))))?.ruleId, 'sops-mac-missing');
      const env = `API_KEY=${sopsEnc(f)}\nsops_age__list_0__map_recipient=age1x\nsops_age__list_0__map_enc=x\nsops_lastmodified=2024-05-01T10:00:00Z\nsops_mac=${sopsEnc(f, 'str', 64)}\nsops_version=3.9.1\n`;
      assert.equal(await check('secrets/app.env', Buffer.from(env)), null);
      assert.equal((await check('secrets/app.env', Buffer.from('API_KEY=plain\n')))?.ruleId, 'sops-file-not-encrypted');
      const ini = `[db]\npassword = ${sopsEnc(f)}\n[sops]\nage__list_0__map_recipient = age1x\nlastmodified = 2024-05-01T10:00:00Z\nmac = ${sopsEnc(f, 'str', 64)}\nversion = 3.9.1\n`;
      assert.equal(await check('secrets/db.ini', Buffer.from(ini)), null);
      assert.equal((await check('secrets/db.ini', Buffer.from(ini.replace(/mac = .*\n/, ''))))?.ruleId, 'sops-mac-missing');
    });
    it('lets the nearest .sops.yaml decide, relative to its directory', async () => {
      assert.equal((await check('deploy/prod.yaml', Buffer.from('a: b\n')))?.ruleId, 'sops-file-not-encrypted');
      assert.equal(await check('deploy/secrets/x.yaml', Buffer.from('a: b\n')), null); // deploy/.sops.yaml has no rule for it
      assert.equal(await check('prod.yaml', Buffer.from('a: b\n')), null);
    });
    it('lists the .sops.yaml candidates of staged paths (never .sops.yml, which sops does not read)', () => {
      assert.deepEqual(Policy.sopsConfigCandidates(['a/b/c.yaml']).sort(), ['.sops.yaml', 'a/.sops.yaml', 'a/b/.sops.yaml'].sort());
    });
    it('judges a .sops.yml that a path_regex governs as an ordinary file, as sops does', async () => {
      const { policy: p } = await Policy.from(null, [{ dir: '', text: 'creation_rules:\n  - path_regex: \\.ya?ml$\n    age: age1x\n' }]);
      assert.equal(await p.check('.sops.yaml', 10, Buffer.from('creation_rules: []\n'), Buffer.from('creation_rules: []\n')), null);
      const yml = Buffer.from('creation_rules:\n  - age: age1x\n');
      assert.equal((await p.check('.sops.yml', yml.length, yml, yml))?.ruleId, 'sops-file-not-encrypted');
    });
    it('judges files directly with checkSopsFile', async () => {
      assert.deepEqual(await checkSopsFile('x.yaml', sopsYaml()), { ok: true });
      assert.equal((await checkSopsFile('x.bin', Buffer.from('plain'))).ok, false);
    });
  });

  describe('baseline', () => {
    const finding = (fp: string, path: string, line: number): Finding => ({
      ruleId: 'github-pat',
      description: 'd',
      severity: 'critical',
      path,
      line,
      column: 1,
      endLine: line,
      endColumn: 2,
      start: 0,
      end: 1,
      redacted: 'ghp_********',
      fingerprint: fp,
    });
    it('parses, merges without duplicates and holds no secret', () => {
      const a = 'a'.repeat(32);
      const b = 'b'.repeat(32);
      const base = Baseline.parse(JSON.stringify({ version: 1, findings: [{ fingerprint: a, rule: 'x', path: 'p' }] }), 'test');
      assert.equal(base.has(a), true);
      const merged = base.merge([finding(a, 'p', 3), finding(b, 'q', 7)]);
      assert.equal(merged.size, 2);
      assert.deepEqual(
        merged.entries.map((e) => Object.keys(e).sort()),
        [['fingerprint', 'path', 'rule'], ['fingerprint', 'line', 'path', 'rule']],
      );
    });
    it('names what is wrong with a broken baseline', () => {
      assert.throws(() => Baseline.parse('{', 'b.json'), /b\.json: not valid JSON/);
      assert.throws(() => Baseline.parse('{"findings":[{"fingerprint":"zz"}]}', 'b.json'), /finding 1 has no valid fingerprint/);
    });
  });
});
