import { promises as fsp, readFileSync } from 'node:fs';
import { ErrorCode } from '../protocol';
import { KeywardError, errnoCode } from '../util/errors';

export interface Lock {
  release(): Promise<void>;
}

/**
 * One owner per KEYWARD_HOME: the daemon, or a `--no-daemon` CLI run. The lock file holds the
 * owner's pid; a lock whose process is gone (a crash, kill -9) is stale and taken over.
 */
export async function acquireLock(file: string, owner: 'daemon' | 'cli'): Promise<Lock> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const h = await fsp.open(file, 'wx', 0o600);
      await h.writeFile(JSON.stringify({ pid: process.pid, owner, start: processStart(process.pid) }) + '\n');
      await h.close();
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await fsp.rm(file, { force: true });
        },
      };
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
    const holder = await readHolder(file);
    if (holder && isAlive(holder.pid) && (holder.start === undefined || holder.start === processStart(holder.pid))) {
      throw new KeywardError(
        ErrorCode.Busy,
        holder.owner === 'daemon' ? `a keyward daemon is already running for this home (pid ${holder.pid})` : `another keyward command holds this home (pid ${holder.pid})`,
        holder.owner === 'daemon' ? 'use it (drop --no-daemon), or stop it with keyward daemon stop' : 'wait for it to finish',
      );
    }
    // Stale: its process is gone.
    await fsp.rm(file, { force: true });
  }
  throw new KeywardError(ErrorCode.Busy, `could not take the lock ${file}`, 'another keyward process is starting; try again');
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

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/**
 * The kernel's start time of a process (Linux: field 22 of /proc/PID/stat), so that a lock
 * left by a crash is not mistaken for a live one when its pid was reused (after a reboot,
 * say). Undefined where there is no /proc; then liveness alone decides.
 */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}
