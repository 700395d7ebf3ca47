// Workspace-wide commands: Scan Workspace for Secrets, Install Pre-commit Hook, Show and
// Verify Audit Log, and the daemon's own (Show Log, Restart Daemon, the status bar menu).
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AuditRecordView } from '../../daemon/protocol';
import { runCli } from '../cli';
import type { Services } from '../services';
import { register } from './util';

const AUDIT_SCHEME = 'keyward-audit';

interface ScanJson {
  findings: { ruleId: string; description: string; severity: string; path: string; line: number; column: number; endLine: number; endColumn: number; redacted?: string; detail?: string }[];
  stats: { files: number; ms: number; baselined?: number };
}

export function registerToolCommands(s: Services, scanCollection: vscode.DiagnosticCollection): vscode.Disposable[] {
  const audit = new AuditDocument(s);
  return [
    vscode.workspace.registerTextDocumentContentProvider(AUDIT_SCHEME, audit),
    register(s, 'keyward.scanWorkspace', 'Scanning the workspace', () => scanWorkspace(s, scanCollection)),
    register(s, 'keyward.installHook', 'Installing the pre-commit hook', (arg) => installHook(s, arg)),
    register(s, 'keyward.showAuditLog', 'Showing the audit log', async () => {
      const uri = vscode.Uri.from({ scheme: AUDIT_SCHEME, path: '/Keyward audit log', query: String(Date.now()) });
      const doc = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(doc, { preview: false });
    }),
    register(s, 'keyward.verifyAuditLog', 'Verifying the audit log', () => verifyAudit(s)),
    register(s, 'keyward.showLog', 'Showing the log', () => {
      s.log.show(true);
      return Promise.resolve();
    }),
    register(s, 'keyward.restartDaemon', 'Restarting the daemon', async () => {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Keyward: restarting the daemon' }, () => s.conn.restart());
      s.refresh();
    }),
    register(s, 'keyward.refresh', 'Refreshing', () => {
      s.inventory.renewTeamPlan();
      s.conn.start();
      s.refresh();
      return Promise.resolve();
    }),
    register(s, 'keyward.statusMenu', 'Keyward', () => statusMenu(s)),
  ];
}

async function scanWorkspace(s: Services, collection: vscode.DiagnosticCollection): Promise<number> {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
  if (folders.length === 0) throw new Error('open a folder first');
  collection.clear();
  let total = 0;
  let files = 0;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Scanning for hardcoded secrets', cancellable: true }, async (_p, token) => {
    for (const folder of folders) {
      const r = await runCli(s.context.extensionUri, ['scan', '--format', 'json', '.'], { cwd: folder.uri.fsPath, token });
      if (token.isCancellationRequested) return;
      if (r.code !== 0 && r.code !== 1) throw new Error(r.stderr.trim().split('\n').pop() || `keyward scan exited ${r.code}`);
      const report = JSON.parse(r.stdout) as ScanJson;
      files += report.stats.files;
      const byFile = new Map<string, vscode.Diagnostic[]>();
      for (const f of report.findings) {
        const range = new vscode.Range(Math.max(0, f.line - 1), Math.max(0, f.column - 1), Math.max(0, f.endLine - 1), Math.max(0, f.endColumn - 1));
        const d = new vscode.Diagnostic(range, `Hardcoded secret: ${f.description}: ${f.detail ?? f.redacted ?? ''}`, f.severity === 'critical' || f.severity === 'high' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
        d.source = 'Keyward scan';
        d.code = f.ruleId;
        const file = path.join(folder.uri.fsPath, f.path);
        byFile.set(file, [...(byFile.get(file) ?? []), d]);
        total++;
      }
      for (const [file, ds] of byFile) collection.set(vscode.Uri.file(file), ds);
    }
  });
  s.log.info(`workspace scan: ${total} findings in ${files} files`);
  if (total === 0) void vscode.window.showInformationMessage(`No hardcoded secrets found (${files} files scanned).`);
  else {
    const open = 'Open Problems';
    void vscode.window.showWarningMessage(`${total} hardcoded secret${total === 1 ? '' : 's'} found: see the Problems view. Open each file for quick fixes.`, open).then((p) => p && vscode.commands.executeCommand('workbench.actions.view.problems'));
  }
  return total;
}

