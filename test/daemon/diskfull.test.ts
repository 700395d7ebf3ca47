import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { CliSandbox, CLI } from '../helpers/cli';
import { requireTool } from '../helpers/tools';

/**
 * A full disk, for real: a 3 MiB tmpfs in a private mount namespace (unshare; works as root
 * and, through a user namespace, as a normal user), holding a 2 MiB encrypted model. Rotating
 * it needs room for a second copy, so the write fails with ENOSPC; so does encrypting a larger
 * file into it.
 */
describe('a full disk: rotation and encryption', function () {
  this.timeout(120000);
  let sb: CliSandbox;

  before(async function () {
    requireTool(this, 'unshare');
    const probe = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'true']);
    if (probe.status !== 0) {
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`unshare cannot make a mount namespace here: ${probe.stderr.toString()}`);
      this.skip();
    }
    sb = await CliSandbox.create({ KEYWARD_KEYSTORE_PASSPHRASE: 'disk-full-test-passphrase' });
  });
  after(async () => {
    await sb?.dispose();
  });

  /** Runs `script` in a mount namespace where $MNT is `mnt`; it writes its results to files in $OUT. */
  function inNamespace(mnt: string, script: string, src: string): void {
    const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'bash', '-c', `set -u\n${script}`], {
      env: { ...sb.env, MNT: mnt, SRC: src, NODE: process.execPath, CLI, OUT: sb.dir },
      encoding: 'utf8',
      timeout: 90000,
    });
    assert.equal(r.status, 0, r.stderr);
  }

  it('fails with a clear error, and the original is untouched with no temp file left', async () => {
    sb.ok(['--no-daemon', '--keystore', 'file', 'keys', 'generate', 'full']);
    await fsp.writeFile(sb.path('model.bin'), randomBytes(2 * 1024 * 1024));
    sb.ok(['--no-daemon', 'encrypt', '-k', 'full', 'model.bin']);
    const original = createHash('sha256').update(await fsp.readFile(sb.path('model.bin.age'))).digest('hex');
    const mnt = sb.path('small');
    await fsp.mkdir(mnt);
    inNamespace(
      mnt,
      `mount -t tmpfs -o size=3m tmpfs "$MNT" || exit 90
      cp "$SRC" "$MNT/model.bin.age"
      "$NODE" "$CLI" --no-daemon rotate "$MNT/model.bin.age" >"$OUT/stdout" 2>"$OUT/stderr"
      echo $? >"$OUT/code"
      sha256sum "$MNT/model.bin.age" | cut -d' ' -f1 >"$OUT/sha"
      ls -a "$MNT" >"$OUT/ls"`,
      sb.path('model.bin.age'),
    );
    const code = Number((await fsp.readFile(sb.path('code'), 'utf8')).trim());
    const stderr = await fsp.readFile(sb.path('stderr'), 'utf8');
    assert.notEqual(code, 0);
    assert.match(stderr, /no space left on device/);
    assert.match(stderr, /nothing was replaced|free some disk space/);
    assert.equal((await fsp.readFile(sb.path('sha'), 'utf8')).trim(), original, 'original untouched');
    const names = (await fsp.readFile(sb.path('ls'), 'utf8')).split('\n').filter((n) => n && n !== '.' && n !== '..');
    assert.deepEqual(names, ['model.bin.age'], 'no temp file left');
  });

  it('an encryption whose output does not fit fails the same way, with the workers writing it', async () => {
    // 4 MiB in, into a 3 MiB file system: the worker threads write the batches (spread.ts).
    sb.ok(['--no-daemon', '--keystore', 'file', 'keys', 'generate', 'fits-not']);
    await fsp.writeFile(sb.path('big.bin'), randomBytes(4 * 1024 * 1024));
    const mnt = sb.path('small2');
    await fsp.mkdir(mnt);
    inNamespace(
      mnt,
      `mount -t tmpfs -o size=3m tmpfs "$MNT" || exit 90
      "$NODE" "$CLI" --no-daemon encrypt -k fits-not -o "$MNT/big.bin.age" "$SRC" >"$OUT/stdout2" 2>"$OUT/stderr2"
      echo $? >"$OUT/code2"
      ls -a "$MNT" >"$OUT/ls2"`,
      sb.path('big.bin'),
    );
    assert.notEqual(Number((await fsp.readFile(sb.path('code2'), 'utf8')).trim()), 0);
    const stderr = await fsp.readFile(sb.path('stderr2'), 'utf8');
    assert.match(stderr, /no space left on device/);
    assert.match(stderr, /free some disk space/);
    const names = (await fsp.readFile(sb.path('ls2'), 'utf8')).split('\n').filter((n) => n && n !== '.' && n !== '..');
    assert.deepEqual(names, [], 'no output and no temp file left');
  });
});
