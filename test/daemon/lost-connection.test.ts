// Issue 15, item 1: a request whose connection drops before its result arrives fails with exit
// 7 and one line that says what happened; `sops edit` keeps the edit until it is written.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { DaemonClient } from '../../daemon/client';
import { LightClient } from '../../daemon/light-client';
import { ErrorCode, ExitCode } from '../../daemon/protocol';
import { processStart } from '../../daemon/util/process';
import { isKeywardError } from '../../daemon/util/errors';
import { daemonPaths } from '../../daemon/util/paths';
import { CLI, CliSandbox } from '../helpers/cli';
import { killDaemon, killHard, sandboxKeystore, spawnCli, until, type Running } from '../helpers/procs';
import { tempDir } from '../helpers/tools';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** One line on stderr, `keyward: ...`, matching `re`. */
function oneLine(stderr: string, re: RegExp): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got: ${stderr}`);
  assert.match(lines[0]!, /^keyward: /);
  assert.match(lines[0]!, re);
}

/**
 * A fake daemon on a real socket: it accepts the token and answers `session/authenticate`, then
 * does `onRequest` to the next request (drops the connection, typically).
 */
async function fakeDaemon(home: string, env: NodeJS.ProcessEnv, onRequest: (sock: net.Socket) => void): Promise<net.Server> {
  const paths = daemonPaths(home, env);
  await fsp.mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  await fsp.writeFile(paths.token, 'x'.repeat(64) + '\n', { mode: 0o600 });
  const server = net.createServer((sock) => {
    const conn = createMessageConnection(new SocketMessageReader(sock), new SocketMessageWriter(sock));
    conn.onRequest((method) => {
      if (method === 'session/authenticate') return { daemonVersion: 'fake', protocolVersion: 1 };
      onRequest(sock);
      return new Promise(() => undefined); // never answered
    });
    conn.onError(() => undefined);
    conn.listen();
  });
  await new Promise<void>((r) => server.listen(paths.socket, r));
  return server;
}

describe('a request whose connection drops fails, never hangs or succeeds (client)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let home: string;
  let server: net.Server | undefined;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    home = path.join(dir, 'home');
    env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR!, { mode: 0o700 });
  });
  afterEach(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = undefined;
    await cleanup();
  });

  /** Settles `p` or says it hung (the old client never settled: the CLI then exited 0). */
  const settle = <T>(p: Promise<T>) =>
    Promise.race([p.then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e })), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5_000))]);

  it('rejects a pending call with DaemonUnavailable when the daemon drops the connection', async () => {
    server = await fakeDaemon(home, env, (sock) => sock.destroy());
    const c = await DaemonClient.connect(home, 'test', env);
    try {
      const r = await settle(c.call('keysList', {}));
      assert.notEqual(r, 'hung', 'the call never settled');
      assert.ok(r !== 'hung' && !r.ok);
      assert.ok(isKeywardError(r.e) && r.e.code === ErrorCode.DaemonUnavailable, String(r.e));
      assert.match(r.e.message, /connection to the daemon was lost before it answered/);
    } finally {
      c.close();
    }
  });

  it('fails a call made after the connection dropped the same way (not "internal error")', async () => {
    server = await fakeDaemon(home, env, (sock) => sock.destroy());
    const c = await DaemonClient.connect(home, 'test', env);
    try {
      await settle(c.call('keysList', {}));
      const r = await settle(c.call('status', {}));
      assert.ok(r !== 'hung' && !r.ok, 'the second call failed');
      assert.ok(isKeywardError(r.e) && r.e.code === ErrorCode.DaemonUnavailable, String(r.e));
    } finally {
      c.close();
    }
  });

  it('the light client (keyward exec) rejects a pending call the same way', async () => {
    server = await fakeDaemon(home, env, (sock) => sock.destroy());
    const c = await LightClient.connectOrStart(home, 'test', path.join(dir, 'no-daemon.js'), env);
    try {
      const r = await settle(c.call('keysList', {}));
      assert.ok(r !== 'hung' && !r.ok, 'the call failed');
      assert.ok(isKeywardError(r.e) && r.e.code === ErrorCode.DaemonUnavailable, String(r.e));
      assert.match(r.e.message, /connection to the daemon was lost before it answered/);
      const again = await settle(c.call('status', {}));
      assert.ok(again !== 'hung' && !again.ok && isKeywardError(again.e) && again.e.code === ErrorCode.DaemonUnavailable, 'a later call fails too');
    } finally {
      c.close();
    }
  });

  it('keyward exec exits 7 with one line, and the program never runs', async () => {
    server = await fakeDaemon(home, env, (sock) => sock.destroy());
    const marker = path.join(dir, 'ran');
    const secrets = path.join(dir, 'secrets.enc.yaml');
    await fsp.writeFile(secrets, 'a: b\n');
    // Not spawnSync: the fake daemon answers from this process.
    const child = spawn(process.execPath, [CLI, 'exec', '--env', secrets, '--', 'touch', marker], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, ExitCode.DaemonUnavailable, stderr);
    oneLine(stderr, /connection to the daemon was lost before it answered/);
    await assert.rejects(fsp.access(marker), 'the program did not run');
  });
});

describe('keyward CLI when the daemon dies mid-request (kill -9, file keystore)', function () {
  this.timeout(120_000);
  let sb: CliSandbox;

  before(async () => {
    const ks = sandboxKeystore('lost-connection test');
    sb = await CliSandbox.create(ks.env);
    sb.ok([...ks.first, 'keys', 'generate', 'alice']);
  });
  after(async () => {
    await sb?.dispose();
  });

  it('encrypt exits 7 with one line, and leaves no output', async () => {
    // The input is a FIFO the test holds open: the request is in flight until the test says.
    const fifo = sb.path('enc.fifo');
    spawnSync('mkfifo', [fifo]);
    const out = sb.path('enc.age');
    const cli = spawnCli(sb, ['encrypt', '-k', 'alice', '-o', out, fifo]);
    const w = await fsp.open(fifo, 'w'); // returns once the daemon opened it to read
    await w.write(randomBytes(1 << 20)); // returns once the daemon read most of it
    await killDaemon(sb);
    await w.close().catch(() => undefined);
    const r = await cli.done;
    assert.equal(r.code, ExitCode.DaemonUnavailable, `exit ${r.code}: ${r.stderr}`);
    oneLine(r.stderr, /daemon .*(lost|stopped)/);
    await assert.rejects(fsp.access(out), 'no output');
  });

  it('a CLI killed mid-encrypt gets no output written after it died, though the daemon could finish', async () => {
    const fifo = sb.path('gone.fifo');
    spawnSync('mkfifo', [fifo]);
    const out = sb.path('gone.age');
    const cli = spawnCli(sb, ['encrypt', '-k', 'alice', '-o', out, fifo]);
    const w = await fsp.open(fifo, 'w'); // the daemon is reading: the request is in
    await w.write(randomBytes(1 << 20));
    await killHard(cli.child.pid!);
    await cli.done;
    // The rest of the input comes: the daemon has all it needs to finish the file.
    await w.write(randomBytes(1 << 20));
    await w.close();
    const log = path.join(sb.home, 'daemon.log');
    await until(async () => /age\/encrypt \d+ms/.test(await fsp.readFile(log, 'utf8').catch(() => '')), 20_000, 'the daemon ends the request');
    assert.match(await fsp.readFile(log, 'utf8'), /age\/encrypt \d+ms error/, 'the request ended in an error (cancelled), not ok');
    await assert.rejects(fsp.access(out), 'no output appears for a client that is gone');
    assert.deepEqual((await fsp.readdir(sb.path())).filter((n) => n.includes('gone') && n !== 'gone.fifo'), [], 'no temp file left');
    sb.ok(['keys', 'list']); // and the daemon serves the next client
  });

  it('decrypt -o - exits 7 and says the output is incomplete', async () => {
    const plain = randomBytes(24 << 20);
    await fsp.writeFile(sb.path('big.bin'), plain);
    sb.ok(['encrypt', '-k', 'alice', 'big.bin']);
    await fsp.rm(sb.path('big.bin'));
    const cli = spawnCli(sb, ['decrypt', '-o', '-', 'big.bin.age']);
    // As soon as plaintext arrives, stop reading: the daemon cannot finish (the pipe and the
    // socket fill up), so the kill lands mid-stream.
    await new Promise<void>((r) => cli.child.stdout!.once('data', () => r()));
    cli.child.stdout!.pause();
    await killDaemon(sb);
    cli.child.stdout!.resume();
    const r = await cli.done;
    assert.ok(r.stdout.length < plain.length, 'the kill landed mid-stream');
    assert.equal(r.code, ExitCode.DaemonUnavailable, `exit ${r.code}: ${r.stderr}`);
    oneLine(r.stderr, /incomplete/);
  });

  /**
   * `keyward rotate` of `n` files and of a FIFO, `TAG-hold.age`, whose header the job waits for:
   * the job runs until the test releases it. Resolves once the other files are done (the CLI
   * has the job and follows it). `release` puts a real age file there; `waiting`: the job is
   * blocked opening the FIFO now (else a resumed job will open the path afresh).
   */
  async function heldRotation(tag: string, n: number): Promise<{ cli: Running; id: string; release: (waiting: boolean) => Promise<void> }> {
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      await fsp.writeFile(sb.path(`${tag}${i}.bin`), randomBytes(1 << 20));
      sb.ok(['encrypt', '-k', 'alice', `${tag}${i}.bin`]);
      files.push(`${tag}${i}.bin.age`);
    }
    await fsp.writeFile(sb.path(`${tag}-spare.bin`), randomBytes(1000));
    sb.ok(['encrypt', '-k', 'alice', '-o', `${tag}-spare.age`, `${tag}-spare.bin`]);
    const spare = await fsp.readFile(sb.path(`${tag}-spare.age`));
    const hold = sb.path(`${tag}-hold.age`);
    spawnSync('mkfifo', [hold]);
    const jobs = path.join(sb.home, 'jobs');
    const before = new Set(await fsp.readdir(jobs).catch(() => []));
    const cli = spawnCli(sb, ['rotate', ...files, hold]);
    let id = '';
    await until(async () => {
      const name = (await fsp.readdir(jobs).catch(() => [])).find((x) => !before.has(x));
      if (!name) return false;
      id = path.basename(name, '.jsonl');
      return ((await fsp.readFile(path.join(jobs, name), 'utf8')).match(/"phase":"done"/g) ?? []).length === n;
    }, 30_000, 'the job ran');
    const release = async (waiting: boolean) => {
      // The job's first read of it gets the FIFO's bytes; later ones the real file put in its place.
      const w = waiting ? await fsp.open(hold, 'w') : undefined;
      await fsp.rename(sb.path(`${tag}-spare.age`), hold);
      await w?.write(spare);
      await w?.close();
    };
    return { cli, id, release };
  }

  it('jobs: a followed rotation exits 7 and names the job to wait for', async () => {
    const { cli, id, release } = await heldRotation('r', 3);
    await killDaemon(sb);
    const r = await cli.done;
    assert.equal(r.code, ExitCode.DaemonUnavailable, `exit ${r.code}: ${r.stderr}`);
    oneLine(r.stderr, new RegExp(`keyward jobs wait ${id}\\)$`));
    // And it does resume and finish, once the FIFO is a real file.
    await release(false);
    assert.match(sb.ok(['jobs', 'wait', id]), /: done, 4 done/);
  });

  it('a client killed while it follows a job does not stop the job', async () => {
    const { cli, id, release } = await heldRotation('k', 2);
    await killHard(cli.child.pid!);
    await cli.done;
    // The job goes on: its last file arrives (it reports progress to no-one now).
    await release(true);
    assert.match(sb.ok(['jobs', 'wait', id]), /: done, 3 done/);
  });

  describe('sops edit', () => {
    const editor = async (name: string) => {
      // Signals that it runs, waits for the test's go, then edits the file.
      const script = sb.path(`${name}.sh`);
      await fsp.writeFile(
        script,
        ['#!/bin/sh', `touch "${sb.path(`${name}.ready`)}"`, `read go < "${sb.path(`${name}.go`)}"`, `sed -i 's/old-value/new-value/' "$1"`, ''].join('\n'),
        { mode: 0o700 },
      );
      spawnSync('mkfifo', [sb.path(`${name}.go`)]);
      return script;
    };
    const release = async (name: string) => {
      const go = await fsp.open(sb.path(`${name}.go`), 'w');
      await go.write('go\n');
      await go.close();
    };

    beforeEach(async () => {
      await fsp.writeFile(sb.path('app.yaml'), 'db:\n  password: old-value\n  user: app\n');
      sb.ok(['sops', 'encrypt', '--age', 'alice', '-i', 'app.yaml']);
    });

    it('an editor that outlives the daemon: the save restarts it and writes the edit', async () => {
      const script = await editor('e1');
      const cli = spawnCli(sb, ['sops', 'edit', 'app.yaml'], { env: { EDITOR: script } });
      await until(() => fsp.access(sb.path('e1.ready')).then(() => true, () => false), 30_000, 'the editor started');
      const killed = await killDaemon(sb);
      await release('e1');
      const r = await cli.done;
      assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
      const dec = sb.ok(['sops', 'decrypt', 'app.yaml']);
      assert.match(dec, /password: new-value/);
      const lock = JSON.parse(await fsp.readFile(daemonPaths(sb.home, sb.env).lock, 'utf8')) as { pid: number };
      assert.notEqual(lock.pid, killed, 'a new daemon saved it');
    });

    it('a save that cannot be made says the edit was not saved, and exits 7', async () => {
      const script = await editor('e2');
      const before = sha(await fsp.readFile(sb.path('app.yaml')));
      const cli = spawnCli(sb, ['sops', 'edit', 'app.yaml'], { env: { EDITOR: script } });
      await until(() => fsp.access(sb.path('e2.ready')).then(() => true, () => false), 30_000, 'the editor started');
      await killDaemon(sb);
      // Another keyward command holds the home: no daemon can start for it.
      const lock = daemonPaths(sb.home, sb.env).lock;
      await fsp.writeFile(lock, JSON.stringify({ pid: process.pid, owner: 'cli', start: processStart(process.pid) }) + '\n');
      try {
        await release('e2');
        const r = await cli.done;
        assert.equal(r.code, ExitCode.DaemonUnavailable, `exit ${r.code}: ${r.stderr}`);
        assert.match(r.stderr, /your edit was not saved/);
        assert.equal(sha(await fsp.readFile(sb.path('app.yaml'))), before, 'the file is as it was');
      } finally {
        await fsp.rm(lock, { force: true });
      }
    });
  });
});
