import { constants as fsc, promises as fsp, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { isAlive, processStart } from './process';
import { errnoCode } from './errors';
import { randomHex } from './random';

/**
 * Keyward's temp files, and the promise that a crash leaves none behind for long.
 *
 * Every temp file or directory Keyward creates (AtomicFile's `.NAME.<random>.keyward-tmp`
 * beside its target, `sops edit`'s RAM directory, a daemon's socket before it is renamed into
 * place) is recorded before it is created, in a journal of the process creating it:
 * `KEYWARD_HOME/temps/<pid>.<start>.jsonl`, a line `{"add":PATH,...}` written and synced before
 * the file exists, and `{"done":PATH}` once it is gone (renamed into place or removed). A
 * process killed with -9 leaves its journal; the next daemon start or `keyward` command of that
 * home (sweepTemps) removes whatever a dead process's journal still lists, the plaintext first,
 * and the journal itself. Plaintext is overwritten before it is unlinked where that can help
 * (not on tmpfs, where unlinking frees it); a copy that a copy-on-write file system or an SSD
 * keeps elsewhere is beyond any program's reach.
 *
 * The journal is process-wide (a global, shared by the CLI's bundles): the daemon and the CLI
 * name their home once (useTempJournal); where none is named (a unit test, the scanner's own
 * entry), temps are made as before, unrecorded.
 */

/** What a temp holds, and what it is. */
export interface TempKind {
  /** It holds (or will hold) plaintext: removed first, and overwritten on a disk. */
  plaintext?: boolean;
  /** A directory, removed with everything in it. */
  dir?: boolean;
}

/** A recorded temp: `done()` once it no longer exists under its temp name. */
export interface RecordedTemp {
  done(): void;
}

const NOT_RECORDED: RecordedTemp = { done: () => undefined };

interface Entry {
  add?: string;
  done?: string;
  plain?: boolean;
  dir?: boolean;
}

class TempJournal {
  private handle: Promise<fsp.FileHandle> | undefined;
  private readonly open = new Set<string>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly home: string) {}

  get file(): string {
    return path.join(tempsDir(this.home), `${process.pid}.${processStart(process.pid) ?? '0'}.jsonl`);
  }

  async record(p: string, kind: TempKind): Promise<RecordedTemp> {
    const entry: Entry = { add: p, ...(kind.plaintext ? { plain: true } : {}), ...(kind.dir ? { dir: true } : {}) };
    // Listed as open first, so that another temp's done() meanwhile does not empty the journal.
    this.open.add(p);
    try {
      // Synced before the temp exists: a crash right after its creation still finds it listed.
      await this.write(JSON.stringify(entry) + '\n', true);
    } catch (e) {
      this.open.delete(p);
      throw e;
    }
    let finished = false;
    return {
      done: () => {
        if (finished) return;
        finished = true;
        this.open.delete(p);
        // Not synced: a line lost in a crash makes a later sweep remove a path already gone.
        void this.write(this.open.size === 0 ? null : JSON.stringify({ done: p }) + '\n', false).catch(() => undefined);
      },
    };
  }

  /** Appends `line` (null: empties the journal, nothing being open), serialised. */
  private write(line: string | null, sync: boolean): Promise<void> {
    const run = this.tail.then(async () => {
      const h = await this.fileHandle();
      if (line === null) {
        await h.truncate(0);
        return;
      }
      await h.write(line);
      if (sync) await h.datasync();
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private fileHandle(): Promise<fsp.FileHandle> {
    this.handle ??= (async () => {
      await fsp.mkdir(tempsDir(this.home), { recursive: true, mode: 0o700 });
      return fsp.open(this.file, 'a', 0o600);
    })();
    this.handle.catch(() => (this.handle = undefined));
    return this.handle;
  }

  /** Closes the journal; removes it when nothing it lists is left. */
  async close(): Promise<void> {
    await this.tail;
    const h = this.handle;
    this.handle = undefined;
    if (!h) return;
    await (await h).close().catch(() => undefined);
    if (this.open.size === 0) await fsp.rm(this.file, { force: true });
  }
}

const KEY = Symbol.for('keyward.temps');
type Global = { [KEY]?: TempJournal };

/** Names the home whose journal records this process's temps from now on. */
export function useTempJournal(home: string): void {
  const g = globalThis as Global;
  if (g[KEY]?.home === home) return;
  g[KEY] = new TempJournal(home);
}

/** Stops recording into `home`'s journal (a daemon stopping); removes it if it lists nothing. */
export async function closeTempJournal(home: string): Promise<void> {
  const g = globalThis as Global;
  const j = g[KEY];
  if (j?.home !== home) return;
  g[KEY] = undefined;
  await j.close();
}

/** Records a temp before it is created (see the module comment); a no-op where no home is named. */
export function recordTemp(p: string, kind: TempKind = {}): Promise<RecordedTemp> {
  const j = (globalThis as Global)[KEY];
  return j ? j.record(path.resolve(p), kind) : Promise.resolve(NOT_RECORDED);
}

function tempsDir(home: string): string {
  return path.join(home, 'temps');
}

/**
 * Removes what the journals of dead processes of `home` still list (plaintext first), then
 * those journals. Journals of live processes are theirs. Returns the paths removed.
 */
export async function sweepTemps(home: string): Promise<string[]> {
  const dir = tempsDir(home);
  let names: string[];
  try {
    // Synchronous: a short listing, at the start of every command, where a trip through the
    // thread pool waits for a free core (milliseconds on a busy machine).
    names = readdirSync(dir);
  } catch {
    return []; // no home, or nothing ever recorded
  }
  const journals: string[] = [];
  const left = new Map<string, Entry>();
  for (const name of names) {
    const m = /^(\d+)\.(\d+)\.jsonl$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || (isAlive(pid) && (m[2] === '0' || processStart(pid) === m[2]))) continue;
    const file = path.join(dir, name);
    journals.push(file);
    let text = '';
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      let e: Entry;
      try {
        e = JSON.parse(line) as Entry;
      } catch {
        continue; // a torn last line: its temp was not created yet
      }
      if (typeof e.add === 'string' && path.isAbsolute(e.add)) left.set(e.add, e);
      else if (typeof e.done === 'string') left.delete(e.done);
    }
  }
  const removed: string[] = [];
  const order = [...left.values()].sort((a, b) => Number(b.plain === true) - Number(a.plain === true));
  for (const e of order) {
    if (await removeTemp(e.add!, { plaintext: e.plain === true, dir: e.dir === true })) removed.push(e.add!);
  }
  for (const j of journals) await fsp.rm(j, { force: true });
  return removed;
}

/**
 * Removes a temp: a directory with everything in it, a file overwritten first when it held
 * plaintext on a disk. Never follows a symlink. Whether something was there.
 */
export async function removeTemp(p: string, kind: TempKind): Promise<boolean> {
  let st;
  try {
    st = await fsp.lstat(p);
  } catch {
    return false;
  }
  if (st.isDirectory() && kind.dir) {
    if (kind.plaintext) {
      for (const name of await fsp.readdir(p).catch(() => [])) await removeTemp(path.join(p, name), { plaintext: true, dir: true });
    }
    await fsp.rm(p, { recursive: true, force: true });
    return true;
  }
  if (st.isFile() && kind.plaintext && st.size > 0 && !(await onRamFs(path.dirname(p)))) await scrub(p);
  if (!st.isDirectory()) await fsp.rm(p, { force: true });
  return true;
}

/** statfs(2) magic numbers of tmpfs and ramfs: unlinking frees their pages. */
const RAM_FS = new Set([0x01021994, 0x858458f6]);

/** Whether `dir` is on a RAM file system (tmpfs, ramfs). */
export async function onRamFs(dir: string): Promise<boolean> {
  try {
    return RAM_FS.has((await fsp.statfs(dir)).type);
  } catch {
    return false;
  }
}

/** Overwrites a regular file's bytes with zeros and syncs them (not through a symlink). */
async function scrub(p: string): Promise<void> {
  let h: fsp.FileHandle;
  try {
    h = await fsp.open(p, fsc.O_WRONLY | fsc.O_NOFOLLOW);
  } catch {
    return;
  }
  try {
    const st = await h.stat();
    if (!st.isFile()) return;
    const zeros = Buffer.alloc(Math.min(st.size, 1 << 20));
    for (let at = 0; at < st.size; at += zeros.length) await h.write(zeros, 0, Math.min(zeros.length, st.size - at), at);
    await h.datasync();
  } catch {
    // the unlink that follows is what matters most
  } finally {
    await h.close();
  }
}

// ---- Keyward's temp names --------------------------------------------------------------------

/** The temp path of an atomic write of `target`: beside it, hidden, random, recognisable. */
export function atomicTempPath(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomHex(6)}.keyward-tmp`);
}

/** The deterministic temp path of a job's work on `file`: beside it, so the rename is atomic. */
export function jobTempPath(file: string, jobId: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.keyward-job-${jobId}.tmp`);
}

