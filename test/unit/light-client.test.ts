// The light client of `keyward exec` (daemon/transport/light.ts) against a scripted daemon on a
// real socket: the authentication goes first and the call behind it, the daemon's requests to
// the client (an age plugin's questions) are answered, unknown ones refused, notifications
// delivered, and the daemon's errors decoded as the full client decodes them.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { CLI_ERRORS } from '../../daemon/light-client';
import { ErrorCode } from '../../daemon/protocol/errors';
import { encodeFrame, FrameDecoder } from '../../daemon/transport/frames';
import { LightWire } from '../../daemon/transport/light';
import { isKeywardError } from '../../daemon/util/errors';
import { daemonPaths } from '../../daemon/util/paths';
import { tempDir } from '../helpers/tools';

type Msg = { id?: number | string; method?: string; params?: unknown; result?: unknown; error?: { code: number } };

/** A daemon that runs `script` on each connection: `next()` is the next message from the client. */
async function scripted(dir: string, script: (send: (m: object) => void, next: () => Promise<Msg>, end: () => void) => Promise<void>) {
  const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: path.join(dir, 'home') };
  const paths = daemonPaths(env.KEYWARD_HOME, env);
  await fsp.mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  await fsp.writeFile(paths.token, 't'.repeat(64) + '\n', { mode: 0o600 });
  const failures: unknown[] = [];
  const server = net.createServer((sock) => {
    const queue: Msg[] = [];
    let waiting: ((m: Msg) => void) | undefined;
    const decoder = new FrameDecoder(() => 1 << 20);
    sock.on('data', (b: Buffer) =>
      decoder.push(b, (m) => {
        if (waiting) {
          const w = waiting;
          waiting = undefined;
          w(m);
        } else queue.push(m);
        return true;
      }),
    );
    const next = () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise<Msg>((r) => (waiting = r)));
    script((m) => sock.write(encodeFrame({ jsonrpc: '2.0', ...m })), next, () => sock.end()).catch((e: unknown) => failures.push(e));
  });
  await new Promise<void>((r) => server.listen(paths.socket, r));
  return { paths, server, failures };
}

describe('the light client of keyward exec', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: net.Server | undefined;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = undefined;
    await cleanup();
  });

  it('authenticates first, answers the daemon requests of the call (plugin questions), refuses unknown ones, delivers notifications', async () => {
    const d = await scripted(dir, async (send, next) => {
      const auth = await next();
      assert.equal(auth.method, 'session/authenticate');
      assert.equal((auth.params as { token: string }).token, 't'.repeat(64));
      send({ id: auth.id, result: { daemonVersion: 'x', protocolVersion: 1 } });
      const call = await next();
      assert.equal(call.method, 'exec/open');
      send({ method: 'plugins/waiting', params: { plugin: 'p', waiting: true } });
      send({ id: 'q1', method: 'plugins/environment', params: {} });
      const env = await next();
      assert.equal(env.id, 'q1');
      send({ id: 'q2', method: 'no/such', params: {} });
      const refused = await next();
      assert.equal(refused.id, 'q2');
      assert.equal(refused.error?.code, ErrorCode.MethodNotFound);
      send({ id: call.id, result: { env: [], files: [], warnings: [`env has PATH: ${typeof (env.result as { env: Record<string, string> }).env.PATH}`] } });
    });
    server = d.server;
    const w = await LightWire.connect(d.paths, 'test', CLI_ERRORS);
    const notes: unknown[] = [];
    w.onNotification('plugins/waiting', (p) => notes.push(p));
    w.onRequest('plugins/environment', () => Promise.resolve({ env: { PATH: '/bin' } }));
    try {
      const r = await w.call('execOpen', { program: 'true', env: [], files: [] });
      assert.deepEqual(r.warnings, ['env has PATH: string']);
      assert.deepEqual(notes, [{ plugin: 'p', waiting: true }]);
      assert.deepEqual(d.failures, []);
    } finally {
      w.close();
    }
  });

  it("decodes the daemon's errors with their hints; a refused authentication fails the call behind it", async () => {
    const d = await scripted(dir, async (send, next) => {
      const auth = await next();
      send({ id: auth.id, result: {} });
      const call = await next();
      send({ id: call.id, error: { code: ErrorCode.DecryptFailed, message: 'no key opens it', data: { hint: 'import the key' } } });
    });
    server = d.server;
    const w = await LightWire.connect(d.paths, 'test', CLI_ERRORS);
    try {
      await assert.rejects(w.call('execOpen', { program: 'true', env: [], files: [] }), (e: unknown) => isKeywardError(e) && e.code === ErrorCode.DecryptFailed && e.message === 'no key opens it' && e.hint === 'import the key');
    } finally {
      w.close();
    }
    await new Promise((r) => server!.close(r));
    // As the daemon does: the refusal, then the connection closed; the call behind it is never served.
    const refusing = await scripted(dir, async (send, next, end) => {
      const auth = await next();
      await next(); // the call, sent behind it
      send({ id: auth.id, error: { code: ErrorCode.Unauthorized, message: 'refused: wrong daemon token' } });
      end();
    });
    server = refusing.server;
    const w2 = await LightWire.connect(refusing.paths, 'test', CLI_ERRORS);
    try {
      await assert.rejects(w2.call('execOpen', { program: 'true', env: [], files: [] }), (e: unknown) => isKeywardError(e) && e.code === ErrorCode.Unauthorized && /wrong daemon token/.test(e.message));
    } finally {
      w2.close();
    }
  });
});
