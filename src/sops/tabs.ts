// Decrypted and encrypted tabs of the same sops file must not look alike. Decrypted editors
// (`keyward:` scheme) read "app.enc.yaml (decrypted)" (the label formatter in package.json) and
// carry a "D" badge in Keyward's color; raw sops files get "Open Decrypted" in their title bar
// and context menus (the `keyward.sopsFiles` context key lists them); and with
// `keyward.sops.openDecrypted` on, a sops file opened as text is replaced by its decrypted view,
// as the sops extensions do, unless the user asked for the encrypted text (Show Encrypted File).
import * as vscode from 'vscode';
import * as path from 'node:path';
import { describeError } from '../client/errors';
import { errorActions } from '../commands/util';
import type { Services } from '../services';
import { formatOf, isSopsText } from './detect';
import { decryptedUri, DISK_QUERY, SCHEME, type SopsFileSystem } from './fs';
import { promises as fsp } from 'node:fs';

const MAX_SOPS_BYTES = 4 * 1024 * 1024;

export class SopsTabs implements vscode.FileDecorationProvider, vscode.Disposable {
  private readonly known = new Set<string>();
  private readonly raw = new Set<string>();
  private readonly subs: vscode.Disposable[] = [];
  private readonly emitter = new vscode.EventEmitter<vscode.Uri[]>();
  readonly onDidChangeFileDecorations = this.emitter.event;

  constructor(
    private readonly s: Services,
    private readonly fs: SopsFileSystem,
    private readonly openDecrypted: () => boolean,
  ) {
    this.subs.push(
      vscode.window.registerFileDecorationProvider(this),
      s.inventory.onDidChange((inv) => {
        let changed = false;
        for (const c of inv.folders.flatMap((f) => f.secrets)) {
          if (!this.known.has(c.path)) changed = true;
          this.known.add(c.path);
        }
        if (changed) this.publish();
      }),
      vscode.workspace.onDidOpenTextDocument((d) => this.check(d)),
      vscode.window.tabGroups.onDidChangeTabs((e) => {
        for (const t of e.opened) void this.onOpened(t);
        for (const t of e.closed) this.onClosed(t);
      }),
    );
    for (const d of vscode.workspace.textDocuments) this.check(d);
  }

  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== SCHEME || uri.query === DISK_QUERY) return undefined;
    return {
      badge: 'D',
      tooltip: 'Decrypted in memory by Keyward: saving re-encrypts it; no plaintext is written to disk',
      color: new vscode.ThemeColor('keyward.decryptedForeground'),
    };
  }

  /** The user asked for the encrypted text of `file`: do not swap it for the decrypted view. */
  allowRaw(file: string): void {
    this.raw.add(file);
  }

  private publish(): void {
    void vscode.commands.executeCommand('setContext', 'keyward.sopsFiles', [...this.known]);
  }

  private check(doc: vscode.TextDocument): void {
    if (doc.uri.scheme !== 'file' || !formatOf(doc.uri.fsPath)) return;
    const sops = isSopsText(doc.getText(), doc.uri.fsPath);
    if (sops === this.known.has(doc.uri.fsPath)) return;
    if (sops) this.known.add(doc.uri.fsPath);
    else this.known.delete(doc.uri.fsPath);
    this.publish();
  }

  private async isSops(file: string): Promise<boolean> {
    if (this.known.has(file)) return true;
    if (!formatOf(file)) return false;
    try {
      const st = await fsp.stat(file);
      if (!st.isFile() || st.size > MAX_SOPS_BYTES) return false;
      const yes = isSopsText(await fsp.readFile(file, 'utf8'), file);
      if (yes) {
        this.known.add(file);
        this.publish();
      }
      return yes;
    } catch {
      return false;
    }
  }

  private async onOpened(tab: vscode.Tab): Promise<void> {
    const input = tab.input;
    if (!(input instanceof vscode.TabInputText) || input.uri.scheme !== 'file') return;
    const file = input.uri.fsPath;
    if (!this.openDecrypted() || this.raw.has(file) || !(await this.isSops(file))) return;
    try {
      await this.fs.prefetch(file);
    } catch (e) {
      // Leave the encrypted text open, and say why it is not decrypted.
      this.raw.add(file);
      const message = `${describeError(e, `Opening ${path.basename(file)} decrypted`)} The encrypted file is shown instead.`;
      const actions = errorActions(message, e);
      void vscode.window.showWarningMessage(message, ...actions.map((a) => a.label)).then((pick) => {
        const cmd = actions.find((a) => a.label === pick)?.command;
        if (cmd) void vscode.commands.executeCommand(cmd);
      });
      return;
    }
    await vscode.window.showTextDocument(decryptedUri(input.uri), { viewColumn: tab.group.viewColumn, preview: tab.isPreview, preserveFocus: !tab.isActive });
    const stale = tab.group.tabs.find((t) => t.input instanceof vscode.TabInputText && t.input.uri.toString() === input.uri.toString());
    if (stale) await vscode.window.tabGroups.close(stale, true);
    this.s.log.info(`opened ${file} decrypted (keyward.sops.openDecrypted)`);
  }

  private onClosed(tab: vscode.Tab): void {
    const input = tab.input;
    if (!(input instanceof vscode.TabInputText) || input.uri.scheme !== 'file' || !this.raw.has(input.uri.fsPath)) return;
    const still = vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.input instanceof vscode.TabInputText && t.input.uri.toString() === input.uri.toString()));
    if (!still) this.raw.delete(input.uri.fsPath);
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.emitter.dispose();
  }
}
