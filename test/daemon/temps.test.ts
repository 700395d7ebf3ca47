// Issue 15, item 6: a crash leaves no plaintext and no debris for long. Every temp Keyward
// creates is journaled; the next keyward command or daemon start removes what a killed process
// left, plaintext first; walks and jobs leave Keyward's temp names alone.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DaemonClient, startDaemonProcess } from '../../daemon/client';
import { jobTempPath } from '../../daemon/jobs/manager';
import { CliSandbox } from '../helpers/cli';
import { daemonPid, killDaemon, killHard, sandboxKeystore, spawnCli, until } from '../helpers/procs';

const DAEMON = path.resolve(__dirname, '../../dist/daemon.js');
const temps = async (dir: string) => (await fsp.readdir(dir)).filter((n) => n.includes('keyward-tmp'));

describe('a crash leaves no plaintext and no debris (file keystore)', function () {
  this.timeout(120_000);
  let sb: CliSandbox;

  before(async () => {
    const ks = sandboxKeystore('temps test');
    sb = await CliSandbox.create(ks.env);
    sb.ok([...ks.first, 'keys', 'generate', 'alice']);
  });
  after(async () => {
    await sb?.dispose();
  });

  /**
   * Feeds `bytes` into a FIFO the daemon reads, up to `upTo` bytes, and keeps it open: the
   * request is in flight until the test kills the daemon.
   */
  async function feed(fifo: string, bytes: Buffer, upTo: number): Promise<() => Promise<void>> {
    const w = await fsp.open(fifo, 'w');
    await w.write(bytes.subarray(0, upTo));
    return () => w.close().catch(() => undefined);
  }

  it('a daemon killed while it decrypts to a file: the partial plaintext goes at the next keyward command', async () => {
    // Larger than the decryption's write-behind (32 MiB), so that some of it is written.
    const plain = Buffer.concat([Buffer.from('PLAINTEXT-CANARY '), randomBytes(40 << 20)]);
    await fsp.writeFile(sb.path('model.bin'), plain);
    sb.ok(['encrypt', '-k', 'alice', '-o', 'model.age', 'model.bin']);
    await fsp.rm(sb.path('model.bin'));
    const age = await fsp.readFile(sb.path('model.age'));
    const fifo = sb.path('model.fifo');
    spawnSync('mkfifo', [fifo]);
    const out = sb.path('model.out');
    // Straight to the daemon (the CLI reads a header itself first, which a FIFO cannot give twice).
    const c = await DaemonClient.connect(sb.home, 'test', sb.env);
    const pending = c.call('ageDecrypt', { input: fifo, output: out }).catch((e: unknown) => e);
    // All but the last chunk: the plaintext before it is written, and the request cannot end.
    const close = await feed(fifo, age, age.length - 100_000);
    await until(async () => {
      const t = await temps(sb.dir);
      return t.length === 1 && (await fsp.stat(sb.path(t[0]!))).size > 0;
    }, 30_000, 'the daemon wrote plaintext into its temp');
    await killDaemon(sb);
    await close();
    await pending;
    c.close();
    const [left] = await temps(sb.dir);
    assert.ok(left, 'the kill left the temp');
    assert.ok((await fsp.readFile(sb.path(left))).includes('PLAINTEXT-CANARY'), 'holding plaintext');
    sb.ok(['--version']);
    assert.equal((await temps(sb.dir)).length, 1, '--version does not touch the home');
    // The next keyward command removes it, one that starts no daemon too.
    sb.ok(['--no-daemon', 'keys', 'list']);
    assert.deepEqual(await temps(sb.dir), []);
    await assert.rejects(fsp.access(out), 'and there is no output');
  });

  it('...and so does the next daemon start', async () => {
    const age = await fsp.readFile(sb.path('model.age'));
    const fifo = sb.path('model.fifo');
    const out = sb.path('model.out');
    await startDaemonProcess(sb.home, DAEMON, sb.env);
    const c = await DaemonClient.connect(sb.home, 'test', sb.env);
    const pending = c.call('ageDecrypt', { input: fifo, output: out }).catch((e: unknown) => e);
    const close = await feed(fifo, age, age.length - 100_000);
    await until(async () => (await temps(sb.dir)).length === 1, 30_000, 'the daemon wrote its temp');
    await killDaemon(sb);
    await close();
    await pending;
    c.close();
    assert.equal((await temps(sb.dir)).length, 1);
    await startDaemonProcess(sb.home, DAEMON, sb.env);
    assert.deepEqual(await temps(sb.dir), [], 'removed');
    await assert.rejects(fsp.access(out), 'and no output');
    // Its journal went too; the running daemon's own is empty.
    const journals = await fsp.readdir(path.join(sb.home, 'temps'));
    const pid = await daemonPid(sb);
    assert.ok(journals.every((j) => j.startsWith(`${pid}.`)), journals.join(', '));
  });

  it('a daemon killed while it encrypts: the partial ciphertext goes too', async () => {
    const fifo = sb.path('enc.fifo');
    spawnSync('mkfifo', [fifo]);
    const cli = spawnCli(sb, ['encrypt', '-k', 'alice', '-o', 'enc.age', fifo]);
    const close = await feed(fifo, randomBytes(2 << 20), 2 << 20);
    await until(async () => (await temps(sb.dir)).length === 1, 30_000, 'the daemon wrote its temp');
    await killDaemon(sb);
    await close();
    await cli.done;
    sb.ok(['keys', 'list']);
    assert.deepEqual(await temps(sb.dir), []);
  });

  /**
   * Starts `keyward sops edit FILE` with an editor that says where its file is and waits, then
   * kills the keyward (and the editor, which would outlive it); returns the file it edited.
   */
  async function editKilled(name: string, file: string): Promise<string> {
    const ready = sb.path(`${name}.ready`);
    const script = sb.path(`${name}.sh`);
    await fsp.writeFile(script, `#!/bin/sh\necho "$$ $1" > "${ready}.tmp"\nmv "${ready}.tmp" "${ready}"\nexec sleep 60\n`, { mode: 0o700 });
    const cli = spawnCli(sb, ['sops', 'edit', file], { env: { EDITOR: script } });
    await until(() => fsp.access(ready).then(() => true, () => false), 30_000, 'the editor started');
    const [editorPid, edited] = (await fsp.readFile(ready, 'utf8')).trim().split(' ') as [string, string];
    await killHard(cli.child.pid!);
    await killHard(Number(editorPid));
    await cli.done;
    return edited;
  }

  it('a keyward killed while sops edit runs: the plaintext in RAM goes at the next command', async () => {
    await fsp.writeFile(sb.path('app.yaml'), 'db:\n  password: edit-canary\n');
    sb.ok(['sops', 'encrypt', '--age', 'alice', '-i', 'app.yaml']);
    const file = await editKilled('edit1', 'app.yaml');
    const dir = path.dirname(file);
    assert.match(path.basename(dir), /^keyward-edit-/);
    assert.match(await fsp.readFile(file, 'utf8'), /edit-canary/, 'the kill left the plaintext');
    sb.ok(['keys', 'list']);
    await assert.rejects(fsp.access(dir), 'removed by the next command');
  });

  it('an edit removes what an edit of another home left', async () => {
    const ks = sandboxKeystore('temps test');
    const other = await CliSandbox.create({ ...ks.env, XDG_RUNTIME_DIR: sb.env.XDG_RUNTIME_DIR });
    try {
      await fsp.writeFile(sb.path('app2.yaml'), 'a: b\n');
      sb.ok(['sops', 'encrypt', '--age', 'alice', '-i', 'app2.yaml']);
      const dir = path.dirname(await editKilled('edit2', 'app2.yaml'));
      // Another home's edit: it cannot read sb's journal, but sees the directory's owner is gone.
      other.ok([...ks.first, 'keys', 'generate', 'bob']);
      await fsp.writeFile(other.path('x.yaml'), 'x: y\n');
      other.ok(['sops', 'encrypt', '--age', 'bob', '-i', 'x.yaml']);
      other.ok(['sops', 'edit', 'x.yaml'], { env: { EDITOR: 'true' } });
      await assert.rejects(fsp.access(dir), 'removed by the other edit');
    } finally {
      await other.dispose();
    }
  });

  it('walks and jobs leave Keyward temp names alone: a leftover staging file breaks no later sops rotate', async () => {
    const tree = sb.path('secrets');
    await fsp.mkdir(tree);
    await fsp.writeFile(path.join(tree, 'a.json'), JSON.stringify({ user: 'u', pass: 'p' }));
    sb.ok(['sops', 'encrypt', '--age', 'alice', '-i', path.join(tree, 'a.json')]);
    const full = await fsp.readFile(path.join(tree, 'a.json'));
    // What a job killed while writing its staging file left: the job's temp, and an atomic
    // write's temp of it, cut short.
    const jobTemp = jobTempPath(path.join(tree, 'a.json'), '20260101000000-abcdef');
    await fsp.writeFile(jobTemp, full);
    await fsp.writeFile(`${path.join(tree, '.' + path.basename(jobTemp))}.0123456789ab.keyward-tmp`, full.subarray(0, full.length - 40));
    const r = sb.run(['sops', 'rotate', tree]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 done, 0 unchanged, 0 failed of 1/);
  });
});
