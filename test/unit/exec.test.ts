import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { envVariables } from '../../daemon/exec/env';
import { checkPrivateDir, makePrivateDir, onRamFs, removePrivateDir, sweepPrivateDirs } from '../../daemon/util/ramdir';
import { closeTempJournal, isKeywardTemp, sweepTemps, useTempJournal } from '../../daemon/util/temps';
import { parseFileSpec, substitute } from '../../daemon/exec/run';
import { parseExecArgv } from '../../daemon/cli/exec-argv';
import { Branch, Comment, Float, Int, Time } from '../../daemon/sops/tree';
import { processStart } from '../../daemon/util/process';
import { KeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';

describe('keyward exec: names, substitution, environment', () => {
  it('--file SRC[=NAME]: the name defaults to the file name without .age, as an identifier', () => {
    assert.deepEqual(parseFileSpec('models/llama.safetensors.age'), { src: 'models/llama.safetensors.age', name: 'LLAMA_SAFETENSORS' });
    assert.deepEqual(parseFileSpec('secrets.enc.yaml'), { src: 'secrets.enc.yaml', name: 'SECRETS_ENC_YAML' });
    assert.deepEqual(parseFileSpec('w.age=weights'), { src: 'w.age', name: 'weights' });
    assert.deepEqual(parseFileSpec('dir/1st-model.bin.age'), { src: 'dir/1st-model.bin.age', name: '_1ST_MODEL_BIN' });
    // "=" that does not start a name belongs to the path.
    assert.deepEqual(parseFileSpec('a=b.age'), { src: 'a=b.age', name: 'A_B' });
    assert.throws(() => parseFileSpec('w.age='), /no name after "="/);
  });

  it('{NAME} in arguments becomes the file path; other braces stay', () => {
    const paths = new Map([['W', '/dev/shm/x/W/w.bin']]);
    assert.deepEqual(substitute(['--weights={W}', '{W}', '{OTHER}', '{}', 'a{W}b{W}'], paths), ['--weights=/dev/shm/x/W/w.bin', '/dev/shm/x/W/w.bin', '{OTHER}', '{}', 'a/dev/shm/x/W/w.binb/dev/shm/x/W/w.bin']);
  });

  it('variables as sops exec-env makes them: top-level scalars of the first document, printed as sops prints them', () => {
    const doc = new Branch([
      { key: new Comment(' a comment'), value: null },
      { key: 'API_KEY', value: 's3cret' },
      { key: 'PORT', value: new Int(8080n) },
      { key: 'RATIO', value: new Float(2) },
      { key: 'SMALL', value: new Float(1e-7) },
      { key: 'DEBUG', value: true },
      { key: 'NOTHING', value: null },
      { key: 'WHEN', value: new Time('2024-01-02T03:04:05.123Z') },
      { key: 'MULTI', value: 'line one\nline two' },
      { key: 'lower.case-key', value: 'ok' },
    ]);
    assert.deepEqual(envVariables([doc, new Branch([{ key: 'SECOND_DOC', value: 'ignored' }])], 'f.yaml'), [
      { name: 'API_KEY', value: 's3cret' },
      { name: 'PORT', value: '8080' },
      { name: 'RATIO', value: '2.0' },
      { name: 'SMALL', value: '1E-07' },
      { name: 'DEBUG', value: 'true' },
      { name: 'NOTHING', value: '<nil>' },
      { name: 'WHEN', value: '2024-01-02T03:04:05Z' },
      { name: 'MULTI', value: 'line one\nline two' },
      { name: 'lower.case-key', value: 'ok' },
    ]);
    assert.deepEqual(envVariables([], 'empty.yaml'), []);
  });

  it('refuses what sops exec-env refuses, naming the key, never the value', () => {
    const refused = (items: Branch['items'], re: RegExp) =>
      assert.throws(
        () => envVariables([new Branch(items)], 'f.yaml'),
        (e: unknown) => e instanceof KeywardError && re.test(e.message) && !e.message.includes('s3cret'),
      );
    refused([{ key: 'DB', value: new Branch([{ key: 'password', value: 's3cret' }]) }], /cannot use complex value in environment; offending key "DB"/);
    refused([{ key: 'HOSTS', value: ['s3cret'] }], /cannot use complex value in environment; offending key "HOSTS"/);
    refused([{ key: 'A=B', value: 's3cret' }], /cannot use keys with '=' in environment: "A=B"/);
    refused([{ key: 'NUL', value: 's3cret\0' }], /holds a NUL byte/);
  });
});

describe('keyward exec: private RAM directories', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => cleanup());

  it('made 0700 on a RAM file system, checked with statfs', async () => {
    assert.ok(onRamFs('/dev/shm'), 'these tests need /dev/shm on tmpfs, as Linux machines have it');
    const made = await makePrivateDir({ allowDisk: false, kind: 'exec', env: { KEYWARD_RAM_DIR: '/dev/shm' } });
    try {
      assert.equal(made.onDisk, false);
      assert.ok(onRamFs(made.dir));
      assert.equal((await fsp.stat(made.dir)).mode & 0o777, 0o700);
      assert.match(path.basename(made.dir), new RegExp(`^keyward-exec-${process.pid}-\\d+-`));
      await checkPrivateDir(made.dir, false);
    } finally {
      await fsp.rm(made.dir, { recursive: true, force: true });
      made.recorded.done();
    }
  });

  it('refuses a disk (no fallback) unless allowDisk; refuses a directory others can read', async () => {
    assert.equal(onRamFs(dir), false, `${dir} is on tmpfs: run the tests with TMPDIR on a disk`);
    await assert.rejects(makePrivateDir({ allowDisk: false, kind: 'exec', env: { KEYWARD_RAM_DIR: dir } }), /no RAM file system for the decrypted files: tried .* \(not a RAM file system\)/);
    const made = await makePrivateDir({ allowDisk: true, kind: 'exec', env: { KEYWARD_RAM_DIR: dir } });
    assert.equal(made.onDisk, true);
    // On a disk, the plaintext's bytes are overwritten before the directory goes.
    const plain = path.join(made.dir, 'M', 'model.bin');
    await fsp.mkdir(path.dirname(plain));
    await fsp.writeFile(plain, 'plaintext on a disk');
    const kept = await fsp.open(plain, 'r');
    removePrivateDir(made.dir);
    made.recorded.done();
    assert.equal((await kept.readFile()).toString(), '\0'.repeat('plaintext on a disk'.length));
    await kept.close();
    assert.equal(existsSync(made.dir), false);
    await assert.rejects(checkPrivateDir(dir, false), /is not on a RAM file system/);
    await fsp.chmod(dir, 0o755);
    await assert.rejects(checkPrivateDir(dir, true), /is not private/);
    await fsp.chmod(dir, 0o700);
  });

  it('the sweep removes the directories of owners that are gone, and only those', async () => {
    const env = { KEYWARD_RAM_DIR: dir };
    // A process that ran and is gone: its pid, and a start time that no longer matches.
    const child = spawn(process.execPath, ['-e', '0']);
    const gonePid = child.pid!;
    await new Promise((r) => child.once('exit', r));
    const gone = path.join(dir, `keyward-exec-${gonePid}-12345-abcdef`);
    const reused = path.join(dir, `keyward-exec-${process.pid}-1-abcdef`); // this pid, another start time
    const live = path.join(dir, `keyward-exec-${process.pid}-${processStart(process.pid) ?? '0'}-abcdef`);
    const other = path.join(dir, 'keyward-exec-notours');
    const goneEdit = path.join(dir, `keyward-edit-${gonePid}-12345-abcdef`); // sops edit's, the same helper
    for (const d of [gone, reused, live, other, goneEdit]) await fsp.mkdir(d, { mode: 0o700 });
    await fsp.writeFile(path.join(gone, 'plain.bin'), 'plaintext');
    // (It also sweeps the temp directory, where --allow-disk puts them: only this test's count here.)
    const removed = sweepPrivateDirs(env).filter((d) => d.startsWith(dir + path.sep));
    assert.deepEqual(removed.sort(), [gone, reused, goneEdit].sort());
    assert.deepEqual((await fsp.readdir(dir)).sort(), [path.basename(live), 'keyward-exec-notours'].sort());
  });
});

