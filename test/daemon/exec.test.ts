// `keyward exec` end to end: the built CLI runs programs with secrets, against sops exec-env for
// the names and refusals, with the keychain (the suite's Secret Service), the file keystore, and
// a KMS-wrapped service identity (moto) with --no-daemon and no Secret Service at all.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, watch } from 'node:fs';
import * as path from 'node:path';
import { ExitCode } from '../../daemon/protocol';
import { CLI, CliSandbox } from '../helpers/cli';
import { Moto } from '../helpers/moto';
import { runInPty } from '../helpers/pty';
import { requireTool, requireVersion } from '../helpers/tools';

/** A program that prints, as JSON, the variables named on its command line and facts about files. */
const PROBE = `
const fs = require('node:fs');
const out = { env: {}, files: {}, argv: process.argv.slice(2) };
for (const a of process.argv.slice(2)) {
  if (a.startsWith('env:')) out.env[a.slice(4)] = process.env[a.slice(4)] ?? null;
  if (a.startsWith('file:')) {
    const f = a.slice(5);
    const st = fs.statSync(f);
    out.files[f] = { mode: st.mode & 0o777, dirMode: fs.statSync(require('node:path').dirname(f)).mode & 0o777, fsType: fs.statfsSync(f).type, data: fs.readFileSync(f).toString('base64') };
  }
}
process.stdout.write(JSON.stringify(out));
process.exitCode = Number(process.env.PROBE_EXIT ?? 0);
`;

const TMPFS = 0x01021994;

interface Probe {
  env: Record<string, string | null>;
  files: Record<string, { mode: number; dirMode: number; fsType: number; data: string }>;
  argv: string[];
}

/** Resolves with the first line a process writes (its readiness signal), or rejects when it exits first. */
function firstLine(p: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (b: Buffer) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        p.stdout?.off('data', onData);
        resolve(buf.slice(0, nl));
      }
    };
    p.stdout?.on('data', onData);
    p.once('exit', (code) => reject(new Error(`exited (${code}) before a line: ${buf}`)));
  });
}

