import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readHeader } from '../../daemon/age';
import { DaemonClient } from '../../daemon/client';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { requireTool, tempDir } from '../helpers/tools';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('artifact jobs: rewrap and rotate (daemon, in-memory keystore)', function () {
  this.timeout(60000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let d: RunningDaemon;
  let c: DaemonClient;
  let backend: MemoryBackend;
  const data = new Map<string, Buffer>();

  async function encrypt(name: string, size: number, keys: string[]): Promise<string> {
    const plain = path.join(dir, name);
    const buf = randomBytes(size);
    await fsp.writeFile(plain, buf);
    const out = `${plain}.age`;
    await c.call('ageEncrypt', { input: plain, output: out, keys });
    await fsp.rm(plain);
    data.set(out, buf);
    return out;
  }

  async function decrypts(file: string): Promise<boolean> {
    const out = path.join(dir, `check-${randomBytes(4).toString('hex')}`);
    try {
      await c.call('ageDecrypt', { input: file, output: out });
      assert.deepEqual(await fsp.readFile(out), data.get(file));
      return true;
    } catch {
      return false;
    } finally {
      await fsp.rm(out, { force: true });
    }
  }

  async function run(p: Promise<{ id: string }>) {
    const job = await p;
    return c.call('jobsWait', { id: job.id });
  }

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    home = path.join(dir, 'home');
    env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR!, { mode: 0o700 });
    backend = new MemoryBackend();
    d = await startDaemon({ home, backend, env, log: () => undefined });
    c = await DaemonClient.connect(home, 'test', env);
    await c.call('keysGenerate', { name: 'alice' });
    await c.call('keysGenerate', { name: 'bob' });
  });
  afterEach(async () => {
    c.close();
    await d.stop();
    await cleanup();
  });

  it('rewrap adds a recipient by rewriting the header only: same size, payload bytes untouched', async () => {
    const f = await encrypt('model.safetensors', 3 * 65536 + 5, ['alice']);
    const before = await fsp.readFile(f);
    const h0 = await readHeader(f);
    const job = await run(c.call('artifactsRewrap', { files: [f], addKeys: ['bob'] }));
    assert.equal(job.state, 'done', JSON.stringify(job.errors));
    const after = await fsp.readFile(f);
    assert.equal(after.length, before.length);
    assert.ok(after.subarray(h0.size).equals(before.subarray(h0.size)), 'payload unchanged');
    assert.ok(!after.subarray(0, h0.size).equals(before.subarray(0, h0.size)), 'header changed');
    await c.call('keysSetState', { ref: 'alice@v1', state: 'suspended' });
    assert.ok(await decrypts(f), 'bob opens it');
  });

  it('rewrap removes a recipient; a rotate then changes the file key and payload', async () => {
    const f = await encrypt('w.bin', 100_000, ['alice', 'bob']);
    const job = await run(c.call('artifactsRewrap', { files: [f], removeKeys: ['bob'] }));
    assert.equal(job.state, 'done', JSON.stringify(job.errors));
    await c.call('keysSetState', { ref: 'alice@v1', state: 'suspended' });
    assert.equal(await decrypts(f), false, 'bob no longer opens it');
    await c.call('keysSetState', { ref: 'alice@v1', state: 'active' });
    const h = await readHeader(f);
    const before = await fsp.readFile(f);
    const rot = await run(c.call('artifactsRotate', { files: [f] }));
    assert.equal(rot.state, 'done', JSON.stringify(rot.errors));
    const after = await fsp.readFile(f);
    assert.ok(!after.subarray(h.size + 16, h.size + 64).equals(before.subarray(h.size + 16, h.size + 64)), 'payload re-encrypted');
    assert.ok(await decrypts(f));
    const names = await fsp.readdir(dir);
    assert.deepEqual(names.filter((n) => n.includes('keyward-')), [], 'no temp files left');
  });

  it('a rewrap that changes nothing is reported as unchanged', async () => {
    const f = await encrypt('x.bin', 10, ['alice']);
    const job = await run(c.call('artifactsRewrap', { files: [f], addKeys: ['alice'] }));
    assert.equal(job.state, 'done');
    assert.equal(job.filesSkipped, 1);
  });

  it('refuses to remove recipients from a file whose recipients it does not know, leaving it untouched', async function () {
    requireTool(this, 'age');
    const recipient = (await c.call('keysExport', { ref: 'alice' })).recipient;
    const plain = path.join(dir, 'p.bin');
    await fsp.writeFile(plain, randomBytes(5000));
    const f = path.join(dir, 'foreign.age');
    const r = spawnSync('age', ['-r', recipient, '-o', f, plain]);
    assert.equal(r.status, 0, r.stderr.toString());
    const before = await fsp.readFile(f);
    const job = await run(c.call('artifactsRewrap', { files: [f], removeKeys: ['bob'] }));
    assert.equal(job.state, 'failed');
    assert.match(job.errors[0]!.error, /does not know who this file is encrypted to/);
    assert.deepEqual(await fsp.readFile(f), before);
    // Adding works (the payload is copied once, as is), and leaves room for the next rewrap.
    const add = await run(c.call('artifactsRewrap', { files: [f], addKeys: ['bob'] }));
    assert.equal(add.state, 'done', JSON.stringify(add.errors));
    data.set(f, await fsp.readFile(plain));
    await c.call('keysSetState', { ref: 'alice@v1', state: 'suspended' });
    assert.ok(await decrypts(f));
  });

  it('many files at once, with progress, bounded concurrency and a per-file failure that spares the rest', async () => {
    const files: string[] = [];
    for (let i = 0; i < 12; i++) files.push(await encrypt(`m${i}.bin`, 1000 + i * 7000, ['alice']));
    const broken = path.join(dir, 'broken.age');
    await fsp.writeFile(broken, 'not an age file');
    const job = await c.call('artifactsRotate', { files: [...files, broken] });
    const progress: number[] = [];
    const { JobProgressNotification } = await import('../../daemon/protocol');
    c.onNotification(JobProgressNotification, (p) => progress.push((p as { filesDone: number }).filesDone));
    const done = await c.call('jobsWait', { id: job.id });
    assert.equal(done.state, 'failed');
    assert.equal(done.filesDone, 12);
    assert.equal(done.filesFailed, 1);
    assert.match(done.errors[0]!.error, /not an age file/);
    for (const f of files) assert.ok(await decrypts(f), f);
    const audit = await c.call('auditShow', {});
    assert.ok(audit.records.some((r) => r.event === 'job.rotate.failed'));
    assert.ok(audit.records.filter((r) => r.event === 'artifact.rotate' && r.outcome === 'ok').length === 12);
  });

  it('decrypts a byte range reading only the chunks it needs', async () => {
    const f = await encrypt('ckpt.bin', 5 * 65536 + 123, ['alice']);
    const out = path.join(dir, 'range.out');
    const start = 65536 - 10;
    const end = 3 * 65536 + 7;
    const r = await c.call('ageDecryptRange', { input: f, start, end, output: out });
    assert.equal(r.bytesOut, end - start);
    assert.deepEqual(await fsp.readFile(out), data.get(f)!.subarray(start, end));
  });

  it('keeps every file whole when the daemon stops mid-job, and resumes the job at restart', async () => {
    const files: string[] = [];
    for (let i = 0; i < 6; i++) files.push(await encrypt(`r${i}.bin`, 2 * 1024 * 1024, ['alice']));
    const before = new Map<string, string>();
    for (const f of files) before.set(f, sha(await fsp.readFile(f)));
    const job = await c.call('artifactsRotate', { files });
    await new Promise((r) => setTimeout(r, 30));
    c.close();
    await d.stop('test');
    // Each file is in its old or its new complete form.
    for (const f of files) assert.ok(await readHeader(f));
    d = await startDaemon({ home, backend, env, log: () => undefined });
    c = await DaemonClient.connect(home, 'test', env);
    const end = await c.call('jobsWait', { id: job.id });
    assert.equal(end.state, 'done', JSON.stringify(end.errors));
    for (const f of files) {
      assert.ok(await decrypts(f), f);
      assert.notEqual(sha(await fsp.readFile(f)), before.get(f), 'rotated');
    }
  });
});
