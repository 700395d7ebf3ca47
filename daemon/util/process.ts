// Processes Keyward records by pid (the holder of a home's lock file, the writers of temp files
// and private directories): whether one still runs, and which run of a pid it is. A leaf module
// (Node only): the server, the client transport and the journals all use it.
import { promises as fsp, readFileSync } from 'node:fs';

/** Who holds a lock file (daemon/server/lock.ts writes it): its pid, `daemon` or `cli`, and its process's start time. Null when unreadable. */
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
    return (e as NodeJS.ErrnoException | null)?.code === 'EPERM';
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
