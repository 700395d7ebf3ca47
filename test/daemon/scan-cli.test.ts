// `keyward scan` and `keyward hook`, end to end through the built CLI (dist/cli.js), in
// temporary git repositories. The scan runs in-process: no daemon, no keys.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fsp, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CLI } from '../helpers/cli';
import { tempDir } from '../helpers/tools';
import { Fakes, sopsEnc, sopsMetaYaml } from '../fixtures/secrets/fakes';

const f = new Fakes('scan-cli.test');
const ROOT = path.resolve(__dirname, '../..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let env: NodeJS.ProcessEnv;

function kw(cwd: string, args: string[], input?: string | Buffer): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env, input, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function repo(dir: string): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.email', 'test@example.invalid');
  git(dir, 'config', 'user.name', 'Test');
  git(dir, 'config', 'commit.gpgsign', 'false');
  return dir;
}

async function write(dir: string, rel: string, data: string | Buffer): Promise<void> {
  await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  await fsp.writeFile(path.join(dir, rel), data);
}

/** Every secret in `secrets` is absent from both streams. */
function redacted(r: Run, secrets: string[]): void {
  for (const s of secrets) {
    assert.ok(!r.stdout.includes(s), 'the secret was printed on stdout');
    assert.ok(!r.stderr.includes(s), 'the secret was printed on stderr');
    assert.ok(!r.stdout.includes(s.slice(0, Math.ceil(s.length / 2))), 'half the secret was printed');
  }
}

