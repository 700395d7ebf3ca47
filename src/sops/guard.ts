// Keeps decrypted secret configs out of VS Code's backups. VS Code backs up every dirty text
// editor, whatever its scheme, one to two seconds after the last change (hot exit), and offers
// extensions no way to opt a scheme out. So:
// 1. a decrypted editor is saved (re-encrypted through the daemon) shortly after each change,
//    before the backup is due, so that VS Code cancels the backup;
// 2. should a backup of the `keyward` scheme be written anyway (the text does not parse, so it
//    cannot be encrypted yet, or the daemon is away), it is deleted as soon as it appears, and
//    at start and when the editor closes.
// Local history only records the file scheme and search only reads the disk, so neither ever
// sees the decrypted text (checked by the editor suite, which searches for a canary value).
import { promises as fsp, watch as fsWatch, type FSWatcher } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { SCHEME } from './fs';

const SAVE_DELAY_MS = 300;

export class PlaintextGuard implements vscode.Disposable {
  private readonly subs: vscode.Disposable[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly watchers = new Map<string, FSWatcher>();
  private scrubTimers: NodeJS.Timeout[] = [];
  private readonly backupRoots: string[];
  private failing = new Set<string>();
  private status: vscode.Disposable | undefined;

  constructor(
    context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly autoSave: () => boolean,
  ) {
    this.backupRoots = backupRootsOf(context.globalStorageUri);
    log.info(`decrypted editors: saved ${autoSave() ? 'shortly after each change' : 'explicitly'}; backups scrubbed in ${this.backupRoots.join(', ') || '(unknown: no file-based user data)'}`);
    this.subs.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document.uri.scheme !== SCHEME || !e.contentChanges.length) return;
        // Reverted: nothing is left unsaved, so the warning goes.
        if (!e.document.isDirty) this.settled(e.document);
        this.schedule(e.document);
        this.scrubAfterBackupDelay();
      }),
      vscode.workspace.onDidCloseTextDocument((d) => {
        if (d.uri.scheme !== SCHEME) return;
        this.settled(d);
        void this.scrub();
      }),
    );
    void this.scrub();
  }

  /** Where backups are looked for (tests check it is known). */
  get roots(): readonly string[] {
    return this.backupRoots;
  }

  // VS Code writes a backup 1 s (2 s with a short auto-save delay) after the last change;
  // scrubbing just after those moments catches it even where file watching is unreliable.
  private scrubAfterBackupDelay(): void {
    for (const t of this.scrubTimers) clearTimeout(t);
    this.scrubTimers = [1_100, 2_100, 4_000].map((ms) => setTimeout(() => void this.scrub(), ms));
  }

  private schedule(doc: vscode.TextDocument): void {
    if (!this.autoSave()) return;
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        if (!doc.isDirty || doc.isClosed) return;
        doc.save().then(
          (ok) => this.saved(doc, ok),
          () => this.saved(doc, false),
        );
      }, SAVE_DELAY_MS),
    );
  }

  /** The editor holds nothing unsaved any more (saved, reverted or closed). */
  private settled(doc: vscode.TextDocument): void {
    if (this.failing.delete(doc.uri.toString()) && this.failing.size === 0) this.status?.dispose();
  }

  private saved(doc: vscode.TextDocument, ok: boolean): void {
    if (ok && !doc.isDirty) {
      this.settled(doc);
      return;
    }
    const key = doc.uri.toString();
    if (!this.failing.has(key)) this.log.info(`${path.basename(doc.uri.path)} is not saved yet (it does not parse, or the daemon is away); its backups are deleted`);
    this.failing.add(key);
    this.status?.dispose();
    this.status = vscode.window.setStatusBarMessage(`$(warning) Keyward: ${path.basename(doc.uri.path)} is not encrypted to disk yet: fix the syntax and it saves itself`);
  }

  /** Deletes backups VS Code wrote of decrypted editors. */
  async scrub(): Promise<number> {
    this.watch();
    let n = 0;
    for (const root of this.backupRoots) {
      let workspaces: string[];
      try {
        workspaces = await fsp.readdir(root);
      } catch {
        continue;
      }
      for (const ws of workspaces) {
        const dir = path.join(root, ws, SCHEME);
        let files: string[];
        try {
          files = await fsp.readdir(dir);
        } catch {
          continue;
        }
        for (const f of files) {
          await fsp.rm(path.join(dir, f), { force: true });
          n++;
        }
      }
    }
    if (n) this.log.info(`deleted ${n} backup${n === 1 ? '' : 's'} of decrypted editors`);
    return n;
  }

  /** Watches the backup folders that exist (retried at each scrub, for those made later). */
  private watch(): void {
    for (const root of this.backupRoots) {
      if (this.watchers.has(root)) continue;
      try {
        const w = fsWatch(root, { recursive: true, persistent: false }, (_ev, name) => {
          if (name && name.split(path.sep).includes(SCHEME)) void this.scrub();
        });
        w.on('error', () => {
          w.close();
          this.watchers.delete(root);
        });
        this.watchers.set(root, w);
      } catch {
        // no such folder yet
      }
    }
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const t of this.scrubTimers) clearTimeout(t);
    for (const w of this.watchers.values()) w.close();
    for (const s of this.subs) s.dispose();
    this.status?.dispose();
  }
}

/**
 * Where VS Code keeps backups, from this extension's global storage
 * (`<user data>/User/globalStorage/<id>`): `<user data>/Backups` on the desktop,
 * `<user data>/User/Backups` in the browser-based workbench (code-server, VS Code for the Web).
 */
function backupRootsOf(globalStorage: vscode.Uri): string[] {
  if (globalStorage.scheme !== 'file') return [];
  const user = path.dirname(path.dirname(globalStorage.fsPath));
  return [path.join(user, 'Backups'), path.join(path.dirname(user), 'Backups')];
}
