// Age plugins in the daemon's jobs (rewrap, rotate, team sync) with the fake plugins of
// test/fixtures/plugins: plugin recipients (age1NAME1...) wherever recipients go, keys that
// encrypt to their plugin identity itself (no recipient), a job's waiting state while a plugin
// waits for a touch, and one plugin session (one PIN) for a job's files.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { decryptFile, readHeader, unwrapWithIdentities, unwrapWithPluginIdentities, withPluginSession } from '../../daemon/age';
import { DaemonClient } from '../../daemon/client';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { JobProgressNotification, type JobInfo } from '../../daemon/protocol';
import { PluginEnvironmentRequest, PluginPromptRequest, type PluginPromptParams } from '../../daemon/protocol/plugins';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { fakeKey, installFakePlugins, pathWith } from '../helpers/plugins';
import { tempDir } from '../helpers/tools';
import { agreeTo } from '../helpers/trust';

describe('age plugins in jobs (daemon, fake plugins)', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let pluginEnv: NodeJS.ProcessEnv;
  let d: RunningDaemon;
  let c: DaemonClient;
  let log: string;
  const asked: PluginPromptParams[] = [];
  /** The PIN this client types, or null: it dismisses the question. */
  let pin: string | null = '1234';
  const progress: JobInfo[] = [];
  const data = new Map<string, Buffer>();
  let alice = '';

  const waitingMs = process.env.KEYWARD_PLUGIN_WAITING_MS;
  before(async () => {
    // A plugin silent for 100 ms counts as waiting (3 s otherwise): the in-process daemon reads it.
    process.env.KEYWARD_PLUGIN_WAITING_MS = '100';
    ({ dir, cleanup } = await tempDir());
    const bin = await installFakePlugins(path.join(dir, 'bin'));
    log = path.join(dir, 'plugin.log');
    pluginEnv = { ...process.env, PATH: pathWith(bin), FAKE_PLUGIN_LOG: log };
  });
  after(async () => {
    if (waitingMs === undefined) delete process.env.KEYWARD_PLUGIN_WAITING_MS;
    else process.env.KEYWARD_PLUGIN_WAITING_MS = waitingMs;
    await cleanup();
  });

  beforeEach(async () => {
    home = path.join(dir, `home-${randomBytes(3).toString('hex')}`);
    env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR!, { mode: 0o700, recursive: true });
    d = await startDaemon({ home, backend: new MemoryBackend(), env, log: () => undefined });
    c = await DaemonClient.connect(home, 'test', env);
    // This client answers as the CLI would: the plugins run in its environment, the PIN is 1234.
    c.onRequest(PluginEnvironmentRequest, () => Promise.resolve({ env: pluginEnv }));
    c.onRequest(PluginPromptRequest, (p) => {
      asked.push(p as PluginPromptParams);
      if ((p as PluginPromptParams).kind !== 'secret') return Promise.resolve({ ok: true });
      return Promise.resolve(pin === null ? { ok: false, reason: 'you dismissed it' } : { ok: true, value: pin });
    });
    c.onNotification(JobProgressNotification, (p) => progress.push(p as JobInfo));
    alice = (await c.call('keysGenerate', { name: 'alice' })).key.recipient;
    asked.length = 0;
    progress.length = 0;
    pin = '1234';
    data.clear();
    await fsp.rm(log, { force: true });
  });
  afterEach(async () => {
    c.close();
    await d.stop();
  });

  async function artifacts(n: number, to: { keys?: string[]; recipients?: string[] }, where = dir): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const plain = path.join(dir, `p-${randomBytes(4).toString('hex')}`);
      const buf = randomBytes(3000 + 1000 * i);
      await fsp.writeFile(plain, buf);
      const f = path.join(where, `w-${randomBytes(4).toString('hex')}.bin.age`);
      await c.call('ageEncrypt', { input: plain, output: f, keys: to.keys ?? [], recipients: to.recipients ?? [] });
      data.set(f, buf);
      out.push(f);
    }
    return out;
  }

  /** Whether `identity` alone (outside the daemon: a plugin's through the fake plugins, or a native one) opens `f` to its original bytes. */
  async function opensWith(identity: string, f: string): Promise<boolean> {
    const out = path.join(dir, `check-${randomBytes(4).toString('hex')}`);
    try {
      const unwrap = identity.startsWith('AGE-PLUGIN-') ? unwrapWithPluginIdentities([identity]) : unwrapWithIdentities([identity]);
      await withPluginSession({ env: () => Promise.resolve(pluginEnv), noAsk: 'a test' }, () => decryptFile({ input: f, output: out, unwrap }));
      return (await fsp.readFile(out)).equals(data.get(f)!);
    } catch {
      return false;
    } finally {
      await fsp.rm(out, { force: true });
    }
  }

  async function run(start: Promise<JobInfo>): Promise<JobInfo> {
    const job = await c.call('jobsWait', { id: (await start).id });
    assert.equal(job.state, 'done', JSON.stringify(job.errors));
    return job;
  }

  it('plugin recipients (age1NAME1...) through rewrap, rotate and removal', async () => {
    const q = fakeKey('quiet');
    const files = await artifacts(3, { keys: ['alice'] });
    await run(c.call('artifactsRewrap', { files, add: [q.recipient] }));
    for (const f of files) {
      assert.ok(await opensWith(q.identity, f), `${f}: the plugin recipient was added`);
      assert.ok((await readHeader(f)).stanzas.some((s) => s.type === 'quiet'), 'the stanza is the plugin\'s, as it wrote it');
    }
    await run(c.call('artifactsRotate', { files }));
    for (const f of files) assert.ok(await opensWith(q.identity, f), `${f}: a new file key, wrapped through the plugin again`);
    await run(c.call('artifactsRewrap', { files, remove: [q.recipient] }));
    for (const f of files) assert.ok(!(await opensWith(q.identity, f)), `${f}: removed`);
  });

  it('team policy: a member whose recipient is a plugin recipient is synced to, age artifacts and sops files', async () => {
    const q = fakeKey('quiet');
    const repo = path.join(dir, `repo-${randomBytes(3).toString('hex')}`);
    await fsp.mkdir(path.join(repo, 'models'), { recursive: true });
    await fsp.mkdir(path.join(repo, 'secrets'), { recursive: true });
    const files = await artifacts(2, { keys: ['alice'] }, path.join(repo, 'models'));
    const secret = path.join(repo, 'secrets', 'app.yaml');
    await fsp.writeFile(secret, 'password: hunter2\n');
    await c.call('sopsEncrypt', { path: secret, inPlace: true, age: [alice] });
    await fsp.writeFile(
      path.join(repo, '.keyward.yaml'),
      `version: 1\nteam:\n  members:\n    alice: ${alice}\n    yubi: ${q.recipient}\n  access:\n    - path: models/\n      members: ["*"]\n    - path: "secrets/**"\n      members: ["*"]\n`,
    );
    await agreeTo(c, repo);
    const r = await c.call('teamSync', { root: repo });
    await run(Promise.resolve(r.job!));
    for (const f of files) assert.ok(await opensWith(q.identity, f), f);
    // The sops file's data key is wrapped to the plugin recipient too: with alice suspended, the
    // plugin identity alone opens it.
    await c.call('keysImport', { name: 'yubi', text: `# recipient: ${q.recipient}\n${q.identity}\n` });
    await c.call('keysSetState', { ref: 'alice@v1', state: 'suspended', reason: 'test' });
    const dec = await c.call('sopsDecrypt', { path: secret });
    assert.equal(dec.text, 'password: hunter2\n');
  });

  it('a key that encrypts to its plugin identity itself (no recipient) stays through rewrap and rotate, and goes when removed', async () => {
    const t = fakeKey('quiet');
    await c.call('keysImport', { name: 'tok', text: `${t.identity}\n` });
    const bob = (await c.call('keysGenerate', { name: 'bob' })).key.recipient;
    const files = await artifacts(2, { keys: ['tok', 'alice'] });
    for (const f of files) assert.ok(await opensWith(t.identity, f));
    await run(c.call('artifactsRewrap', { files, add: [bob] }));
    for (const f of files) assert.ok(await opensWith(t.identity, f), `${f}: rewrap kept the identity's stanza`);
    await run(c.call('artifactsRotate', { files }));
    for (const f of files) assert.ok(await opensWith(t.identity, f), `${f}: rotate wrapped the new key to the identity again`);
    await run(c.call('artifactsRewrap', { files, removeKeys: ['tok'] }));
    for (const f of files) assert.ok(!(await opensWith(t.identity, f)), `${f}: removed on request`);
    // And added back by its key, as any key is.
    await run(c.call('artifactsRewrap', { files, addKeys: ['tok'] }));
    for (const f of files) assert.ok(await opensWith(t.identity, f), `${f}: added with --add-key`);
  });

  it("another keystore's key of the same name is not taken for the identity: rotating there refuses, the file unchanged", async () => {
    const t = fakeKey('quiet');
    await c.call('keysImport', { name: 'tok', text: `${t.identity}\n` });
    const [f] = await artifacts(1, { keys: ['tok', 'alice'] });
    const aliceSecret = (await c.call('keysExport', { ref: 'alice', secret: true })).secret!;
    // A second machine: alice's key, and a different identity called tok.
    const home2 = path.join(dir, `home2-${randomBytes(3).toString('hex')}`);
    const env2 = { ...env, KEYWARD_HOME: home2 };
    const d2 = await startDaemon({ home: home2, backend: new MemoryBackend(), env: env2, log: () => undefined });
    const c2 = await DaemonClient.connect(home2, 'test', env2);
    c2.onRequest(PluginEnvironmentRequest, () => Promise.resolve({ env: pluginEnv }));
    try {
      await c2.call('keysImport', { name: 'alice', text: aliceSecret });
      await c2.call('keysImport', { name: 'tok', text: `${fakeKey('quiet').identity}\n` });
      const before = await fsp.readFile(f!);
      const job = await c2.call('jobsWait', { id: (await c2.call('artifactsRotate', { files: [f!] })).id });
      assert.equal(job.state, 'failed');
      assert.match(job.errors[0]!.error, /the file key is also wrapped to tok@v1, a plugin identity this keystore does not hold/);
      assert.ok((await fsp.readFile(f!)).equals(before));
      // A rewrap keeps the identity's stanza without it.
      const bob = (await c2.call('keysGenerate', { name: 'bob' })).key.recipient;
      const rw = await c2.call('jobsWait', { id: (await c2.call('artifactsRewrap', { files: [f!], add: [bob] })).id });
      assert.equal(rw.state, 'done', JSON.stringify(rw.errors));
      assert.ok(await opensWith(t.identity, f!));
    } finally {
      c2.close();
      await d2.stop();
    }
  });

  const sessions = async () => (await fsp.readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);

  it('a job waiting for a touch says so in its progress, and stops saying so once touched', async () => {
    const q = fakeKey('quiet');
    await c.call('keysImport', { name: 'tk', text: `# recipient: ${q.recipient}\n${q.identity}\n` });
    const files = await artifacts(3, { recipients: [q.recipient] });
    const touch = path.join(dir, `touch-${randomBytes(3).toString('hex')}`);
    pluginEnv.FAKE_PLUGIN_TOUCH = touch;
    try {
      let seen!: () => void;
      const waiting = new Promise<void>((r) => (seen = r));
      c.onNotification(JobProgressNotification, (p) => {
        if ((p as JobInfo).waiting?.some((w) => w.plugin === 'quiet')) seen();
      });
      const job = await c.call('artifactsRewrap', { files, add: [alice] });
      const done = c.call('jobsWait', { id: job.id });
      // The job's progress says which plugin it waits on (the fake plugin gives up waiting after 60 s).
      await Promise.race([waiting, done.then(() => assert.fail('the job ended without its progress saying it waited'))]);
      const now = await c.call('jobsGet', { id: job.id });
      assert.equal(now.state, 'running');
      assert.deepEqual(now.waiting?.map((w) => w.plugin), ['quiet']);
      await fsp.writeFile(touch, ''); // the user touches the key
      const final = await done;
      assert.equal(final.state, 'done', JSON.stringify(final.errors));
      assert.equal(final.waiting, undefined, 'no longer waiting');
    } finally {
      delete pluginEnv.FAKE_PLUGIN_TOUCH;
    }
  });

  it("one plugin session and one PIN for a job's files, not one a file", async () => {
    const k = fakeKey('pinwrap');
    await c.call('keysImport', { name: 'pin', text: `# recipient: ${k.recipient}\n${k.identity}\n` });
    const files = await artifacts(6, { recipients: [k.recipient] });
    const aliceSecret = (await c.call('keysExport', { ref: 'alice', secret: true })).secret!;
    await fsp.rm(log, { force: true });
    await run(c.call('artifactsRewrap', { files, add: [alice] }));
    assert.equal(asked.filter((a) => a.kind === 'secret').length, 1, 'the PIN was asked once');
    assert.deepEqual(await sessions(), ['pinwrap identity-v1 6'], 'one session for the six files');
    for (const f of files) assert.ok(await opensWith(aliceSecret, f), f);
  });

  it('a PIN refused in a job fails its files once, with the reason, and changes none', async () => {
    const k = fakeKey('pinwrap');
    await c.call('keysImport', { name: 'pin', text: `# recipient: ${k.recipient}\n${k.identity}\n` });
    const files = await artifacts(4, { recipients: [k.recipient] });
    const before = await Promise.all(files.map((f) => fsp.readFile(f)));
    pin = null;
    const job = await c.call('jobsWait', { id: (await c.call('artifactsRewrap', { files, add: [alice] })).id });
    assert.equal(job.state, 'failed');
    assert.equal(job.filesFailed, 4);
    for (const e of job.errors) assert.match(e.error, /the pinwrap plugin needed to ask you for a secret \(a PIN or passphrase\), but you dismissed it/);
    assert.equal(asked.filter((a) => a.kind === 'secret').length, 1, 'asked once for the job');
    const after = await Promise.all(files.map((f) => fsp.readFile(f)));
    assert.ok(before.every((b, i) => b.equals(after[i]!)), 'no file changed');
  });
});
