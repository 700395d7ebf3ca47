import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DaemonClient } from '../../daemon/client';
import { WorkspaceEventNotification, type WorkspaceEventParams } from '../../daemon/protocol/workspace';
import { tempDir } from '../helpers/tools';

// A write that fails half-way, as on a full disk. Tests run as root in CI, where permissions
// stop nothing, and there is no small file system to fill; a file-size limit (RLIMIT_FSIZE,
// `ulimit -f`) binds root too: past it, write() fails with EFBIG (Node ignores SIGXFSZ). So
// the daemon runs in a child process whose files may not grow past 256 KiB, and is asked to
// encrypt a 1 MiB model.

const ROOT = path.resolve(__dirname, '../..');
const LIMIT_KIB = 256;

const CHILD = `
const { startDaemon } = require(${JSON.stringify(path.join(ROOT, 'daemon/server/daemon.ts'))});
const { MemoryBackend } = require(${JSON.stringify(path.join(ROOT, 'daemon/keystore/memory.ts'))});
startDaemon({ home: process.env.KEYWARD_HOME, backend: new MemoryBackend(), log: () => undefined }).then((d) => {
  process.stdout.write('ready\\n');
  process.on('SIGTERM', () => void d.stop().then(() => process.exit(0)));
}, (e) => { process.stderr.write(String(e) + '\\n'); process.exit(1); });
`;

async function waitFor<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('watcher: a write that fails half-way (file-size limit, as on a full disk)', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let child: ChildProcess;
  let c: DaemonClient | undefined;

  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => {
    c?.close();
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await cleanup();
  });

  it('reports a clear error; the original is untouched and no partial .age or temp file is left', async () => {
    dir = await fsp.realpath(dir);
    const home = path.join(dir, 'home');
    const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    child = spawn('bash', ['-c', `ulimit -f ${LIMIT_KIB} && exec "$0" --import tsx -e "$1"`, process.execPath, CHILD], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    await waitFor(() => out.includes('ready') || child.exitCode !== null, 'the daemon to start');
    assert.ok(out.includes('ready'), `daemon did not start: ${err}`);

    c = await DaemonClient.connect(home, 'test', env);
    const events: WorkspaceEventParams[] = [];
    c.onNotification(WorkspaceEventNotification, (p) => events.push(p as WorkspaceEventParams));
    await c.call('keysGenerate', { name: 'team' });

    const ws = path.join(dir, 'ws');
    await fsp.mkdir(ws);
    await fsp.writeFile(path.join(ws, '.keyward.yaml'), 'version: 1\nrecipients: [team]\nsettle_ms: 300\n');
    const model = path.join(ws, 'model.safetensors');
    const data = randomBytes(4 * LIMIT_KIB * 1024);
    await fsp.writeFile(model, data); // this process has no limit
    await c.call('workspaceRegister', { root: ws });

    const ev = await waitFor(() => events.find((e) => e.path === model && e.kind === 'error'), 'an error event');
    assert.match(ev.message, /^could not encrypt model\.safetensors: write: file too large .*\(EFBIG\): .*model\.safetensors\.age; the original is untouched/);

    assert.equal(createHash('sha256').update(await fsp.readFile(model)).digest('hex'), createHash('sha256').update(data).digest('hex'), 'original untouched');
    const left = await fsp.readdir(ws);
    assert.ok(!left.includes('model.safetensors.age'), 'no partial .age');
    assert.ok(!left.some((f) => f.endsWith('.keyward-tmp')), `temp file left: ${left.join(' ')}`);
    const recs = (await c.call('auditShow', {})).records.filter((r) => r.event === 'watch.encrypt');
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.outcome, 'failed');
    assert.match(recs[0]!.detail ?? '', /EFBIG/);
    assert.equal(events.filter((e) => e.kind === 'encrypted').length, 0);
  });
});
