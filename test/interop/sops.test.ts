// Keyward and the real sops 3.13 on the same files, both ways: every format, every option,
// edit/updatekeys/rotate across tools, key groups with a threshold, the fixtures made by sops,
// and the must-fail cases (each leaves the file on disk as it was).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ExitCode } from '../../daemon/protocol';
import { CliSandbox } from '../helpers/cli';
import { requireTool, requireVersion } from '../helpers/tools';

const FIXTURES = path.resolve(__dirname, '../fixtures/sops');
const FIXTURE_RECIPIENT = 'age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr';

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, input: opts.input, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The parts of an encrypted file that differ from run to run: ciphertexts, MAC, time. */
function mask(text: string): string {
  return text
    .replace(/ENC\[AES256_GCM,[^\]]*\]/g, 'ENC[…]')
    .replace(/-----BEGIN AGE ENCRYPTED FILE-----[\s\S]*?-----END AGE ENCRYPTED FILE-----/g, 'AGE[…]')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, 'TIME');
}

const SAMPLES: Record<string, { name: string; text: string }> = {
  yaml: {
    name: 'app.yaml',
    text: [
      '# settings for the app',
      'database:',
      '    user: admin',
      '    password: canary-yaml-7f3a # the real one',
      '    port: 5432',
      '    ratio: 0.25',
      '    enabled: true',
      '    replicas: []',
      'hosts:',
      '    - a.example',
      '    - b.example',
      'api_unencrypted: visible',
      'token_enc: hidden',
      'multi: |',
      '    line one',
      '    line two',
      'unicode: "héllo ✓"',
      '',
    ].join('\n'),
  },
  json: {
    name: 'app.json',
    text: JSON.stringify(
      { database: { user: 'admin', password: 'canary-json-7f3a', port: 5432, ratio: 0.25, whole: 2.0, enabled: false, none: null }, list: [1, 'two', 3.5, { k: 'v' }], api_unencrypted: 'visible', token_enc: 'hidden' },
      null,
      4,
    ) + '\n',
  },
  dotenv: { name: 'app.env', text: 'USER=admin\nPASSWORD=canary-env-7f3a\n# a comment\nEMPTY=\nAPI_unencrypted=visible\nTOKEN_enc=hidden\n' },
  ini: { name: 'app.ini', text: '[database]\nuser = admin\npassword = canary-ini-7f3a\n\n[api]\nkey_unencrypted = visible\ntoken_enc = hidden\n' },
  binary: { name: 'app.bin', text: 'line one canary-bin-7f3a\nline two\n' },
};

/**
 * sops -d moves an inline YAML comment (`key: value # note`) onto its own line above the key;
 * keyward keeps it where it was. For comparisons, do what sops does to keyward's output.
 */