function exited(p: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve({ code: p.exitCode, signal: p.signalCode });
    else p.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('keyward exec (CLI)', function () {
  this.timeout(120000);
  let sb: CliSandbox;
  let probe: string;
  let ramDir: string;
  let identity: string;
  let recipient: string;

  beforeEach(async function () {
    requireVersion(this, 'sops', 'SOPS');
    // Each test's private directories go to a tmpfs directory of its own, so that the sweeps of
    // tests running at once on this machine never see each other's.
    ramDir = await fsp.mkdtemp('/dev/shm/keyward-exec-test-');
    sb = await CliSandbox.create({ KEYWARD_RAM_DIR: ramDir });
    probe = sb.path('probe.js');
    await fsp.writeFile(probe, PROBE);
    identity = sb.path('keys.txt');
    assert.equal(spawnSync(requireTool(this, 'age-keygen'), ['-o', identity]).status, 0);
    recipient = spawnSync('age-keygen', ['-y', identity], { encoding: 'utf8' }).stdout.trim();
    sb.ok(['keys', 'import', 'me', identity]);
  });
  afterEach(async () => {
    await sb?.dispose();
    if (ramDir) await fsp.rm(ramDir, { recursive: true, force: true });
  });

  /** A sops file written by the real sops (3.13) from `text`. */
  async function sopsFile(name: string, text: string): Promise<string> {
    const plain = sb.path(`plain-${name}`);
    await fsp.writeFile(plain, text);
    const out = sb.path(name);
    const r = spawnSync('sops', ['encrypt', '--age', recipient, '--output', out, plain], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    await fsp.rm(plain);
    return out;
  }

  function sopsExecEnv(file: string, names: string[]): { code: number; probe?: Probe; stderr: string } {
    const r = spawnSync('sops', ['exec-env', file, `${process.execPath} ${probe} ${names.map((n) => `env:${n}`).join(' ')}`], { env: { ...sb.env, SOPS_AGE_KEY_FILE: identity }, encoding: 'utf8' });
    return { code: r.status ?? -1, stderr: r.stderr, ...(r.status === 0 ? { probe: JSON.parse(r.stdout) as Probe } : {}) };
  }

  it('--env: the variables sops exec-env sets, for YAML, JSON and dotenv; what sops refuses is refused', async () => {
    const yaml = await sopsFile('app.enc.yaml', 'API_KEY: s3cret\nPORT: 8080\nRATIO: 2.0\nDEBUG: true\nNOTHING: null\n# a comment\nMULTI: "one\\ntwo"\nlower_key: x\n');
    const json = await sopsFile('app.enc.json', '{"TOKEN": "t0k", "N": 1.5e-7, "YES": false}\n');
    const env = await sopsFile('app.enc.env', 'DB_URL=postgres://u:p@h/db\nEMPTY=\n');
    for (const [file, names] of [
      [yaml, ['API_KEY', 'PORT', 'RATIO', 'DEBUG', 'NOTHING', 'MULTI', 'lower_key']],
      [json, ['TOKEN', 'N', 'YES']],
      [env, ['DB_URL', 'EMPTY']],
    ] as const) {
      const want = sopsExecEnv(file, [...names]);
      assert.equal(want.code, 0, want.stderr);
      const r = sb.run(['exec', '--env', file, '--', process.execPath, probe, ...names.map((n) => `env:${n}`)]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as Probe).env, want.probe!.env, file);
    }
    // Later files win; the program's own environment is kept otherwise.
    const over = await sopsFile('over.enc.yaml', 'API_KEY: newer\n');
    const r = sb.run(['exec', '--env', yaml, '--env', over, '--', process.execPath, probe, 'env:API_KEY', 'env:PORT', 'env:HOME'], { env: { API_KEY: 'from-shell' } });
    assert.deepEqual((JSON.parse(r.stdout) as Probe).env, { API_KEY: 'newer', PORT: '8080', HOME: sb.env.HOME ?? null });

    // Refusals, as sops: a nested value, a key with "=".
    for (const [name, text, msg] of [
      ['nested.enc.yaml', 'db:\n  password: s3cret\n', /cannot use complex value in environment; offending key "db"/],
      ['list.enc.yaml', 'hosts:\n  - a\n', /cannot use complex value in environment; offending key "hosts"/],
      ['eq.enc.json', '{"A=B": "s3cret"}\n', /cannot use keys with '=' in environment: "A=B"/],
    ] as const) {
      const f = await sopsFile(name, text);
      assert.notEqual(sopsExecEnv(f, []).code, 0, `sops refuses ${name}`);
      const k = sb.run(['exec', '--env', f, '--', 'true']);
      assert.equal(k.code, 2, k.stderr);
      assert.match(k.stderr, msg);
      assert.doesNotMatch(k.stderr, /s3cret/);
    }
  });

  it('--file: decrypted into a private directory on tmpfs, named in the environment and in {NAME}; removed when the program exits, whose code is ours', async () => {
    const model = randomBytes(300_000);
    await fsp.writeFile(sb.path('model.safetensors'), model);
    sb.ok(['encrypt', '-k', 'me', sb.path('model.safetensors')]);
    await fsp.rm(sb.path('model.safetensors'));
    const cfg = await sopsFile('cfg.enc.yaml', 'lr: 0.001\nname: run-7\n');
    const r = sb.run(
      ['exec', '--file', sb.path('model.safetensors.age'), '--file', `${cfg}=CFG`, '--', process.execPath, probe, 'file:{MODEL_SAFETENSORS}', 'file:{CFG}', 'env:KEYWARD_FILE_MODEL_SAFETENSORS', 'env:KEYWARD_FILE_CFG', '{UNKNOWN}'],
      { env: { PROBE_EXIT: '42' } },
    );
    assert.equal(r.code, 42, r.stderr);
    const p = JSON.parse(r.stdout) as Probe;
    const modelPath = p.env.KEYWARD_FILE_MODEL_SAFETENSORS!;
    const cfgPath = p.env.KEYWARD_FILE_CFG!;
    assert.equal(path.basename(modelPath), 'model.safetensors');
    assert.equal(path.basename(cfgPath), 'cfg.enc.yaml');
    assert.ok(modelPath.startsWith(ramDir + path.sep));
    assert.deepEqual(p.argv.slice(0, 2), [`file:${modelPath}`, `file:${cfgPath}`]);
    assert.equal(p.argv[4], '{UNKNOWN}');
    for (const f of [modelPath, cfgPath]) {
      assert.equal(p.files[f]!.mode, 0o600);
      assert.equal(p.files[f]!.dirMode, 0o700);
      assert.equal(p.files[f]!.fsType, TMPFS);
    }
    assert.ok(Buffer.from(p.files[modelPath]!.data, 'base64').equals(model));
    assert.equal(Buffer.from(p.files[cfgPath]!.data, 'base64').toString(), 'lr: 0.001\nname: run-7\n');
    assert.equal(existsSync(path.dirname(path.dirname(modelPath))), false, 'removed after the program exited');
    assert.deepEqual(await fsp.readdir(ramDir), []);

    // Audited: which files, for which program (its name only, never its arguments).
    const audit = JSON.parse(sb.ok(['--json', 'audit', 'show', '-n', '5'])) as { event: string; path?: string; detail?: string; key?: string }[];
    const opened = audit.filter((x) => x.event === 'exec.file');
    assert.deepEqual(opened.map((x) => [x.path, x.key, x.detail]), [
      [sb.path('model.safetensors.age'), 'me@v1', `for program ${path.basename(process.execPath)}`],
      [cfg, 'me@v1', `for program ${path.basename(process.execPath)}`],
    ]);
    assert.doesNotMatch(JSON.stringify(audit), /probe\.js|UNKNOWN/);

    // A program that is not there: 127, as a shell says; nothing left behind.
    const missing = sb.run(['exec', '--file', sb.path('model.safetensors.age'), '--', 'no-such-program-keyward']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /cannot run no-such-program-keyward: command not found/);
    assert.deepEqual(await fsp.readdir(ramDir), []);
    // A file that does not open: an error, nothing run, nothing left.
    await fsp.writeFile(sb.path('bad.age'), 'age-encryption.org/v1\n-> X25519 abc\n');
    const bad = sb.run(['exec', '--file', sb.path('model.safetensors.age'), '--file', sb.path('bad.age'), '--', 'sh', '-c', 'echo ran']);
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stdout, '');
    assert.deepEqual(await fsp.readdir(ramDir), []);
  });

  it('SIGTERM: passed on to the program, the directory removed at once, Keyward exits as the program did', async () => {
    await fsp.writeFile(sb.path('w.bin'), randomBytes(1000));
    sb.ok(['encrypt', '-k', 'me', sb.path('w.bin')]);
    // Ready (its first line) only once it handles SIGTERM.
    const child = `process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(3); }); console.log(process.env.KEYWARD_FILE_W); setInterval(() => {}, 1000);`;
    const p = spawn(process.execPath, [CLI, 'exec', '--file', `${sb.path('w.bin.age')}=W`, '--', process.execPath, '-e', child], { env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const file = await firstLine(p);
      assert.ok(existsSync(file));
      let rest = '';
      let err = '';
      p.stdout?.on('data', (b: Buffer) => (rest += b.toString()));
      p.stderr?.on('data', (b: Buffer) => (err += b.toString()));
      p.kill('SIGTERM');
      const end = await exited(p);
      assert.deepEqual(end, { code: 3, signal: null }, `${rest} / ${err}`);
      assert.match(rest, /got SIGTERM/);
      assert.equal(existsSync(path.dirname(file)), false);
      assert.deepEqual(await fsp.readdir(ramDir), []);
    } finally {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
    // A program killed by a signal: Keyward dies of the same signal, as a shell reports it.
    const s = spawnSync(process.execPath, [CLI, 'exec', '--', 'sh', '-c', 'kill -TERM $$'], { env: sb.env });
    assert.equal(s.signal, 'SIGTERM');
  });

  it('Ctrl-C on a terminal reaches the program once (the terminal sends it to both; Keyward does not pass it on again)', () => {
    // Counts SIGINTs; after the first it waits for a second one that must not come.
    const child = `let n = 0; process.on('SIGINT', () => { if (n++ === 0) setTimeout(() => { console.log('sigints=' + n); process.exit(0); }, 700); }); console.log('ready'); setInterval(() => {}, 1000);`;
    const r = runInPty([process.execPath, CLI, 'exec', '--', process.execPath, '-e', child], [{ expect: 'ready', send: '\x03' }], { env: sb.env });
    assert.match(r.output, /sigints=1\b/, r.output);
    assert.equal(r.code, 0, r.output);
  });

  it('a signal before the program starts: Keyward stops at once, the program never runs, nothing is left', async () => {
    await fsp.writeFile(sb.path('w.bin'), randomBytes(1000));
    sb.ok(['encrypt', '-k', 'me', sb.path('w.bin')]);
    sb.ok(['daemon', 'stop']); // the run below starts it: time enough to be interrupted
    const made = new Promise<void>((resolve) => {
      const w = watch(ramDir, () => {
        w.close();
        resolve();
      });
    });
    const p = spawn(process.execPath, [CLI, 'exec', '--file', `${sb.path('w.bin.age')}=W`, '--', 'sh', '-c', 'echo ran'], { env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await made; // its private directory exists: it is waiting for the daemon
      p.kill('SIGTERM');
      assert.deepEqual(await exited(p), { code: null, signal: 'SIGTERM' });
      assert.equal(out, '');
      assert.deepEqual(await fsp.readdir(ramDir), []);
    } finally {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
  });

  it('kill -9: the directory outlives Keyward only until the next run sweeps it; a live run keeps its own', async () => {
    await fsp.writeFile(sb.path('w.bin'), randomBytes(1000));
    sb.ok(['encrypt', '-k', 'me', sb.path('w.bin')]);
    const child = `console.log(process.pid + ' ' + process.env.KEYWARD_FILE_W); setInterval(() => {}, 1000);`;
    const p = spawn(process.execPath, [CLI, 'exec', '--file', `${sb.path('w.bin.age')}=W`, '--', process.execPath, '-e', child], { env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let programPid = 0;
    try {
      const [pid, file] = (await firstLine(p)).split(' ') as [string, string];
      programPid = Number(pid);
      // Another run while this one lives: the live directory stays.
      assert.equal(sb.run(['exec', '--', 'true']).code, 0);
      assert.ok(existsSync(file));
      p.kill('SIGKILL');
      await exited(p);
      assert.ok(existsSync(file), 'nothing could remove it at kill -9');
      process.kill(programPid, 'SIGKILL'); // the orphaned program (started by this test)
      const r = sb.run(['exec', '--', 'true']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(existsSync(path.dirname(file)), false, 'swept by the next run');
      assert.deepEqual(await fsp.readdir(ramDir), []);
    } finally {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      if (programPid && alive(programPid)) process.kill(programPid, 'SIGKILL');
    }
  });

  it('no RAM file system: refused, unless --allow-disk, which warns', async () => {
    await fsp.writeFile(sb.path('w.bin'), 'weights');
    sb.ok(['encrypt', '-k', 'me', sb.path('w.bin')]);
    const disk = sb.path('disk');
    await fsp.mkdir(disk, { mode: 0o700 });
    const env = { KEYWARD_RAM_DIR: disk, TMPDIR: disk };
    const r = sb.run(['exec', '--file', sb.path('w.bin.age'), '--', 'sh', '-c', 'echo ran'], { env });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no RAM file system for the decrypted files: tried .*disk \(not a RAM file system\).*--allow-disk/);
    const ok = sb.run(['exec', '--allow-disk', '--file', `${sb.path('w.bin.age')}=W`, '--', 'sh', '-c', 'cat "$KEYWARD_FILE_W"'], { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'weights');
    assert.match(ok.stderr, /warning: no RAM file system found; the decrypted files are on disk/);
    assert.deepEqual(await fsp.readdir(disk), []);
  });

  it('the lean path of dist/cli.js reads every exec command line as the full CLI (commander) does', async () => {
    const f = await sopsFile('lean.enc.yaml', 'API_KEY: s3cret\n');
    const full = path.join(path.dirname(CLI), 'cli-main.js');
    const run = (script: string, args: string[]) => {
      const r = spawnSync(process.execPath, [script, ...args], { env: sb.env, cwd: sb.dir, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const program = [process.execPath, probe, 'env:API_KEY'];
    for (const args of [
      ['exec', '--env', f, '--', ...program, '--env', '--', '-x'], // what follows -- is the program's
      [`--home=${sb.home}`, 'exec', `--env=${f}`, '--', ...program],
      ['--home', sb.home, '--json', '--trust-recipients', 'exec', '--env', f, '--', ...program],
      ['exec', '--json', '--env', f, '--', ...program], // a global option after the command
      ['--keystore', 'keychain', 'exec', '--env', f, '--', ...program],
      ['exec', '--env', f, ...program], // no --: commander's reading
      ['exec', '--env', f, '--bogus', '--', 'true'],
      ['--keystore', 'vault', 'exec', '--env', f, '--', 'true'],
      ['exec', '--env'],
      ['exec', '--env', f, '--'],
      ['exec', '--help'],
      ['--allow-disk', 'exec', '--', 'true'],
    ]) {
      assert.deepEqual(run(CLI, args), run(full, args), args.join(' '));
    }
    assert.equal((JSON.parse(run(CLI, ['exec', '--env', f, '--', ...program]).stdout) as Probe).env.API_KEY, 's3cret');
  });

  it('the lean path asks the daemon at its start: one request per run (daemon running, or started by the run), and a run that stops before its program ends at once', async () => {
    const f = await sopsFile('early.enc.yaml', 'API_KEY: s3cret\n');
    const opens = () => (JSON.parse(sb.ok(['--json', 'audit', 'show'])) as { event: string; outcome: string }[]).filter((r) => r.event === 'exec.env');
    const exec = (args: string[]) => {
      // Bounded: a run whose connection were left open would never end.
      const r = spawnSync(process.execPath, [CLI, ...args], { env: sb.env, cwd: sb.dir, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.signal, null, `${args.join(' ')}: still running after 30 s`);
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    sb.ok(['daemon', 'start']);
    let r = exec(['exec', '--env', f, '--', process.execPath, probe, 'env:API_KEY']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as Probe).env.API_KEY, 's3cret');
    assert.deepEqual(opens().map((o) => o.outcome), ['ok'], 'one exec/open for the run');

    // No daemon: the request made at the start fails as "no daemon", the run starts one and asks once.
    sb.ok(['daemon', 'stop']);
    r = exec(['exec', '--env', f, '--', process.execPath, probe, 'env:API_KEY']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as Probe).env.API_KEY, 's3cret');
    assert.deepEqual(opens().map((o) => o.outcome), ['ok', 'ok']);

    // Runs that stop before the program: after their request (no such program), and before any (two files of one name).
    r = exec(['exec', '--env', f, '--', 'keyward-no-such-program']);
    assert.equal(r.code, 127, r.stderr);
    assert.match(r.stderr, /cannot run keyward-no-such-program: command not found/);
    r = exec(['exec', '--env', f, '--file', `${f}=X`, '--file', `${f}=X`, '--', 'true']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /two --file options are named X/);
    // A program given as a path: the daemon is asked for its name only, as the run asks.
    r = exec(['exec', '--env', f, '--', path.join(path.dirname(process.execPath), path.basename(process.execPath)), probe, 'env:API_KEY']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(opens().length, 4);
  });

  it('a daemon whose file keystore is locked: exec unlocks it with KEYWARD_KEYSTORE_PASSPHRASE, else says it is locked (not "no key opens")', async () => {
    const fsb = await CliSandbox.create({ KEYWARD_RAM_DIR: ramDir });
    const pass = { KEYWARD_KEYSTORE_PASSPHRASE: 'test-only' };
    try {
      fsb.ok(['--keystore', 'file', 'keys', 'import', 'me', identity], { env: pass });
      const f = await sopsFile('locked.enc.yaml', 'SECRET: behind-a-lock\n');
      const restartLocked = () => {
        fsb.ok(['daemon', 'stop']);
        fsb.ok(['daemon', 'start']); // no passphrase in its environment: locked
      };
      restartLocked();
      let r = fsb.run(['exec', '--env', f, '--', 'sh', '-c', 'echo "$SECRET"'], { env: pass });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'behind-a-lock\n');
      // Asked once while locked (the request sent at the start), once after the unlock: not twice before it.
      const opens = (JSON.parse(fsb.ok(['--json', 'audit', 'show'])) as { event: string; outcome: string }[]).filter((x) => x.event === 'exec.env');
      assert.deepEqual(opens.map((x) => x.outcome), ['failed', 'ok']);
      restartLocked();
      r = fsb.run(['exec', '--env', f, '--', 'sh', '-c', 'echo "$SECRET"']);
      assert.equal(r.code, ExitCode.KeystoreUnavailable, r.stderr);
      assert.match(r.stderr, /the file keystore is locked \(unlock it with keyward keystore unlock/);
      assert.equal(r.stdout, '');
      // sops decrypt goes the same way.
      r = fsb.run(['sops', 'decrypt', f]);
      assert.equal(r.code, ExitCode.KeystoreUnavailable, r.stderr);
      assert.match(fsb.ok(['sops', 'decrypt', f], { env: pass }), /SECRET: behind-a-lock/);
    } finally {
      await fsb.dispose();
    }
  });

  it('with the file keystore, in-process (--no-daemon)', async () => {
    const fsb = await CliSandbox.create({ KEYWARD_RAM_DIR: ramDir, KEYWARD_KEYSTORE_PASSPHRASE: 'test-only' });
    try {
      fsb.ok(['--no-daemon', '--keystore', 'file', 'keys', 'import', 'me', identity]);
      const f = await sopsFile('f.enc.yaml', 'SECRET: from-file-keystore\n');
      const r = fsb.run(['--no-daemon', 'exec', '--env', f, '--file', `${f}=CFG`, '--', 'sh', '-c', 'echo "$SECRET"; cat "$KEYWARD_FILE_CFG"']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'from-file-keystore\nSECRET: from-file-keystore\n');
      assert.equal(fsb.run(['daemon', 'status']).code, 7, 'no daemon was started');
    } finally {
      await fsb.dispose();
    }
  });
});

describe('keyward exec with a KMS-wrapped service identity (moto), --no-daemon, no Secret Service', function () {
  this.timeout(120000);
  let moto: Moto;
  let key: { arn: string };

  before(async function () {
    moto = await Moto.start(this);
    key = await moto.createKey('serving');
  });
  after(async () => moto?.stop());

  it('opens a model for the service identity and sops values wrapped by KMS and by the identity', async function () {
    requireVersion(this, 'sops', 'SOPS');
    const ramDir = await fsp.mkdtemp('/dev/shm/keyward-exec-test-');
    const dev = await CliSandbox.create({ ...moto.env(), KEYWARD_RAM_DIR: ramDir, KEYWARD_KEYSTORE_PASSPHRASE: 'test-only' });
    // The serving container: the artifacts, the identity file, AWS credentials; no keychain.
    const serve = await CliSandbox.create({ ...moto.env(), KEYWARD_RAM_DIR: ramDir, DBUS_SESSION_BUS_ADDRESS: undefined, GNOME_KEYRING_CONTROL: undefined });
    try {
      const repo = dev.path('repo');
      await fsp.mkdir(path.join(repo, 'models'), { recursive: true });
      const recipient = dev.ok(['team', 'identity', 'create', 'serving', '--kms', key.arn, '--root', repo]).trim();
      const model = randomBytes(200_000);
      await fsp.writeFile(dev.path('m.bin'), model);
      const enc = path.join(repo, 'models', 'm.bin.age');
      dev.ok(['encrypt', '-r', recipient, '-o', enc, dev.path('m.bin')]);
      await fsp.writeFile(dev.path('a.yaml'), 'DB_PASSWORD: via-kms\n');
      await fsp.writeFile(dev.path('b.yaml'), 'API_TOKEN: via-identity\n');
      const viaKms = path.join(repo, 'kms.enc.yaml');
      const viaIdentity = path.join(repo, 'identity.enc.yaml');
      dev.ok(['sops', 'encrypt', '--kms', key.arn, '-o', viaKms, dev.path('a.yaml')]);
      dev.ok(['sops', 'encrypt', '--age', recipient, '-o', viaIdentity, dev.path('b.yaml')]);

      const env = { KEYWARD_SERVICE_IDENTITIES: path.join(repo, '.keyward', 'identities', 'serving.kms.json') };
      const r = serve.run(['--no-daemon', 'exec', '--env', viaKms, '--env', viaIdentity, '--file', `${enc}=MODEL`, '--', 'sh', '-c', 'echo "$DB_PASSWORD $API_TOKEN"; sha256sum < "$KEYWARD_FILE_MODEL"'], { env });
      assert.equal(r.code, 0, r.stderr);
      const [line, sum] = r.stdout.trim().split('\n');
      assert.equal(line, 'via-kms via-identity');
      assert.equal(sum?.split(' ')[0], spawnSync('sha256sum', { input: model, encoding: 'utf8' }).stdout.split(' ')[0]);
      assert.deepEqual(await fsp.readdir(ramDir), []);
      // No daemon ran, and no keychain could have been reached (no D-Bus session).
      assert.equal(serve.run(['daemon', 'status'], { env }).code, 7);
      const audit = JSON.parse(serve.ok(['--no-daemon', '--json', 'audit', 'show'], { env })) as { event: string; key?: string; detail?: string }[];
      const execs = audit.filter((x) => x.event.startsWith('exec.'));
      assert.deepEqual(execs.map((x) => [x.event, x.key, x.detail]), [
        ['exec.env', key.arn, 'for program sh'],
        ['exec.env', 'kms:serving@v1', 'for program sh'],
        ['exec.file', 'kms:serving@v1', 'for program sh'],
      ]);
    } finally {
      await serve.dispose();
      await dev.dispose();
      await fsp.rm(ramDir, { recursive: true, force: true });
    }
  });
});
