import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { DaemonClient } from '../../daemon/client';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { ErrorCode } from '../../daemon/protocol';
import { WorkspaceEventNotification, type WorkspaceEventParams } from '../../daemon/protocol/workspace';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { KeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';

const SETTLE = 300;

/** Polls `fn` until it returns something truthy; fails after `timeoutMs`. */
async function waitFor<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const exists = (p: string) => fsp.lstat(p).then(() => true, () => false);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Every file below `dir`, relative. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

describe('watcher: encrypt on save (daemon over its socket, in-memory keystore)', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let backend: MemoryBackend;
  let d: RunningDaemon;
  let c: DaemonClient;
  let ws: string;
  let events: WorkspaceEventParams[];
  let outN = 0;
  let barrierN = 0;

  async function start(): Promise<void> {
    d = await startDaemon({ home, backend, env, log: () => undefined });
    c = await DaemonClient.connect(home, 'test', env);
    c.onNotification(WorkspaceEventNotification, (p) => events.push(p as WorkspaceEventParams));
  }
  async function stop(): Promise<void> {
    c.close();
    await d.stop();
  }

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    dir = await fsp.realpath(dir);
    home = path.join(dir, 'home');
    env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR!, { mode: 0o700 });
    backend = new MemoryBackend();
    events = [];
    await start();
    await c.call('keysGenerate', { name: 'team' });
    ws = path.join(dir, 'ws');
    await fsp.mkdir(ws);
  });
  afterEach(async () => {
    await stop();
    await cleanup();
  });

  const policy = (lines: string[]) => fsp.writeFile(path.join(ws, '.keyward.yaml'), ['version: 1', ...lines, `settle_ms: ${SETTLE}`, ''].join('\n'));
  const standardPolicy = () =>
    policy(['recipients: [team]', 'protect:', '  - glob: "*.pt"', '  - glob: "secret/**"', '    plaintext: remove']);
  // The user agrees to the recipients the policy names (daemon/trust), then registers.
  const register = async () => {
    const { sources } = await c.call('trustCheck', { path: ws }).catch(() => ({ sources: [] }));
    for (const s of sources) if (!s.trusted) await c.call('trustGrant', { source: s.source, recipients: s.recipients.map((r) => r.recipient) });
    return c.call('workspaceRegister', { root: ws });
  };
  const pending = async () => (await c.call('workspaceList', {})).workspaces.find((w) => w.root === ws)?.pending ?? -1;
  const audit = async (event: string, outcome: string, p: string) =>
    (await d.service.audit.show()).filter((r) => r.event === event && r.outcome === outcome && r.path === p);
  const encryptions = async (plain: string) => (await audit('watch.encrypt', 'ok', plain + '.age')).length;
  const eventsFor = (p: string, kind: WorkspaceEventParams['kind']) => events.filter((e) => e.path === p && e.kind === kind);
  async function decrypt(agePath: string): Promise<Buffer> {
    const out = path.join(dir, `out-${++outN}`);
    await c.call('ageDecrypt', { input: agePath, output: out });
    return fsp.readFile(out);
  }
  /** A protected file written after everything else: once it is encrypted and nothing is pending, earlier files have settled too. */
  async function barrier(): Promise<string> {
    const b = path.join(ws, `barrier-${++barrierN}.pt`);
    await fsp.writeFile(b, `barrier ${barrierN}`);
    await waitFor(async () => (await exists(b + '.age')) && (await pending()) === 0, `${path.basename(b)} encrypted`);
    return b;
  }

  it('a file written slowly in pieces is encrypted once, whole', async () => {
    await standardPolicy();
    await register();
    const file = path.join(ws, 'model.pt');
    const pieces: Buffer[] = [];
    const fh = await fsp.open(file, 'w');
    try {
      // A training job writing a checkpoint: 11 pieces 100 ms apart, over 1 s (> settle_ms).
      for (let i = 0; i <= 10; i++) {
        const b = randomBytes(150_000 + i);
        pieces.push(b);
        await fh.write(b);
        assert.ok(!(await exists(file + '.age')), `encrypted while still being written (after piece ${i})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await fh.close();
    }
    await waitFor(() => exists(file + '.age'), 'model.pt.age');
    await barrier();
    assert.equal(await encryptions(file), 1, 'encrypted exactly once');
    assert.equal(eventsFor(file, 'encrypted').length, 1);
    assert.equal(sha(await decrypt(file + '.age')), sha(Buffer.concat(pieces)), 'the .age holds the whole file');
    assert.ok(await exists(file), 'keep: the plaintext stays');
    const rec = (await audit('watch.encrypt', 'ok', file + '.age'))[0]!;
    assert.equal(rec.key, 'team@v1');
    assert.equal(rec.client, undefined);
  });

  it('re-encrypts a changed file, but not one touched without a change', async () => {
    await standardPolicy();
    await register();
    const file = path.join(ws, 'm.pt');
    await fsp.writeFile(file, 'version one');
    await waitFor(async () => (await encryptions(file)) === 1, 'first encryption');
    const first = await fsp.readFile(file + '.age');

    const later = new Date(Date.now() + 5000);
    await fsp.utimes(file, later, later);
    await barrier();
    assert.equal(await encryptions(file), 1, 'same content: not re-encrypted');
    assert.deepEqual(await fsp.readFile(file + '.age'), first);

    await fsp.writeFile(file, 'version two, longer');
    await waitFor(async () => (await encryptions(file)) === 2, 'second encryption');
    assert.equal((await decrypt(file + '.age')).toString(), 'version two, longer');
    assert.match((await audit('watch.encrypt', 'ok', file + '.age'))[1]!.detail ?? '', /replaced the older \.age/);
  });

  it('remove: deletes the plaintext only after the encrypted copy verifies', async () => {
    const foreign = await identityToRecipient(await generateX25519Identity());
    await policy([
      'recipients: [team]',
      'protect:',
      '  - glob: "*.pt"',
      '  - glob: "secret/**"',
      '    plaintext: remove',
      '  - glob: "theirs/**"',
      '    plaintext: remove',
      `    recipients: [${foreign}]`,
    ]);
    await fsp.mkdir(path.join(ws, 'secret'));
    await fsp.mkdir(path.join(ws, 'theirs'));
    await register();

    const file = path.join(ws, 'secret', 'w.bin');
    const data = randomBytes(200_000);
    await fsp.writeFile(file, data);
    await waitFor(async () => !(await exists(file)) && (await exists(file + '.age')), 'plaintext removed');
    assert.deepEqual(await decrypt(file + '.age'), data);
    const enc = (await audit('watch.encrypt', 'ok', file + '.age'))[0]!;
    const rm = (await audit('watch.remove', 'ok', file))[0]!;
    assert.ok(rm.seq > enc.seq, 'removed after it was encrypted');
    assert.equal(rm.key, 'team@v1', 'verified with a key of the keystore');
    assert.equal(eventsFor(file, 'removed').length, 1);
    assert.ok(!(await fsp.readFile(path.join(ws, '.gitignore'), 'utf8').catch(() => '')).includes('w.bin'), 'a removed file is not git-ignored');

    // Encrypted only to someone else: nobody here can verify the copy, so the plaintext stays.
    const theirs = path.join(ws, 'theirs', 'x.bin');
    await fsp.writeFile(theirs, 'for their eyes');
    await waitFor(() => eventsFor(theirs, 'flagged').length > 0, 'flagged');
    assert.ok(await exists(theirs + '.age'));
    assert.ok(await exists(theirs), 'unverifiable: plaintext kept');
    assert.match(eventsFor(theirs, 'flagged')[0]!.message, /could not be verified/);
    assert.equal((await audit('watch.remove', 'ok', theirs)).length, 0);
  });

  it('keep: adds the plaintext to .gitignore once, in a marked block, leaving the user\'s lines alone', async () => {
    await standardPolicy();
    await fsp.writeFile(path.join(ws, '.gitignore'), 'node_modules/\n*.log');
    await fsp.mkdir(path.join(ws, 'sub dir'));
    await register();
    const file = path.join(ws, 'sub dir', 'w[1].pt');
    await fsp.writeFile(file, 'one');
    await waitFor(async () => (await encryptions(file)) === 1, 'encrypted');
    await fsp.writeFile(file, 'two!');
    await waitFor(async () => (await encryptions(file)) === 2, 'encrypted again');
    const b = await barrier();
    const text = await fsp.readFile(path.join(ws, '.gitignore'), 'utf8');
    const lines = text.split('\n');
    assert.deepEqual(lines.slice(0, 2), ['node_modules/', '*.log']);
    assert.equal(lines.filter((l) => l === '/sub dir/w\\[1].pt').length, 1, text);
    const begin = lines.findIndex((l) => l.startsWith('# >>> keyward'));
    const end = lines.indexOf('# <<< keyward');
    assert.ok(begin > 1 && end > begin, text);
    assert.equal(lines.filter((l) => l.startsWith('# >>> keyward')).length, 1);
    assert.ok(lines.slice(begin, end).includes('/' + path.basename(b)), text);
  });

  it('ignores files no glob matches, and never encrypts .age files again', async () => {
    await standardPolicy();
    await fsp.writeFile(path.join(ws, 'early.pt.age'), 'not really age');
    await register();
    await fsp.writeFile(path.join(ws, 'notes.txt'), 'hello');
    await fsp.writeFile(path.join(ws, 'manual.pt.age'), 'someone put this here');
    await fsp.mkdir(path.join(ws, 'node_modules', 'x'), { recursive: true });
    await fsp.writeFile(path.join(ws, 'node_modules', 'x', 'w.pt'), 'a dependency');
    // Keyward's own: a private directory of exec or edit (on disk with --allow-disk), a temp file.
    const own = ['secret/keyward-exec-123-456-abcdef/M/model.bin', 'secret/keyward-edit-123-456-abcdef/app.env', 'secret/.x.bin.0123456789ab.keyward-tmp'];
    for (const f of own) {
      await fsp.mkdir(path.dirname(path.join(ws, f)), { recursive: true });
      await fsp.writeFile(path.join(ws, f), 'plaintext of a running program');
    }
    // ...beside a file of the user's in the same place, which is encrypted (and removed, as the policy says).
    await fsp.mkdir(path.join(ws, 'secret', 'sub', 'M'), { recursive: true });
    await fsp.writeFile(path.join(ws, 'secret', 'sub', 'M', 'model.bin'), 'the user\'s');
    await waitFor(() => exists(path.join(ws, 'secret', 'sub', 'M', 'model.bin.age')), 'secret/sub/M/model.bin encrypted');
    await barrier();
    for (const f of own) assert.equal(await fsp.readFile(path.join(ws, f), 'utf8'), 'plaintext of a running program', f);
    for (const f of own) assert.equal(await exists(path.join(ws, f + '.age')), false, f);
    for (const f of own) await fsp.rm(path.join(ws, f));
    const files = await tree(ws);
    assert.ok(!files.includes('notes.txt.age'));
    assert.ok(!files.some((f) => f.endsWith('.age.age')), files.join(' '));
    assert.ok(!files.includes(path.join('node_modules', 'x', 'w.pt.age')));
    assert.ok(!files.some((f) => f.endsWith('.keyward-tmp')));
    assert.equal((await fsp.readFile(path.join(ws, 'manual.pt.age'), 'utf8')), 'someone put this here');
  });

  it('flags protected files it cannot encrypt: no recipients, or a key that does not exist', async () => {
    await policy(['protect:', '  - glob: "*.pt"', '  - glob: "*.onnx"', '    recipients: [ghost]']);
    await register();
    const a = path.join(ws, 'a.pt');
    const b = path.join(ws, 'b.onnx');
    await fsp.writeFile(a, 'weights');
    await fsp.writeFile(b, 'graph');
    await waitFor(() => eventsFor(a, 'flagged').length && eventsFor(b, 'flagged').length, 'flagged');
    assert.match(eventsFor(a, 'flagged')[0]!.message, /no recipients in policy/);
    assert.match(eventsFor(b, 'flagged')[0]!.message, /no key named ghost/);
    assert.ok(!(await exists(a + '.age')) && !(await exists(b + '.age')), 'never encrypted to nobody');
    assert.equal((await audit('watch.flag', 'refused', a)).length, 1);
    assert.match(await fsp.readFile(path.join(ws, '.gitignore'), 'utf8'), /^\/a\.pt$/m, 'the plaintext stays out of git');
  });

  it('leaves an existing .age alone when it already holds the plaintext, or is newer with other content', async () => {
    await standardPolicy();
    // As after `keyward decrypt`: the .age and a plaintext with the same content.
    const same = path.join(ws, 'same.pt');
    await fsp.writeFile(same, 'identical');
    await c.call('ageEncrypt', { input: same, output: same + '.age', keys: ['team'] });
    const sameAge = await fsp.readFile(same + '.age');
    // As after `git pull`: a newer .age with other content than the stale local plaintext.
    const stale = path.join(ws, 'stale.pt');
    const fresh = path.join(dir, 'fresh');
    await fsp.writeFile(fresh, 'the new version from a teammate');
    await fsp.writeFile(stale, 'my old copy');
    const past = new Date(Date.now() - 3600_000);
    await fsp.utimes(stale, past, past);
    await c.call('ageEncrypt', { input: fresh, output: stale + '.age', keys: ['team'] });
    const staleAge = await fsp.readFile(stale + '.age');

    await register();
    await waitFor(() => eventsFor(stale, 'flagged').length, 'stale flagged');
    await barrier();
    assert.match(eventsFor(stale, 'flagged')[0]!.message, /newer than the plaintext and it holds other content: not overwritten/);
    assert.deepEqual(await fsp.readFile(stale + '.age'), staleAge);
    assert.deepEqual(await fsp.readFile(same + '.age'), sameAge, 'same content: not re-encrypted');
    assert.equal(await encryptions(same), 0);
    assert.equal(eventsFor(same, 'flagged').length, 0);
  });

  it('refuses an invalid policy at registration, and reports one edited in later while the old one stays in force', async () => {
    await fsp.writeFile(path.join(ws, '.keyward.yaml'), 'version: 1\nrecipients: [team]\nprotect:\n  - glob: "*.pt"\n    plaintext: shred\n');
    await assert.rejects(register(), (e: unknown) => e instanceof KeywardError && e.code === ErrorCode.InvalidInput && /line 5: protect\[0\]\.plaintext/.test(e.message));
    assert.equal((await c.call('workspaceList', {})).workspaces.length, 0);

    await standardPolicy();
    await register();
    await fsp.writeFile(path.join(ws, '.keyward.yaml'), 'version: 1\nsurprise: true\n');
    await waitFor(() => events.some((e) => e.kind === 'error' && /invalid policy/.test(e.message)), 'policy error event');
    const w = (await c.call('workspaceList', {})).workspaces[0]!;
    assert.match(w.error ?? '', /line 2: "surprise"/);
    assert.equal(w.state, 'watching');
    await barrier(); // the previous policy still encrypts
  });

  it('refuses roots that cannot be workspaces', async () => {
    await assert.rejects(c.call('workspaceRegister', { root: '/' }), /file system root/);
    await assert.rejects(c.call('workspaceRegister', { root: home }), /Keyward's own state/);
    await assert.rejects(c.call('workspaceRegister', { root: path.join(dir, 'missing') }), /no such file/);
    await assert.rejects(c.call('workspaceRegister', { root: 'relative' }), (e: unknown) => (e as KeywardError).code === ErrorCode.InvalidParams);
    await standardPolicy();
    await register();
    await fsp.mkdir(path.join(ws, 'inner'));
    await assert.rejects(c.call('workspaceRegister', { root: path.join(ws, 'inner') }), /already watched as part of/);
  });

  it('watches its workspaces again after a restart, without re-encrypting what is current', async () => {
    await standardPolicy();
    await register();
    const file = path.join(ws, 'a.pt');
    await fsp.writeFile(file, 'before the restart');
    await waitFor(async () => (await encryptions(file)) === 1, 'encrypted');
    await waitFor(async () => (await pending()) === 0, 'idle');
    await stop();

    await start();
    await d.service.watch.resume();
    const list = (await c.call('workspaceList', {})).workspaces;
    assert.deepEqual(list.map((w) => w.root), [ws]);
    await barrier();
    assert.equal(await encryptions(file), 1, 'unchanged since: not encrypted again');

    assert.deepEqual(await c.call('workspaceUnregister', { root: ws }), { removed: true });
    assert.deepEqual((await c.call('workspaceList', {})).workspaces, []);
    await fsp.writeFile(path.join(ws, 'after.pt'), 'not watched any more');
    assert.deepEqual(await c.call('workspaceUnregister', { root: ws }), { removed: false });
  });

  it('unwritable target: a clear error, the original untouched, no temp file left', async () => {
    // FILE.age is a directory: no one, root included, can put a file there.
    await standardPolicy();
    const file = path.join(ws, 'blocked.pt');
    await fsp.writeFile(file, 'precious');
    await fsp.mkdir(file + '.age');
    await fsp.writeFile(path.join(file + '.age', 'keep'), 'x');
    await register();
    await waitFor(() => eventsFor(file, 'error').length, 'error event');
    assert.match(eventsFor(file, 'error')[0]!.message, /blocked\.pt\.age exists and is not a regular file; not overwritten/);
    assert.equal(await fsp.readFile(file, 'utf8'), 'precious');
    assert.ok((await fsp.stat(file + '.age')).isDirectory());
    assert.ok(!(await tree(ws)).some((f) => f.endsWith('.keyward-tmp')));
  });
});
