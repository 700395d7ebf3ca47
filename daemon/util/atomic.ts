import { promises as fsp, constants as fsc } from 'node:fs';
import * as path from 'node:path';
import { ioError } from './errors';
import { atomicTempPath, recordTemp, removeTemp, type RecordedTemp } from './temps';

/**
 * A file being written beside its target: a temp file in the same directory (so the final
 * rename is atomic on the same file system), fsynced, then renamed over the target. Until
 * `commit()`, the target is untouched; `abort()` removes the temp file. Readers therefore see
 * the old complete file or the new complete file, never a half-written one. The temp is
 * recorded in the process's temp journal (temps.ts) before it exists, so that a crash leaves
 * it for the next start to remove; one that holds plaintext (`plaintext: true`) is removed
 * first then, and overwritten on a disk, here too when it is aborted.
 */
export class AtomicFile {
  private committed = false;
  private closed = false;

  private constructor(
    readonly target: string,
    readonly tempPath: string,
    readonly handle: fsp.FileHandle,
    private readonly overwrite: boolean,
    private readonly plaintext: boolean,
    private readonly recorded: RecordedTemp,
  ) {}

  /**
   * Opens a temp file beside `target`. With `overwrite: false`, `commit()` fails if the
   * target exists by then (checked again at commit time, not only now).
   */
  static async open(target: string, opts: { mode?: number; overwrite?: boolean; plaintext?: boolean } = {}): Promise<AtomicFile> {
    const overwrite = opts.overwrite ?? false;
    if (!overwrite && (await exists(target))) {
      throw ioError(Object.assign(new Error(), { code: 'EEXIST' }), 'write', target);
    }
    const tempPath = atomicTempPath(target);
    const recorded = await recordTemp(tempPath, { plaintext: opts.plaintext ?? false }).catch((e: unknown) => {
      throw ioError(e, 'record a temp file in the journal for', target);
    });
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(tempPath, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, opts.mode ?? 0o600);
    } catch (e) {
      recorded.done();
      throw ioError(e, 'write', target);
    }
    return new AtomicFile(target, tempPath, handle, overwrite, opts.plaintext ?? false, recorded);
  }

  /** Flushes, renames over the target and syncs the directory entry. */
  async commit(): Promise<void> {
    if (this.committed) return;
    try {
      await this.handle.sync();
      await this.close();
      if (!this.overwrite) {
        // link() fails with EEXIST instead of replacing: no window where a file that
        // appeared meanwhile is silently overwritten.
        await fsp.link(this.tempPath, this.target);
        await fsp.unlink(this.tempPath);
      } else {
        await fsp.rename(this.tempPath, this.target);
      }
      this.committed = true;
      this.recorded.done();
      await syncDir(path.dirname(this.target));
    } catch (e) {
      await this.abort();
      throw ioError(e, 'write', this.target);
    }
  }

  /** Removes the temp file (overwritten first if it held plaintext on a disk); the target is left as it was. Safe to call more than once. */
  async abort(): Promise<void> {
    if (this.committed) return;
    await this.close().catch(() => undefined);
    await removeTemp(this.tempPath, { plaintext: this.plaintext }).catch(() => fsp.rm(this.tempPath, { force: true }).catch(() => undefined));
    this.recorded.done();
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/** Writes a small file atomically (registry, config, audit head). */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const f = await AtomicFile.open(target, { mode, overwrite: true });
  try {
    await f.handle.writeFile(data);
  } catch (e) {
    await f.abort();
    throw ioError(e, 'write', target);
  }
  await f.commit();
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** fsyncs a directory, so that an entry created or renamed in it is on disk. */
export async function syncDir(dir: string): Promise<void> {
  let h: fsp.FileHandle | undefined;
  try {
    h = await fsp.open(dir, fsc.O_RDONLY);
    await h.sync();
  } catch {
    // Some file systems (and Windows) cannot fsync a directory; the rename is still atomic.
  } finally {
    await h?.close();
  }
}
