import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { ErrorCode, PROTOCOL_VERSION } from '../../daemon/protocol';
import { LightClient } from '../../daemon/light-client';
import { DaemonClient, startDaemonProcess } from '../../daemon/client';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { isAlive } from '../../daemon/util/process';
import { KeywardError } from '../../daemon/util/errors';
import { daemonPaths } from '../../daemon/util/paths';
import { processesIn, tempDir } from '../helpers/tools';

const code = (c: number) => (e: unknown) => (e instanceof KeywardError || (e as { code?: number }).code !== undefined) && (e as { code: number }).code === c;

function rawConnect(socket: string): Promise<{ conn: MessageConnection; sock: net.Socket }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socket, () => {
      const conn = createMessageConnection(new SocketMessageReader(sock), new SocketMessageWriter(sock));
      conn.listen();
      resolve({ conn, sock });
    });
    sock.once('error', reject);
  });
}

/** A temp dir with a private runtime dir in it, and the home and environment of a daemon there. */
async function freshHome(): Promise<{ dir: string; cleanup: () => Promise<void>; home: string; env: NodeJS.ProcessEnv }> {
  const { dir, cleanup } = await tempDir();
  const home = path.join(dir, 'home');
  const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
  await fsp.mkdir(env.XDG_RUNTIME_DIR, { mode: 0o700 });
  return { dir, cleanup, home, env };
}

