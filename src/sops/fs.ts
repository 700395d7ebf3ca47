// Secret configs open decrypted in memory: a FileSystemProvider on the `keyward` scheme whose
// paths are the sops files' own paths. Reading decrypts through the daemon (`sops/decrypt`);
// saving re-encrypts through it (`sops/save`, diff-stable), based on the revision that was
// read, so a file changed on disk meanwhile is refused rather than overwritten. Plaintext
// lives only in this process's memory and the editor's; nothing is written to disk here.
import { promises as fsp, watch as fsWatch, type FSWatcher } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode, type ResultOf, type SopsRevision } from '../../daemon/protocol';
import type { DaemonConnection } from '../client/connection';
import { describeError, isDaemonError } from '../client/errors';
import { formatOf } from './detect';
import { withConsent } from '../trust';

export const SCHEME = 'keyward';
/** Query of the read-only view of the file as it is on disk (for comparing). */
export const DISK_QUERY = 'disk';

/** The decrypted view of a sops file. */
export function decryptedUri(file: vscode.Uri): vscode.Uri {
  return vscode.Uri.from({ scheme: SCHEME, path: file.path });
}

/** The sops file behind a decrypted view. */
export function encryptedUri(uri: vscode.Uri): vscode.Uri {
  return vscode.Uri.file(uri.path);
}

/**
 * A failure VS Code shows to the user. VS Code prints a provider's error as `<name>: <message>`,
 * and its own FileSystemError's name is "NoPermissions (FileSystemError)": an internal that means
 * nothing to anyone. This one reads "Keyward: <what failed and what to do>". FileNotFound stays a
 * FileSystemError, which VS Code acts on (it offers to create the file).
 */
export function fsError(message: string): Error {
  const e = new Error(message);
  e.name = 'Keyward';
  return e;
}

type DecryptResult = ResultOf<'sopsDecrypt'>;

/** How long a decryption made by a command (prefetch) waits for the editor to read it. */
const PREFETCH_MS = 30_000;

interface OpenState {
  revision: SopsRevision;
  /** Size and mtime of the encrypted file when it was read or last saved by us. */
  size: number;
  mtime: number;
}

export interface SopsFsEvents {
  /** A file was decrypted: whether its MAC verified. */
  onDecrypted?(file: string, macVerified: boolean): void;
  /** A file was saved through the editor. */
  onSaved?(file: string): void;
}

