import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { ExitCode } from '../../daemon/protocol';
import { CLI, CliSandbox } from '../helpers/cli';
import { fakeKey, installFakePlugins, pathWith } from '../helpers/plugins';
import { runInPty } from '../helpers/pty';
import { requireTool } from '../helpers/tools';

// Age plugins through the keyward CLI and its daemon, both ways with the Go age 1.3.2 and its
// plugins (batchpass, pq, tagtest), a PyPI plugin (trezor-slip11 in its test mode), sops 3.13.3,
// and tiny fake plugins for prompts and misbehaviour (test/fixtures/plugins).

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: Buffer) {
  const r = spawnSync(cmd, args, { env, input, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** The header's stanza lines: `-> TYPE ARGS...`, each argument replaced by its length. */
function shape(file: Buffer): string[] {
  const text = file.toString('latin1');
  const header = text.slice(0, text.indexOf('\n---'));
  return header
    .split('\n')
    .filter((l) => l.startsWith('-> ') && !l.startsWith('-> keyward-'))
    .map((l) => {
      const [type, ...args] = l.slice(3).split(' ');
      return [type, ...args.map((a) => String(a.length))].join(' ');
    });
}

const TAG = 'age1tag1qwe0kafsjrar4txm6heqnhpfuggzr0gvznz7fvygxrlq90u5mq2pysxtw6h';
/** age-plugin-tagtest's fixed hybrid recipient (filippo.io/age v1.3.2, tag/internal/age-plugin-tagtest): a test vector. */
const TAGPQ =
  'age1tagpq14h4z7cks9sxftfc8tq4xektt4854ur9rv76tvujdvtzk2fmyywkvh9z2emz3x4epvhz7qdt2v7uksyyq2cdzf3k04ny0g5sc3u4heqh3r9v4cnwhfjw0a2azpgmnk9xk02wvywt5szcq6q3jvwsjxvkn3tsk52vqjczdcvc398ym4j6cvqas4w99gkgt7ur3fmt4g873phr23tgxw3f7wgsz9zxz7m8cp27vpq3h5vc8nssjemtr2etmtmqkg4fzn2u9x9zvtysuya5yrytgx482ftx9864h8a6pprarxd3d0qe8nw2at5ekg3tsahtef7kawasxjamyckw2ans6v933vuypcfrra32f89r2v72mka9hhc55s49xe2khfsq7w9r2zynuzfx4fg6v7jjncsc87rw2yy8qp8hr27edus6zw5xd6m3hax2nxhl2dys9792z3wp5c034sfkrxe86guj7pfdh7sytzrufl9euhuhyf9w6c7z2nwf7v5v8f2s4gplgvfx4jj4le22k2qn242qkqkcwx7llfyrct7jm2wcv0ytypeh6h93ezgtd7q6zr428qze3dec5jxlc5xxjetyephp42fljft3s02p0570kjwyfeyjcnks2vglkvyus5g9l4z6m0gf8wu22ygfm40028txwjlxvvgnn7c36z783c6tmc9k5nef8nucj6u3ustff5vhtnzhnscsvsz79wzrkv3sujtntx4wezucy6lp49flmnyydn3khk2xsesw0ekn4u44nzqw2g2rjyrrl7crshlzttgpe0jvqycjzp9kmtz23t3yu0w9j4n344nnrf88k2jqqfpjxte38pcn0epr879pqsuvajxrkmsas89pvfrzwcewneujn08guj5pvvrtn5hzzg2y6u4wwjqqxx4x8w65yc4dchf750dft8kgcttt2f6j0j5v8s7tkaua78tte7artdfar544vl0rau79h95mc4ghp887z82s6rq93txpkvan86n963kagqkldngnkjcn28zdrh38vdxj002zqs9mx7zjvg3ynzdfhfakkynt9fyqpaxpsdrsqrycuhw5ykwgjz6wldef7xtu6p689234hstxe7v8e5422f2dy8ystn57z3fvy9yfrm4t3lye6ejk5n6x8zqexmql7lx965xcxuuy38xzyt8j9qprnwgfqgx54l4tnjdpzdde6xgmwtnpkfwvyr7rkgnavvjn6a3e56wtvjx3evmhjjxvukpq5zqrj0s4sntkz3yeszs5dty8q0q6m7dgp6mjpvaer0c4343g72eycfqzkjupeaemh0n8e935hqs8fh3jgk7fzyxctzuqlx6d2q9jaf8r9wu4sjxj5w6ppw7m9c3hxrzpcv2uek3kxnndgf2hd99q9v2ux8pjkv29ntslvnvhy09dvcy9578rt89gf4cj4cu79zjxtlj3dpct6rjme02zj3qspsade96njkkufu9zuq2lk3qwvddpxjkqm2hnpqwck54zug7ctvkgvk325lwkg4q5rf73zkgys5e9y8jqc96ntdyl4r78lgtw4k5uljk5ttf46s3gc0rq0jwmddnxt875twwq92505zh3zkse5ag2dhjjxyfzkn7xv3j0kv9r3jzpvgep8fq6z8mar509u4fvnhvthp2ah0r45lsyq0mm6fwkcs30v8k9wzvgt6uvcty6qsjvarjs3htym69zu43m4jd3k4tllrr8c05v6p6spuhup4hkk2p9fp9lxafe3pntcn4nk83gzhjjpcjwyg7jcyz5uancu0fakgz27up7ymzp2xv3sqyqewkkqynskw9qkvysrncxj0cy7dt6q8dsseuwmc2urfmcvkykf82wfa54t85hqx8gywhmhzunm2x0d66a4pwl0xl78fhkces5dpq8pfnp35m5a3u8vdam64zx5s5x9cmnrx3zr066f4f8hlecqnq2fd5quw79ljg3q5nvs6ggmm4gkc';
const TREZOR_TEST = { AGE_PLUGIN_TREZOR_SLIP11_UNSAFE_TEST_MODE: 'true' };

describe('age plugins through keyward and the Go age (both ways)', function () {
  this.timeout(120_000);
  let sb: CliSandbox;
  let env: NodeJS.ProcessEnv;
  const payload = randomBytes(2 * 65536 + 99);

  before(async function () {
    for (const t of ['age', 'age-keygen', 'age-plugin-batchpass', 'age-plugin-pq', 'age-plugin-tagtest', 'age-plugin-trezor-slip11', 'sops']) requireTool(this, t);
    if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('no D-Bus session: npm test runs the suites inside one');
      this.skip();
    }
    sb = await CliSandbox.create({ KEYWARD_PLUGIN_TIMEOUT_MS: '3000', KEYWARD_PLUGIN_WAITING_MS: '200' });
    const bin = await installFakePlugins(sb.path('bin'));
    env = { ...sb.env, PATH: pathWith(bin), ...TREZOR_TEST };
    await fsp.writeFile(sb.path('weights.bin'), payload);
    // The daemon starts without the plugins' settings: they must come from each command's environment.
    sb.ok(['daemon', 'start']);
  });
  after(async () => {
    await sb?.dispose();
  });

  const kw = (args: string[], extra: NodeJS.ProcessEnv = {}) => sb.run(args, { env: { ...env, ...extra } });
  const kwOk = (args: string[], extra: NodeJS.ProcessEnv = {}) => sb.ok(args, { env: { ...env, ...extra } });

  it('batchpass: keyward -j batchpass encrypts what age -d -j batchpass opens, and the reverse', async () => {
    const pass = { AGE_PASSPHRASE: 'correct horse battery staple', AGE_PASSPHRASE_WORK_FACTOR: '10' };
    kwOk(['encrypt', '-j', 'batchpass', '-o', 'bp.age', 'weights.bin'], pass);
    const head = await fsp.readFile(sb.path('bp.age'));
    assert.deepEqual(shape(head), ['scrypt 22 2'], 'an scrypt stanza alone, as age writes it');
    const d = run('age', ['-d', '-j', 'batchpass', sb.path('bp.age')], { ...env, ...pass });
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(d.stdout, payload);

    const e = run('age', ['-e', '-j', 'batchpass', '-o', sb.path('bp-go.age'), sb.path('weights.bin')], { ...env, ...pass });
    assert.equal(e.code, 0, e.stderr);
    kwOk(['decrypt', '-j', 'batchpass', '-o', 'bp-go.out', 'bp-go.age'], pass);
    assert.deepEqual(await fsp.readFile(sb.path('bp-go.out')), payload);

    const wrong = kw(['decrypt', '-j', 'batchpass', '-o', 'bp-wrong.out', 'bp-go.age'], { AGE_PASSPHRASE: 'wrong' });
    assert.equal(wrong.code, ExitCode.Failed, wrong.stderr);
    assert.match(wrong.stderr, /the batchpass plugin failed: it could not open a stanza of its type in the file \(it said: "incorrect passphrase"/);
    await assert.rejects(fsp.access(sb.path('bp-wrong.out')));
  });

  it('pq: a plugin identity (age-plugin-pq -identity) in the keystore, both ways', async () => {
    const native = sb.path('pq-native.txt');
    assert.equal(run('age-keygen', ['-pq', '-o', native], env).code, 0);
    const recipient = run('age-keygen', ['-y', native], env).stdout.toString().trim();
    const conv = run('age-plugin-pq', ['-identity', native], env);
    assert.equal(conv.code, 0, conv.stderr);
    await fsp.writeFile(sb.path('pq-plugin.txt'), conv.stdout);
    const imported = JSON.parse(kwOk(['--json', 'keys', 'import', 'pqplug', 'pq-plugin.txt'])) as { kind: string; plugin: string; recipient: string }[];
    assert.equal(imported[0]!.kind, 'plugin');
    assert.equal(imported[0]!.plugin, 'pq');
    assert.equal(imported[0]!.recipient, '', 'no recipient in the file: it encrypts to the identity itself');

    // age encrypts to the native recipient; keyward opens it through age-plugin-pq.
    const e = run('age', ['-r', recipient, '-o', sb.path('pq-go.age'), sb.path('weights.bin')], env);
    assert.equal(e.code, 0, e.stderr);
    kwOk(['decrypt', '-o', 'pq-go.out', 'pq-go.age']);
    assert.deepEqual(await fsp.readFile(sb.path('pq-go.out')), payload);

    // keyward encrypts to the key (the identity, through the plugin); age opens it with either identity.
    kwOk(['encrypt', '-k', 'pqplug', '-o', 'pq-kw.age', 'weights.bin']);
    assert.deepEqual(shape(await fsp.readFile(sb.path('pq-kw.age'))), ['mlkem768x25519 1494']);
    for (const id of [native, sb.path('pq-plugin.txt')]) {
      const d = run('age', ['-d', '-i', id, sb.path('pq-kw.age')], env);
      assert.equal(d.code, 0, d.stderr);
      assert.deepEqual(d.stdout, payload);
    }
    // Its plugin stanza is post-quantum: it may not share a file with a classic recipient.
    const mixed = kw(['encrypt', '-k', 'pqplug', '-r', 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p', '-o', 'mixed.age', 'weights.bin']);
    assert.equal(mixed.code, ExitCode.Usage, mixed.stderr);
    assert.match(mixed.stderr, /can't mix post-quantum and classic recipients/);
    await assert.rejects(fsp.access(sb.path('mixed.age')));
  });

  it('trezor-slip11 (PyPI, test mode): a symmetric plugin identity in the keystore, both ways', async () => {
    const enc = run('age-plugin-trezor-slip11', ['encode-identity', '--key=keyward-test'], env);
    assert.equal(enc.code, 0, enc.stderr);
    await fsp.writeFile(sb.path('trezor.txt'), enc.stdout);
    kwOk(['keys', 'import', 'trezor', 'trezor.txt']);
    const list = kwOk(['keys', 'list']);
    assert.match(list, /trezor@v1\*\tactive\tplugin:trezor-slip11\t/);

    kwOk(['encrypt', '-k', 'trezor', '-o', 'tz-kw.age', 'weights.bin']);
    const d = run('age', ['-d', '-i', sb.path('trezor.txt'), sb.path('tz-kw.age')], env);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(d.stdout, payload);

    const e = run('age', ['-e', '-i', sb.path('trezor.txt'), '-o', sb.path('tz-go.age'), sb.path('weights.bin')], env);
    assert.equal(e.code, 0, e.stderr);
    kwOk(['decrypt', '-o', 'tz-go.out', 'tz-go.age']);
    assert.deepEqual(await fsp.readFile(sb.path('tz-go.out')), payload);

    // The identity has no recipient: Keyward records it in the file, so a rewrap keeps it and a
    // rotation wraps the new file key through the plugin again; age still opens both.
    kwOk(['keys', 'generate', 'tzbackup']);
    kwOk(['rewrap', sb.path('tz-kw.age'), '--add-key', 'tzbackup']);
    kwOk(['rotate', sb.path('tz-kw.age')]);
    const again = run('age', ['-d', '-i', sb.path('trezor.txt'), sb.path('tz-kw.age')], env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.stdout, payload);
  });

  it('tagged recipients natively: the stanza age -r writes, opened by age -j tagtest; and the reverse', async () => {
    kwOk(['encrypt', '-r', TAG, '-o', 'tag-kw.age', 'weights.bin']);
    const go = run('age', ['-r', TAG, '-o', sb.path('tag-go.age'), sb.path('weights.bin')], env);
    assert.equal(go.code, 0, go.stderr);
    const mine = shape(await fsp.readFile(sb.path('tag-kw.age')));
    assert.deepEqual(mine, shape(await fsp.readFile(sb.path('tag-go.age'))));
    assert.deepEqual(mine, ['p256tag 6 87']);
    const d = run('age', ['-d', '-j', 'tagtest', sb.path('tag-kw.age')], env);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(d.stdout, payload);
    kwOk(['decrypt', '-j', 'tagtest', '-o', 'tag-go.out', 'tag-go.age']);
    assert.deepEqual(await fsp.readFile(sb.path('tag-go.out')), payload);
  });

  it('tagged post-quantum recipients (age1tagpq1): the same stanza shape as age, opened by age -j tagtest', async () => {
    kwOk(['encrypt', '-r', TAGPQ, '-o', 'tagpq-kw.age', 'weights.bin']);
    const go = run('age', ['-r', TAGPQ, '-o', sb.path('tagpq-go.age'), sb.path('weights.bin')], env);
    assert.equal(go.code, 0, go.stderr);
    assert.deepEqual(shape(await fsp.readFile(sb.path('tagpq-kw.age'))), shape(await fsp.readFile(sb.path('tagpq-go.age'))));
    const d = run('age', ['-d', '-j', 'tagtest', sb.path('tagpq-kw.age')], env);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(d.stdout, payload);
  });

  it('sops 3.13.3: a file with a plugin recipient, both ways', async () => {
    const k = fakeKey('quiet');
    await fsp.writeFile(sb.path('quiet.txt'), `# recipient: ${k.recipient}\n${k.identity}\n`);
    kwOk(['keys', 'import', 'quiet', 'quiet.txt']);
    await fsp.writeFile(sb.path('app.yaml'), 'db:\n  password: hunter2\n');
    kwOk(['sops', 'encrypt', '--age', k.recipient, '-o', 'app.enc.yaml', 'app.yaml']);
    const d = run('sops', ['-d', sb.path('app.enc.yaml')], { ...env, SOPS_AGE_KEY_FILE: sb.path('quiet.txt') });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout.toString(), /password: hunter2/);

    const e = run('sops', ['-e', '--age', k.recipient, sb.path('app.yaml')], env);
    assert.equal(e.code, 0, e.stderr);
    await fsp.writeFile(sb.path('app.sops.yaml'), e.stdout);
    assert.match(kwOk(['sops', 'decrypt', 'app.sops.yaml']), /password: hunter2/);
  });

  describe('prompts', () => {
    let pin: { recipient: string; identity: string };
    before(async () => {
      pin = fakeKey('pinwrap');
      await fsp.writeFile(sb.path('pin.txt'), `# recipient: ${pin.recipient}\n${pin.identity}\n`);
      kwOk(['keys', 'import', 'pin', 'pin.txt']);
      kwOk(['encrypt', '-k', 'pin', '-o', 'pin.age', 'weights.bin']);
    });

    it('a plugin that asks for a PIN gets it from the CLI\'s terminal (a pty), not echoed', async () => {
      // A pty drives the CLI: waits for the question, types the PIN, reads the rest.
      const r = runInPty([process.execPath, CLI, 'decrypt', '-o', sb.path('pin.out'), sb.path('pin.age')], [{ expect: '(input hidden)', send: '1234\r' }], { env, cwd: sb.dir });
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /pinwrap plugin: Enter the PIN of the fake token \(input hidden\)/);
      assert.ok(!r.output.includes('1234'), `the PIN was echoed: ${JSON.stringify(r.output)}`);
      assert.deepEqual(await fsp.readFile(sb.path('pin.out')), payload);
    });

    it("a job waiting for a touch says so on the CLI's progress line (a pty), and finishes once touched", async () => {
      const q = fakeKey('quiet');
      await fsp.writeFile(sb.path('tk.txt'), `# recipient: ${q.recipient}\n${q.identity}\n`);
      kwOk(['keys', 'import', 'tk', 'tk.txt']);
      kwOk(['keys', 'generate', 'backup']);
      for (const n of ['t1', 't2']) kwOk(['encrypt', '-r', q.recipient, '-o', `${n}.age`, 'weights.bin']);
      const touch = sb.path('touched');
      const r = runInPty(
        [process.execPath, CLI, 'rewrap', sb.path('t1.age'), sb.path('t2.age'), '--add-key', 'backup'],
        [{ expect: 'waiting for the quiet plugin (touch your key or confirm on the device if it asks)', touch }],
        { env: { ...env, FAKE_PLUGIN_TOUCH: touch }, cwd: sb.dir },
      );
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /rewrap \S+: 0\/2 files, 0%, waiting for the quiet plugin/);
      assert.match(r.output, /rewrap \S+: done, 2 done/);
    });

    it('with no terminal to ask on (a hook, CI): a clear error naming the plugin and what it wanted, no output', async () => {
      // setsid: a new session, so no controlling terminal (/dev/tty) either.
      const r = spawnSync('setsid', ['-w', process.execPath, CLI, 'decrypt', '-o', sb.path('pin-noterm.out'), sb.path('pin.age')], { env, cwd: sb.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      assert.equal(r.status, ExitCode.Failed, r.stderr);
      assert.match(r.stderr, /the pinwrap plugin needed to ask you for a secret \(a PIN or passphrase\), but there is no terminal to ask on/);
      assert.match(r.stderr, /it asked: "Enter the PIN of the fake token"/);
      await assert.rejects(fsp.access(sb.path('pin-noterm.out')));
    });
  });

  describe('must fail: a clear error, no output file, and the daemon still serves', () => {
    const cases = [
      { name: 'exitmid', error: /the exitmid plugin exited before finishing the exchange \(exit code 3\)/ },
      { name: 'garbage', error: /the garbage plugin broke the plugin protocol/ },
      { name: 'oversized', error: /the oversized plugin broke the plugin protocol: it sent a message larger than/ },
      { name: 'silent', error: /the silent plugin did not answer within 3 s/ },
      { name: 'nosuchplugin', error: /plugin age-plugin-nosuchplugin was not found/ },
    ];
    for (const c of cases) {
      it(`${c.name}: encrypt and decrypt`, async () => {
        const k = fakeKey(c.name);
        const enc = kw(['encrypt', '-r', k.recipient, '-o', `${c.name}.age`, 'weights.bin']);
        assert.notEqual(enc.code, 0);
        assert.match(enc.stderr, c.error);
        await assert.rejects(fsp.access(sb.path(`${c.name}.age`)));
        const dec = kw(['decrypt', '-j', c.name, '-o', `${c.name}.out`, 'bp.age']);
        assert.notEqual(dec.code, 0);
        assert.match(dec.stderr, c.error);
        await assert.rejects(fsp.access(sb.path(`${c.name}.out`)));
        assert.match(kwOk(['keys', 'list']), /pin@v1/, 'the daemon still serves');
      });
    }

    it('a wrong identity: no identity matched, no output', async () => {
      const other = fakeKey('quiet');
      kwOk(['encrypt', '-r', other.recipient, '-o', 'other.age', 'weights.bin']);
      const r = kw(['decrypt', '-o', 'other.out', 'other.age']);
      assert.equal(r.code, ExitCode.DecryptFailed, r.stderr);
      assert.match(r.stderr, /no identity matched/);
      await assert.rejects(fsp.access(sb.path('other.out')));
    });
  });
});