describe('keyward exec: private RAM directories in the temp journal', () => {
  it('recorded before they exist, so the next command of the home removes one a killed owner left; walks know the name', async () => {
    const { dir: home, cleanup } = await tempDir();
    const ram = await fsp.mkdtemp('/dev/shm/keyward-exec-unit-');
    try {
      // A child process makes one and is killed: the directory stays, listed in its journal.
      const made = path.join(home, 'made');
      const script = `
        const { useTempJournal } = require(${JSON.stringify(require.resolve('../../daemon/util/temps'))});
        const { makePrivateDir } = require(${JSON.stringify(require.resolve('../../daemon/util/ramdir'))});
        useTempJournal(${JSON.stringify(home)});
        makePrivateDir({ allowDisk: false, kind: 'exec', env: { KEYWARD_RAM_DIR: ${JSON.stringify(ram)} } }).then((m) => {
          require('node:fs').writeFileSync(${JSON.stringify(made)}, m.dir);
          process.kill(process.pid, 'SIGKILL');
        });`;
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: 'inherit' });
      await new Promise((r) => child.once('exit', r));
      const left = await fsp.readFile(made, 'utf8');
      assert.ok(existsSync(left) && isKeywardTemp(path.basename(left)), left);
      useTempJournal(home);
      try {
        assert.deepEqual(await sweepTemps(home), [left]);
      } finally {
        await closeTempJournal(home);
      }
      assert.equal(existsSync(left), false);
    } finally {
      await fsp.rm(ram, { recursive: true, force: true });
      await cleanup();
    }
  });
});

