// The temp journal (daemon/util/temps.ts): what a killed process leaves is listed and swept,
// plaintext first, never through a symlink; a live process's temps are its own.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { AtomicFile } from '../../daemon/util/atomic';
import { closeTempJournal, isKeywardTemp, jobTempDiscarder, jobTempPath, recordTemp, sweepTemps, useTempJournal } from '../../daemon/util/temps';
import { tempDir } from '../helpers/tools';

/** Runs `code` (with tsx) in a child that kills itself with -9 once it printed "ready". */
async function crashIn(code: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: path.resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) child.kill('SIGKILL');
    });
    child.once('exit', (_c, sig) => (sig === 'SIGKILL' ? resolve() : reject(new Error(`the child exited without being killed: ${out}`))));
  });
}

describe('temp journal', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let home: string;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    home = path.join(dir, 'home');
  });
  afterEach(async () => {
    await closeTempJournal(home);
    await cleanup();
  });

  it('a process killed mid-write leaves its temps listed; a sweep removes them, plaintext first, and the journal', async () => {
    const code = `
      const { AtomicFile } = require('./daemon/util/atomic');
      const { useTempJournal } = require('./daemon/util/temps');
      (async () => {
        useTempJournal(${JSON.stringify(home)});
        const c = await AtomicFile.open(${JSON.stringify(path.join(dir, 'cipher.age'))});
        await c.handle.write('partial ciphertext');
        const p = await AtomicFile.open(${JSON.stringify(path.join(dir, 'model.bin'))}, { plaintext: true });
        await p.handle.write('PLAINTEXT');
        console.log('ready');
        setInterval(() => undefined, 1000);
      })();`;
    await crashIn(code);
    const left = (await fsp.readdir(dir)).filter(isKeywardTemp);
    assert.equal(left.length, 2, 'both temps are there');
    assert.equal((await fsp.readdir(path.join(home, 'temps'))).length, 1, 'and its journal');
    const removed = await sweepTemps(home);
    assert.equal(removed.length, 2);
    assert.match(path.basename(removed[0]!), /^\.model\.bin\./, 'the plaintext first');
    assert.deepEqual((await fsp.readdir(dir)).filter(isKeywardTemp), []);
    assert.deepEqual(await fsp.readdir(path.join(home, 'temps')), []);
  });

  it("leaves a live process's temps alone, and its own journal is emptied once nothing is open", async () => {
    useTempJournal(home);
    const f = await AtomicFile.open(path.join(dir, 'out.bin'), { plaintext: true });
    await f.handle.write('x');
    assert.deepEqual(await sweepTemps(home), [], 'this process is alive');
    assert.equal((await fsp.readdir(dir)).filter(isKeywardTemp).length, 1);
    await f.commit();
    await closeTempJournal(home);
    assert.deepEqual(await fsp.readdir(path.join(home, 'temps')), [], 'the journal goes when it lists nothing');
    assert.equal(await fsp.readFile(path.join(dir, 'out.bin'), 'utf8'), 'x');
  });

  it('never writes through a symlink put where a listed plaintext temp was', async () => {
    const precious = path.join(dir, 'precious.txt');
    await fsp.writeFile(precious, 'keep me');
    const temp = path.join(dir, '.x.bin.0123456789ab.keyward-tmp');
    await fsp.mkdir(path.join(home, 'temps'), { recursive: true });
    // A dead process's journal listing a plaintext temp, which is now a symlink.
    await fsp.writeFile(path.join(home, 'temps', '999999999.1.jsonl'), JSON.stringify({ add: temp, plain: true }) + '\n');
    await fsp.symlink(precious, temp);
    await sweepTemps(home);
    assert.equal(await fsp.readFile(precious, 'utf8'), 'keep me');
    await assert.rejects(fsp.lstat(temp), 'the link itself is removed');
  });

  it('records before creating: an entry whose temp never appeared is harmless', async () => {
    useTempJournal(home);
    const r = await recordTemp(path.join(dir, '.never.keyward-tmp'), { plaintext: true });
    assert.ok(r);
    await fsp.copyFile(path.join(home, 'temps', (await fsp.readdir(path.join(home, 'temps')))[0]!), path.join(home, 'temps', '999999999.1.jsonl'));
    assert.deepEqual(await sweepTemps(home), []);
    r.done();
  });

  it("a job's discard removes its temp and an atomic write's temps of it", async () => {
    const file = path.join(dir, 'a.yaml');
    const jobTemp = jobTempPath(file, '20260101000000-abcdef');
    await fsp.writeFile(jobTemp, 'x');
    await fsp.writeFile(path.join(dir, `.${path.basename(jobTemp)}.0123456789ab.keyward-tmp`), 'y');
    await fsp.writeFile(path.join(dir, 'unrelated.keyward-tmp'), 'z');
    await jobTempDiscarder()(file, { jobId: '20260101000000-abcdef' });
    assert.deepEqual(await fsp.readdir(dir), ['unrelated.keyward-tmp']);
  });

  it("recognises Keyward's temp names, and only those", () => {
    for (const n of ['.m.bin.0a1b2c3d4e5f.keyward-tmp', '.a.yaml.keyward-job-20260101000000-abcdef.tmp', 'keyward-edit-12.34-0a1b2c3d4e5f']) assert.ok(isKeywardTemp(n), n);
    for (const n of ['model.tmp', 'a.yaml', 'keyward.yaml', '.a.yaml.keyward-job-x.tmp']) assert.ok(!isKeywardTemp(n), n);
  });
});
