// The daemon's side of the editor (issue 16): encrypt and decrypt as jobs whose cancel stops the
// work, removes what it wrote and is audited as cancelled; skip reasons; a description of an
// encrypted file that names its recipients and fingerprints its data key; adding sops recipients
// header only; replacing a recipient in .sops.yaml. Over a real socket, in-memory keystore.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { DaemonClient } from '../../daemon/client';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { JobProgressNotification, type JobInfo } from '../../daemon/protocol';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { tempDir } from '../helpers/tools';

describe('editor jobs: encrypt/decrypt with cancel, describe, sops recipients (daemon, in-memory keystore)', function () {
  this.timeout(60000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let d: RunningDaemon;
  let c: DaemonClient;

  const wait = (id: string) => c.call('jobsWait', { id });
  const leftovers = async (d2 = dir) => (await fsp.readdir(d2)).filter((n) => n.includes('keyward-'));

  /** Resolves once the job reports progress past `bytes` (notifications from jobs/wait). */
  function progressed(job: JobInfo, bytes: number): { seen: Promise<JobInfo>; final: Promise<JobInfo> } {
    let resolve!: (j: JobInfo) => void;
    const seen = new Promise<JobInfo>((r) => (resolve = r));
    c.onNotification(JobProgressNotification, (p) => {
      const j = p as JobInfo;
      if (j.id === job.id && j.bytesDone >= bytes) resolve(j);
    });
    return { seen, final: wait(job.id) };
  }

  /** Writers of the pipes a test made: closed after each test, so that no job waits on them. */
  const pipes: (() => Promise<void>)[] = [];

  /**
   * A named pipe fed by this test: the job's input does not end until the test says so, so a
   * cancel always lands mid-way, whatever the machine's speed. `feed` writes until `until` settles.
   */
  function pipeInput(name: string): { file: string; write: (b: Buffer) => Promise<void>; feed: (until: Promise<unknown>) => Promise<void>; end: () => Promise<void> } {
    const file = path.join(dir, name);
    assert.equal(spawnSync('mkfifo', [file]).status, 0);
    let handle: fsp.FileHandle | undefined;
    let closed = false;
    const opening = fsp.open(file, 'w').then((h) => (handle = h));
    const end = async () => {
      if (closed) return;
      closed = true;
      await opening;
      await handle!.close();
    };
    pipes.push(end);
    const write = async (b: Buffer) => {
      await opening;
      await handle!.write(b);
    };
    return {
      file,
      write,
      end,
      feed: async (until) => {
        let stop = false;
        void until.finally(() => (stop = true));
        const block = randomBytes(1024 * 1024);
        while (!stop) await write(block);
      },
    };
  }

  async function audit(): Promise<{ event: string; outcome: string; path?: string }[]> {
    return (await c.call('auditShow', {})).records;
  }

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    home = path.join(dir, 'home');
    env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR!, { mode: 0o700 });
    d = await startDaemon({ home, backend: new MemoryBackend(), env, log: () => undefined });
    c = await DaemonClient.connect(home, 'test', env);
    await c.call('keysGenerate', { name: 'alice' });
    await c.call('keysGenerate', { name: 'bob' });
  });
  afterEach(async () => {
    for (const end of pipes.splice(0)) await end().catch(() => undefined);
    c.close();
    await d.stop();
    await cleanup();
  });

  it('encrypts and decrypts files as jobs, with byte progress, to FILE.age and back', async () => {
    const plain = path.join(dir, 'model.safetensors');
    const data = randomBytes(3 * 1024 * 1024 + 17);
    await fsp.writeFile(plain, data);
    const enc = await wait((await c.call('artifactsEncrypt', { files: [plain], keys: ['alice'] })).id);
    assert.equal(enc.state, 'done', JSON.stringify(enc.errors));
    assert.equal(enc.bytesDone, enc.bytesTotal);
    assert.equal(enc.bytesTotal, data.length);
    const out = path.join(dir, 'back', 'model.safetensors');
    await fsp.mkdir(path.dirname(out));
    const dec = await wait((await c.call('artifactsDecrypt', { files: [`${plain}.age`], outputs: { [`${plain}.age`]: out } })).id);
    assert.equal(dec.state, 'done', JSON.stringify(dec.errors));
    assert.ok((await fsp.readFile(out)).equals(data));
    assert.equal((await fsp.stat(out)).mode & 0o777, 0o600, 'plaintext is private');
    assert.deepEqual(await leftovers(), []);
    const rec = (await audit()).find((r) => r.event === 'artifact.decrypt');
    assert.equal(rec?.outcome, 'ok');
    assert.match(JSON.stringify(rec), /alice@v1/, 'the key used is audited');
  });

  it('refuses an existing output before any work, and replaces it only when asked', async () => {
    const plain = path.join(dir, 'w.bin');
    await fsp.writeFile(plain, 'new weights');
    await fsp.writeFile(`${plain}.age`, 'something else');
    const job = await wait((await c.call('artifactsEncrypt', { files: [plain], keys: ['alice'] })).id);
    assert.equal(job.state, 'failed');
    assert.match(job.errors[0]!.error, /exists/);
    assert.equal(await fsp.readFile(`${plain}.age`, 'utf8'), 'something else', 'untouched');
    const again = await wait((await c.call('artifactsEncrypt', { files: [plain], keys: ['alice'], overwrite: true })).id);
    assert.equal(again.state, 'done', JSON.stringify(again.errors));
    assert.equal((await fsp.readFile(`${plain}.age`)).subarray(0, 21).toString(), 'age-encryption.org/v1');
  });

  it('cancel stops an encryption mid-way: no output, no temp file, audited as cancelled', async () => {
    const input = pipeInput('big.ckpt');
    const job = await c.call('artifactsEncrypt', { files: [input.file], keys: ['alice'] });
    const { seen, final } = progressed(job, 1);
    await input.feed(seen);
    const mid = await seen;
    assert.equal(mid.state, 'running');
    const cancelled = await c.call('jobsCancel', { id: job.id });
    assert.equal(cancelled.id, job.id);
    await input.end(); // the rest of the input arrives: the job must not finish it
    const end = await final;
    assert.equal(end.state, 'cancelled');
    assert.equal(end.filesDone, 0);
    await assert.rejects(fsp.stat(`${input.file}.age`), 'no output');
    assert.deepEqual(await leftovers(), [], 'no temp file');
    const records = await audit();
    assert.ok(records.some((r) => r.event === 'artifact.encrypt' && r.outcome === 'cancelled' && r.path === input.file), 'the file is audited as cancelled');
    assert.ok(records.some((r) => r.event === 'job.encrypt.cancelled' && r.outcome === 'cancelled'));
    assert.ok(!records.some((r) => r.event === 'artifact.encrypt' && r.outcome === 'ok'), 'never audited as ok');
  });

  it('cancel stops a decryption mid-way: no plaintext output, no temp file', async () => {
    const plain = path.join(dir, 'm.bin');
    const data = randomBytes(24 * 1024 * 1024);
    await fsp.writeFile(plain, data);
    await wait((await c.call('artifactsEncrypt', { files: [plain], keys: ['alice'] })).id);
    const ageBytes = await fsp.readFile(`${plain}.age`);
    const input = pipeInput('stream.age');
    const out = path.join(dir, 'plain-out.bin');
    const job = await c.call('artifactsDecrypt', { files: [input.file], outputs: { [input.file]: out } });
    const { seen, final } = progressed(job, 1);
    let stop = false;
    void seen.finally(() => (stop = true));
    // Slices of the file until the job reports progress, never all of it.
    for (let at = 0; !stop && at < ageBytes.length - 1024 * 1024; at += 1024 * 1024) await input.write(ageBytes.subarray(at, at + 1024 * 1024));
    await seen;
    await c.call('jobsCancel', { id: job.id });
    await input.end();
    const end = await final;
    assert.equal(end.state, 'cancelled');
    await assert.rejects(fsp.stat(out), 'no plaintext output');
    assert.deepEqual(await leftovers(), []);
    assert.ok((await audit()).some((r) => r.event === 'artifact.decrypt' && r.outcome === 'cancelled'));
  });

  it('cancel of a rotation leaves every file as it was', async () => {
    const files: string[] = [];
    for (let i = 0; i < 6; i++) {
      const p = path.join(dir, `f${i}.bin`);
      await fsp.writeFile(p, randomBytes(2 * 1024 * 1024));
      files.push(`${p}.age`);
    }
    await wait((await c.call('artifactsEncrypt', { files: files.map((f) => f.slice(0, -4)), keys: ['alice'] })).id);
    const before = await Promise.all(files.map((f) => fsp.readFile(f)));
    const job = await c.call('artifactsRotate', { files });
    await c.call('jobsCancel', { id: job.id });
    const end = await wait(job.id);
    assert.equal(end.state, 'cancelled');
    const after = await Promise.all(files.map((f) => fsp.readFile(f)));
    // Files done before the cancel arrived are rotated whole; the others are untouched.
    for (const [i, f] of files.entries()) assert.ok(after[i]!.equals(before[i]!) || !after[i]!.subarray(0, 200).equals(before[i]!.subarray(0, 200)), f);
    assert.equal(after.filter((a, i) => !a.equals(before[i]!)).length, end.filesDone);
    assert.deepEqual(await leftovers(), []);
  });

  it('says why each skipped file was skipped', async () => {
    const plain = path.join(dir, 'x.bin');
    await fsp.writeFile(plain, 'x');
    await wait((await c.call('artifactsEncrypt', { files: [plain], keys: ['alice'] })).id);
    const job = await wait((await c.call('artifactsRewrap', { files: [`${plain}.age`], addKeys: ['alice'] })).id);
    assert.equal(job.filesSkipped, 1);
    assert.deepEqual(job.skipped, [{ file: `${plain}.age`, reason: 'recipients already as asked' }]);
    assert.deepEqual((await c.call('jobsGet', { id: job.id })).skipped, job.skipped);
  });

  it('describes an age file: every recipient named, a data key fingerprint that survives a rewrap and changes on rotation', async () => {
    const bob = (await c.call('keysExport', { ref: 'bob' })).recipient;
    const carol = (await c.call('keysGenerate', { name: 'carol' })).key.recipient;
    const dana = await identityToRecipient(await generateX25519Identity());
    await fsp.writeFile(path.join(dir, '.keyward.yaml'), `version: 1\nteam:\n  members:\n    bob-laptop: ${bob}\n  access:\n    - path: "**"\n      members: ["*"]\n`);
    await fsp.writeFile(path.join(dir, '.sops.yaml'), `creation_rules:\n  - path_regex: .*\n    age: >-\n      ${carol}\n`);
    const plain = path.join(dir, 'model.bin');
    await fsp.writeFile(plain, randomBytes(100_000));
    await wait((await c.call('artifactsEncrypt', { files: [plain], keys: ['alice', 'bob'] })).id);
    const f = `${plain}.age`;
    const a = await c.call('artifactsDescribe', { path: f });
    assert.equal(a.kind, 'age');
    assert.deepEqual(a.openedBy.map((o) => o.ref).sort(), ['alice@v1', 'bob@v1']);
    assert.match(a.dataKeyId ?? '', /^[0-9a-f]{12}$/);
    const names = new Map(a.recipients.map((r) => [r.recipient, r.names.map((n) => `${n.source}:${n.name}`)]));
    assert.deepEqual(names.get(bob), ['keystore:bob@v1', 'team:bob-laptop']);
    assert.equal(a.unaccounted, 0);
    assert.ok(!JSON.stringify(a).includes('AGE-SECRET-KEY'));

    await wait((await c.call('artifactsRewrap', { files: [f], add: [dana] })).id);
    const b = await c.call('artifactsDescribe', { path: f });
    assert.equal(b.dataKeyId, a.dataKeyId, 'a rewrap keeps the data key');
    assert.equal(b.recipients.length, 3);
    assert.deepEqual(b.recipients.find((r) => r.recipient === dana)?.names, [], 'an unknown recipient is listed, unnamed');

    await wait((await c.call('artifactsRotate', { files: [f] })).id);
    const r = await c.call('artifactsDescribe', { path: f });
    assert.notEqual(r.dataKeyId, a.dataKeyId, 'a rotation makes a new data key');

    // None of your keys opens it: counted, not named, no fingerprint.
    await c.call('keysSetState', { ref: 'alice@v1', state: 'suspended' });
    await c.call('keysSetState', { ref: 'bob@v1', state: 'suspended' });
    const locked = await c.call('artifactsDescribe', { path: f });
    assert.equal(locked.dataKeyId, undefined);
    assert.deepEqual(locked.openedBy, []);
    assert.equal(locked.unaccounted, 3);
  });

  it('describes a sops file, naming recipients from .sops.yaml anchors and comments', async () => {
    const alice = (await c.call('keysExport', { ref: 'alice' })).recipient;
    const bob = (await c.call('keysExport', { ref: 'bob' })).recipient;
    const cfg = `keys:\n  - &alice-laptop ${alice}\ncreation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age:\n      - *alice-laptop\n      - ${bob} # bob's desktop\n`;
    await fsp.writeFile(path.join(dir, '.sops.yaml'), cfg);
    const file = path.join(dir, 'app.enc.yaml');
    await c.call('sopsEncrypt', { path: file, output: file, text: 'a: 1\n', format: 'yaml' });
    const s = await c.call('artifactsDescribe', { path: file });
    assert.equal(s.kind, 'sops');
    const named = new Map(s.recipients.map((r) => [r.recipient, r.names.map((n) => `${n.source}:${n.name}`)]));
    assert.deepEqual(named.get(alice), ['keystore:alice@v1', 'sops-config:alice-laptop']);
    assert.deepEqual(named.get(bob), ['keystore:bob@v1', "sops-config:bob's desktop"]);
    assert.ok(s.recipients.every((r) => r.yours));
    assert.match(s.dataKeyId ?? '', /^[0-9a-f]{12}$/);
  });

  it('adds a recipient to sops files header only (same data key, values untouched), and says when there is nothing to do', async function () {
    const alice = (await c.call('keysExport', { ref: 'alice' })).recipient;
    const bob = (await c.call('keysExport', { ref: 'bob' })).recipient;
    const file = path.join(dir, 'app.enc.yaml');
    await c.call('sopsEncrypt', { path: file, output: file, text: 'db:\n  password: hunter2\n', format: 'yaml', age: [alice] });
    const before = await fsp.readFile(file, 'utf8');
    const id = (await c.call('artifactsDescribe', { path: file })).dataKeyId;
    const job = await wait((await c.call('sopsAddKeys', { paths: [file], addAge: [bob] })).id);
    assert.equal(job.state, 'done', JSON.stringify(job.errors));
    assert.equal(job.kind, 'sops-addkeys');
    const after = await fsp.readFile(file, 'utf8');
    const value = (t: string) => /password: (ENC\[[^\]]+\])/.exec(t)?.[1];
    assert.equal(value(after), value(before), 'the value keeps its exact ciphertext');
    assert.equal((await c.call('artifactsDescribe', { path: file })).dataKeyId, id, 'same data key');
    await c.call('keysSetState', { ref: 'alice@v1', state: 'suspended' });
    assert.match((await c.call('sopsDecrypt', { path: file })).text, /hunter2/, 'bob opens it');
    await c.call('keysSetState', { ref: 'alice@v1', state: 'active' });
    const again = await wait((await c.call('sopsAddKeys', { paths: [file], addAge: [bob] })).id);
    assert.deepEqual(again.skipped, [{ file, reason: 'already encrypted to these keys' }]);
  });

  it('replaces a recipient in .sops.yaml, keeping comments, anchors and other rules', async () => {
    const old = (await c.call('keysExport', { ref: 'alice' })).recipient;
    const next = (await c.call('keysExport', { ref: 'bob' })).recipient;
    const other = await identityToRecipient(await generateX25519Identity());
    const cfg = `# team keys\nkeys:\n  - &me ${old} # my laptop\ncreation_rules:\n  - path_regex: \\.enc\\.yaml$ # configs\n    age: ${other},${old}\n  - path_regex: secrets/.*\n    age:\n      - *me\n      - ${next}\n`;
    const file = path.join(dir, '.sops.yaml');
    await fsp.writeFile(file, cfg, { mode: 0o640 });
    const sub = path.join(dir, 'config');
    await fsp.mkdir(sub);
    const r = await c.call('sopsReplaceRecipients', { path: sub, replace: [{ from: old, to: next }] });
    assert.equal(r.config, file);
    assert.equal(r.changed, 2);
    const text = await fsp.readFile(file, 'utf8');
    assert.ok(!text.includes(old), text);
    assert.match(text, /# team keys/);
    assert.match(text, /# my laptop/);
    assert.match(text, /# configs/);
    assert.match(text, new RegExp(`age: ${other},${next}`));
    assert.match(text, /&me/);
    assert.equal((await fsp.stat(file)).mode & 0o777, 0o640);
    const none = await c.call('sopsReplaceRecipients', { path: sub, replace: [{ from: old, to: next }] });
    assert.equal(none.changed, 0);
  });
});