/**
 * Whether a file name is one of Keyward's temps (an atomic write's, a job's, the private RAM
 * directory of an exec or an edit, util/ramdir.ts): walks, globs, watchers and jobs leave them
 * alone, since they are half-written, about to go, or plaintext that is no one else's business.
 */
export function isKeywardTemp(name: string): boolean {
  return name.endsWith('.keyward-tmp') || /\.keyward-job-\d{14}-[0-9a-f]{6}\.tmp$/.test(name) || name.startsWith('keyward-edit-') || name.startsWith('keyward-exec-');
}

/**
 * What a job's `discard` does: removes its temp beside `file` and the temps of an atomic write
 * into it that a crash left (`.<temp>.<random>.keyward-tmp`; the temp journal removes those at
 * the next start too, this is for a job that resumes in a daemon that did not sweep them).
 * Those are found in one directory listing per job and directory, taken on first use: the job
 * manager discards before every file, and listing a directory of a thousand artifacts for each
 * of them would cost more than the work.
 */
export function jobTempDiscarder(): (file: string, ctx: { jobId: string }) => Promise<void> {
  const listings = new Map<string, Promise<string[]>>();
  return async (file, { jobId }) => {
    const temp = jobTempPath(file, jobId);
    await fsp.rm(temp, { force: true });
    const dir = path.dirname(temp);
    const key = `${jobId}\n${dir}`;
    let names = listings.get(key);
    if (!names) {
      if (listings.size > 256) listings.clear();
      names = fsp.readdir(dir).catch((e: unknown) => {
        if (errnoCode(e) === 'ENOENT') return [] as string[];
        throw e;
      });
      listings.set(key, names);
    }
    const prefix = `.${path.basename(temp)}.`;
    for (const n of await names) if (n.startsWith(prefix) && n.endsWith('.keyward-tmp')) await fsp.rm(path.join(dir, n), { force: true });
  };
}