async function installHook(s: Services, arg: unknown): Promise<void> {
  let folder = arg instanceof vscode.Uri ? vscode.workspace.getWorkspaceFolder(arg) : undefined;
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
  folder ??= folders.length === 1 ? folders[0] : await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Install the hook in which repository?' });
  if (!folder) return;
  const r = await runCli(s.context.extensionUri, ['hook', 'install'], { cwd: folder.uri.fsPath, forHook: true });
  if (r.code !== 0) throw new Error(r.stderr.replace(/^keyward: /, '').trim() || `keyward hook install exited ${r.code}`);
  s.log.info(r.stdout.trim());
  void vscode.window.showInformationMessage(`${r.stdout.trim().replace(/^pre-commit/, 'Pre-commit')}. Commits that add a hardcoded key or an unencrypted protected file are now refused.`);
}

async function verifyAudit(s: Services): Promise<boolean> {
  const r = await s.conn.call('auditVerify', {}, { timeoutMs: 120_000 });
  if (r.ok) {
    void vscode.window.showInformationMessage(`The audit log is intact: ${r.records} records, hash chain verified.`);
  } else {
    const first = r.problems[0];
    void vscode.window.showErrorMessage(
      `The audit log has ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}${first ? ` (first: line ${first.line}: ${first.problem})` : ''}. Someone may have edited or truncated it: keep a copy and investigate.`,
    );
  }
  return r.ok;
}

class AuditDocument implements vscode.TextDocumentContentProvider {
  constructor(private readonly s: Services) {}

  async provideTextDocumentContent(): Promise<string> {
    const r = await this.s.conn.call('auditShow', { limit: 1000 });
    const lines = ['# Keyward audit log (newest last; at most 1000 records). It records key use and lifecycle, never secrets.', ''];
    for (const rec of r.records) lines.push(formatRecord(rec));
    return lines.join('\n') + '\n';
  }
}

function formatRecord(r: AuditRecordView): string {
  const parts = [String(r.seq).padStart(6), r.ts, r.outcome.padEnd(7), r.event];
  if (r.key) parts.push(`key=${r.key}`);
  if (r.path) parts.push(`path=${r.path}`);
  if (r.client) parts.push(`client=${r.client}`);
  if (r.detail) parts.push(`(${r.detail})`);
  return parts.join('  ');
}

async function statusMenu(s: Services): Promise<void> {
  const st = s.conn.state;
  type Item = vscode.QuickPickItem & { command?: string };
  const items: Item[] = [];
  if (st.kind === 'connected') {
    const ks = st.status.keystore;
    items.push({ label: `$(pass) Daemon ${st.daemonVersion} (pid ${st.status.pid})`, description: `${st.status.keys} keys`, kind: vscode.QuickPickItemKind.Default });
    items.push({ label: `${ks.available ? (ks.locked ? '$(lock)' : '$(key)') : '$(warning)'} Keystore: ${ks.backend}`, description: ks.available ? (ks.locked ? 'locked' : 'available') : 'unavailable', ...(ks.detail ? { detail: ks.detail } : {}) });
    if (ks.locked) items.push({ label: '$(unlock) Unlock Keystore', command: 'keyward.unlockKeystore' });
  } else {
    items.push({ label: `$(debug-disconnect) Not connected`, detail: st.kind === 'disconnected' || st.kind === 'idle' ? st.reason : 'connecting…' });
  }
  items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
  items.push({ label: '$(list-tree) Show Keyward Views', command: 'workbench.view.extension.keyward' });
  items.push({ label: '$(refresh) Refresh', command: 'keyward.refresh' });
  items.push({ label: '$(search) Scan Workspace for Secrets', command: 'keyward.scanWorkspace' });
  items.push({ label: '$(debug-restart) Restart Daemon', command: 'keyward.restartDaemon' });
  items.push({ label: '$(output) Show Log', command: 'keyward.showLog' });
  items.push({ label: '$(book) Get Started', command: 'keyward.walkthrough' });
  const pick = await vscode.window.showQuickPick(items, { title: 'Keyward' });
  if (pick?.command) await vscode.commands.executeCommand(pick.command);
}
