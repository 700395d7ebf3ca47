import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { DaemonClient } from '../../daemon/client';
import { MemoryBackend } from '../../daemon/keystore/memory';
import type { ArtifactStatus } from '../../daemon/protocol/artifacts';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { CliSandbox } from '../helpers/cli';
import { tempDir } from '../helpers/tools';

const codes = (a: ArtifactStatus | undefined) => (a?.warnings ?? []).map((w) => w.code).sort();

describe('artifacts/status (daemon over its socket, in-memory keystore)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let home: string;
  let d: RunningDaemon;
  let c: DaemonClient;
  let ws: string;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    dir = await fsp.realpath(dir);
    home = path.join(dir, 'home');
    const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    d = await startDaemon({ home, backend: new MemoryBackend(), env, log: () => undefined });
    c = await DaemonClient.connect(home, 'test', env);
    ws = path.join(dir, 'ws');
    await fsp.mkdir(path.join(ws, 'raw'), { recursive: true });
  });
  afterEach(async () => {
    c.close();
    await d.stop();
    await cleanup();
  });

  const write = (rel: string, text: string) => fsp.writeFile(path.join(ws, rel), text);
  const encrypt = async (rel: string, opts: { keys?: string[]; recipients?: string[] }) => {
    const src = path.join(dir, 'src-' + path.basename(rel));
    await fsp.writeFile(src, 'content of ' + rel);
    await c.call('ageEncrypt', { input: src, output: path.join(ws, rel), keys: opts.keys ?? [], recipients: opts.recipients ?? [] });
  };

  it('lists artifacts with stanzas, opening key versions and every kind of warning', async () => {
    await c.call('keysGenerate', { name: 'team' });
    await write('.keyward.yaml', 'version: 1\nrecipients: [team, ghost]\nprotect:\n  - glob: "*.pt"\n  - glob: "raw/**"\n    recipients: []\n');
    await encrypt('a.pt.age', { keys: ['team'] }); // team@v1, deactivated by the rotation below
    await c.call('keysRotate', { name: 'team' });
    await encrypt('b.pt.age', { keys: ['team'] }); // team@v2
    await write('b.pt', 'local copy, edited after');
    const future = new Date(Date.now() + 60_000);
    await fsp.utimes(path.join(ws, 'b.pt'), future, future);
    await encrypt('c.pt.age', { recipients: [await identityToRecipient(await generateX25519Identity())] });
    await write('d.pt', 'not encrypted yet');
    await write('raw/e.bin', 'raw data');
    await write('bad.pt.age', 'this is not an age file at all');
    await write('notes.txt', 'not protected');
    await fsp.mkdir(path.join(ws, 'node_modules'));
    await write('node_modules/dep.pt', 'ignored');

    const r = await c.call('artifactsStatus', { path: ws });
    assert.equal(r.root, ws);
    assert.equal(r.policy?.source, 'file');
    assert.equal(r.truncated, false);
    assert.deepEqual(r.policyWarnings.map((w) => w.message), ['recipient ghost cannot be encrypted to: no key named ghost']);
    const by = new Map(r.artifacts.map((a) => [path.relative(ws, a.path), a]));
    assert.deepEqual([...by.keys()], ['a.pt.age', 'b.pt.age', 'bad.pt.age', 'c.pt.age', 'd.pt', 'raw/e.bin']);

    const a = by.get('a.pt.age')!;
    assert.equal(a.encrypted, true);
    assert.deepEqual(a.stanzas, [{ type: 'X25519', count: 1 }]);
    assert.deepEqual(a.keys, ['team@v1']);
    assert.equal(a.plaintext, path.join(ws, 'a.pt'));
    assert.ok(a.size! > 0);
    assert.equal(a.rule?.glob, '*.pt');
    assert.deepEqual(a.rule?.recipients, ['team', 'ghost']);
    assert.deepEqual(codes(a), ['policy-recipient-unusable', 'stale-key']);
    assert.match(a.warnings.find((w) => w.code === 'stale-key')!.message, /^stale key version: opened by team@v1 \(deactivated\)$/);

    const b = by.get('b.pt.age')!;
    assert.deepEqual(b.keys, ['team@v2']);
    assert.deepEqual(codes(b), ['plaintext-newer', 'plaintext-present', 'policy-recipient-unusable']);
    assert.ok(b.warnings.some((w) => w.message === 'plaintext present'));
    assert.ok(b.warnings.some((w) => w.message === 'plaintext newer than ciphertext'));

    const cc = by.get('c.pt.age')!;
    assert.deepEqual(cc.keys, []);
    assert.ok(cc.warnings.some((w) => w.code === 'not-decryptable' && w.message === 'not decryptable by any of your keys'));

    assert.ok(codes(by.get('bad.pt.age')).includes('malformed'));
    assert.deepEqual(by.get('bad.pt.age')!.stanzas, undefined);

    const dd = by.get('d.pt')!;
    assert.equal(dd.encrypted, false);
    assert.deepEqual(codes(dd), ['not-encrypted', 'policy-recipient-unusable']);

    const e = by.get('raw/e.bin')!;
    assert.deepEqual(codes(e), ['no-recipients', 'not-encrypted']);
    assert.ok(e.warnings.some((w) => w.message === 'no recipients in policy'));
  });

  it('names every key version that opens a file, and warns of an old one still in its header', async () => {
    await c.call('keysGenerate', { name: 'team' });
    await c.call('keysRotate', { name: 'team', keepPrevious: true }); // v1 and v2 both active
    await write('.keyward.yaml', 'version: 1\nrecipients: [team]\n');
    await encrypt('both.pt.age', { keys: ['team@v1', 'team@v2'] });
    await encrypt('new.pt.age', { keys: ['team@v2'] });
    const status = async () => new Map((await c.call('artifactsStatus', { path: ws })).artifacts.map((a) => [path.basename(a.path), a]));

    let by = await status();
    assert.deepEqual(by.get('both.pt.age')!.keys, ['team@v2', 'team@v1'], 'newest first');
    assert.deepEqual(codes(by.get('both.pt.age')), [], 'both versions are current: nothing to say');
    assert.deepEqual(by.get('new.pt.age')!.keys, ['team@v2']);
    const inspected = await c.call('ageInspect', { input: path.join(ws, 'both.pt.age') });
    assert.deepEqual(inspected.keys, ['team@v2', 'team@v1']);

    await c.call('keysSetState', { ref: 'team@v1', state: 'deactivated' });
    by = await status();
    assert.deepEqual(by.get('both.pt.age')!.keys, ['team@v2', 'team@v1']);
    assert.deepEqual(by.get('both.pt.age')!.warnings, [{ code: 'stale-key', message: 'still opens with team@v1 (deactivated): rewrap to remove it' }]);
    assert.deepEqual(codes(by.get('new.pt.age')), []);

    await c.call('keysSetState', { ref: 'team@v1', state: 'compromised' });
    by = await status();
    assert.match(by.get('both.pt.age')!.warnings[0]!.message, /^still opens with team@v1 \(compromised\): whoever holds it can read this file; rewrap to remove it, then rotate$/);

    // Status unwraps file keys only to name the versions: it decrypts nothing, so it records no use.
    const audit = await c.call('auditShow', {});
    assert.equal(audit.records.filter((r) => r.event === 'key.use').length, 0);
  });

  it('answers for one file, plaintext or .age, and keeps going with an invalid policy', async () => {
    await c.call('keysGenerate', { name: 'team' });
    await encrypt('m.safetensors.age', { keys: ['team'] });
    await write('m.safetensors', 'plain');
    // Written after the .age, but possibly within the same clock tick: make "newer" certain.
    const later = new Date(Date.now() + 5000);
    await fsp.utimes(path.join(ws, 'm.safetensors'), later, later);
    let r = await c.call('artifactsStatus', { path: path.join(ws, 'm.safetensors') });
    assert.deepEqual(r.artifacts.map((a) => path.basename(a.path)), ['m.safetensors.age']);
    assert.equal(r.policy?.source, 'defaults');
    r = await c.call('artifactsStatus', { path: path.join(ws, 'm.safetensors.age') });
    assert.deepEqual(codes(r.artifacts[0]), ['no-recipients', 'plaintext-newer', 'plaintext-present'], 'the defaults name no recipients');

    await write('.keyward.yaml', 'version: 1\nprotect: nope\n');
    r = await c.call('artifactsStatus', { path: ws });
    assert.match(r.policyError ?? '', /\.keyward\.yaml line 2: protect: must be a list/);
    assert.equal(r.policy, undefined);
    assert.deepEqual(r.artifacts.map((a) => path.basename(a.path)), ['m.safetensors.age'], 'encrypted files are still listed');
    await assert.rejects(c.call('artifactsStatus', { path: path.join(ws, 'missing') }), /no such file/);
  });

  it('a plaintext just decrypted from its .age is not "newer than ciphertext"; an edit after it is', async () => {
    await c.call('keysGenerate', { name: 'team' });
    await encrypt('m.safetensors.age', { keys: ['team'] });
    // The .age is from yesterday (a pull, a checkout): a decrypt today must not make the copy look edited.
    const yesterday = new Date(Date.now() - 86_400_000);
    await fsp.utimes(path.join(ws, 'm.safetensors.age'), yesterday, yesterday);
    await c.call('ageDecrypt', { input: path.join(ws, 'm.safetensors.age'), output: path.join(ws, 'm.safetensors') });
    let r = await c.call('artifactsStatus', { path: path.join(ws, 'm.safetensors.age') });
    assert.deepEqual(codes(r.artifacts[0]), ['no-recipients', 'plaintext-present']);
    await write('m.safetensors', 'edited');
    r = await c.call('artifactsStatus', { path: path.join(ws, 'm.safetensors.age') });
    assert.deepEqual(codes(r.artifacts[0]), ['no-recipients', 'plaintext-newer', 'plaintext-present']);
  });

  it('uses the policy of the registered workspace that contains the path', async () => {
    await write('.keyward.yaml', 'version: 1\nprotect:\n  - glob: "raw/**"\n');
    await write('raw/x.bin', 'x');
    await c.call('workspaceRegister', { root: ws, events: false });
    const r = await c.call('artifactsStatus', { path: path.join(ws, 'raw') });
    assert.equal(r.root, ws);
    assert.deepEqual(r.artifacts.map((a) => path.relative(ws, a.path)), ['raw/x.bin'], 'raw/** is anchored at the workspace root, not at raw/');
  });
});

