// Private directories on a RAM file system, for plaintext a program must read as a file
// (`keyward exec --file`): never on a disk unless the user says so. One guarantee each:
// - made: a new 0700 directory, owned by this user, on tmpfs or ramfs (checked with statfs(2),
//   not guessed from the path); a disk directory only with `allowDisk`, and the caller warns;
// - removed: by its owner when it is done (rmSync, so it also runs in an exit handler), and
//   otherwise by the next `sweep`, which removes every such directory whose owner is gone
//   (kill -9, a crash, a reboot). The owner is in the directory's name (pid and the kernel's
//   start time of that pid), so a directory is never without one and a reused pid does not keep
//   a dead owner's directory alive.
import { chmodSync, lstatSync, mkdtempSync, promises as fsp, readdirSync, rmSync, statfsSync, type Stats } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import { isAlive, processStart } from '../util/process';
import { KeywardError, errnoCode } from '../util/errors';

/** statfs(2) magic numbers of tmpfs and ramfs (linux/magic.h). */
const RAM_FS_TYPES = new Set([0x01021994, 0x858458f6]);

const PREFIX = 'keyward-exec-';
const NAME = /^keyward-exec-(\d+)-(\d+)-[A-Za-z0-9]+$/;

/** Whether `dir` is on a RAM file system. False when it cannot be told (no statfs, an error). */
export function onRamFs(dir: string): boolean {
  try {
    return RAM_FS_TYPES.has(statfsSync(dir).type);
  } catch {
    return false;
  }
}

/**
 * Where private directories may go, best first: KEYWARD_RAM_DIR when set (it must then be a RAM
 * file system itself; nothing else is tried), else the user's runtime directory and /dev/shm.
 */
export function ramBases(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.KEYWARD_RAM_DIR) return [path.resolve(env.KEYWARD_RAM_DIR)];
  const uid = process.getuid?.();
  const bases = [env.XDG_RUNTIME_DIR, uid !== undefined ? `/run/user/${uid}` : undefined, '/dev/shm'].filter((d): d is string => Boolean(d));
  return [...new Set(bases.map((d) => path.resolve(d)))];
}

export interface PrivateDir {
  dir: string;
  /** True only with `allowDisk` when no RAM file system was usable. */
  onDisk: boolean;
}

/**
 * Makes a new private directory (0700) on a RAM file system. Throws InvalidInput, saying what to
 * do, when there is none, unless `allowDisk`: then it is made in the temp directory.
 */
export function makePrivateDir(opts: { allowDisk: boolean; env?: NodeJS.ProcessEnv }): PrivateDir {
  const env = opts.env ?? process.env;
  const tried: string[] = [];
  for (const base of ramBases(env)) {
    if (!onRamFs(base)) {
      tried.push(`${base} (not a RAM file system)`);
      continue;
    }
    try {
      const dir = create(base);
      if (onRamFs(dir)) return { dir, onDisk: false };
      removePrivateDir(dir); // another file system mounted inside: not what statfs said of the base
      tried.push(`${base} (a disk is mounted there)`);
    } catch (e) {
      tried.push(`${base} (${errnoCode(e) ?? 'cannot create a directory'})`);
    }
  }
  if (!opts.allowDisk) {
    throw new KeywardError(
      ErrorCode.InvalidInput,
      `no RAM file system for the decrypted files: tried ${tried.join(', ') || 'nothing'}`,
      'mount a tmpfs and point KEYWARD_RAM_DIR at it (or XDG_RUNTIME_DIR, /dev/shm); or accept plaintext on disk while the program runs with --allow-disk',
    );
  }
  return { dir: create(os.tmpdir()), onDisk: true };
}

/** A new directory named for this process, 0700 whatever the umask. */
function create(base: string): string {
  const dir = mkdtempSync(path.join(base, `${PREFIX}${process.pid}-${processStart(process.pid) ?? '0'}-`));
  try {
    chmodSync(dir, 0o700); // mkdtemp makes it 0700 already: say so rather than rely on it
  } catch (e) {
    removePrivateDir(dir);
    throw e;
  }
  return dir;
}

/**
 * Checks a directory the daemon is asked to write plaintext into: a real directory (not a link)
 * owned by this user, closed to others, and on a RAM file system unless `allowDisk`.
 */
export async function checkPrivateDir(dir: string, allowDisk: boolean): Promise<void> {
  let st: Stats;
  try {
    st = await fsp.lstat(dir);
  } catch (e) {
    throw new KeywardError(ErrorCode.InvalidInput, `the output directory ${dir} cannot be used (${errnoCode(e) ?? 'error'})`, 'give a directory made by keyward exec');
  }
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new KeywardError(ErrorCode.InvalidInput, `the output directory ${dir} is not private (a 0700 directory of this user)`, 'give a directory made by keyward exec');
  }
  if (!allowDisk && !onRamFs(dir)) {
    throw new KeywardError(ErrorCode.InvalidInput, `the output directory ${dir} is not on a RAM file system`, 'decrypted files go to tmpfs only, unless --allow-disk');
  }
}

/** Removes a private directory and all in it; never throws (exit handlers call it). */
export function removePrivateDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    // nothing better to do here; the next sweep tries again
  }
}

/**
 * Removes the private directories of owners that are gone, in every place one may have been
 * made (the RAM bases and the temp directory). Only this user's directories, named as `create`
 * names them. Returns the directories removed. Synchronous: a few system calls, at every
 * `keyward exec`, where a trip through the thread pool per directory would cost more.
 */
export function sweepPrivateDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const removed: string[] = [];
  const uid = process.getuid?.();
  for (const base of new Set([...ramBases(env), os.tmpdir()])) {
    let names: string[];
    try {
      names = readdirSync(base);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = NAME.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      const start = m[2]!;
      if (isAlive(pid) && (start === '0' || processStart(pid) === start)) continue;
      const dir = path.join(base, name);
      let st: Stats;
      try {
        st = lstatSync(dir);
      } catch {
        continue;
      }
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      removePrivateDir(dir);
      removed.push(dir);
    }
  }
  return removed;
}