function inlineCommentsAbove(text: string): string {
  return text.replace(/^( *)(\S.*?) (#.*)$/gm, (_m, indent: string, body: string, comment: string) => `${indent}${comment}\n${indent}${body}`);
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('sops interop: keyward and the pinned sops (3.13.3) on the same files', function () {
  this.timeout(180_000);
  let sb: CliSandbox;
  let keyFile: string;
  const env = () => ({ SOPS_AGE_KEY_FILE: keyFile });
  const sops = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => run('sops', args, { cwd: opts.cwd ?? sb.dir, env: { ...env(), ...opts.env } });

  before(async function () {
    requireVersion(this, 'sops', 'SOPS', ['--version', '--disable-version-check']);
    requireTool(this, 'age-keygen');
    if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('no D-Bus session: npm test runs the suites inside one');
      this.skip();
    }
    sb = await CliSandbox.create();
    keyFile = sb.path('keys.txt');
    await fsp.copyFile(path.join(FIXTURES, 'age-key.txt'), keyFile);
    sb.ok(['keys', 'import', 'fixture', keyFile]);
  });
  after(async () => {
    await sb?.dispose();
  });

  describe('fixtures made by sops', () => {
    const files = ['humphd-secret.enc.yaml', 'humphd-secret.enc.json', 'humphd-secret.enc.env', 'humphd-secret.enc.ini', 'sops-example.yaml', 'sops-example.json', 'sops-example.ini', 'sops-example.txt', 'sops-format.enc.env', 'sops-static_github.json', 'sops-comments.enc.yaml', 'sops3132-list-comments.enc.yaml'];
    for (const f of files) {
      it(`${f}: decrypts, MAC verified, exactly as sops -d prints it`, async () => {
        const file = path.join(FIXTURES, f);
        const type = f.endsWith('.txt') ? ['--input-type', 'binary'] : [];
        const ours = sb.run(['sops', 'decrypt', ...type, file]);
        assert.equal(ours.code, 0, ours.stderr);
        assert.doesNotMatch(ours.stderr, /MAC was not verified/);
        const theirs = sops(['decrypt', ...(type.length ? ['--input-type', 'binary', '--output-type', 'binary'] : []), file]);
        assert.equal(theirs.code, 0, theirs.stderr);
        assert.equal(ours.stdout, theirs.stdout);
        if (/\.(ya?ml|json)$/.test(f)) {
          const expected = JSON.parse(await fsp.readFile(path.join(FIXTURES, 'expected', `${f}.json`), 'utf8')) as unknown;
          const asJson = sops(['decrypt', '--output-type', 'json', file]);
          assert.deepEqual(JSON.parse(asJson.stdout), expected);
        }
      });
    }
  });

  for (const [format, sample] of Object.entries(SAMPLES)) {
    describe(`${format}`, () => {
      let plain: string;
      before(async () => {
        plain = sb.path(`plain-${sample.name}`);
        await fsp.writeFile(plain, sample.text);
      });

      it('keyward encrypts, sops decrypts to the same plaintext as its own file, and both files have the same layout', async () => {
        const ours = sb.path(`k-${sample.name}`);
        const theirs = sb.path(`s-${sample.name}`);
        sb.ok(['sops', 'encrypt', '--age', FIXTURE_RECIPIENT, '-o', ours, plain]);
        const se = sops(['encrypt', '--age', FIXTURE_RECIPIENT, '--output', theirs, plain]);
        assert.equal(se.code, 0, se.stderr);
        const d1 = sops(['decrypt', ours]);
        const d2 = sops(['decrypt', theirs]);
        assert.equal(d1.code, 0, d1.stderr);
        assert.equal(d1.stdout, d2.stdout);
        assert.equal(mask(await fsp.readFile(ours, 'utf8')), mask(await fsp.readFile(theirs, 'utf8')));
        assert.doesNotMatch(await fsp.readFile(ours, 'utf8'), /canary/);
      });

      it('sops encrypts, keyward decrypts exactly as sops -d does', () => {
        const theirs = sb.path(`s2-${sample.name}`);
        assert.equal(sops(['encrypt', '--age', FIXTURE_RECIPIENT, '--output', theirs, plain]).code, 0);
        const ours = sb.ok(['sops', 'decrypt', theirs]);
        const sopsPlain = sops(['decrypt', theirs]).stdout;
        assert.equal(format === 'yaml' ? inlineCommentsAbove(ours) : ours, format === 'yaml' ? inlineCommentsAbove(sopsPlain) : sopsPlain);
        if (format === 'yaml') assert.match(ours, /password: canary-yaml-7f3a # the real one/, 'the inline comment stays inline');
      });

      it('sops edits a keyward file and keyward edits a sops file', async () => {
        const editor = sb.path('edit.sh');
        await fsp.writeFile(editor, '#!/bin/sh\nsed -i -e "s/admin/root/" -e "s/line two/line 2/" "$1"\n', { mode: 0o755 });
        const ours = sb.path(`e-k-${sample.name}`);
        sb.ok(['sops', 'encrypt', '--age', FIXTURE_RECIPIENT, '-o', ours, plain]);
        const se = sops(['edit', ours], { env: { EDITOR: editor } });
        assert.equal(se.code, 0, se.stderr);
        const theirs = sb.path(`e-s-${sample.name}`);
        assert.equal(sops(['encrypt', '--age', FIXTURE_RECIPIENT, '--output', theirs, plain]).code, 0);
        sb.ok(['sops', 'edit', theirs], { env: { EDITOR: editor } });
        const a = sops(['decrypt', ours]).stdout;
        const b = sops(['decrypt', theirs]).stdout;
        assert.equal(a, b);
        assert.match(a, format === 'binary' ? /line 2/ : /root/);
        assert.equal(sb.ok(['sops', 'decrypt', ours]), a);
      });
    });
  }

  describe('options (each on YAML and JSON, from .sops.yaml, compared with what sops writes)', () => {
    // sops 3.13 takes the comment regexes and mac_only_encrypted from .sops.yaml only.
    const cases: [string, string][] = [
      ['unencrypted-suffix', 'unencrypted_suffix: _unencrypted'],
      ['encrypted-suffix', 'encrypted_suffix: _enc'],
      ['unencrypted-regex', "unencrypted_regex: '^(user|api_unencrypted)$'"],
      ['encrypted-regex', "encrypted_regex: '^(password|token_enc)$'"],
      ['unencrypted-comment-regex', 'unencrypted_comment_regex: real'],
      ['encrypted-comment-regex', 'encrypted_comment_regex: real'],
      ['mac-only-encrypted', "encrypted_regex: '^password$'\n    mac_only_encrypted: true"],
    ];
    for (const format of ['yaml', 'json']) {
      for (const [name, option] of cases) {
        if (format === 'json' && name.includes('comment')) continue;
        it(`${format} ${name}`, async () => {
          const sample = SAMPLES[format]!;
          const dir = sb.path(`opt-${format}-${name}`);
          await fsp.mkdir(dir);
          await fsp.writeFile(path.join(dir, '.sops.yaml'), `creation_rules:\n  - age: ${FIXTURE_RECIPIENT}\n    ${option}\n`);
          const ours = path.join(dir, `ours-${sample.name}`);
          const theirs = path.join(dir, `theirs-${sample.name}`);
          await fsp.writeFile(ours, sample.text);
          await fsp.writeFile(theirs, sample.text);
          sb.ok(['sops', 'encrypt', '-i', ours]);
          const se = sops(['encrypt', '-i', theirs], { cwd: dir });
          assert.equal(se.code, 0, se.stderr);
          assert.equal(mask(await fsp.readFile(ours, 'utf8')), mask(await fsp.readFile(theirs, 'utf8')));
          assert.equal(sops(['decrypt', ours], { cwd: dir }).stdout, sops(['decrypt', theirs], { cwd: dir }).stdout);
          const plain = sb.ok(['sops', 'decrypt', theirs]);
          const sopsPlain = sops(['decrypt', theirs], { cwd: dir }).stdout;
          assert.equal(format === 'yaml' ? inlineCommentsAbove(plain) : plain, format === 'yaml' ? inlineCommentsAbove(sopsPlain) : sopsPlain);
        });
      }
    }

    it('multi-document YAML', async () => {
      const plain = sb.path('multi.yaml');
      await fsp.writeFile(plain, 'a: 1\nsecret: x\n---\nb: 2\nsecret: y\n');
      const theirs = sb.path('multi-sops.yaml');
      assert.equal(sops(['encrypt', '--age', FIXTURE_RECIPIENT, '--output', theirs, plain]).code, 0);
      sb.ok(['sops', 'encrypt', '--age', FIXTURE_RECIPIENT, '-i', plain]);
      assert.equal(sops(['decrypt', plain]).stdout, sops(['decrypt', theirs]).stdout);
      assert.equal(sb.ok(['sops', 'decrypt', theirs]), sops(['decrypt', theirs]).stdout);
      assert.equal(mask(await fsp.readFile(plain, 'utf8')), mask(await fsp.readFile(theirs, 'utf8')));
    });

    it('a comment inside a list: each reads the other\'s file (sops 3.13.2 failed its own MAC there; 3.13.3 leaves comments out of it)', async () => {
      const text = 'hosts:\n    - a.example\n    # second host\n    - b.example\n';
      const plain = sb.path('listcomment.yaml');
      await fsp.writeFile(plain, text);
      const theirs = sb.path('listcomment-sops.yaml');
      assert.equal(sops(['encrypt', '--age', FIXTURE_RECIPIENT, '--output', theirs, plain]).code, 0);
      assert.match(await fsp.readFile(theirs, 'utf8'), /- ENC\[[^\]]*type:comment\]/, 'sops stores the comment as a list element');
      const own = sops(['decrypt', theirs]);
      assert.equal(own.code, 0, own.stderr);
      assert.equal(sb.ok(['sops', 'decrypt', theirs]), own.stdout);
      sb.ok(['sops', 'encrypt', '--age', FIXTURE_RECIPIENT, '-i', plain]);
      const d = sops(['decrypt', plain]);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(sb.ok(['sops', 'decrypt', plain]), d.stdout);
      assert.equal(d.stdout, text);
    });
  });

  describe('.sops.yaml, updatekeys and rotate across tools', () => {
    let dir: string;
    let keys: { file: string; recipient: string }[];
    before(async () => {
      dir = sb.path('tree');
      await fsp.mkdir(path.join(dir, 'prod'), { recursive: true });
      keys = [];
      for (let i = 0; i < 3; i++) {
        const file = sb.path(`k${i}.txt`);
        assert.equal(run('age-keygen', ['-o', file]).code, 0);
        keys.push({ file, recipient: run('age-keygen', ['-y', file]).stdout.trim() });
      }
    });

    it('creation rules pick recipients; updatekeys over a tree; sops updatekeys and rotate on keyward files', async () => {
      await fsp.writeFile(path.join(dir, '.sops.yaml'), `creation_rules:\n  - path_regex: prod/.*\n    age: ${FIXTURE_RECIPIENT}\n  - age: ${FIXTURE_RECIPIENT}\n`);
      for (const [f, t] of [['prod/a.yaml', 'pw: one\n'], ['prod/b.json', '{"pw": "two"}\n'], ['c.env', 'PW=three\n']] as const) {
        await fsp.writeFile(path.join(dir, f), t);
        sb.ok(['sops', 'encrypt', '-i', path.join(dir, f)]);
      }
      // A new member for prod: plan, then apply over the whole tree.
      await fsp.writeFile(path.join(dir, '.sops.yaml'), `creation_rules:\n  - path_regex: prod/.*\n    age: ${FIXTURE_RECIPIENT},${keys[0]!.recipient}\n  - age: ${FIXTURE_RECIPIENT}\n`);
      sb.ok(['trust', 'add', '--yes', dir]); // the user agrees to the recipients .sops.yaml names
      const plan = JSON.parse(sb.ok(['--json', 'sops', 'updatekeys', '--plan', dir])) as { plan: { file: string; add: string[] }[] };
      assert.deepEqual(plan.plan.filter((p) => p.add.length).map((p) => path.relative(dir, p.file)).sort(), ['prod/a.yaml', 'prod/b.json']);
      const before = await fsp.readFile(path.join(dir, 'prod/a.yaml'), 'utf8');
      sb.ok(['sops', 'updatekeys', '-y', dir]);
      const after = await fsp.readFile(path.join(dir, 'prod/a.yaml'), 'utf8');
      // The values keep their ciphertexts: only the keys changed.
      assert.equal(after.match(/ENC\[[^\]]*type:str\]/)?.[0], before.match(/ENC\[[^\]]*type:str\]/)?.[0]);
      const asNew = run('sops', ['decrypt', path.join(dir, 'prod/a.yaml')], { env: { SOPS_AGE_KEY_FILE: keys[0]!.file } });
      assert.equal(asNew.code, 0, asNew.stderr);
      assert.equal(asNew.stdout, 'pw: one\n');
      // sops' own updatekeys and rotate work on the file keyward wrote.
      await fsp.writeFile(path.join(dir, '.sops.yaml'), `creation_rules:\n  - path_regex: prod/.*\n    age: ${FIXTURE_RECIPIENT},${keys[1]!.recipient}\n  - age: ${FIXTURE_RECIPIENT}\n`);
      sb.ok(['trust', 'add', '--yes', dir]); // the user agrees to the recipients .sops.yaml names
      assert.equal(sops(['updatekeys', '-y', path.join(dir, 'prod/b.json')], { cwd: dir }).code, 0);
      assert.equal(sops(['rotate', '-i', path.join(dir, 'prod/b.json')], { cwd: dir }).code, 0);
      assert.equal(sb.ok(['sops', 'decrypt', path.join(dir, 'prod/b.json')]), sops(['decrypt', path.join(dir, 'prod/b.json')]).stdout);
      assert.equal(run('sops', ['decrypt', path.join(dir, 'prod/b.json')], { env: { SOPS_AGE_KEY_FILE: keys[0]!.file } }).code !== 0, true, 'the removed key no longer opens the rotated file');
    });

    it('keyward rotate over a tree: new data keys, same plaintext, sops still decrypts', async () => {
      const f = path.join(dir, 'prod/a.yaml');
      const before = await fsp.readFile(f, 'utf8');
      sb.ok(['sops', 'rotate', dir]);
      const after = await fsp.readFile(f, 'utf8');
      assert.notEqual(after.match(/ENC\[[^\]]*type:str\]/)?.[0], before.match(/ENC\[[^\]]*type:str\]/)?.[0]);
      assert.equal(sops(['decrypt', f]).stdout, 'pw: one\n');
    });

    it('a rotation that would remove the only key held here is refused, and the file stays as it was', async () => {
      const f = path.join(dir, 'c.env');
      const before = await fsp.readFile(f);
      const r = sb.run(['sops', 'rotate', '--rm-age', FIXTURE_RECIPIENT, '--add-age', keys[1]!.recipient, f]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /c\.env: no key of this keystore opens the data key/);
      assert.deepEqual(await fsp.readFile(f), before);
      assert.equal(sops(['decrypt', f]).stdout, 'PW=three\n');
    });

    it('key groups with a threshold of 2 of 3, both ways, each opened with only two of the keys', async () => {
      const kdir = sb.path('groups');
      await fsp.mkdir(kdir, { recursive: true });
      await fsp.writeFile(
        path.join(kdir, '.sops.yaml'),
        `creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n${keys.map((k) => `      - age:\n          - ${k.recipient}\n`).join('')}`,
      );
      await fsp.writeFile(path.join(kdir, 'k.yaml'), 'secret: shared\n');
      await fsp.writeFile(path.join(kdir, 's.yaml'), 'secret: shared\n');
      sb.ok(['trust', 'add', '--yes', kdir]); // the user agrees to the recipients .sops.yaml names
      sb.ok(['sops', 'encrypt', '-i', path.join(kdir, 'k.yaml')]);
      assert.equal(sops(['encrypt', '-i', path.join(kdir, 's.yaml')], { cwd: kdir }).code, 0);
      const two = sb.path('two-keys.txt');
      await fsp.writeFile(two, (await fsp.readFile(keys[0]!.file, 'utf8')) + (await fsp.readFile(keys[2]!.file, 'utf8')));
      const one = run('sops', ['decrypt', path.join(kdir, 'k.yaml')], { env: { SOPS_AGE_KEY_FILE: keys[1]!.file } });
      assert.notEqual(one.code, 0, 'one key of three is not enough');
      const d = run('sops', ['decrypt', path.join(kdir, 'k.yaml')], { env: { SOPS_AGE_KEY_FILE: two } });
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.stdout, 'secret: shared\n');
      // Keyward with only keys 0 and 2 in a fresh keystore.
      const other = await CliSandbox.create();
      try {
        other.ok(['keys', 'import', 'g0', keys[0]!.file]);
        assert.equal(other.run(['sops', 'decrypt', path.join(kdir, 's.yaml')]).code, ExitCode.DecryptFailed, 'one of three is not enough');
        other.ok(['keys', 'import', 'g2', keys[2]!.file]);
        assert.equal(other.ok(['sops', 'decrypt', path.join(kdir, 's.yaml')]), 'secret: shared\n');
        assert.equal(other.ok(['sops', 'decrypt', path.join(kdir, 'k.yaml')]), 'secret: shared\n');
      } finally {
        await other.dispose();
      }
    });
  });

  describe('diff-stable edits and git textconv', () => {
    it('set on a sops-written file changes only that value, the MAC and lastmodified', async () => {
      const f = sb.path('stable.yaml');
      await fsp.writeFile(f, SAMPLES.yaml!.text);
      assert.equal(sops(['encrypt', '--age', FIXTURE_RECIPIENT, '-i', f]).code, 0);
      const before = (await fsp.readFile(f, 'utf8')).split('\n');
      sb.ok(['sops', 'set', f, '["database"]["user"]', '"root"']);
      const after = (await fsp.readFile(f, 'utf8')).split('\n');
      assert.equal(after.length, before.length);
      const changed = after.map((l, i) => (l === before[i] ? null : l.trim().split(':')[0])).filter((x) => x !== null);
      // lastmodified has a resolution of one second: it may not change when both writes share one.
      assert.deepEqual(changed.filter((c) => c !== 'lastmodified').sort(), ['mac', 'user']);
      assert.match(sops(['decrypt', f]).stdout, /user: root/);
    });

    it('git diff shows decrypted changes through keyward textconv', async () => {
      const repo = sb.path('repo');
      await fsp.mkdir(repo);
      const git = (...a: string[]) => {
        const r = run('git', a, { cwd: repo, env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } });
        assert.equal(r.code, 0, r.stderr);
        return r.stdout;
      };
      git('init', '-q');
      git('config', 'diff.keyward.textconv', `${process.execPath} ${path.resolve(__dirname, '../../dist/cli.js')} textconv`);
      await fsp.writeFile(path.join(repo, '.gitattributes'), '*.yaml diff=keyward\n');
      const f = path.join(repo, 'secrets.yaml');
      await fsp.writeFile(f, 'db: one\nkeep: same\n');
      sb.ok(['sops', 'encrypt', '--age', FIXTURE_RECIPIENT, '-i', f]);
      git('add', '.');
      git('commit', '-qm', 'one');
      sb.ok(['sops', 'set', f, '["db"]', '"two"']);
      const diff = run('git', ['diff'], { cwd: repo, env: sb.env });
      assert.equal(diff.code, 0, diff.stderr);
      assert.match(diff.stdout, /^-db: one$/m);
      assert.match(diff.stdout, /^\+db: two$/m);
      assert.doesNotMatch(diff.stdout, /^[-+]keep/m);
    });
  });

  describe('must fail, and leave the file as it was', () => {
    let base: string;
    before(async () => {
      base = sb.path('mf-base.yaml');
      await fsp.writeFile(base, 'user: admin\npassword: canary-mf-7f3a\nnested:\n    key: value\n');
      sb.ok(['sops', 'encrypt', '--age', FIXTURE_RECIPIENT, '-i', base]);
    });

    const mutate = async (name: string, fn: (t: string) => string): Promise<string> => {
      const f = sb.path(`mf-${name}.yaml`);
      const t = fn(await fsp.readFile(base, 'utf8'));
      await fsp.writeFile(f, t);
      return f;
    };
    const expectFail = async (f: string, code: number, pattern: RegExp) => {
      const bytes = await fsp.readFile(f);
      const d = sb.run(['sops', 'decrypt', f]);
      assert.equal(d.code, code, d.stderr);
      assert.match(d.stderr, pattern);
      assert.doesNotMatch(d.stderr + d.stdout, /canary/);
      const s = sb.run(['sops', 'set', f, '["user"]', '"x"']);
      assert.notEqual(s.code, 0);
      const r = sb.run(['sops', 'rotate', f]);
      assert.notEqual(r.code, 0);
      assert.equal(sha(await fsp.readFile(f)), sha(bytes), 'the file on disk is untouched');
    };

    it('a tampered value', async () => {
      const f = await mutate('tamper', (t) => t.replace(/(password: ENC\[AES256_GCM,data:)(.)/, (_m, a: string, c: string) => a + (c === 'A' ? 'B' : 'A')));
      await expectFail(f, ExitCode.DecryptFailed, /password/);
    });
    it('a value moved to another key (additional data)', async () => {
      const f = await mutate('moved', (t) => {
        const pw = /password: (ENC\[[^\]]*\])/.exec(t)![1]!;
        const user = /user: (ENC\[[^\]]*\])/.exec(t)![1]!;
        return t.replace(`password: ${pw}`, `password: ${user}`).replace(`user: ${user}`, `user: ${pw}`);
      });
      await expectFail(f, ExitCode.DecryptFailed, /user|password/);
    });
    it('a deleted key (MAC)', async () => {
      const f = await mutate('deleted', (t) => t.replace(/^user: .*\n/m, ''));
      await expectFail(f, ExitCode.DecryptFailed, /MAC/i);
    });
    it('an injected plaintext key (MAC)', async () => {
      const f = await mutate('injected', (t) => t.replace(/^user:/m, 'admin_unencrypted: true\nuser:'));
      await expectFail(f, ExitCode.DecryptFailed, /MAC/i);
    });
    it('a removed MAC', async () => {
      const f = await mutate('nomac', (t) => t.replace(/^ {4}mac: .*\n/m, ''));
      await expectFail(f, ExitCode.DecryptFailed, /MAC/i);
    });
    it('a wrong MAC', async () => {
      const other = sb.path('mf-other.yaml');
      await fsp.writeFile(other, 'user: admin\npassword: other\nnested:\n    key: value\n');
      sb.ok(['sops', 'encrypt', '--age', FIXTURE_RECIPIENT, '-i', other]);
      const mac = /^ {4}mac: (.*)$/m.exec(await fsp.readFile(other, 'utf8'))![1]!;
      const f = await mutate('wrongmac', (t) => t.replace(/^( {4}mac: ).*$/m, `$1${mac}`));
      await expectFail(f, ExitCode.DecryptFailed, /MAC/i);
    });
    it('a key this keystore does not hold', async () => {
      const k = sb.path('stranger.txt');
      run('age-keygen', ['-o', k]);
      const f = sb.path('mf-stranger.yaml');
      await fsp.writeFile(f, 'password: canary-mf-7f3a\n');
      assert.equal(sops(['encrypt', '--age', run('age-keygen', ['-y', k]).stdout.trim(), '-i', f]).code, 0);
      await expectFail(f, ExitCode.DecryptFailed, /no key|identity/);
    });
    it('--ignore-mac decrypts a file with a removed MAC, with a warning', async () => {
      const f = await mutate('ignoremac', (t) => t.replace(/^user: .*\n/m, ''));
      const d = sb.run(['sops', 'decrypt', '--ignore-mac', f]);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stderr, /warning/i);
    });
    for (const [fmt, name, text] of [
      ['yaml', 'bad.yaml', 'a: [1, 2\nb: canary-mf-7f3a\n'],
      ['json', 'bad.json', '{"a": "canary-mf-7f3a",\n'],
      ['ini', 'bad.ini', '[section\npassword = canary-mf-7f3a\n'],
    ] as const) {
      it(`malformed ${fmt}: encrypt refuses, names the line, shows no value, leaves the file`, async () => {
        const f = sb.path(name);
        await fsp.writeFile(f, text);
        const r = sb.run(['sops', 'encrypt', '-i', '--age', FIXTURE_RECIPIENT, f]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /line \d+/);
        assert.doesNotMatch(r.stderr, /canary/);
        assert.equal(await fsp.readFile(f, 'utf8'), text);
      });
    }
  });
});
