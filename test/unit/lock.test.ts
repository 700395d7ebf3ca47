// The per-home lock: one owner, even when many take it at the same moment; stale locks (a dead
// pid) taken over; a lock being written is waited for, not taken for stale.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../../daemon/protocol/errors';
import { acquireLock, readHolder } from '../../daemon/server/lock';
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
});
