// The per-home lock: one owner, even when many take it at the same moment; stale locks (a dead
// pid) taken over; a lock being written is waited for, not taken for stale.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../../daemon/protocol/errors';
import { acquireLock } from '../../daemon/server/lock';
import { isAlive, processStart, readHolder } from '../../daemon/util/process';
import { KeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';

describe('home lock', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(() => cleanup());

  it('has exactly one owner when many take it at once, and leaves no temp file', async () => {
    const file = path.join(dir, 'daemon.lock');
    for (let round = 0; round < 20; round++) {
      const tries = await Promise.allSettled(Array.from({ length: 8 }, () => acquireLock(file, 'daemon')));
      const won = tries.filter((t) => t.status === 'fulfilled');
      assert.equal(won.length, 1, `round ${round}: ${won.length} owners`);
      for (const t of tries) if (t.status === 'rejected') assert.ok(t.reason instanceof KeywardError && t.reason.code === ErrorCode.Busy, String(t.reason));
      assert.deepEqual(await fsp.readdir(dir), ['daemon.lock']);
      assert.equal((await readHolder(file))?.pid, process.pid);
      await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
    }
  });

  it('takes over a lock whose process is gone', async () => {
    const file = path.join(dir, 'daemon.lock');
    await fsp.writeFile(file, JSON.stringify({ pid: 2 ** 22 + 12345, owner: 'daemon' }) + '\n');
    const lock = await acquireLock(file, 'cli');
    assert.equal((await readHolder(file))?.owner, 'cli');
    await lock.release();
  });

  it('waits for a lock file that is still being written instead of taking it', async () => {
    const file = path.join(dir, 'daemon.lock');
    await fsp.writeFile(file, '');
    setTimeout(() => void fsp.writeFile(file, JSON.stringify({ pid: process.pid, owner: 'daemon' }) + '\n'), 200);
    await assert.rejects(acquireLock(file, 'cli'), (e: unknown) => e instanceof KeywardError && e.code === ErrorCode.Busy);
  });

  it('takes over a lock whose process is a zombie (killed, not yet reaped by its parent)', async function () {
    if (process.platform !== 'linux') this.skip();
    // A parent that forks a child which exits at once, and never reaps it.
    const script = 'import os, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(30)';
    const parent = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number((await new Promise<Buffer>((r) => parent.stdout.once('data', r))).toString().trim());
      const state = () => {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat[stat.lastIndexOf(')') + 2];
      };
      for (let i = 0; i < 500 && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(state(), 'Z', 'a zombie');
      assert.equal(isAlive(pid), false, 'a zombie is not alive');
      const file = path.join(dir, 'daemon.lock');
      await fsp.writeFile(file, JSON.stringify({ pid, owner: 'daemon', start: processStart(pid) }) + '\n');
      const lock = await acquireLock(file, 'daemon');
      assert.equal((await readHolder(file))?.pid, process.pid);
      await lock.release();
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