describe('keyward exec: the command lines of the lean path', () => {
  it('reads globals before or after exec, values as the next word or after "=", and hands everything after -- to the program', () => {
    assert.deepEqual(parseExecArgv(['exec', '--env', 'a.yaml', '--env=b.yaml', '--file', 'm.age=M', '--allow-disk', '--', 'prog', '--env', '--', 'x']), {
      daemon: true,
      env: ['a.yaml', 'b.yaml'],
      files: ['m.age=M'],
      allowDisk: true,
      command: ['prog', '--env', '--', 'x'],
    });
    assert.deepEqual(parseExecArgv(['--home', '/h', '--no-daemon', 'exec', '--json', '--keystore=file', '--home', '--', '--', 'p']), {
      home: '--',
      daemon: false,
      env: [],
      files: [],
      allowDisk: false,
      command: ['p'],
    });
    // A value is the next word, whatever it looks like (commander's rule).
    assert.deepEqual(parseExecArgv(['exec', '--env', '--file', '--', 'p'])?.env, ['--file']);
  });

  it('leaves every other command line to the full CLI', () => {
    for (const argv of [
      [],
      ['exec'],
      ['exec', '--'],
      ['exec', 'prog'],
      ['exec', '--env', 'a', 'prog', 'arg'],
      ['exec', '-h', '--', 'p'],
      ['exec', '--help'],
      ['exec', '--bogus', '--', 'p'],
      ['exec', '--env'],
      ['--env', 'a', 'exec', '--', 'p'],
      ['--allow-disk', 'exec', '--', 'p'],
      ['--keystore', 'vault', 'exec', '--', 'p'],
      ['--daemon', 'exec', '--', 'p'],
      ['-V'],
      ['decrypt', 'exec', '--', 'p'],
      ['exec', 'exec', '--', 'p'],
      ['--', 'exec', '--', 'p'],
      ['encrypt', '-k', 'me', 'f'],
    ]) {
      assert.equal(parseExecArgv(argv), null, argv.join(' '));
    }
  });
});
