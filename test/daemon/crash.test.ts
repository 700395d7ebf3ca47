import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { daemonPaths } from '../../daemon/util/paths';
import { CliSandbox } from '../helpers/cli';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Kills the daemon with SIGKILL at random points of a multi-file rotation, restarts it, and
 * checks that every file is whole at every moment and the job completes after restart.
 */
describe('crash safety: kill -9 during a multi-file rotation', function () {
  this.timeout(240000);
  let sb: CliSandbox;
  const files: string[] = [];
  const plain = new Map<string, string>();

  before(async function () {
    if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('no D-Bus session: npm test runs the suites inside one');
      this.skip();
    }
    sb = await CliSandbox.create();
    sb.ok(['keys', 'generate', 'crash']);
    for (let i = 0; i < 8; i++) {
      const name = `shard-${i}.bin`;
      const buf = randomBytes(4 * 1024 * 1024 + i * 40_000);
      await fsp.writeFile(sb.path(name), buf);
      sb.ok(['encrypt', '-k', 'crash', name]);
      await fsp.rm(sb.path(name));
      files.push(sb.path(`${name}.age`));
      plain.set(sb.path(`${name}.age`), sha(buf));
    }
  });
  after(async () => {
    await sb?.dispose();
  });

  afterEach(async function () {
    // The kills must land mid-job, not after it: the restarted daemon says what it resumed.
    if (this.currentTest?.title.startsWith('round 4')) {
      const log = await fsp.readFile(daemonPaths(sb.home, sb.env).log, 'utf8');
      assert.match(log, /resumed job/, 'no round interrupted a running job');
    }
  });

  async function daemonPid(): Promise<number> {
    const lock = JSON.parse(await fsp.readFile(daemonPaths(sb.home, sb.env).lock, 'utf8')) as { pid: number };
    return lock.pid;
  }

  /** In-process (while the daemon is dead: nothing resumes meanwhile) or through the daemon. */
  function checkWhole(inProcess: boolean): void {
    for (const f of files) {
      const r = sb.runBuffer([...(inProcess ? ['--no-daemon'] : []), 'decrypt', '-o', '-', f]);
      assert.equal(r.code, 0, `${path.basename(f)} is not whole: ${r.stderr}`);
      assert.equal(sha(r.stdout), plain.get(f));
    }
  }

  for (let round = 0; round < 4; round++) {
    it(`round ${round + 1}: every file stays old-or-new, and the job completes after restart`, async () => {
      const id = sb.ok(['rotate', '--detach', ...files]).trim();
      assert.match(id, /^\d{14}-[0-9a-f]{6}$/);
      const pid = await daemonPid();
      await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 150)));
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 200; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      checkWhole(true);
      const out = sb.ok(['jobs', 'wait', id]);
      assert.match(out, /: done, /);
      checkWhole(false);
      const names = await fsp.readdir(sb.dir);
      assert.deepEqual(names.filter((n) => n.includes('keyward-')), [], 'no temp file left');
    });
  }
});