describe('keyward status (the built CLI, in-process, file keystore)', function () {
  this.timeout(60_000);
  let sb: CliSandbox;
  const env = { KEYWARD_KEYSTORE_PASSPHRASE: 'status test passphrase' };

  before(async () => {
    sb = await CliSandbox.create(env);
  });
  after(() => sb.dispose());

  it('prints artifacts, recipients, key versions and warnings; --json; exit 0 with warnings', async () => {
    sb.ok(['--no-daemon', '--keystore', 'file', 'keys', 'generate', 'team']);
    const ws = sb.path('ws');
    await fsp.mkdir(path.join(ws, 'models'), { recursive: true });
    await fsp.writeFile(path.join(ws, '.keyward.yaml'), 'version: 1\nrecipients: [team]\n');
    await fsp.writeFile(path.join(ws, 'models', 'm.pt'), 'weights');
    sb.ok(['--no-daemon', 'encrypt', '-k', 'team', path.join(ws, 'models', 'm.pt')]);
    await fsp.writeFile(path.join(ws, 'new.gguf'), 'fresh');

    const r = sb.run(['--no-daemon', 'status', 'ws']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], `workspace: ${await fsp.realpath(ws)} (policy: .keyward.yaml)`);
    assert.match(r.stdout, /^models\/m\.pt\.age {2}X25519 x1 {2}opens with team@v1 {2}\d+(\.\d)? (B|KiB|MiB)$/m);
    assert.match(r.stdout, /^ {2}! plaintext present$/m);
    assert.match(r.stdout, /^new\.gguf {2}not encrypted$/m);
    assert.equal(lines[lines.length - 1], '1 encrypted, 1 not encrypted, 1 warning(s)');

    const j = sb.run(['--no-daemon', '--json', 'status', path.join(ws, 'models')]);
    assert.equal(j.code, 0, j.stderr);
    const parsed = JSON.parse(j.stdout) as { root: string; artifacts: ArtifactStatus[] };
    assert.equal(parsed.root, await fsp.realpath(ws));
    assert.deepEqual(parsed.artifacts.map((a) => [path.basename(a.path), a.keys, a.warnings.map((w) => w.code)]), [['m.pt.age', ['team@v1'], ['plaintext-present']]]);

    const bad = sb.run(['--no-daemon', 'workspace', 'add', 'ws']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /workspace add needs the daemon/);
  });
});
