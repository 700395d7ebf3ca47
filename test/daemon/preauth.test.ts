// Issue 15, item 4: unauthenticated connections cannot exhaust the daemon. Frames are capped
// before and after authentication, a connection that does not authenticate in time is closed,
// few may wait to authenticate at once, all is freed on close, refusals are audited without
// flooding the log, and anything but session/authenticate before it closes the connection.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ErrorCode, PROTOCOL_VERSION } from '../../daemon/protocol';
import { DaemonClient } from '../../daemon/client';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { startDaemon, type DaemonOptions, type RunningDaemon } from '../../daemon/server/daemon';
import { tempDir } from '../helpers/tools';

/** A raw socket to the daemon, with what it received and whether it was closed. */
interface Raw {
  sock: net.Socket;
  received(): string;
  closed: Promise<void>;
  isClosed(): boolean;
}

function raw(socket: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socket);
    let data = '';
    let closed = false;
    const closedP = new Promise<void>((r) =>
      sock.once('close', () => {
        closed = true;
        r();
      }),
    );
    sock.on('data', (b: Buffer) => (data += b.toString('latin1')));
    sock.on('error', () => undefined);
    sock.once('connect', () => resolve({ sock, received: () => data, closed: closedP, isClosed: () => closed }));
    sock.once('error', reject);
  });
}

const frame = (msg: unknown) => {
  const body = Buffer.from(JSON.stringify(msg));
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
};

/** Resolves true if `p` settles within `ms`. */
const within = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

/** Writes as long as the socket accepts it (resolves when it was closed, or `max` bytes went). */
async function pour(r: Raw, max: number): Promise<number> {
  const chunk = Buffer.alloc(1 << 20, 0x61);
  let sent = 0;
  while (sent < max && !r.isClosed()) {
    const ok = r.sock.write(chunk);
    sent += chunk.length;
    if (!ok) await Promise.race([new Promise((res) => r.sock.once('drain', res)), r.closed]);
  }
  return sent;
}

