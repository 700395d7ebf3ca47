// Encryption on save. Workspace folders are registered with the daemon's watcher, which
// encrypts files the folder's `.keyward.yaml` protects once they settle; files matching the
// `keyward.protectedGlobs` setting are encrypted by the extension when saved in the editor.
// Neither happens in restricted mode (an untrusted folder decides nothing about keys).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode, WorkspaceEventNotification, type WorkspaceEventParams } from '../daemon/protocol';
import { affects, settings } from './config';
import { describeError, isDaemonError } from './client/errors';
import { askTrust } from './trust';
import type { Services } from './services';
import { showError } from './commands/util';
import { WatcherStatus } from './watcherStatus';

export class EncryptOnSave implements vscode.Disposable {
  private readonly subs: vscode.Disposable[] = [];
  private readonly registered = new Set<string>();
  private warnedNoKeys = false;
  private readonly status = new WatcherStatus();

  constructor(private readonly s: Services) {
    this.subs.push(
      this.status,
      s.conn.onDidConnect(() => {
        this.registered.clear();
        void this.registerFolders();
      }),
      s.conn.onNotification(WorkspaceEventNotification, (p) => this.onEvent(p as WorkspaceEventParams)),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.registerFolders()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.registerFolders()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (affects(e, 'encryptOnSave')) void this.registerFolders();
      }),
      vscode.workspace.onDidSaveTextDocument((d) => void this.onSaved(d)),
    );
  }

  private active(scope?: vscode.Uri): boolean {
    return vscode.workspace.isTrusted && settings(scope).encryptOnSave;
  }

  async registerFolders(): Promise<void> {
    if (this.s.conn.state.kind !== 'connected') return;
    for (const f of vscode.workspace.workspaceFolders ?? []) {
      if (f.uri.scheme !== 'file' || this.registered.has(f.uri.fsPath) || !this.active(f.uri)) continue;
      try {
        const register = () => this.s.conn.call('workspaceRegister', { root: f.uri.fsPath, events: true });
        const r = await register().catch(async (e: unknown) => {
          if (isDaemonError(e, ErrorCode.Untrusted) && (await askTrust(this.s.conn, f.uri.fsPath))) return register();
          throw e;
        });
        this.registered.add(f.uri.fsPath);
        this.s.log.info(`watching ${f.uri.fsPath} (${r.workspace.policy?.source === 'file' ? '.keyward.yaml' : 'default policy'})`);
        if (r.workspace.error) void vscode.window.showWarningMessage(`Keyward cannot protect ${f.name}: ${r.workspace.error}`);
      } catch (e) {
        this.s.log.warn(`cannot watch ${f.uri.fsPath}: ${describeError(e)}`);
        void vscode.window.showWarningMessage(describeError(e, `Watching ${f.name}`));
      }
    }
  }

  private onEvent(p: WorkspaceEventParams): void {
    this.status.onEvent(p);
    if (p.kind === 'encrypting') {
      if (!p.bytesDone) this.s.log.info(`encrypting: ${p.path}`);
      return;
    }
    this.s.log.info(`${p.kind}: ${p.path}${p.message ? ` (${p.message})` : ''}`);
    this.s.refresh();
    if (p.kind === 'flagged' && p.message.includes('you have not agreed to')) {
      // The repository's .keyward.yaml changed its recipients: the consent dialog, then a rescan.
      void vscode.window.showWarningMessage(`Keyward did not encrypt ${path.basename(p.path)}: ${p.message}`, 'Review Recipients').then(async (x) => {
        if (x && (await askTrust(this.s.conn, p.root))) await this.s.conn.call('workspaceRegister', { root: p.root, events: true });
      });
      return;
    }
    if (p.kind === 'flagged' || p.kind === 'error') {
      void vscode.window.showWarningMessage(`Keyward did not encrypt ${path.basename(p.path)}: ${p.message}`, 'Show Log').then((x) => x && this.s.log.show(true));
    }
  }

  private async onSaved(doc: vscode.TextDocument): Promise<void> {
    if (doc.uri.scheme !== 'file' || doc.uri.fsPath.endsWith('.age') || !this.active(doc.uri)) return;
    const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
    if (!folder) return;
    const globs = settings(doc.uri).protectedGlobs;
    if (!globs.some((g) => vscode.languages.match({ pattern: new vscode.RelativePattern(folder, g) }, doc) > 0)) return;
    const keys = settings(doc.uri).defaultKeys;
    if (keys.length === 0) {
      if (!this.warnedNoKeys) {
        this.warnedNoKeys = true;
        void vscode.window.showWarningMessage(`${path.basename(doc.uri.fsPath)} matches keyward.protectedGlobs, but keyward.defaultKeys names no key to encrypt it to: set it in the settings.`);
      }
      return;
    }
    try {
      const r = await this.s.conn.call('ageEncrypt', { input: doc.uri.fsPath, output: `${doc.uri.fsPath}.age`, keys, recipients: [], overwrite: true }, { timeoutMs: 0 });
      this.s.log.info(`encrypted on save: ${r.output}`);
      this.s.refresh();
    } catch (e) {
      void showError(describeError(e, `Encrypting ${path.basename(doc.uri.fsPath)} on save`), e);
    }
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
  }
}
