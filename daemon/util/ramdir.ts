// Private directories on a RAM file system, for plaintext a program must read as a file
// (`keyward exec --file`, the file `keyward sops edit` opens in an editor): never on a disk
// unless the caller allows it. One guarantee each:
// - made: a new 0700 directory, owned by this user, on tmpfs or ramfs (checked with statfs(2),
//   not guessed from the path); a disk directory only with `allowDisk`, and the caller warns;
// - removed: by its owner when it is done (rmSync, so it also runs in an exit handler), and
//   otherwise by the next sweep: it is recorded in the temp journal before it exists (see
//   util/temps.ts: the next command of that home removes it), and its owner is in its name (pid
//   and the kernel's start time of that pid), so `sweepPrivateDirs` at the next exec or edit
//   removes it whatever home it belonged to, and a reused pid does not keep a dead owner's
//   directory alive.
import { chmodSync, closeSync, constants as fsc, fdatasyncSync, fstatSync, lstatSync, mkdirSync, openSync, promises as fsp, readdirSync, rmSync, statfsSync, writeSync, type Stats } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import { isAlive, processStart } from './process';
import { KeywardError, errnoCode } from './errors';
import { recordTemp, type RecordedTemp } from './temps';
import { randomHex } from './random';

/** statfs(2) magic numbers of tmpfs and ramfs (linux/magic.h). */
const RAM_FS_TYPES = new Set([0x01021994, 0x858458f6]);

/** Who makes the directory: its name starts `keyward-KIND-` (util/temps.ts, isKeywardTemp, knows them). */
export type PrivateDirKind = 'exec' | 'edit';
const NAME = /^keyward-(?:exec|edit)-(\d+)-(\d+)-[A-Za-z0-9]+$/;

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
  /** Its entry in the temp journal: `done()` once it is removed. */
  recorded: RecordedTemp;
}

/**
 * Makes a new private directory (0700) on a RAM file system. Throws InvalidInput, saying what to
 * do, when there is none, unless `allowDisk`: then it is made in the temp directory.
 */
export async function makePrivateDir(opts: { allowDisk: boolean; kind: PrivateDirKind; env?: NodeJS.ProcessEnv }): Promise<PrivateDir> {
  const env = opts.env ?? process.env;
  const tried: string[] = [];
  for (const base of ramBases(env)) {
    if (!onRamFs(base)) {
      tried.push(`${base} (not a RAM file system)`);
      continue;
    }
    try {
      const made = await create(base, opts.kind);
      if (onRamFs(made.dir)) return { ...made, onDisk: false };
      removePrivateDir(made.dir); // another file system mounted inside: not what statfs said of the base
      made.recorded.done();
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
  return { ...(await create(os.tmpdir(), opts.kind)), onDisk: true };
}

/** A new directory named for this process, recorded in the temp journal before it exists, 0700 whatever the umask. */
async function create(base: string, kind: PrivateDirKind): Promise<{ dir: string; recorded: RecordedTemp }> {
  const dir = path.join(base, `keyward-${kind}-${process.pid}-${processStart(process.pid) ?? '0'}-${randomHex(6)}`);
  const recorded = await recordTemp(dir, { plaintext: true, dir: true });
  try {
    mkdirSync(dir, { mode: 0o700 }); // fails if it exists: never a directory someone prepared
  } catch (e) {
    recorded.done();
    throw e;
  }
  try {
    chmodSync(dir, 0o700); // against the umask
  } catch (e) {
    removePrivateDir(dir);
    recorded.done();
    throw e;
  }
  return { dir, recorded };
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

/**
 * Removes a private directory and all in it; on a disk (`allowDisk`) each file's bytes are
 * overwritten first (a RAM file system frees them on unlink). Never throws: exit handlers call it.
 */
export function removePrivateDir(dir: string): void {
  try {
    if (!onRamFs(dir)) overwriteFiles(dir, 2);
    rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    // nothing better to do here; the next sweep tries again
  }
}

/** Zeros over the regular files under `dir` (to `depth` levels), synchronously; never through a link. */
function overwriteFiles(dir: string, depth: number): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && depth > 0) overwriteFiles(p, depth - 1);
    if (!e.isFile()) continue;
    try {
      const fd = openSync(p, fsc.O_WRONLY | fsc.O_NOFOLLOW);
      try {
        const size = fstatSync(fd).size;
        const zeros = Buffer.alloc(Math.min(size, 1 << 20));
        for (let at = 0; at < size; at += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, size - at), at);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      // gone already, or not ours to write: the removal follows
    }
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
