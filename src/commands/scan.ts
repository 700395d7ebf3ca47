// Secret scanning commands: Scan Workspace for Secrets (the bundled CLI's scan, as diagnostics)
// and Install Pre-commit Hook. Both run the CLI in-process (bundledCli.ts): no daemon, no key.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { runCli } from '../bundledCli';
import type { Services } from '../services';
import { count } from '../format';
import { register } from './util';

interface ScanJson {
  findings: { ruleId: string; description: string; severity: string; path: string; line: number; column: number; endLine: number; endColumn: number; redacted?: string; detail?: string }[];
  stats: { files: number; ms: number; baselined?: number };
}

export function registerScanCommands(s: Services, scanCollection: vscode.DiagnosticCollection): vscode.Disposable[] {
  return [
    register(s, 'keyward.scanWorkspace', 'Scanning the workspace', () => scanWorkspace(s, scanCollection)),
    register(s, 'keyward.installHook', 'Installing the pre-commit hook', (arg) => installHook(s, arg)),
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
  if (total === 0) void vscode.window.showInformationMessage(`No hardcoded secrets found (${count(files, 'file')} scanned).`);
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
  void vscode.commands.executeCommand('setContext', 'keyward.hookInstalled', true);
  void vscode.window.showInformationMessage(`${r.stdout.trim().replace(/^pre-commit/, 'Pre-commit')}. Commits that add a hardcoded key or an unencrypted protected file are now refused.`);
}