describe('daemon over its real socket (in-memory keystore)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let home: string;
  let d: RunningDaemon;
  const logs: string[] = [];

  beforeEach(async () => {
    ({ dir, cleanup, home, env } = await freshHome());
    logs.length = 0;
    d = await startDaemon({ home, backend: new MemoryBackend(), env, log: (l) => logs.push(l) });
  });
  afterEach(async () => {
    await d.stop();
    await cleanup();
  });

  it('owns its socket: 0700 directory, 0600 socket and token', async () => {
    const p = d.paths;
    assert.equal(p.socket, path.join(dir, 'run', 'keyward', path.basename(p.socket)));
    assert.equal((await fsp.stat(p.runDir)).mode & 0o777, 0o700);
    const s = await fsp.stat(p.socket);
    assert.ok(s.isSocket());
    assert.equal(s.mode & 0o777, 0o600);
    assert.equal((await fsp.stat(p.token)).mode & 0o777, 0o600);
    assert.equal((await fsp.stat(home)).mode & 0o777, 0o700);
  });

  it('serves an authenticated client', async () => {
    const c = await DaemonClient.connect(home, 'test', env);
    try {
      const k = await c.call('keysGenerate', { name: 'alice' });
      assert.match(k.key.recipient, /^age1/);
      const s = await c.call('status', {});
      assert.equal(s.keys, 1);
      assert.equal(s.keystore.backend, 'memory');
      assert.equal(s.socket, d.paths.socket);
    } finally {
      c.close();
    }
  });

  it('refuses a wrong token, audits it, and drops the connection', async () => {
    const { conn, sock } = await rawConnect(d.paths.socket);
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    await assert.rejects(
      conn.sendRequest('session/authenticate', { token: 'f'.repeat(64), client: 'evil', protocolVersion: PROTOCOL_VERSION }),
      (e: { code: number; message: string }) => e.code === ErrorCode.Unauthorized && /wrong daemon token/.test(e.message),
    );
    await closed;
    const recs = await d.service.audit.show();
    assert.ok(recs.some((r) => r.event === 'auth' && r.outcome === 'refused' && r.client === 'evil'));
  });

  it('one round trip (the light client of exec): a call sent behind the authentication is served once it succeeds, and fails with its error (never served) when it does not; the full client waits for it', async () => {
    // Sent at once behind the authentication (LightWire.connect does not wait for it).
    const c = await LightClient.connectOrStart(home, 'test', 'no-daemon-is-started', env);
    try {
      assert.equal((await c.call('status', {})).socket, d.paths.socket);
    } finally {
      c.close();
    }
    const token = await fsp.readFile(d.paths.token, 'utf8');
    await fsp.writeFile(d.paths.token, 'f'.repeat(token.trim().length));
    try {
      const bad = await LightClient.connectOrStart(home, 'pipelined', 'no-daemon-is-started', env);
      try {
        await assert.rejects(bad.call('keysGenerate', { name: 'never' }), (e: unknown) => e instanceof KeywardError && e.code === ErrorCode.Unauthorized && /wrong daemon token/.test(e.message));
      } finally {
        bad.close();
      }
      // The full client fails at the connect, where connectOrStart decides what to do.
      await assert.rejects(DaemonClient.connect(home, 'test', env), (e: unknown) => e instanceof KeywardError && e.code === ErrorCode.Unauthorized && /wrong daemon token/.test(e.message));
    } finally {
      await fsp.writeFile(d.paths.token, token);
    }
    const ok = await DaemonClient.connect(home, 'test', env);
    try {
      assert.equal((await ok.call('keysList', {})).keys.some((k) => k.name === 'never'), false);
      assert.equal((await ok.call('status', {})).requests, 1, 'status counts the requests in progress, its own');
    } finally {
      ok.close();
    }
  });

  it('tells the client what to do when the token file is missing', async () => {
    await fsp.rm(d.paths.token);
    await assert.rejects(DaemonClient.connect(home, 'test', env), (e: unknown) => e instanceof KeywardError && e.code === ErrorCode.DaemonUnavailable && /token/.test(e.message) && /restart/.test(e.hint ?? ''));
  });

  it('refuses every method before authentication', async () => {
    const { conn, sock } = await rawConnect(d.paths.socket);
    try {
      await assert.rejects(conn.sendRequest('keys/list', {}), (e: { code: number }) => e.code === ErrorCode.Unauthorized);
      const recs = await d.service.audit.show();
      assert.ok(recs.some((r) => r.event === 'auth' && r.outcome === 'refused' && /keys\/list/.test(r.detail ?? '')));
    } finally {
      conn.dispose();
      sock.destroy();
    }
  });

  it('rejects malformed params before any work: types, sizes, unknown fields', async () => {
    const c = await DaemonClient.connect(home, 'test', env);
    const bad: [string, unknown][] = [
      ['keysGenerate', { name: 'Alice Smith' }],
      ['keysGenerate', { name: 'a'.repeat(200) }],
      ['keysGenerate', { name: 'ok', extra: 1 }],
      ['keysGenerate', { name: 42 }],
      ['keysSetState', { ref: 'k@v1', state: 'destroyed' }],
      ['keysSetState', { ref: 'k@v1', state: 'sleeping' }],
      ['ageEncrypt', { input: 'relative/path', output: '/tmp/x.age', recipients: ['age1abc'] }],
      ['ageEncrypt', { input: '/tmp/a', output: '/tmp/a.age', recipients: [], keys: [] }],
      ['ageEncrypt', { input: '/tmp/a\0b', output: '/tmp/a.age', keys: ['k'] }],
      ['auditShow', { limit: -1 }],
    ];
    try {
      for (const [k, p] of bad) {
        await assert.rejects(c.call(k as 'keysGenerate', p as { name: string }), code(ErrorCode.InvalidParams), `${k} ${JSON.stringify(p)}`);
      }
      // Nothing was created by any of them.
      assert.equal((await c.call('keysList', {})).keys.length, 0);
    } finally {
      c.close();
    }
  });

  it('answers unknown methods with MethodNotFound', async () => {
    const c = await DaemonClient.connect(home, 'test', env);
    const { conn, sock } = await rawConnect(d.paths.socket);
    try {
      const token = (await fsp.readFile(d.paths.token, 'utf8')).trim();
      await conn.sendRequest('session/authenticate', { token, client: 'raw', protocolVersion: PROTOCOL_VERSION });
      await assert.rejects(conn.sendRequest('keys/steal', {}), (e: { code: number }) => e.code === ErrorCode.MethodNotFound);
    } finally {
      c.close();
      conn.dispose();
      sock.destroy();
    }
  });

  it('logs method, duration and outcome, never params', async () => {
    const c = await DaemonClient.connect(home, 'test', env);
    await c.call('keysGenerate', { name: 'secretname' });
    await c.call('keysExport', { ref: 'secretname', secret: true });
    c.close();
    const text = logs.join('\n');
    assert.match(text, /keys\/generate \d+ms ok/);
    assert.doesNotMatch(text, /secretname|AGE-SECRET-KEY/);
  });

  it('refuses a second daemon for the same home', async () => {
    await assert.rejects(startDaemon({ home, backend: new MemoryBackend(), env, log: () => undefined }), code(ErrorCode.Busy));
  });

  it('stops cleanly: socket and token removed, lock released', async () => {
    await d.stop('test');
    await assert.rejects(fsp.access(d.paths.socket));
    await assert.rejects(fsp.access(d.paths.token));
    await assert.rejects(fsp.access(d.paths.lock));
    await assert.rejects(DaemonClient.connect(home, 'test', env), code(ErrorCode.DaemonUnavailable));
    d = await startDaemon({ home, backend: new MemoryBackend(), env, log: () => undefined });
  });
});