describe('keyward scan (CLI, in-process)', function () {
  this.timeout(60000);
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    assert.ok(existsSync(CLI), 'dist/cli.js is missing: run npm run build first (npm test does)');
    ({ dir, cleanup } = await tempDir('keyward-scan-'));
    env = { ...process.env, KEYWARD_HOME: path.join(dir, 'home'), XDG_RUNTIME_DIR: path.join(dir, 'run'), GIT_CONFIG_NOSYSTEM: '1', HOME: dir };
    delete env.GIT_DIR;
    delete env.GIT_INDEX_FILE;
    await fsp.mkdir(env.XDG_RUNTIME_DIR!, { mode: 0o700 });
  });
  after(async () => {
    await cleanup();
  });

  describe('the work tree', () => {
    let r: string;
    const tok = f.githubPat();
    const aws = f.awsSecret();
    before(async () => {
      r = await repo(path.join(dir, 'ws'));
      await write(r, '.gitignore', 'build/\n*.log\n');
      await write(r, 'src/app.py', `import os\n\nGITHUB_TOKEN = "${tok}"\n`);
      await write(r, 'build/out.js', `const t = "${f.githubPat()}";\n`);
      await write(r, 'debug.log', `token=${f.githubPat()}\n`);
      await write(r, 'notes/untracked.env', `AWS_SECRET_ACCESS_KEY=${aws}\n`);
      await write(r, 'src/clean.ts', 'export const x = 1;\n');
      git(r, 'add', 'src/app.py', '.gitignore', 'src/clean.ts');
    });

    it('reports tracked and untracked files, skips what .gitignore excludes, exits 1', () => {
      const res = kw(r, ['scan']);
      assert.equal(res.code, 1, res.stderr);
      const lines = res.stdout.trim().split('\n');
      assert.deepEqual(
        lines.map((l) => l.split(':').slice(0, 3).join(':')),
        ['notes/untracked.env:1:23', 'src/app.py:3:17'],
      );
      assert.match(lines[1]!, /critical github-pat: GitHub personal access token \(classic\): ghp_\*{8}$/);
      assert.match(res.stderr, /keyward: 2 findings in 2 files/);
      redacted(res, [tok, aws]);
    });

    it('exits 0 on a clean path, and scans explicit files even when ignored', () => {
      assert.equal(kw(r, ['scan', 'src/clean.ts']).code, 0);
      const res = kw(r, ['scan', 'build/out.js']);
      assert.equal(res.code, 1);
      assert.match(res.stdout, /^build\/out\.js:1:12: /);
    });

    it('skips paths listed in .keywardignore', async () => {
      await write(r, '.keywardignore', '# accepted\nnotes/\n');
      const res = kw(r, ['scan']);
      assert.equal(res.code, 1);
      assert.ok(!res.stdout.includes('notes/'));
      await fsp.rm(path.join(r, '.keywardignore'));
    });

    it('exits 2 on errors: unknown format, a missing path, --staged outside a repository', async () => {
      const bad = kw(r, ['scan', '--format', 'xml']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^keyward: unknown report format: xml \(use text, json or sarif\)\n$/);
      assert.equal(kw(r, ['scan', 'nope/missing.py']).code, 2);
      assert.equal(kw(r, ['scan', '--bogus-option']).code, 2);
      const outside = path.join(dir, 'not-a-repo');
      await fsp.mkdir(outside, { recursive: true });
      const st = kw(outside, ['scan', '--staged']);
      assert.equal(st.code, 2);
      assert.match(st.stderr, /needs a git repository/);
    });

    it('outside a repository, walks the tree but not Keyward\'s temps (a half-written file, an exec\'s or an edit\'s RAM directory)', async () => {
      const plain = path.join(dir, 'plain-tree');
      await write(plain, 'app.env', `AWS_SECRET_ACCESS_KEY=${aws}\n`);
      await write(plain, '.app.env.0123456789ab.keyward-tmp', `AWS_SECRET_ACCESS_KEY=${aws}\n`);
      await write(plain, 'keyward-exec-123-456-abcdef/APP/app.env', `AWS_SECRET_ACCESS_KEY=${aws}\n`);
      await write(plain, 'keyward-edit-123-456-abcdef/app.env', `AWS_SECRET_ACCESS_KEY=${aws}\n`);
      const res = kw(plain, ['scan']);
      assert.equal(res.code, 1, res.stderr);
      assert.deepEqual(res.stdout.trim().split('\n').map((l) => l.split(':')[0]), ['app.env']);
    });

    it('prints JSON (--format json or --json) without the secret', () => {
      const res = kw(r, ['--json', 'scan', 'src/app.py']);
      assert.equal(res.code, 1);
      const doc = JSON.parse(res.stdout) as { findings: { ruleId: string; line: number; column: number; redacted: string; fingerprint: string }[]; stats: { files: number } };
      assert.equal(doc.findings.length, 1);
      assert.deepEqual([doc.findings[0]!.ruleId, doc.findings[0]!.line, doc.findings[0]!.column], ['github-pat', 3, 17]);
      assert.equal(doc.findings[0]!.redacted, 'ghp_********');
      assert.match(doc.findings[0]!.fingerprint, /^[0-9a-f]{32}$/);
      assert.equal(doc.stats.files, 1);
      redacted(res, [tok]);
      const again = JSON.parse(kw(r, ['scan', '-f', 'json', 'src/app.py']).stdout) as typeof doc;
      assert.deepEqual(again.findings, doc.findings);
    });

    it('prints SARIF 2.1.0 that validates against the schema, without the secret', () => {
      const res = kw(r, ['scan', '--format', 'sarif']);
      assert.equal(res.code, 1);
      redacted(res, [tok, aws]);
      const log = JSON.parse(res.stdout) as { version: string; runs: { tool: { driver: { rules: { id: string }[] } }; results: { ruleId: string; ruleIndex: number; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number; startColumn: number } } }[] }[] }[] };
      const validate = sarifValidator();
      const ok = validate(log);
      assert.ok(ok, JSON.stringify(validate.errors?.slice(0, 5)));
      assert.equal(log.version, '2.1.0');
      const run = log.runs[0]!;
      const res0 = run.results.find((x) => x.ruleId === 'github-pat')!;
      assert.equal(run.tool.driver.rules[res0.ruleIndex]!.id, 'github-pat');
      assert.deepEqual(res0.locations[0]!.physicalLocation.artifactLocation.uri, 'src/app.py');
      assert.deepEqual([res0.locations[0]!.physicalLocation.region.startLine, res0.locations[0]!.physicalLocation.region.startColumn], [3, 17]);
    });

    it('writes the report to a file with -o', async () => {
      const out = path.join(dir, 'report.sarif');
      const res = kw(r, ['scan', '-f', 'sarif', '-o', out, 'src/app.py']);
      assert.equal(res.code, 1);
      assert.equal(res.stdout, '');
      assert.ok(sarifValidator()(JSON.parse(await fsp.readFile(out, 'utf8'))));
    });

    it('lists its rules', () => {
      const res = kw(r, ['scan', '--list-rules']);
      assert.equal(res.code, 0);
      for (const id of ['aws-access-key-id', 'age-secret-key', 'age-pq-secret-key', 'generic-secret', 'unencrypted-protected-file', 'sops-mac-missing']) assert.match(res.stdout, new RegExp(`^${id}\\t`, 'm'));
    });

    it('never starts the daemon', () => {
      kw(r, ['scan']);
      assert.ok(!existsSync(path.join(env.XDG_RUNTIME_DIR!, 'keyward')) || readdirEmpty(path.join(env.XDG_RUNTIME_DIR!, 'keyward')));
    });
  });

  describe('outside a git repository', () => {
    it('still respects .gitignore files', async () => {
      const d = path.join(dir, 'plain');
      await write(d, '.gitignore', 'secret-dump/\n');
      await write(d, 'secret-dump/a.env', `TOKEN=${f.githubPat()}\n`);
      await write(d, 'conf/b.env', `TOKEN=${f.githubPat()}\n`);
      const res = kw(d, ['scan']);
      assert.equal(res.code, 1);
      assert.match(res.stdout, /^conf\/b\.env:1:7: /);
      assert.ok(!res.stdout.includes('secret-dump'));
    });
  });

  describe('odd content', () => {
    let d: string;
    before(async () => {
      d = path.join(dir, 'odd');
      await fsp.mkdir(d, { recursive: true });
    });

    it('skips binary files, scans invalid UTF-8, and handles a 10 MB single-line file', async () => {
      const tok = f.githubPat();
      await write(d, 'blob.bin.dat', Buffer.concat([Buffer.from([0, 1, 2, 0]), Buffer.from(`token="${tok}"`)]));
      await write(d, 'latin1.txt', Buffer.concat([Buffer.from([0xe9, 0xff, 0xc3, 0x28, 0x0a]), Buffer.from(`api_token = "${f.githubPat()}"\n`)]));
      await write(d, 'min.js', Buffer.concat([Buffer.alloc(10 * 1024 * 1024, 'var a=1;'), Buffer.from(`var t="${f.githubPat()}";`)]));
      const res = kw(d, ['scan', '--no-baseline']);
      assert.equal(res.code, 1, res.stderr);
      const where = res.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(':').slice(0, 2).join(':'));
      assert.deepEqual(where, ['latin1.txt:2', 'min.js:1']);
      assert.match(res.stderr, /3 files scanned|2 files scanned/);
    });

    it('skips files over --max-file-size', () => {
      const res = kw(d, ['scan', '--max-file-size', '1']);
      assert.deepEqual(
        res.stdout
          .trim()
          .split('\n')
          .map((l) => l.split(':')[0]),
        ['latin1.txt'],
      );
    });
  });

  describe('standard input', () => {
    it('scans -, names it (stdin) or --stdin-path, exits 1/0', () => {
      const tok = f.slackBot();
      const res = kw(dir, ['scan', '-'], `hello\nSLACK_BOT_TOKEN=${tok}\n`);
      assert.equal(res.code, 1);
      assert.match(res.stdout, /^\(stdin\):2:17: critical slack-token: /);
      redacted(res, [tok]);
      assert.equal(kw(dir, ['scan', '-'], 'nothing to see\n').code, 0);
      // As code, an unquoted value is not a literal; as config (.env) it is.
      const bare = `api_token = ${f.alnum(30)}\n`;
      assert.equal(kw(dir, ['scan', '-', '--stdin-path', 'app.py'], bare).code, 0);
      assert.equal(kw(dir, ['scan', '-', '--stdin-path', 'app.env'], bare).code, 1);
    });
  });

  describe('--staged', () => {
    let r: string;
    beforeEach(async () => {
      r = await repo(path.join(dir, `staged-${Math.random().toString(36).slice(2)}`));
      await write(r, 'README.md', '# demo\n');
      git(r, 'add', '.');
      git(r, 'commit', '-q', '-m', 'init');
    });

    it('reads the index, not the work tree: a staged secret removed from the file is still found', async () => {
      const tok = f.githubPat();
      await write(r, 'cfg.py', `TOKEN = "${tok}"\n`);
      git(r, 'add', 'cfg.py');
      await write(r, 'cfg.py', 'TOKEN = os.environ["TOKEN"]\n');
      const res = kw(r, ['scan', '--staged']);
      assert.equal(res.code, 1);
      assert.match(res.stdout, /^cfg\.py:1:10: critical github-pat/);
      redacted(res, [tok]);
    });

    it('a clean staged file is clean even when the work tree holds a secret', async () => {
      await write(r, 'cfg.py', 'TOKEN = os.environ["TOKEN"]\n');
      git(r, 'add', 'cfg.py');
      await write(r, 'cfg.py', `TOKEN = "${f.githubPat()}"\n`);
      await write(r, 'untracked.env', `TOKEN=${f.githubPat()}\n`);
      const res = kw(r, ['scan', '--staged']);
      assert.equal(res.code, 0, res.stdout);
      assert.match(res.stderr, /nothing refused \(1 staged file in \d+ ms: 1 scanned for secrets, all checked against the encryption rules\)/);
    });

    it('a broken index fails the scan with exit 2 and the reason, at once (git cat-file, started beside git diff, is not left waiting)', async () => {
      await write(r, 'a.py', 'x = 1\n');
      git(r, 'add', 'a.py');
      await fsp.writeFile(path.join(r, '.git', 'index'), 'garbage');
      const res = kw(r, ['scan', '--staged']);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /^keyward: cannot list staged files: .*index/m);
    });

    it('exits 0 with nothing staged', () => {
      assert.equal(kw(r, ['scan', '--staged']).code, 0);
    });

    it('works from a subdirectory and in the first commit of a repository', async () => {
      const fresh = await repo(path.join(dir, `fresh-${Math.random().toString(36).slice(2)}`));
      await write(fresh, 'sub/dir/x.env', `STRIPE=${f.stripeLive()}\n`);
      git(fresh, 'add', '.');
      const res = kw(path.join(fresh, 'sub'), ['scan', '--staged']);
      assert.equal(res.code, 1);
      assert.match(res.stdout, /^sub\/dir\/x\.env:1:8: critical stripe-secret-key/);
    });

    it('refuses a plaintext file matching a protected glob (.keyward.yaml), accepts its .age file', async () => {
      await write(r, '.keyward.yaml', 'version: 1\nprotect:\n  - glob: "*.safetensors"\n  - glob: "checkpoints/**"\n');
      await write(r, 'model.safetensors', Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a":1}'), Buffer.alloc(64)]));
      await write(r, 'checkpoints/step-100.bin', Buffer.alloc(32, 7));
      await write(r, 'ok.safetensors.age', 'age-encryption.org/v1\n-> X25519 x\ny\n--- z\n');
      git(r, 'add', '.');
      const res = kw(r, ['scan', '--staged']);
      assert.equal(res.code, 1);
      const lines = res.stdout.trim().split('\n');
      assert.equal(lines.length, 2, res.stdout);
      assert.match(lines[0]!, /^checkpoints\/step-100\.bin: critical unencrypted-protected-file: .*"checkpoints\/\*\*"/);
      assert.match(lines[1]!, /^model\.safetensors: critical unencrypted-protected-file: .*"\*\.safetensors" but it is not encrypted/);
      assert.equal(kw(r, ['scan', '--staged', '--no-policy']).code, 0);
    });

    it('applies the default protected globs without .keyward.yaml, also to large files', async () => {
      await write(r, 'weights.gguf', Buffer.alloc(3 * 1024 * 1024, 1));
      git(r, 'add', '.');
      const res = kw(r, ['scan', '--staged', '--max-file-size', '1']);
      assert.equal(res.code, 1);
      assert.match(res.stdout, /^weights\.gguf: critical unencrypted-protected-file/);
    });

    it('refuses a file a .sops.yaml path_regex governs unless it is a sound sops file', async () => {
      await write(r, '.sops.yaml', 'creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: age1qqqq\n');
      await write(r, 'secrets/plain.yaml', 'db:\n  password: hunter2hunter2\n');
      await write(r, 'secrets/good.yaml', `db:\n    password: ${sopsEnc(f)}\n${sopsMetaYaml(f)}\n`);
      await write(r, 'secrets/nomac.yaml', `db:\n    password: ${sopsEnc(f)}\n${sopsMetaYaml(f, { mac: false })}\n`);
      await write(r, 'other/plain.yaml', 'a: b\n');
      git(r, 'add', '.');
      const res = kw(r, ['scan', '--staged']);
      assert.equal(res.code, 1);
      const policy = res.stdout
        .trim()
        .split('\n')
        .filter((l) => / sops-/.test(l));
      assert.deepEqual(
        policy.map((l) => l.split(': ').slice(0, 2).join(': ')),
        ['secrets/nomac.yaml: high sops-mac-missing', 'secrets/plain.yaml: critical sops-file-not-encrypted'],
      );
      // Encrypted values are not secrets; the plaintext password is one.
      assert.ok(!/secrets\/(good|nomac)\.yaml:\d/.test(res.stdout), res.stdout);
      assert.match(res.stdout, /^secrets\/plain\.yaml:2:13: medium generic-secret/m);
      assert.ok(!res.stdout.includes('hunter2'));
    });

    it('reads no rules from a .sops.yml, as sops (which reads only .sops.yaml): says so, and judges the file as any other', async () => {
      await write(r, '.sops.yml', 'creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: age1qqqq\n');
      await write(r, 'secrets/plain.yaml', 'db:\n  host: localhost\n');
      git(r, 'add', '.');
      const res = kw(r, ['scan', '--staged']);
      assert.equal(res.code, 0, res.stdout);
      assert.match(res.stderr, /warning: sops does not read \.sops\.yml \(its configuration file must be called \.sops\.yaml\), so its rules are not checked: rename it/);
      git(r, 'mv', '.sops.yml', '.sops.yaml');
      const renamed = kw(r, ['scan', '--staged']);
      assert.equal(renamed.code, 1);
      assert.match(renamed.stdout, /^secrets\/plain\.yaml: critical sops-file-not-encrypted/m);
      assert.ok(!/warning/.test(renamed.stderr), renamed.stderr);
    });

    it('--update-baseline accepts findings by fingerprint; moving the line keeps them accepted', async () => {
      const tok = f.githubPat();
      await write(r, 'tests/conftest.py', `FAKE = 1\nTOKEN = "${tok}"\n`);
      git(r, 'add', '.');
      assert.equal(kw(r, ['scan', '--staged']).code, 1);
      const up = kw(r, ['scan', '--staged', '--update-baseline']);
      assert.equal(up.code, 0);
      assert.match(up.stderr, /1 finding\(s\) added to \.keyward-baseline\.json/);
      const base = await fsp.readFile(path.join(r, '.keyward-baseline.json'), 'utf8');
      assert.ok(!base.includes(tok) && !base.includes(tok.slice(4, 14)));
      const accepted = kw(r, ['scan', '--staged']);
      assert.equal(accepted.code, 0);
      assert.match(accepted.stderr, /1 accepted by the baseline/);
      await write(r, 'tests/conftest.py', `import os\n\n\nFAKE = 1\n\nTOKEN = "${tok}"\n`);
      git(r, 'add', '.');
      assert.equal(kw(r, ['scan', '--staged']).code, 0);
      await write(r, 'tests/conftest.py', `TOKEN = "${f.githubPat()}"\n`);
      git(r, 'add', '.');
      assert.equal(kw(r, ['scan', '--staged']).code, 1);
      assert.equal(kw(r, ['scan', '--staged', '--no-baseline', '--no-policy']).code, 1);
      assert.equal(kw(r, ['scan', '--staged', '--baseline', 'missing.json']).code, 2);
    });
  });

  describe('--since', () => {
    it('scans the lines added by commits after REV, with their commit and line', async () => {
      const r = await repo(path.join(dir, 'history'));
      const old = f.githubPat();
      await write(r, 'a.py', `OLD = "${old}"\n`);
      git(r, 'add', '.');
      git(r, 'commit', '-q', '-m', 'old secret');
      const base = git(r, 'rev-parse', 'HEAD').trim();
      const tok = f.githubPat();
      await write(r, 'b.py', `import os\n\n\nTOKEN = "${tok}"\n`);
      git(r, 'add', '.');
      git(r, 'commit', '-q', '-m', 'add token');
      const added = git(r, 'rev-parse', 'HEAD').trim();
      await write(r, 'b.py', 'import os\n\n\nTOKEN = os.environ["TOKEN"]\n');
      await write(r, 'c.env', `DB_PASSWORD=${f.password(18)}\n`);
      git(r, 'add', '.');
      git(r, 'commit', '-q', '-m', 'remove it');
      const res = kw(r, ['scan', '--since', base]);
      assert.equal(res.code, 1, res.stderr);
      const doc = JSON.parse(kw(r, ['scan', '--since', base, '-f', 'json']).stdout) as { findings: { ruleId: string; path: string; line: number; commit: string }[] };
      const gh = doc.findings.find((x) => x.ruleId === 'github-pat')!;
      assert.deepEqual([gh.path, gh.line, gh.commit], ['b.py', 4, added]);
      assert.ok(doc.findings.some((x) => x.path === 'c.env' && x.ruleId === 'generic-secret'));
      assert.ok(!doc.findings.some((x) => x.path === 'a.py'));
      assert.match(res.stdout, new RegExp(`^${added.slice(0, 12)}:b\\.py:4:10: `, 'm'));
      redacted(res, [tok, old]);
      assert.equal(kw(r, ['scan', '--since', 'HEAD']).code, 0);
      assert.equal(kw(r, ['scan', '--since', 'no-such-rev']).code, 2);
    });
  });

  describe('keyward hook', () => {
    let r: string;
    beforeEach(async () => {
      r = await repo(path.join(dir, `hook-${Math.random().toString(36).slice(2)}`));
      await write(r, 'README.md', '# demo\n');
      git(r, 'add', '.');
      git(r, 'commit', '-q', '-m', 'init');
    });

    it('installs an executable pre-commit hook, idempotently, and uninstalls it', async () => {
      const hook = path.join(r, '.git', 'hooks', 'pre-commit');
      const a = kw(r, ['hook', 'install']);
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stdout, /pre-commit hook installed: .*\.git\/hooks\/pre-commit/);
      assert.equal((await fsp.stat(hook)).mode & 0o111, 0o111);
      const first = await fsp.readFile(hook, 'utf8');
      assert.match(kw(r, ['hook', 'install']).stdout, /already installed/);
      assert.equal(await fsp.readFile(hook, 'utf8'), first);
      assert.match(kw(r, ['hook', 'uninstall']).stdout, /pre-commit hook removed/);
      assert.ok(!existsSync(hook));
      assert.match(kw(r, ['hook', 'uninstall']).stdout, /no keyward pre-commit hook/);
    });

    it('refuses a commit that adds a secret and lets a clean one through', async () => {
      kw(r, ['hook', 'install']);
      const tok = f.githubPat();
      await write(r, 'leak.py', `TOKEN = "${tok}"\n`);
      git(r, 'add', 'leak.py');
      const c = spawnSync('git', ['commit', '-q', '-m', 'leak'], { cwd: r, env, encoding: 'utf8' });
      assert.notEqual(c.status, 0);
      assert.match(c.stdout + c.stderr, /github-pat/);
      assert.ok(!(c.stdout + c.stderr).includes(tok));
      await write(r, 'leak.py', 'TOKEN = os.environ["TOKEN"]\n');
      git(r, 'add', 'leak.py');
      git(r, 'commit', '-q', '-m', 'clean');
    });

    it('chains an existing hook (it runs first) and puts it back on uninstall', async () => {
      const hook = path.join(r, '.git', 'hooks', 'pre-commit');
      const mine = '#!/bin/sh\necho ran >> "$(git rev-parse --git-dir)/previous-ran"\nexit 0\n';
      await write(r, '.git/hooks/pre-commit', mine);
      await fsp.chmod(hook, 0o755);
      const res = kw(r, ['hook', 'install']);
      assert.match(res.stdout, /runs .*pre-commit\.keyward-previous first/);
      assert.equal(await fsp.readFile(hook + '.keyward-previous', 'utf8'), mine);
      kw(r, ['hook', 'install']); // idempotent: does not chain itself
      assert.equal(await fsp.readFile(hook + '.keyward-previous', 'utf8'), mine);
      await write(r, 'x.txt', 'hello\n');
      git(r, 'add', 'x.txt');
      git(r, 'commit', '-q', '-m', 'x');
      assert.equal(readFileSync(path.join(r, '.git', 'previous-ran'), 'utf8'), 'ran\n');
      // A failing previous hook stops the commit before the scan.
      await fsp.writeFile(hook + '.keyward-previous', '#!/bin/sh\nexit 3\n');
      await write(r, 'y.txt', 'hello\n');
      git(r, 'add', 'y.txt');
      assert.notEqual(spawnSync('git', ['commit', '-q', '-m', 'y'], { cwd: r, env }).status, 0);
      await fsp.writeFile(hook + '.keyward-previous', mine);
      kw(r, ['hook', 'uninstall']);
      assert.equal(await fsp.readFile(hook, 'utf8'), mine);
      assert.ok(!existsSync(hook + '.keyward-previous'));
    });

    it('installs where core.hooksPath points', async () => {
      git(r, 'config', 'core.hooksPath', '.githooks');
      const res = kw(path.join(r), ['hook', 'install']);
      assert.equal(res.code, 0);
      assert.ok(existsSync(path.join(r, '.githooks', 'pre-commit')));
      assert.ok(!existsSync(path.join(r, '.git', 'hooks', 'pre-commit')));
      await write(r, 'leak.env', `TOKEN=${f.githubPat()}\n`);
      git(r, 'add', 'leak.env');
      assert.notEqual(spawnSync('git', ['commit', '-q', '-m', 'leak'], { cwd: r, env }).status, 0);
    });

    it('leaves husky-managed hooks alone and says what to add instead', () => {
      git(r, 'config', 'core.hooksPath', '.husky/_');
      const res = kw(r, ['hook', 'install']);
      assert.equal(res.code, 4);
      assert.match(res.stderr, /husky.*add the line "keyward scan --staged" to \.husky\/pre-commit/);
    });
  });

  describe('.pre-commit-hooks.yaml (pre-commit framework)', () => {
    it('declares a hook that scans the staged changes', async () => {
      const hooks = parseYaml(await fsp.readFile(path.join(ROOT, '.pre-commit-hooks.yaml'), 'utf8')) as { id: string; entry: string; pass_filenames: boolean; language: string }[];
      const h = hooks.find((x) => x.id === 'keyward-scan')!;
      assert.match(h.entry, /keyward scan --staged$/);
      assert.equal(h.pass_filenames, false);
      assert.ok(hooks.every((x) => ['node', 'system'].includes(x.language)));
    });
  });
});

function readdirEmpty(d: string): boolean {
  try {
    return readdirSync(d).length === 0;
  } catch {
    return true;
  }
}

interface Validator {
  (data: unknown): boolean;
  errors?: unknown[] | null;
}

/** The SARIF 2.1.0 schema (vendored from a registry package, see its README) with ajv's draft-04 support. */
function sarifValidator(): Validator {
  const req = createRequire(__filename);
  const Ajv = req('ajv') as new (o: object) => { addMetaSchema(s: object): void; compile(s: object): Validator };
  const ajv = new Ajv({ schemaId: 'id', meta: false, validateSchema: false, allErrors: true, unknownFormats: 'ignore' });
  ajv.addMetaSchema(req('ajv/lib/refs/json-schema-draft-04.json') as object);
  const schema = JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/secrets/sarif/sarif-2.1.0-rtm.5.json'), 'utf8')) as object;
  return ajv.compile(schema);
}