describe('unauthenticated connections cannot exhaust the daemon', function () {
  this.timeout(60_000);
  let cleanup: () => Promise<void>;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let d: RunningDaemon | undefined;
  const opened: Raw[] = [];

  const start = async (o: Partial<DaemonOptions> = {}) => {
    d = await startDaemon({ home, backend: new MemoryBackend(), env, log: () => undefined, ...o });
    return d;
  };
  const connect = async () => {
    const r = await raw(d!.paths.socket);
    opened.push(r);
    return r;
  };
  const token = async () => (await fsp.readFile(d!.paths.token, 'utf8')).trim();
  const authFrame = async (id = 1, t?: string) => frame({ jsonrpc: '2.0', id, method: 'session/authenticate', params: { token: t ?? (await token()), client: 'raw', protocolVersion: PROTOCOL_VERSION } });
  const authRecords = async () => (await d!.service.audit.show()).filter((r) => r.event === 'auth');

  beforeEach(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    home = path.join(dir, 'home');
    env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR!, { mode: 0o700 });
  });
  afterEach(async () => {
    for (const r of opened.splice(0)) r.sock.destroy();
    await d?.stop();
    d = undefined;
    await cleanup();
  });

  it('closes an unauthenticated connection that announces a big frame, before reading it', async () => {
    await start();
    const r = await connect();
    r.sock.write('Content-Length: 419430400\r\n\r\n');
    const sent = await pour(r, 64 << 20);
    assert.ok(r.isClosed(), `still open after ${sent >> 20} MiB`);
    assert.ok(sent < 32 << 20, `${sent >> 20} MiB were taken before the close`);
  });

  it('caps frames after authentication too', async () => {
    await start();
    const r = await connect();
    r.sock.write(await authFrame());
    for (let i = 0; i < 500 && !r.received().includes('"result"'); i++) await new Promise((res) => setTimeout(res, 10));
    assert.match(r.received(), /"daemonVersion"/, 'authenticated');
    r.sock.write(`Content-Length: ${4 * 1024 * 1024 * 1024}\r\n\r\n`);
    assert.ok(await within(r.closed, 5_000), 'closed');
  });

  it('closes a connection that does not authenticate in time', async () => {
    await start({ authTimeoutMs: 300 });
    const r = await connect();
    assert.ok(await within(r.closed, 5_000), 'closed after the deadline');
    await d!.stop();
    const recs = await authRecords();
    assert.ok(recs.some((x) => /no authentication in time/.test(x.detail ?? '')), JSON.stringify(recs));
  });

  it('lets few connections authenticate at once; the next wait their turn, unread; more are closed', async () => {
    await start({ maxUnauthenticated: 4, maxQueued: 2 });
    const waiting = [await connect(), await connect(), await connect(), await connect()];
    const queued = [await connect(), await connect()];
    const seventh = await connect();
    assert.ok(await within(seventh.closed, 5_000), 'the seventh is closed');
    assert.ok(![...waiting, ...queued].some((w) => w.isClosed()), 'the others are open');
    // A queued one is not read: its authentication is answered once a slot is free.
    queued[0]!.sock.write(await authFrame());
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(queued[0]!.received(), '', 'not served while four are authenticating');
    waiting[0]!.sock.write(await authFrame());
    for (let i = 0; i < 500 && !queued[0]!.received().includes('"result"'); i++) await new Promise((res) => setTimeout(res, 10));
    assert.match(queued[0]!.received(), /"daemonVersion"/, 'served once one authenticated');
  });

  it('lets a burst of clients in, far more than authenticate at once', async () => {
    await start();
    const burst = await Promise.all(Array.from({ length: 100 }, () => DaemonClient.connect(home, 'test', env)));
    assert.equal((await Promise.all(burst.map((c) => c.call('status', {})))).length, 100);
    for (const c of burst) c.close();
  });

  it('frees everything when connections close mid-frame: no timer or buffer is left behind', async () => {
    await start();
    const timers = () => process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    const before = timers();
    for (let i = 0; i < 20; i++) {
      const r = await connect();
      r.sock.write(await authFrame());
      for (let j = 0; j < 500 && !r.received().includes('"result"'); j++) await new Promise((res) => setTimeout(res, 10));
      // A frame cut short: 100 of its 1000 bytes.
      r.sock.write('Content-Length: 1000\r\n\r\n' + '{'.repeat(100));
      await new Promise((res) => setTimeout(res, 5));
      r.sock.destroy();
      await r.closed;
    }
    // The daemon's side closes right after the client's.
    for (let i = 0; i < 200 && timers() > before; i++) await new Promise((res) => setTimeout(res, 10));
    assert.ok(timers() <= before, `${timers() - before} timer(s) outlived their connections`);
  });

  it('audits failed authentications without flooding the log, keeping the count', async () => {
    await start({ refusalWindowMs: 60_000 });
    const bad = 'f'.repeat(64);
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        const r = await connect();
        r.sock.write(await authFrame(1, bad));
        await r.closed;
      }),
    );
    await d!.stop();
    const recs = await authRecords();
    assert.ok(recs.length <= 2, `${recs.length} audit records for 200 refusals`);
    assert.equal(recs[0]!.detail, 'wrong token');
    assert.equal(recs[0]!.client, 'raw');
    assert.match(recs[1]!.detail ?? '', /^199 more refused in 60 s: wrong token x199$/);
  });

  it('closes the connection on any method but session/authenticate before it', async () => {
    await start();
    const r = await connect();
    r.sock.write(frame({ jsonrpc: '2.0', id: 7, method: 'keys/list', params: {} }));
    assert.ok(await within(r.closed, 5_000), 'closed');
    assert.match(r.received(), new RegExp(`"code":${ErrorCode.Unauthorized}`), 'after saying why');
    const n = await connect();
    n.sock.write(frame({ jsonrpc: '2.0', method: 'keys/list', params: {} })); // a notification
    assert.ok(await within(n.closed, 5_000), 'a notification closes it too');
    const g = await connect();
    g.sock.write('Content-Length: 12\r\n\r\nnot json!!!!');
    assert.ok(await within(g.closed, 5_000), 'and so does a malformed frame');
  });
});