describe('a daemon no client can reach any more stops', () => {
  let cleanup: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let home: string;
  let d: RunningDaemon | undefined;
  const logs: string[] = [];
  const start = () => startDaemon({ home, backend: new MemoryBackend(), env, log: (l) => logs.push(l), reachableCheckMs: 50 });
  /** Resolves true if `p` settles within `ms`. */
  const within = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

  beforeEach(async () => {
    ({ cleanup, home, env } = await freshHome());
    logs.length = 0;
  });
  afterEach(async () => {
    await d?.stop();
    d = undefined;
    await cleanup();
  });

  it('stops when its socket is removed, and a new daemon can start for the home', async () => {
    d = await start();
    await fsp.rm(d.paths.socket);
    assert.ok(await within(d.closed, 5_000), 'the daemon stopped');
    assert.ok(logs.some((l) => /stopping \(its socket .* was removed or replaced: no client can reach this daemon\)/.test(l)), logs.join('\n'));
    await assert.rejects(fsp.access(d.paths.lock), 'its lock was released');
    await assert.rejects(fsp.access(d.paths.token), 'its token was removed');
    // Before, the orphan kept the lock: every new daemon was refused as a second instance.
    d = await start();
    const c = await DaemonClient.connect(home, 'test', env);
    assert.equal((await c.call('status', {})).pid, process.pid);
    c.close();
  });

  it('stops when its socket is replaced, and leaves the new one alone', async () => {
    d = await start();
    await fsp.rm(d.paths.socket);
    const other = net.createServer();
    await new Promise<void>((r) => other.listen(d!.paths.socket, r));
    try {
      assert.ok(await within(d.closed, 5_000), 'the daemon stopped');
      assert.ok((await fsp.stat(d.paths.socket)).isSocket(), "the other server's socket is still there");
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it("stops when another process took over its lock, and leaves that process's lock and token alone", async () => {
    d = await start();
    // What a second daemon does when it judges the lock stale: a new lock file and a new token.
    const theirs = JSON.stringify({ pid: process.ppid, owner: 'daemon' }) + '\n';
    await fsp.rm(d.paths.lock);
    await fsp.writeFile(d.paths.lock, theirs, { mode: 0o600 });
    await fsp.rm(d.paths.token);
    await fsp.writeFile(d.paths.token, 'theirs\n', { mode: 0o600 });
    assert.ok(await within(d.closed, 5_000), 'the daemon stopped');
    assert.ok(logs.some((l) => /its lock .* was removed or taken over/.test(l)), logs.join('\n'));
    assert.equal(await fsp.readFile(d.paths.lock, 'utf8'), theirs);
    assert.equal(await fsp.readFile(d.paths.token, 'utf8'), 'theirs\n');
    await fsp.rm(d.paths.lock);
  });

  it('keeps running while its socket and lock are in place', async () => {
    d = await start();
    assert.equal(await within(d.closed, 500), false, 'still running after ten checks');
    const c = await DaemonClient.connect(home, 'test', env);
    assert.equal((await c.call('status', {})).pid, process.pid);
    c.close();
  });
});

describe('daemon process (dist/daemon.js)', function () {
  this.timeout(30000);
  const script = path.resolve(__dirname, '../../dist/daemon.js');
  let dir: string;
  let cleanup: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let home: string;

  before(async function () {
    try {
      await fsp.access(script);
    } catch {
      throw new Error('dist/daemon.js is missing: run npm run build first (npm test does)');
    }
  });
  beforeEach(async () => {
    ({ dir, cleanup, home, env } = await freshHome());
  });
  // A daemon a failed test left running, or one that lost the race to start and got going
  // late, is stopped by the cleanup before its home goes.
  afterEach(() => cleanup());

  it('shuts down on SIGTERM and removes its socket', async () => {
    const p = await startDaemonProcess(home, script, env);
    const lock = JSON.parse(await fsp.readFile(p.lock, 'utf8')) as { pid: number };
    process.kill(lock.pid, 'SIGTERM');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(lock.pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await assert.rejects(fsp.access(p.socket));
    await assert.rejects(fsp.access(p.lock));
    const audit = await fsp.readFile(path.join(home, 'audit.jsonl'), 'utf8');
    assert.match(audit, /"daemon.stop".*SIGTERM/);
  });

  it('cleans up after a killed daemon (stale lock and socket) and starts again', async () => {
    const p = await startDaemonProcess(home, script, env);
    const { pid } = JSON.parse(await fsp.readFile(p.lock, 'utf8')) as { pid: number };
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await fsp.access(p.socket); // left behind by the kill
    const again = await startDaemonProcess(home, script, env);
    const c = await DaemonClient.connect(home, 'test', env);
    const s = await c.call('status', {});
    assert.notEqual(s.pid, pid);
    await c.call('shutdown', {});
    c.close();
    assert.equal(again.socket, p.socket);
  });

  it('exits by itself when its runtime directory is deleted (no orphan is left behind)', async function () {
    this.timeout(40_000);
    const p = await startDaemonProcess(home, script, env);
    const { pid } = JSON.parse(await fsp.readFile(p.lock, 'utf8')) as { pid: number };
    await fsp.rm(env.XDG_RUNTIME_DIR!, { recursive: true });
    // It checks every 10 s.
    for (let i = 0; i < 300 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(isAlive(pid), false, 'the daemon exited');
    await assert.rejects(fsp.access(p.lock), 'and released its lock');
    assert.match(await fsp.readFile(p.log, 'utf8'), /was removed or replaced: no client can reach this daemon/);
  });

  it('runs one instance per home even when started twice at once', async () => {
    const starts = await Promise.allSettled([startDaemonProcess(home, script, env), startDaemonProcess(home, script, env)]);
    assert.ok(starts.every((s) => s.status === 'fulfilled'));
    const c = await DaemonClient.connect(home, 'test', env);
    await c.call('shutdown', {});
    c.close();
    const log = await fsp.readFile(daemonPaths(home, env).log, 'utf8');
    assert.equal(log.match(/ready on/g)?.length, 1);
  });

  it("a test's temp dir is not removed under a daemon still living in it: the daemon is stopped first", async () => {
    const other = await tempDir();
    try {
      const otherHome = path.join(other.dir, 'home');
      await startDaemonProcess(otherHome, script, { ...env, XDG_RUNTIME_DIR: path.join(other.dir, 'run'), KEYWARD_HOME: otherHome });
      const pids = await processesIn(other.dir);
      assert.equal(pids.length, 1);
      await other.cleanup();
      assert.equal(isAlive(pids[0]!), false);
      await assert.rejects(fsp.access(other.dir), 'and it did not re-create its home');
    } finally {
      await other.cleanup();
    }
  });

  it('says why it cannot start when its runtime directory belongs to no-one sane', async function () {
    // A file where the runtime directory should be: a clear error, not a crash.
    const run = path.join(dir, 'run', 'keyward');
    await fsp.writeFile(run, '');
    const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const codeOut = await new Promise<number | null>((r) => child.once('exit', r));
    assert.notEqual(codeOut, 0);
    assert.match(err, /keyward daemon: /);
  });
});
