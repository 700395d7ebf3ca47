import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import { ExitCode } from '../../daemon/protocol';
import { CliSandbox } from '../helpers/cli';

/** Every error is one line on stderr that says what to do. */
function oneLineError(stderr: string, re: RegExp): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got: ${stderr}`);
  assert.match(lines[0]!, /^keyward: /);
  assert.match(lines[0]!, re);
}

describe('keyward CLI (daemon started on demand, real keychain)', function () {
  this.timeout(60000);
  let sb: CliSandbox;

  before(async function () {
    if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('no D-Bus session: npm test runs the suites inside one');
      this.skip();
    }
    sb = await CliSandbox.create();
  });
  after(async () => {
    await sb?.dispose();
  });

  it('keys generate prints the recipient on stdout and starts the daemon', () => {
    const out = sb.ok(['keys', 'generate', 'alice']);
    assert.match(out.trim(), /^age1[0-9a-z]{58}$/);
    const st = sb.ok(['daemon', 'status']);
    assert.match(st, /daemon: running/);
    assert.match(st, /socket: .*\.sock/);
    assert.match(st, /keystore: keychain, available/);
  });

  it('keys generate --pq makes a post-quantum identity', () => {
    assert.match(sb.ok(['keys', 'generate', 'bob', '--pq']).trim(), /^age1pq1[0-9a-z]+$/);
  });

  it('keys list --json shows versions, states and rotation', () => {
    const keys = JSON.parse(sb.ok(['--json', 'keys', 'list'])) as { name: string; current: { ref: string; state: string; rotation: string; kind: string } }[];
    const alice = keys.find((k) => k.name === 'alice')!;
    assert.equal(alice.current.ref, 'alice@v1');
    assert.equal(alice.current.state, 'active');
    assert.equal(alice.current.rotation, 'ok');
    assert.equal(keys.find((k) => k.name === 'bob')!.current.kind, 'mlkem768x25519');
    assert.match(sb.ok(['keys', 'list']), /alice@v1\*\tactive\tx25519\tok/);
  });

  it('encrypt -k / decrypt round-trips; the default names are FILE.age and FILE', async () => {
    await fsp.writeFile(sb.path('model.bin'), Buffer.alloc(200_000, 7));
    assert.equal(sb.ok(['encrypt', '-k', 'alice', 'model.bin']).trim(), sb.path('model.bin.age'));
    await fsp.rename(sb.path('model.bin'), sb.path('original.bin'));
    assert.equal(sb.ok(['decrypt', 'model.bin.age']).trim(), sb.path('model.bin'));
    assert.deepEqual(await fsp.readFile(sb.path('model.bin')), await fsp.readFile(sb.path('original.bin')));
  });

  it('refuses to mix post-quantum and classic recipients in one file (as age 1.3 does)', () => {
    const r = sb.run(['encrypt', '-k', 'alice', '-k', 'bob', '-o', 'mixed.age', 'model.bin.age']);
    assert.equal(r.code, ExitCode.Usage);
    oneLineError(r.stderr, /mix post-quantum and classic/);
  });

  it('decrypt -o - streams to stdout', () => {
    const r = sb.run(['decrypt', '-o', '-', 'model.bin.age'], {});
    assert.equal(r.code, 0);
    assert.equal(r.stdout.length, 200_000);
  });

  it('never overwrites an existing output unless --force', async () => {
    const before = await fsp.readFile(sb.path('model.bin'));
    const r = sb.run(['decrypt', 'model.bin.age']);
    assert.equal(r.code, ExitCode.Refused);
    oneLineError(r.stderr, /already exists/);
    assert.deepEqual(await fsp.readFile(sb.path('model.bin')), before);
    sb.ok(['decrypt', '--force', 'model.bin.age']);
  });

  it('keys rotate: the new version encrypts, the old still decrypts', async () => {
    const out = sb.ok(['keys', 'rotate', 'alice']);
    assert.match(out, /alice@v2 active/);
    assert.match(out, /alice@v1 deactivated/);
    await fsp.writeFile(sb.path('a.txt'), 'hello');
    sb.ok(['encrypt', '-k', 'alice', 'a.txt']);
    const info = JSON.parse(sb.ok(['--json', 'inspect', 'a.txt.age'])) as { keys: string[] };
    assert.deepEqual(info.keys, ['alice@v2']);
    const old = JSON.parse(sb.ok(['--json', 'inspect', 'model.bin.age'])) as { keys: string[] };
    assert.equal(old.keys.length, 1);
  });

  it('refuses to encrypt to a deactivated version with exit 4', async () => {
    await fsp.writeFile(sb.path('b.txt'), 'x');
    const r = sb.run(['encrypt', '-k', 'alice@v1', 'b.txt']);
    assert.equal(r.code, ExitCode.Refused);
    oneLineError(r.stderr, /alice@v1 is deactivated and cannot encrypt/);
    await assert.rejects(fsp.access(sb.path('b.txt.age')));
  });

  it('refuses an illegal state transition with exit 4 and names the allowed ones', () => {
    const r = sb.run(['keys', 'state', 'alice@v1', 'active']);
    assert.equal(r.code, ExitCode.Refused);
    oneLineError(r.stderr, /cannot go from deactivated to active.*compromised, destroyed/);
  });

  it('keys destroy makes what the key protected unreadable, and says so', async () => {
    await fsp.writeFile(sb.path('c.txt'), 'only carol');
    sb.ok(['keys', 'generate', 'carol']);
    sb.ok(['encrypt', '-k', 'carol', 'c.txt']);
    sb.ok(['keys', 'state', 'carol@v1', 'deactivated']);
    assert.match(sb.ok(['keys', 'destroy', 'carol@v1']), /carol@v1 destroyed/);
    await fsp.rm(sb.path('c.txt'));
    const r = sb.run(['decrypt', 'c.txt.age']);
    assert.equal(r.code, ExitCode.DecryptFailed);
    oneLineError(r.stderr, /no identity matched/);
    await assert.rejects(fsp.access(sb.path('c.txt')));
    const again = sb.run(['keys', 'export', 'carol@v1', '--secret']);
    assert.notEqual(again.code, 0);
    const audit = sb.ok(['audit', 'show']);
    assert.match(audit, /key\.destroy\tok\tcarol@v1/);
  });

  it('keys export prints the recipient; --secret prints an identity file and is audited', () => {
    const pub = sb.ok(['keys', 'export', 'bob']).trim();
    assert.match(pub, /^age1pq1/);
    const sec = sb.ok(['keys', 'export', 'bob', '--secret']);
    assert.match(sec, /^# keyward export of bob@v1\n# public key: age1pq1/);
    assert.match(sec, /\nAGE-SECRET-KEY-PQ-1[0-9A-Z]+\n$/);
    const audit = sb.ok(['audit', 'show']);
    assert.match(audit, /key\.export-secret\tok\tbob@v1/);
    assert.doesNotMatch(audit, /AGE-SECRET-KEY/);
  });

  it('keys import reads an identity file and refuses a duplicate', async () => {
    const sec = sb.ok(['keys', 'export', 'bob', '--secret']);
    await fsp.writeFile(sb.path('bob.txt'), sec, { mode: 0o600 });
    const r = sb.run(['keys', 'import', 'bob2', 'bob.txt']);
    assert.equal(r.code, ExitCode.Refused);
    oneLineError(r.stderr, /already in the keystore as bob@v1/);
  });

  it('unknown keys, bad names and missing files are clear usage or not-found errors', async () => {
    await fsp.writeFile(sb.path('d.txt'), 'x');
    let r = sb.run(['encrypt', '-k', 'nobody', 'd.txt']);
    assert.equal(r.code, ExitCode.NotFound);
    oneLineError(r.stderr, /no key named nobody.*keys list/);
    r = sb.run(['keys', 'generate', 'Bad Name']);
    assert.equal(r.code, ExitCode.Usage);
    oneLineError(r.stderr, /key name/);
    r = sb.run(['decrypt', 'missing.age']);
    assert.equal(r.code, ExitCode.NotFound);
    oneLineError(r.stderr, /no such file/);
    r = sb.run(['encrypt', 'd.txt']);
    assert.equal(r.code, ExitCode.Usage);
    oneLineError(r.stderr, /no recipient given/);
  });

  it('audit verify passes, then names a tampered record', async () => {
    assert.match(sb.ok(['audit', 'verify']), /^ok: \d+ records, chain intact/);
    sb.ok(['daemon', 'stop']);
    const file = `${sb.home}/audit.jsonl`;
    const lines = (await fsp.readFile(file, 'utf8')).trim().split('\n');
    lines[2] = lines[2]!.replace('"ok"', '"failed"');
    await fsp.writeFile(file, lines.join('\n') + '\n');
    const r = sb.run(['audit', 'verify']);
    assert.equal(r.code, ExitCode.Failed);
    assert.match(r.stdout, /record 3 \(line 3\) was edited/);
  });

  it('--no-daemon runs in-process, and refuses while a daemon runs', () => {
    sb.ok(['daemon', 'stop']);
    assert.match(sb.ok(['--no-daemon', 'keys', 'list']), /alice@v2/);
    const st = sb.run(['daemon', 'status']);
    assert.equal(st.code, ExitCode.DaemonUnavailable);
    assert.match(st.stdout, /not running/);
    sb.ok(['daemon', 'start']);
    const r = sb.run(['--no-daemon', 'keys', 'list']);
    assert.notEqual(r.code, 0);
    oneLineError(r.stderr, /daemon is already running.*drop --no-daemon/);
  });

  it('daemon stop stops it and removes the socket', () => {
    assert.match(sb.ok(['daemon', 'stop']), /stopped/);
    const r = sb.run(['daemon', 'status']);
    assert.equal(r.code, ExitCode.DaemonUnavailable);
    assert.match(r.stdout, /not running/);
  });
});

describe('keyward CLI without an OS keychain', function () {
  this.timeout(60000);
  let sb: CliSandbox;
  before(async () => {
    sb = await CliSandbox.create({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyward-no-bus' });
  });
  after(async () => {
    await sb?.dispose();
  });

  it('refuses with a clear error naming what to install, and never falls back silently', async () => {
    const r = sb.run(['keys', 'generate', 'k']);
    assert.equal(r.code, ExitCode.KeystoreUnavailable);
    oneLineError(r.stderr, /no OS keychain.*gnome-keyring.*--keystore file/);
    const st = sb.ok(['daemon', 'status']);
    assert.match(st, /keystore: keychain, unavailable/);
    await assert.rejects(fsp.access(`${sb.home}/keystore.age`));
  });

  it('uses the passphrase-encrypted file keystore only when chosen, with a warning', async () => {
    sb.ok(['daemon', 'stop']);
    const env = { KEYWARD_KEYSTORE_PASSPHRASE: 'correct horse battery staple' };
    const r = sb.run(['--keystore', 'file', 'keys', 'generate', 'k'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^age1/);
    assert.match(r.stderr, /warning: keys are kept in a passphrase-encrypted file/);
    const st = await fsp.stat(`${sb.home}/keystore.age`);
    assert.equal(st.mode & 0o777, 0o600);
    const raw = await fsp.readFile(`${sb.home}/keystore.age`, 'latin1');
    assert.match(raw, /^age-encryption\.org\/v1\n-> scrypt /);
    assert.doesNotMatch(raw, /AGE-SECRET-KEY/);
    // A restarted daemon is locked until it gets the passphrase.
    sb.ok(['daemon', 'stop']);
    const locked = sb.run(['keys', 'export', 'k', '--secret']);
    assert.equal(locked.code, ExitCode.KeystoreUnavailable);
    oneLineError(locked.stderr, /passphrase|locked/);
    const wrong = sb.run(['keystore', 'unlock'], { env: { KEYWARD_KEYSTORE_PASSPHRASE: 'wrong' } });
    assert.equal(wrong.code, ExitCode.KeystoreUnavailable);
    oneLineError(wrong.stderr, /wrong passphrase/);
    assert.match(sb.ok(['keys', 'export', 'k', '--secret'], { env }), /AGE-SECRET-KEY-1/);
  });
});
