import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { ExitCode } from '../../daemon/protocol';
import { CliSandbox } from '../helpers/cli';
import { requireTool } from '../helpers/tools';

function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('keyward CLI with the Go age 1.3 (both ways, keys from the keystore)', function () {
  this.timeout(120000);
  let sb: CliSandbox;
  const payload = randomBytes(3 * 65536 + 17);

  before(async function () {
    requireTool(this, 'age');
    requireTool(this, 'age-keygen');
    if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('no D-Bus session: npm test runs the suites inside one');
      this.skip();
    }
    sb = await CliSandbox.create();
    await fsp.writeFile(sb.path('weights.bin'), payload);
  });
  after(async () => {
    await sb?.dispose();
  });

  for (const pq of [false, true]) {
    const kind = pq ? 'post-quantum (age-keygen -pq)' : 'X25519 (age-keygen)';
    const name = pq ? 'pqimported' : 'imported';

    it(`imports a ${kind} identity and decrypts what age encrypted to it`, async () => {
      const keyFile = sb.path(`${name}.txt`);
      const g = run('age-keygen', [...(pq ? ['-pq'] : []), '-o', keyFile]);
      assert.equal(g.code, 0, g.stderr);
      const recipient = run('age-keygen', ['-y', keyFile]).stdout.toString().trim();
      const imported = JSON.parse(sb.ok(['--json', 'keys', 'import', name, keyFile])) as { recipient: string; kind: string }[];
      assert.equal(imported[0]!.recipient, recipient);
      assert.equal(imported[0]!.kind, pq ? 'mlkem768x25519' : 'x25519');
      const e = run('age', ['-r', recipient, '-o', sb.path(`${name}.age`), sb.path('weights.bin')]);
      assert.equal(e.code, 0, e.stderr);
      sb.ok(['decrypt', '-o', sb.path(`${name}.out`), `${name}.age`]);
      assert.deepEqual(await fsp.readFile(sb.path(`${name}.out`)), payload);
    });

    it(`encrypts to the ${kind} key so that age -d decrypts it, binary and armored`, async () => {
      for (const armor of [false, true]) {
        const out = `${name}-kw${armor ? '-a' : ''}.age`;
        sb.ok(['encrypt', '-k', name, ...(armor ? ['-a'] : []), '-o', out, 'weights.bin']);
        const head = await fsp.readFile(sb.path(out), 'latin1');
        assert.ok(head.startsWith(armor ? '-----BEGIN AGE ENCRYPTED FILE-----' : 'age-encryption.org/v1\n'));
        const d = run('age', ['-d', '-i', sb.path(`${name}.txt`), sb.path(out)]);
        assert.equal(d.code, 0, d.stderr);
        assert.deepEqual(d.stdout, payload);
      }
    });
  }

  it('encrypts to a generated key; age -d decrypts with the exported identity, and not with another', async () => {
    sb.ok(['keys', 'generate', 'gen', '--pq']);
    await fsp.writeFile(sb.path('gen.txt'), sb.ok(['keys', 'export', 'gen', '--secret']), { mode: 0o600 });
    sb.ok(['encrypt', '-k', 'gen', '-o', 'gen.age', 'weights.bin']);
    const d = run('age', ['-d', '-i', sb.path('gen.txt'), sb.path('gen.age')]);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(d.stdout, payload);
    const wrong = run('age', ['-d', '-i', sb.path('imported.txt'), sb.path('gen.age')]);
    assert.notEqual(wrong.code, 0);
  });

  it('encrypts to a raw recipient with -r', () => {
    const recipient = run('age-keygen', ['-y', sb.path('imported.txt')]).stdout.toString().trim();
    sb.ok(['encrypt', '-r', recipient, '-o', 'raw.age', 'weights.bin']);
    const d = run('age', ['-d', '-i', sb.path('imported.txt'), sb.path('raw.age')]);
    assert.deepEqual(d.stdout, payload);
  });

  it('rewrap: an added recipient decrypts with age -d; after removal and rotation it no longer does', async () => {
    sb.ok(['keys', 'generate', 'owner']);
    sb.ok(['keys', 'generate', 'guest']);
    await fsp.writeFile(sb.path('owner.txt'), sb.ok(['keys', 'export', 'owner', '--secret']), { mode: 0o600 });
    await fsp.writeFile(sb.path('guest.txt'), sb.ok(['keys', 'export', 'guest', '--secret']), { mode: 0o600 });
    sb.ok(['encrypt', '-k', 'owner', '-o', 'shared.age', 'weights.bin']);
    const size = (await fsp.stat(sb.path('shared.age'))).size;
    assert.notEqual(run('age', ['-d', '-i', sb.path('guest.txt'), sb.path('shared.age')]).code, 0);
    assert.match(sb.ok(['rewrap', '--add-key', 'guest', 'shared.age']), /rewrap .*: done, 1 done/);
    assert.equal((await fsp.stat(sb.path('shared.age'))).size, size, 'header rewritten in place');
    const g = run('age', ['-d', '-i', sb.path('guest.txt'), sb.path('shared.age')]);
    assert.equal(g.code, 0, g.stderr);
    assert.deepEqual(g.stdout, payload);
    const removed = sb.run(['rewrap', '--remove-key', 'guest', '--rotate', 'shared.age']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /rotate .*: done, 1 done/);
    assert.notEqual(run('age', ['-d', '-i', sb.path('guest.txt'), sb.path('shared.age')]).code, 0);
    const o = run('age', ['-d', '-i', sb.path('owner.txt'), sb.path('shared.age')]);
    assert.equal(o.code, 0, o.stderr);
    assert.deepEqual(o.stdout, payload);
  });

  it('rotate of a multi-MiB model (re-encrypted chunk by chunk on every core): age -d decrypts it, and the old file key is gone', async () => {
    sb.ok(['keys', 'generate', 'big-owner']);
    await fsp.writeFile(sb.path('big-owner.txt'), sb.ok(['keys', 'export', 'big-owner', '--secret']), { mode: 0o600 });
    const big = randomBytes(5 * 1024 * 1024 + 3);
    await fsp.writeFile(sb.path('big.bin'), big);
    sb.ok(['encrypt', '-k', 'big-owner', '-o', 'big.age', 'big.bin']);
    const before = await fsp.readFile(sb.path('big.age'));
    assert.match(sb.ok(['rotate', 'big.age']), /rotate .*: done, 1 done/);
    const after = await fsp.readFile(sb.path('big.age'));
    // A new payload: no 64 KiB chunk of ciphertext survives the rotation.
    assert.ok(!after.includes(before.subarray(before.length - 65536)));
    const o = run('age', ['-d', '-i', sb.path('big-owner.txt'), sb.path('big.age')]);
    assert.equal(o.code, 0, o.stderr);
    assert.ok(Buffer.from(o.stdout).equals(big));
  });

  it('keys rotate --rewrap moves every artifact to the new version in zero-downtime order', async () => {
    sb.ok(['keys', 'generate', 'svc']);
    for (const n of ['a', 'b']) sb.ok(['encrypt', '-k', 'svc', '-o', `svc-${n}.age`, 'weights.bin']);
    const out = sb.ok(['keys', 'rotate', 'svc', '--rewrap', sb.dir]);
    assert.match(out, /svc@v2 active/);
    assert.match(out, /svc@v1 deactivated/);
    await fsp.writeFile(sb.path('svc2.txt'), sb.ok(['keys', 'export', 'svc@v2', '--secret']), { mode: 0o600 });
    await fsp.writeFile(sb.path('svc1.txt'), sb.ok(['keys', 'export', 'svc@v1', '--secret']), { mode: 0o600 });
    for (const n of ['a', 'b']) {
      const d = run('age', ['-d', '-i', sb.path('svc2.txt'), sb.path(`svc-${n}.age`)]);
      assert.equal(d.code, 0, d.stderr);
      assert.deepEqual(d.stdout, payload);
      assert.notEqual(run('age', ['-d', '-i', sb.path('svc1.txt'), sb.path(`svc-${n}.age`)]).code, 0, 'old version removed');
    }
  });

  it('decrypt --range returns exactly the bytes asked for', () => {
    const start = 65536 - 3;
    const end = 2 * 65536 + 9;
    const r = sb.runBuffer(['decrypt', '--range', `${start}:${end}`, '-o', '-', 'gen.age']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout, payload.subarray(start, end));
    const bad = sb.run(['decrypt', '--range', '10:5', 'gen.age']);
    assert.equal(bad.code, ExitCode.Usage);
  });

  it('refuses a file age encrypted to someone else, leaving no output', async () => {
    const other = sb.path('other.txt');
    run('age-keygen', ['-o', other]);
    const recipient = run('age-keygen', ['-y', other]).stdout.toString().trim();
    run('age', ['-r', recipient, '-o', sb.path('other.age'), sb.path('weights.bin')]);
    const r = sb.run(['decrypt', '-o', sb.path('other.out'), 'other.age']);
    assert.equal(r.code, ExitCode.DecryptFailed);
    assert.match(r.stderr, /no identity matched/);
    await assert.rejects(fsp.access(sb.path('other.out')));
  });
});
