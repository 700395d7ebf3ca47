// The daemon connection, inside the real extension host: activation, commands, crash and
// reconnect, and pending calls rejected when the connection drops (against a fake daemon).
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { ErrorCode } from '../../../daemon/protocol';
import { DaemonConnection } from '../../../src/client/connection';
import { DaemonError } from '../../../src/client/errors';
import { daemonPaths } from '../../../src/client/paths';
import { api, until } from './util';

describe('connection', function () {
  it('activates and connects to a daemon the extension started itself', async function () {
    const k = await api();
    const st = await until('a connection', 30_000, () => (k.services.conn.state.kind === 'connected' ? k.services.conn.state : undefined));
    assert.ok(st.status.pid > 0);
    assert.equal(st.status.home, process.env.KEYWARD_HOME);
  });

  it('registers every command of its manifest', async function () {
    const ext = vscode.extensions.getExtension('keyward.keyward')!;
    const declared = (ext.packageJSON as { contributes: { commands: { command: string }[] } }).contributes.commands.map((c) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = declared.filter((c) => !registered.has(c));
    assert.deepEqual(missing, []);
  });

  it('reconnects after the daemon crashes, to a new daemon', async function () {
    const k = await api();
    const conn = k.services.conn;
    const before = await conn.call('status', {});
    const states: string[] = [];
    const sub = conn.onDidChangeState((s) => states.push(s.kind));
    try {
      process.kill(before.pid, 'SIGKILL');
      await until('the loss to be noticed', 10_000, () => states.includes('disconnected'));
      const after = await until('a new daemon', 30_000, async () => {
        if (conn.state.kind !== 'connected') return undefined;
        const s = await conn.call('status', {});
        return s.pid !== before.pid ? s : undefined;
      });
      assert.notEqual(after.pid, before.pid);
      assert.ok((await conn.call('keysList', {})).keys.length > 0, 'the keys are still there');
    } finally {
      sub.dispose();
    }
  });

  it('rejects pending calls when the connection drops', async function () {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kw-fake-'));
    const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run') };
    const home = path.join(dir, 'home');
    await fsp.mkdir(home, { recursive: true });
    const paths = daemonPaths(home, env);
    await fsp.mkdir(path.dirname(paths.socket), { recursive: true, mode: 0o700 });
    await fsp.writeFile(paths.token, 'fake-token\n', { mode: 0o600 });
    const sockets: net.Socket[] = [];
    // A daemon that authenticates, answers status, and never answers keys/list.
    const server = net.createServer((s) => {
      sockets.push(s);
      const c = createMessageConnection(new SocketMessageReader(s), new SocketMessageWriter(s));
      c.onRequest('session/authenticate', () => ({ daemonVersion: 'fake', protocolVersion: 1 }));
      c.onRequest('daemon/status', () => ({ pid: 1, version: 'fake', home, socket: paths.socket, startedAt: new Date().toISOString(), keystore: { backend: 'memory', available: true }, keys: 0 }));
      c.onRequest('keys/list', () => new Promise(() => undefined));
      c.listen();
    });
    await new Promise<void>((r) => server.listen(paths.socket, r));
    const log = vscode.window.createOutputChannel('Keyward fake test', { log: true });
    const conn = new DaemonConnection({ home: () => home, daemonScript: () => '/nonexistent', mayStart: () => false, log, env });
    try {
      const pending = conn.call('keysList', {}, { timeoutMs: 0 });
      await until('the call to be sent', 5_000, () => (conn.state.kind === 'connected' ? true : undefined));
      await new Promise((r) => setTimeout(r, 100));
      for (const s of sockets) s.destroy();
      await assert.rejects(pending, (e: unknown) => e instanceof DaemonError && e.code === ErrorCode.DaemonUnavailable);
      // A call timing out is an error too, not a hang.
      server.close();
      await fsp.rm(paths.socket, { force: true });
    } finally {
      conn.dispose();
      log.dispose();
      server.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('starts no daemon where it may not (restricted mode), and says so', async function () {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kw-none-'));
    const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run') };
    const log = vscode.window.createOutputChannel('Keyward restricted test', { log: true });
    const conn = new DaemonConnection({ home: () => path.join(dir, 'home'), daemonScript: () => '/must/not/run', mayStart: () => false, log, env });
    try {
      await assert.rejects(conn.call('status', {}), (e: unknown) => e instanceof DaemonError && e.code === ErrorCode.DaemonUnavailable && /does not start one/.test(e.message));
      assert.equal(conn.state.kind, 'idle', 'not an error state');
      await assert.rejects(fsp.access(path.join(dir, 'home', 'daemon.log')), 'nothing was started');
    } finally {
      conn.dispose();
      log.dispose();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('times out a call the daemon does not answer', async function () {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kw-fake-'));
    const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run') };
    const home = path.join(dir, 'home');
    const paths = daemonPaths(home, env);
    await fsp.mkdir(path.dirname(paths.socket), { recursive: true, mode: 0o700 });
    await fsp.writeFile(paths.token, 'fake-token\n', { mode: 0o600 });
    const server = net.createServer((s) => {
      const c = createMessageConnection(new SocketMessageReader(s), new SocketMessageWriter(s));
      c.onRequest('session/authenticate', () => ({ daemonVersion: 'fake', protocolVersion: 1 }));
      c.onRequest('daemon/status', () => ({ pid: 1, version: 'fake', home, socket: paths.socket, startedAt: new Date().toISOString(), keystore: { backend: 'memory', available: true }, keys: 0 }));
      c.onRequest('keys/list', () => new Promise(() => undefined));
      c.listen();
    });
    await new Promise<void>((r) => server.listen(paths.socket, r));
    const log = vscode.window.createOutputChannel('Keyward fake test 2', { log: true });
    const conn = new DaemonConnection({ home: () => home, daemonScript: () => '/nonexistent', mayStart: () => false, log, env });
    try {
      await assert.rejects(conn.call('keysList', {}, { timeoutMs: 300 }), /did not answer keys\/list/);
    } finally {
      conn.dispose();
      log.dispose();
      server.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
