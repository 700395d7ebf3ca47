import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import { KeywardError, errnoCode } from '../util/errors';

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

export async function readHolder(file: string): Promise<{ pid: number; owner: string; start?: string } | null> {
  try {
    const v = JSON.parse(await fsp.readFile(file, 'utf8')) as { pid?: unknown; owner?: unknown; start?: unknown };
    if (typeof v.pid !== 'number') return null;
    return { pid: v.pid, owner: typeof v.owner === 'string' ? v.owner : 'daemon', ...(typeof v.start === 'string' ? { start: v.start } : {}) };
  } catch {
    return null;
  }
}

/**
 * Whether process `pid` runs. A zombie (it exited, or was killed, and its parent has not reaped
 * it yet; where nothing reaps orphans, it stays one) answers signals but is gone: it counts as
 * dead, or a daemon killed with -9 would hold its home until its parent waits for it.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
  return processState(pid) !== 'Z';
}

/** The kernel's state letter of a process (Linux: field 3 of /proc/PID/stat), undefined where unknown. */
function processState(pid: number): string | undefined {
  return statFields(pid)?.[0];
}

/**
 * The kernel's start time of a process (Linux: field 22 of /proc/PID/stat), so that a lock
 * left by a crash is not mistaken for a live one when its pid was reused (after a reboot,
 * say). Undefined where there is no /proc; then liveness alone decides.
 */
export function processStart(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** The fields of /proc/PID/stat from the third (the state) on; undefined without /proc. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
