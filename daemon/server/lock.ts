import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import { KeywardError, errnoCode } from '../util/errors';
import { isAlive, processStart, readHolder } from '../util/process';

export interface Lock {
  /** Whether the lock file is still the one this process created (not removed, not taken over). */
  held(): Promise<boolean>;
  /** Removes the lock file, unless it is no longer this process's (then it is left to its owner). */
  release(): Promise<void>;
}

/** An unreadable lock file younger than this may still be being written: it is waited for. */
const UNREADABLE_GRACE_MS = 5_000;

/**
 * One owner per KEYWARD_HOME: the daemon, or a `--no-daemon` CLI run. The lock file holds the
 * owner's pid; a lock whose process is gone (a crash, kill -9) is stale and taken over.
 *
 * The file appears whole: written beside it, then hard-linked into place, which fails if it
 * exists. (Created empty and then written, a second process starting at the same moment could
 * read it empty, take it for stale, remove it and take the lock too.) Where hard links are not
 * supported, it is created exclusively and then written, and an unreadable lock is given a few
 * seconds before it counts as stale.
 */
export async function acquireLock(file: string, owner: 'daemon' | 'cli'): Promise<Lock> {
  const content = JSON.stringify({ pid: process.pid, owner, start: processStart(process.pid) }) + '\n';
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const deadline = Date.now() + UNREADABLE_GRACE_MS + 1_000;
  await removeDeadTemps(file);
  try {
    await fsp.writeFile(temp, content, { mode: 0o600, flag: 'w' });
    for (let attempt = 0; attempt < 3; ) {
      if (await createWhole(file, temp, content)) {
        // A process that took the lock over (it judged this one gone) wrote a new file: that
        // one is not this process's to remove.
        const id = await identityOf(file);
        const ours = async () => id === null || ((await identityOf(file)) === id && (await readText(file)) === content);
        let released = false;
        return {
          async held() {
            return !released && (await ours());
          },
          async release() {
            if (released) return;
            released = true;
            if (await ours()) await fsp.rm(file, { force: true });
          },
        };
      }
      const holder = await readHolder(file);
      if (holder === null) {
        // Being written by a process that has just created it, or damaged long ago.
        const age = await fsp.stat(file).then((st) => Date.now() - st.mtimeMs, () => Infinity);
        if (age < UNREADABLE_GRACE_MS && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
      } else if (isAlive(holder.pid) && (holder.start === undefined || holder.start === processStart(holder.pid))) {
        throw new KeywardError(
          ErrorCode.Busy,
          holder.owner === 'daemon' ? `a keyward daemon is already running for this home (pid ${holder.pid})` : `another keyward command holds this home (pid ${holder.pid})`,
          holder.owner === 'daemon' ? 'use it (drop --no-daemon), or stop it with keyward daemon stop' : 'wait for it to finish',
        );
      }
      // Stale: its process is gone.
      await fsp.rm(file, { force: true });
      attempt++;
    }
  } finally {
    await fsp.rm(temp, { force: true });
  }
  throw new KeywardError(ErrorCode.Busy, `could not take the lock ${file}`, 'another keyward process is starting; try again');
}

/** Removes the temps (`LOCK.<pid>.<random>`) that processes killed while taking the lock left. */
async function removeDeadTemps(file: string): Promise<void> {
  const dir = path.dirname(file);
  const prefix = path.basename(file) + '.';
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{8}$/.exec(name.slice(prefix.length));
    if (m && !isAlive(Number(m[1]))) await fsp.rm(path.join(dir, name), { force: true });
  }
}

/** Creates `file` holding `content` (already in `temp`), atomically where hard links work; false if it exists. */
async function createWhole(file: string, temp: string, content: string): Promise<boolean> {
  try {
    await fsp.link(temp, file);
    return true;
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
  }
  // No hard links here: exclusive create, then write.
  try {
    const h = await fsp.open(file, 'wx', 0o600);
    try {
      await h.writeFile(content);
    } finally {
      await h.close();
    }
    return true;
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false;
    throw e;
  }
}

/**
 * Which file is at `file` (not following a link), or null if none: device, inode and birth
 * time, since a file created where another was removed often gets the same inode number.
 */
export async function identityOf(file: string): Promise<string | null> {
  try {
    const st = await fsp.lstat(file);
    return `${st.dev}:${st.ino}:${st.birthtimeMs}`;
  } catch {
    return null;
  }
}

async function readText(file: string): Promise<string | null> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch {
    return null;
  }
}
