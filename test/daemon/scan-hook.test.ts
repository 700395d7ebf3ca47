// The pre-commit check of plaintext files (issue 16: a 20 MiB plaintext model went through as
// "no secrets found (0 files scanned)"), and a hook that finds Keyward after an update of the
// editor extension it was installed from. End to end: the built CLI, real git repositories,
// real `git commit` runs through the hook.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fsp, existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { extensionHome, installHook } from '../../daemon/scan/hook';
import { CLI } from '../helpers/cli';
import { tempDir } from '../helpers/tools';
import { Fakes, sopsEnc, sopsMetaYaml } from '../fixtures/secrets/fakes';

const f = new Fakes('scan-hook.test');
const ROOT = path.resolve(__dirname, '../..');
const WEIGHTS = path.join(ROOT, 'test/fixtures/secrets/weights');
const SCAN_JS = path.join(ROOT, 'dist/scan.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let env: NodeJS.ProcessEnv;

function kw(cwd: string, args: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `git commit` through the hook: its exit status and what the hook printed (git sends it to stderr). */
function commit(cwd: string, msg: string, extraEnv: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync('git', ['commit', '-q', '-m', msg], { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function write(dir: string, rel: string, data: string | Buffer): Promise<void> {
  await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  await fsp.writeFile(path.join(dir, rel), data);
}

/** A model file: a real PyTorch-layout archive head, padded to `size` bytes. */
function torchFile(size: number): Buffer {
  const head = readFileSync(path.join(WEIGHTS, 'tiny.pt'));
  return Buffer.concat([head, Buffer.alloc(Math.max(0, size - head.length), 0x5a)]);
}

describe('pre-commit check of plaintext files (CLI, real git)', function () {
  this.timeout(60000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let n = 0;

  async function repo(): Promise<string> {
    const r = path.join(dir, `r${n++}`);
    await fsp.mkdir(r, { recursive: true });
    git(r, 'init', '-q', '-b', 'main');
    git(r, 'config', 'user.email', 'test@example.invalid');
    git(r, 'config', 'user.name', 'Test');
    git(r, 'config', 'commit.gpgsign', 'false');
    await write(r, 'README.md', '# demo\n');
    git(r, 'add', '.');
    git(r, 'commit', '-q', '-m', 'init');
    return r;
  }

  before(async () => {
    assert.ok(existsSync(CLI) && existsSync(SCAN_JS), 'dist/ is missing: run npm run build first (npm test does)');
    ({ dir, cleanup } = await tempDir('keyward-hook-'));
    env = { ...process.env, KEYWARD_HOME: path.join(dir, 'home'), GIT_CONFIG_NOSYSTEM: '1', HOME: dir };
    delete env.GIT_DIR;
    delete env.GIT_INDEX_FILE;
  });
  after(async () => {
    await cleanup();
  });

  describe('what is refused', () => {
    it('a 20 MiB plaintext model with its .age beside it, though the policy protects other paths: the first line says how to fix it, and what was checked', async () => {
      const r = await repo();
      await write(r, '.keyward.yaml', 'version: 1\nprotect:\n  - glob: "models/**"\n');
      await write(r, 'checkpoints/small.pt', torchFile(20 * 1024 * 1024));
      await write(r, 'checkpoints/small.pt.age', 'age-encryption.org/v1\n-> X25519 x\ny\n--- z\n');
      git(r, 'add', '.keyward.yaml', 'checkpoints/small.pt');
      const res = kw(r, ['scan', '--staged']);
      assert.equal(res.code, 1, res.stderr);
      const first = res.stderr.split('\n')[0]!;
      assert.match(first, /^keyward: commit refused: checkpoints\/small\.pt is the plaintext of checkpoints\/small\.pt\.age: untrack it \(git rm --cached checkpoints\/small\.pt\)/);
      assert.match(first, /keyward allow checkpoints\/small\.pt --reason/);
      assert.match(res.stdout, /^checkpoints\/small\.pt: critical plaintext-beside-encrypted: .*checkpoints\/small\.pt\.age is its encrypted copy/m);
      // Never "0 files scanned" and silence: every staged file is counted, and why it was not read for secrets.
      assert.match(res.stderr, /2 staged files in \d+ ms: 1 scanned for secrets, 1 not scanned for secrets \(1 binary\), all checked against the encryption rules/);
    });

    it('model weights by content and extension, whatever the policy protects', async () => {
      const r = await repo();
      await write(r, '.keyward.yaml', 'version: 1\nprotect:\n  - glob: "models/**"\n');
      await write(r, 'export/pytorch_model.bin', torchFile(4096));
      await write(r, 'export/classifier.keras', readFileSync(path.join(WEIGHTS, 'tiny.keras')));
      // A strong signature under any name; binary content under an unambiguous weights name.
      await write(r, 'notes/tiny-safetensors.txt', readFileSync(path.join(WEIGHTS, 'tiny.safetensors')));
      await write(r, 'checkpoints/best.ckpt', Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 31 + 7) % 256)));
      // A shared weights name on other content, and a weights name on text, pass.
      await write(r, 'firmware/boot.bin', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]));
      await write(r, 'assets/logo.model', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(24)]));
      await write(r, 'locale/messages.pt', 'msgid "Hello"\nmsgstr "Olá"\n');
      git(r, 'add', '.');
      const res = kw(r, ['scan', '--staged']);
      assert.equal(res.code, 1);
      assert.deepEqual(
        res.stdout.trim().split('\n').map((l) => l.split(': ').slice(0, 2).join(': ')),
        [
          'checkpoints/best.ckpt: critical plaintext-model-weights',
          'export/classifier.keras: critical plaintext-model-weights',
          'export/pytorch_model.bin: critical plaintext-model-weights',
          'notes/tiny-safetensors.txt: critical plaintext-model-weights',
        ],
      );
      assert.match(res.stdout, /pytorch_model\.bin: .*PyTorch \(zip archive\) content, not encrypted/);
      assert.match(res.stdout, /best\.ckpt: .*binary \.ckpt content, not encrypted/);
      assert.match(res.stderr.split('\n')[0]!, /^keyward: commit refused: 4 plaintext files must be encrypted \(checkpoints\/best\.ckpt, export\/classifier\.keras, export\/pytorch_model\.bin and 1 more\): encrypt each/);
    });

    it('a file of any kind whose .age copy is staged with it or lies in the work tree', async () => {
      const r = await repo();
      await write(r, 'data/train.csv', 'id,label\n1,cat\n');
      await write(r, 'data/train.csv.age', 'age-encryption.org/v1\n-> X25519 x\ny\n--- z\n');
      await write(r, 'data/eval.csv', 'id,label\n2,dog\n');
      git(r, 'add', '.');
      const res = kw(r, ['scan', '--staged']);
      assert.equal(res.code, 1);
      assert.deepEqual(res.stdout.trim().split('\n').map((l) => l.split(':')[0]), ['data/train.csv']);
      assert.equal(kw(r, ['scan', '--staged', '--no-policy']).code, 0);
    });

    it('a Git LFS pointer to weights: judged by the local LFS object, or by name when it is not here', async () => {
      const r = await repo();
      await write(r, '.keyward.yaml', 'version: 1\nprotect:\n  - glob: "models/**"\n');
      const body = torchFile(2048);
      const oid = (await import('node:crypto')).createHash('sha256').update(body).digest('hex');
      const pointer = (o: string, size: number) => `version https://git-lfs.github.com/spec/v1\noid sha256:${o}\nsize ${size}\n`;
      await write(r, 'lfs/model.pt', pointer(oid, body.length));
      await write(r, `.git/lfs/objects/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`, body);
      await write(r, 'lfs/remote.safetensors', pointer('a'.repeat(64), 10));
      const text = Buffer.from('not weights at all\n');
      const tOid = (await import('node:crypto')).createHash('sha256').update(text).digest('hex');
      await write(r, 'lfs/notes.bin', pointer(tOid, text.length));
      await write(r, `.git/lfs/objects/${tOid.slice(0, 2)}/${tOid.slice(2, 4)}/${tOid}`, text);
      git(r, 'add', 'lfs', '.keyward.yaml');
      const res = kw(r, ['scan', '--staged']);
      const lines = res.stdout.trim().split('\n');
      assert.equal(lines.length, 2, res.stdout);
      assert.match(lines[0]!, /^lfs\/model\.pt: critical plaintext-model-weights: .*PyTorch \(zip archive\) content, not encrypted \(through a Git LFS pointer/);
      assert.match(lines[1]!, /^lfs\/remote\.safetensors: critical plaintext-model-weights: .*Git LFS pointer to a model weights file/);
    });
  });

  describe("the hook's bundle loads re2js and the .sops.yaml reader only for runs that need them", () => {
    /** `node dist/scan.js scan --staged` as the hook runs it, with the bundle parts it loaded. */
    async function hookRun(r: string): Promise<Run & { parts: string[] }> {
      const spy = path.join(dir, 'parts-spy.cjs');
      // Parts are seen as they are read (dist/scan.js reads them itself, to compile them through its code cache).
      await fsp.writeFile(spy, "const fs = require('fs'); const read = fs.readFileSync; fs.readFileSync = function (p, ...rest) { if (typeof p === 'string' && /scan-(?!main)[\\w-]+\\.js$/.test(p)) process.stderr.write('part ' + p.replace(/^.*\\//, '') + '\\n'); return read.call(this, p, ...rest); };\n");
      const res = spawnSync(process.execPath, ['-r', spy, SCAN_JS, 'scan', '--staged'], { cwd: r, env, encoding: 'utf8', timeout: 60_000 });
      const parts = [...res.stderr.matchAll(/^part (\S+)$/gm)].map((m) => m[1]!);
      return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr, parts };
    }

    it('none without .keywardignore, .keyward.yaml globs or .sops.yaml: the default globs and every rule still apply', async () => {
      const r = await repo();
      await write(r, 'conf.py', `TOKEN = "${f.githubPat()}"\n`);
      await write(r, 'w/model.pt', torchFile(4096));
      git(r, 'add', '.');
      const res = await hookRun(r);
      assert.equal(res.code, 1, res.stderr);
      assert.deepEqual(res.parts, []);
      assert.match(res.stdout, /^conf\.py:1:10: critical github-pat/m);
      assert.match(res.stdout, /^w\/model\.pt: critical unencrypted-protected-file: .*"\*\.pt"/m);
    });

    it('none when the commit holds no path that .keywardignore or .keyward.yaml globs could match', async () => {
      const r = await repo();
      await write(r, '.keywardignore', 'fixtures/\n*.min.js\n');
      await write(r, '.keyward.yaml', 'version: 1\nprotect:\n  - glob: "ckpt/**"\n');
      git(r, 'add', '.');
      git(r, 'commit', '-q', '-m', 'configs');
      await write(r, 'conf.py', `TOKEN = "${f.githubPat()}"\n`);
      git(r, 'add', '.');
      const res = await hookRun(r);
      assert.equal(res.code, 1, res.stderr);
      assert.deepEqual(res.parts, []);
      assert.match(res.stdout, /^conf\.py:1:10: critical github-pat/m);
    });

    it('the regex engine for .keywardignore and .keyward.yaml globs', async () => {
      const r = await repo();
      await write(r, '.keywardignore', 'fixtures/\n');
      await write(r, '.keyward.yaml', 'version: 1\nprotect:\n  - glob: "ckpt/**"\n');
      await write(r, 'fixtures/conf.py', `TOKEN = "${f.githubPat()}"\n`);
      await write(r, 'ckpt/a.bin', Buffer.alloc(64, 1));
      git(r, 'add', '.');
      const res = await hookRun(r);
      assert.equal(res.code, 1, res.stderr);
      assert.deepEqual(res.parts, ['scan-regex.js']);
      assert.deepEqual(res.stdout.trim().split('\n').map((l) => l.split(':')[0]), ['ckpt/a.bin']);
    });

    it('the sops reader (with its own regex engine) for a .sops.yaml', async () => {
      const r = await repo();
      await write(r, '.keywardignore', 'fixtures/\n');
      await write(r, '.sops.yaml', 'creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: age1qqqq\n');
      await write(r, 'secrets/plain.yaml', 'db:\n  host: localhost\n');
      await write(r, 'secrets/good.yaml', `db:\n    password: ${sopsEnc(f)}\n${sopsMetaYaml(f)}\n`);
      git(r, 'add', '.');
      const res = await hookRun(r);
      assert.equal(res.code, 1, res.stderr);
      assert.deepEqual(res.parts, ['scan-sops.js']);
      assert.deepEqual(res.stdout.trim().split('\n').map((l) => l.split(': ').slice(0, 2).join(': ')), ['secrets/plain.yaml: critical sops-file-not-encrypted']);
    });
  });

  describe('keyward allow: an explicit, reviewable exception', () => {
    it('records the file, its blob and the reason in the staged baseline; a changed file is refused again', async () => {
      const r = await repo();
      await write(r, '.keyward.yaml', 'version: 1\nprotect:\n  - glob: "models/**"\n');
      await write(r, 'tests/fixtures/tiny.onnx', readFileSync(path.join(WEIGHTS, 'tiny.onnx')));
      git(r, 'add', '.');
      assert.equal(kw(r, ['scan', '--staged']).code, 1);
      // No reason, an unstaged file, a file that is not refused: errors, nothing written.
      assert.notEqual(kw(r, ['allow', 'tests/fixtures/tiny.onnx']).code, 0);
      assert.equal(kw(r, ['allow', 'tests/fixtures/tiny.onnx', '--reason', ' ']).code, 2);
      await write(r, 'other.onnx', readFileSync(path.join(WEIGHTS, 'tiny.onnx')));
      assert.match(kw(r, ['allow', 'other.onnx', '--reason', 'x']).stderr, /other\.onnx is not staged.*git add other\.onnx/);
      assert.match(kw(r, ['allow', 'README.md', '--reason', 'x']).stderr, /README\.md is not .*nothing to allow|README\.md is not staged/);
      assert.ok(!existsSync(path.join(r, '.keyward-baseline.json')));

      const ok = kw(path.join(r, 'tests'), ['allow', 'fixtures/tiny.onnx', '--reason', 'a 236-byte test model of random numbers']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^allowed tests\/fixtures\/tiny\.onnx \(plaintext-model-weights, blob [0-9a-f]{12}\)/);
      const base = JSON.parse(await fsp.readFile(path.join(r, '.keyward-baseline.json'), 'utf8')) as { findings: { path: string; rule: string; blob: string; reason: string }[] };
      const blob = git(r, 'rev-parse', ':tests/fixtures/tiny.onnx').trim();
      assert.deepEqual(
        base.findings.map((e) => ({ path: e.path, rule: e.rule, blob: e.blob, reason: e.reason })),
        [{ path: 'tests/fixtures/tiny.onnx', rule: 'plaintext-model-weights', blob, reason: 'a 236-byte test model of random numbers' }],
      );
      // Staged with the commit: the reviewer sees the allow in the same diff.
      assert.match(git(r, 'diff', '--cached', '--name-only'), /^\.keyward-baseline\.json$/m);
      const pass = kw(r, ['scan', '--staged']);
      assert.equal(pass.code, 0, pass.stdout + pass.stderr);
      assert.match(pass.stderr, /1 plaintext allowed by the baseline/);

      // Another content under the same name is another decision.
      await write(r, 'tests/fixtures/tiny.onnx', Buffer.concat([readFileSync(path.join(WEIGHTS, 'tiny.onnx')), Buffer.from([0x42, 0])]));
      git(r, 'add', '.');
      assert.equal(kw(r, ['scan', '--staged']).code, 1);
    });

    it('--update-baseline accepts secrets in bulk but never plaintext files', async () => {
      const r = await repo();
      await write(r, 'm/weights.gguf', readFileSync(path.join(WEIGHTS, 'tiny.gguf')));
      await write(r, 'conf.py', `TOKEN = "${f.githubPat()}"\n`);
      git(r, 'add', '.');
      const up = kw(r, ['scan', '--staged', '--update-baseline']);
      assert.equal(up.code, 0);
      assert.match(up.stderr, /1 plaintext file\(s\) not added \(m\/weights\.gguf\): encrypt them, or allow each with keyward allow FILE/);
      const res = kw(r, ['scan', '--staged']);
      assert.equal(res.code, 1);
      assert.deepEqual(res.stdout.trim().split('\n').map((l) => l.split(':')[0]), ['m/weights.gguf']);
    });
  });

  describe("the hook's program runs the scanner through a V8 code cache (daemon/scan/entry.ts)", () => {
    /** `node dist/scan.js scan --staged` with its caches under `cache`. */
    function hook(r: string, cache: string, extra: NodeJS.ProcessEnv = {}): Run {
      const res = spawnSync(process.execPath, [SCAN_JS, 'scan', '--staged'], { cwd: r, env: { ...env, XDG_CACHE_HOME: cache, ...extra }, encoding: 'utf8', timeout: 60_000 });
      return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr.replace(/ in \d+ ms/, '') };
    }
    const cacheFiles = (d: string) => (existsSync(d) ? readdirSync(d) : []);

    it('writes its cache at the first run, uses it after, and reports the same; a damaged cache is replaced', async () => {
      const r = await repo();
      await write(r, 'conf.py', `TOKEN = "${f.githubPat()}"\n`);
      git(r, 'add', '.');
      const cache = path.join(dir, 'cache-a');
      const codeCache = path.join(cache, 'keyward', 'code-cache');
      const first = hook(r, cache);
      assert.equal(first.code, 1, first.stderr);
      assert.match(first.stdout, /^conf\.py:1:10: critical github-pat/m);
      const files = cacheFiles(codeCache);
      assert.equal(files.length, 1, files.join(', '));
      const file = path.join(codeCache, files[0]!);
      // What a run killed between its write and its rename leaves: the next run that writes removes it.
      const died = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
      await fsp.writeFile(`${file}.${died}.tmp`, 'half a cache');
      assert.equal((await fsp.stat(codeCache)).mode & 0o777, 0o700);
      assert.equal((await fsp.stat(file)).mode & 0o777, 0o600);
      const made = await fsp.stat(file);
      assert.deepEqual(hook(r, cache), first);
      assert.equal((await fsp.stat(file)).mtimeMs, made.mtimeMs, 'a valid cache is used, not written again');
      // Garbage in place of the cache: V8 refuses it, the run is the same, and a good cache replaces it.
      await fsp.writeFile(file, Buffer.alloc(made.size, 7));
      assert.deepEqual(hook(r, cache), first);
      assert.notDeepEqual(await fsp.readFile(file), Buffer.alloc(made.size, 7));
      assert.deepEqual(cacheFiles(codeCache), files);
    });

    it('caches the parts a run loads too (the regex engine, for .keywardignore)', async () => {
      const r = await repo();
      await write(r, '.keywardignore', 'fixtures/\n');
      await write(r, 'conf.py', `TOKEN = "${f.githubPat()}"\n`);
      await write(r, 'fixtures/conf.py', `TOKEN = "${f.githubPat()}"\n`);
      git(r, 'add', '.');
      const cache = path.join(dir, 'cache-parts');
      const first = hook(r, cache);
      assert.equal(first.code, 1, first.stderr);
      assert.match(first.stdout, /^conf\.py:1:10: critical github-pat/m);
      assert.doesNotMatch(first.stdout, /fixtures/);
      const names = cacheFiles(path.join(cache, 'keyward', 'code-cache')).map((n) => n.replace(/-\d.*$/, '')).sort();
      assert.deepEqual(names, ['scan-main', 'scan-regex']);
      assert.deepEqual(hook(r, cache), first);
    });

    it('neither reads nor writes a cache in a directory others may write to, nor with KEYWARD_CODE_CACHE=0', async () => {
      const r = await repo();
      await write(r, 'conf.py', `TOKEN = "${f.githubPat()}"\n`);
      git(r, 'add', '.');
      const open = path.join(dir, 'cache-b');
      await fsp.mkdir(path.join(open, 'keyward', 'code-cache'), { recursive: true });
      await fsp.chmod(path.join(open, 'keyward', 'code-cache'), 0o777);
      const a = hook(r, open);
      assert.equal(a.code, 1, a.stderr);
      assert.deepEqual(cacheFiles(path.join(open, 'keyward', 'code-cache')), []);
      const off = path.join(dir, 'cache-c');
      assert.deepEqual(hook(r, off, { KEYWARD_CODE_CACHE: '0' }), a);
      assert.equal(existsSync(off), false);
    });
  });

  describe('the hook finds Keyward after an update of the extension it came from', () => {
    /** An editor's extensions folder with Keyward at `version` (its dist/scan.js and parts copies of the build's). */
    async function extension(exts: string, version: string): Promise<string> {
      const d = path.join(exts, `keyward.keyward-${version}`, 'dist');
      await fsp.mkdir(d, { recursive: true });
      for (const n of readdirSync(path.dirname(SCAN_JS)).filter((x) => /^scan(-[\w-]+)?\.js$/.test(x))) await fsp.copyFile(path.join(path.dirname(SCAN_JS), n), path.join(d, n));
      return path.join(d, 'cli.js');
    }

    it('knows an extension folder from the script path', () => {
      assert.deepEqual(extensionHome('/home/u/.vscode/extensions/keyward.keyward-0.1.0/dist/cli.js'), { dir: '/home/u/.vscode/extensions', id: 'keyward.keyward' });
      assert.deepEqual(extensionHome('/x/exts/keyward.keyward-1.2.3-linux-x64/dist/cli.js'), { dir: '/x/exts', id: 'keyward.keyward' });
      assert.equal(extensionHome('/usr/lib/node_modules/keyward/dist/cli.js'), null);
      assert.equal(extensionHome('/work/keyward/dist/scan.js'), null);
    });

    it('runs the newest folder of the extension (not one marked obsolete) once the installed one is gone, and refuses the commit with the fix when none is left', async () => {
      const r = await repo();
      const exts = path.join(dir, `exts${n}`);
      const old = await extension(exts, '0.1.0');
      await installHook(r, { node: process.execPath, script: old });
      const leak = async (name: string) => {
        await write(r, name, `TOKEN = "${f.githubPat()}"\n`);
        git(r, 'add', name);
      };
      // The update: a new versioned folder, the old one deleted.
      await extension(exts, '0.10.0');
      await extension(exts, '0.9.3');
      await fsp.rm(path.join(exts, 'keyward.keyward-0.1.0'), { recursive: true });
      // A newer folder the editor marked obsolete (uninstalled, not yet deleted) is not used: it has no scan.js to prove it.
      await fsp.mkdir(path.join(exts, 'keyward.keyward-0.11.0', 'dist'), { recursive: true });
      await fsp.writeFile(path.join(exts, 'keyward.keyward-0.11.0', 'dist', 'scan.js'), 'process.exit(0)\n');
      await fsp.writeFile(path.join(exts, '.obsolete'), '{"keyward.keyward-0.11.0":true}');
      await leak('a.py');
      const refused = commit(r, 'leak');
      assert.notEqual(refused.code, 0, 'the scan ran and refused the secret');
      assert.match(refused.stderr, /github-pat/);
      // It was the newest folder that ran: with it gone, 0.9.3 runs.
      await fsp.rm(path.join(exts, 'keyward.keyward-0.10.0'), { recursive: true });
      assert.match(commit(r, 'leak').stderr, /github-pat/);
      git(r, 'rm', '-q', '--cached', 'a.py');
      await write(r, 'b.txt', 'hello\n');
      git(r, 'add', 'b.txt');
      assert.equal(commit(r, 'clean').code, 0);

      // Nothing left to run, and no keyward on PATH: the commit is refused, and the first line says why and what to do.
      await fsp.rm(exts, { recursive: true });
      await write(r, 'c.txt', 'hello\n');
      git(r, 'add', 'c.txt');
      const gone = commit(r, 'c', { PATH: path.dirname(process.execPath) + path.delimiter + '/usr/bin:/bin' });
      assert.equal(gone.code !== 0, true);
      assert.match(gone.stderr.split('\n')[0]!, /^keyward: commit refused: cannot find Keyward to check it \(installed from .*keyward\.keyward-0\.1\.0.*\): reinstall the hook \(keyward hook install/);
    });

    it('keyward hook update rewrites an older Keyward hook (v1 hard-coded its path) and installs nothing where none is', async () => {
      const r = await repo();
      const hook = path.join(r, '.git', 'hooks', 'pre-commit');
      assert.match(kw(r, ['hook', 'update']).stdout, /no keyward pre-commit hook/);
      assert.ok(!existsSync(hook));
      await write(r, '.git/hooks/pre-commit', '#!/bin/sh\n# Keyward pre-commit hook (keyward-hook v1)\nexec node /gone/keyward.keyward-0.1.0/dist/cli.js scan --staged\n');
      await fsp.chmod(hook, 0o755);
      const up = kw(r, ['hook', 'update']);
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stdout, /pre-commit hook updated/);
      assert.match(await fsp.readFile(hook, 'utf8'), /keyward-hook v2/);
      assert.ok(!existsSync(hook + '.keyward-previous'), 'an old Keyward hook is replaced, not chained');
      assert.match(kw(r, ['hook', 'update']).stdout, /up to date/);
    });
  });
});