export class SopsFileSystem implements vscode.FileSystemProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.emitter.event;
  private readonly open = new Map<string, OpenState>();
  private readonly watchers = new Map<string, { w: FSWatcher; n: number }>();
  private readonly prefetched = new Map<string, { at: number; r: DecryptResult; size: number; mtime: number }>();

  constructor(
    private readonly conn: DaemonConnection,
    private readonly log: vscode.LogOutputChannel,
    private readonly events: SopsFsEvents = {},
  ) {}

  dispose(): void {
    for (const { w } of this.watchers.values()) w.close();
    this.watchers.clear();
    this.open.clear();
    this.prefetched.clear();
    this.emitter.dispose();
  }

  /** The revision a save of `file` would be based on, if the file was read. */
  revisionOf(file: string): SopsRevision | undefined {
    return this.open.get(file)?.revision;
  }

  // The size and mtime are the encrypted file's: VS Code compares them to tell whether the
  // file changed on disk since it was read (and offers Compare / Overwrite on save).
  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const file = uri.path;
    let st;
    try {
      st = await fsp.stat(file);
    } catch {
      throw vscode.FileSystemError.FileNotFound(uri);
    }
    return {
      type: st.isDirectory() ? vscode.FileType.Directory : vscode.FileType.File,
      ctime: st.ctimeMs,
      mtime: st.mtimeMs,
      size: st.size,
    };
  }

  /**
   * Decrypts a file for an editor about to open it, so that a failure reaches the command that
   * asked (and its notification, with buttons), not the editor as a read error. Throws what the
   * daemon throws.
   */
  async prefetch(file: string): Promise<void> {
    const format = formatOf(file);
    const st = await fsp.stat(file);
    const r = await this.conn.call('sopsDecrypt', { path: file, ...(format ? { format } : {}) }, { timeoutMs: 120_000 });
    this.prefetched.set(file, { at: Date.now(), r, size: st.size, mtime: st.mtimeMs });
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const file = uri.path;
    const format = formatOf(file);
    let r: DecryptResult;
    try {
      const pre = this.prefetched.get(file);
      this.prefetched.delete(file);
      let st = { size: 0, mtimeMs: 0 };
      if (pre && Date.now() - pre.at < PREFETCH_MS && uri.query !== DISK_QUERY) {
        r = pre.r;
        st = { size: pre.size, mtimeMs: pre.mtime };
      } else {
        st = await fsp.stat(file);
        r = await this.conn.call('sopsDecrypt', { path: file, ...(format ? { format } : {}) }, { timeoutMs: 120_000 });
      }
      // `?disk` is the read-only view used to compare with the editor: it moves no revision.
      if (uri.query !== DISK_QUERY) this.open.set(file, { revision: r.revision, size: st.size, mtime: st.mtimeMs });
    } catch (e) {
      if (isDaemonError(e, ErrorCode.NotFound) || (e as NodeJS.ErrnoException).code === 'ENOENT') throw vscode.FileSystemError.FileNotFound(uri);
      throw fsError(describeError(e, `Decrypting ${path.basename(file)}`));
    }
    this.events.onDecrypted?.(file, r.macVerified);
    if (!r.macVerified) {
      void vscode.window.showWarningMessage(
        `The MAC of ${path.basename(file)} does not verify: the file was changed outside sops, or is damaged. Check its history before trusting these values; saving writes a new MAC.`,
      );
    }
    return Buffer.from(r.text, 'utf8');
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array, options: { create: boolean; overwrite: boolean }): Promise<void> {
    const file = uri.path;
    if (uri.query === DISK_QUERY) throw fsError('this is the file as it is on disk: save the editor with your edits instead');
    const format = formatOf(file);
    const text = Buffer.from(content).toString('utf8');
    const state = this.open.get(file);
    let exists = true;
    try {
      await fsp.access(file);
    } catch {
      exists = false;
    }
    if (!exists) {
      if (!options.create) throw vscode.FileSystemError.FileNotFound(uri);
      // A new secret config: encrypted with the .sops.yaml creation rule for its path.
      try {
        await withConsent(this.conn, file, () => this.conn.call('sopsEncrypt', { path: file, output: file, text, ...(format ? { format } : {}) }, { timeoutMs: 120_000 }));
      } catch (e) {
        throw fsError(describeError(e, `Encrypting ${path.basename(file)}`));
      }
    } else {
      if (!options.overwrite) throw fsError(`${path.basename(file)} exists already`);
      try {
        const r = await this.conn.call('sopsSave', { path: file, text, ...(format ? { format } : {}), ...(state ? { base: state.revision } : {}) }, { timeoutMs: 120_000 });
        const st = await fsp.stat(file);
        this.open.set(file, { revision: r.revision, size: st.size, mtime: st.mtimeMs });
        this.log.info(`saved ${file}: ${r.changed} values changed, ${r.unchanged} unchanged`);
      } catch (e) {
        if (isDaemonError(e, ErrorCode.IllegalState) && state) {
          // The file changed on disk since it was read: refuse, keep the editor's text.
          this.log.warn(`save of ${file} refused: it changed on disk since it was opened`);
          void this.offerConflictResolution(uri);
          throw fsError(
            `${path.basename(file)} changed on disk since you opened it, so Keyward did not overwrite it. Your edits are still in the editor: use "Keyward: Compare with File on Disk", then save again (or "Keyward: Overwrite File on Disk").`,
          );
        }
        throw fsError(describeError(e, `Encrypting ${path.basename(file)}`));
      }
    }
    this.events.onSaved?.(file);
    this.emitter.fire([{ type: vscode.FileChangeType.Changed, uri }]);
  }

  /** Saves the editor's text over a file that changed on disk (after the user said so). */
  async overwrite(uri: vscode.Uri, text: string): Promise<void> {
    const file = uri.path;
    const format = formatOf(file);
    const r = await this.conn.call('sopsSave', { path: file, text, ...(format ? { format } : {}) }, { timeoutMs: 120_000 });
    const st = await fsp.stat(file);
    this.open.set(file, { revision: r.revision, size: st.size, mtime: st.mtimeMs });
  }

  /** Forgets the revision so the next read takes the file as it is now. */
  forget(file: string): void {
    this.open.delete(file);
  }

  private async offerConflictResolution(uri: vscode.Uri): Promise<void> {
    const compare = 'Compare with File on Disk';
    const overwrite = 'Overwrite File on Disk';
    const pick = await vscode.window.showWarningMessage(
      `${path.basename(uri.path)} changed on disk while it was open. Nothing was lost: your edits are still in the editor.`,
      compare,
      overwrite,
    );
    if (pick === compare) await vscode.commands.executeCommand('keyward.compareWithDisk', uri);
    else if (pick === overwrite) await vscode.commands.executeCommand('keyward.overwriteOnDisk', uri);
  }

  // Changes of the encrypted file (git pull, another editor, sops itself) are reported so
  // that VS Code reloads a clean editor and flags a dirty one as conflicting.
  watch(uri: vscode.Uri): vscode.Disposable {
    const file = uri.path;
    const existing = this.watchers.get(file);
    if (existing) {
      existing.n++;
    } else {
      try {
        const dir = path.dirname(file);
        const base = path.basename(file);
        let timer: NodeJS.Timeout | undefined;
        const w = fsWatch(dir, { persistent: false }, (_ev, name) => {
          if (name !== null && name !== base) return;
          clearTimeout(timer);
          timer = setTimeout(() => void this.onDiskChange(uri), 100);
        });
        w.on('error', () => undefined);
        this.watchers.set(file, { w, n: 1 });
      } catch {
        // cannot watch: VS Code still checks mtime and size on save
      }
    }
    return new vscode.Disposable(() => {
      const e = this.watchers.get(file);
      if (!e) return;
      if (--e.n === 0) {
        e.w.close();
        this.watchers.delete(file);
      }
    });
  }

  private async onDiskChange(uri: vscode.Uri): Promise<void> {
    const file = uri.path;
    const state = this.open.get(file);
    try {
      const st = await fsp.stat(file);
      if (state && st.size === state.size && st.mtimeMs === state.mtime) return; // our own save
      this.emitter.fire([{ type: vscode.FileChangeType.Changed, uri }]);
    } catch {
      this.emitter.fire([{ type: vscode.FileChangeType.Deleted, uri }]);
    }
  }

  readDirectory(): [string, vscode.FileType][] {
    throw fsError('decrypted views are single secret configs, not folders');
  }

  createDirectory(): void {
    throw fsError('decrypted views are single secret configs, not folders');
  }

  delete(): void {
    throw fsError('delete the encrypted file in the Explorer instead');
  }

  rename(): void {
    throw fsError('rename the encrypted file in the Explorer instead');
  }
}
