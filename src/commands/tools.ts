// Workspace-wide commands: Scan Workspace for Secrets, Install Pre-commit Hook, Show and
// Verify Audit Log, and the daemon's own (Show Log, Restart Daemon, the status bar menu).
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AuditRecordView } from '../../daemon/protocol';
import { runCli } from '../cli';
import type { Services } from '../services';
import { count, displayPath, relativeIn } from '../format';
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
    register(s, 'keyward.showAuditLog', 'Showing the audit log', (arg) => showAudit(typeof arg === 'string' ? (arg as AuditFilter) : 'all')),
    register(s, 'keyward.filterAuditLog', 'Filtering the audit log', () => filterAudit(s)),
    register(s, 'keyward.verifyAuditLog', 'Verifying the audit log', () => verifyAudit(s)),
    register(s, 'keyward.openSettings', 'Opening the settings', async () => {
      await vscode.commands.executeCommand('workbench.action.openSettings', `@ext:${s.context.extension.id}`);
    }),
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

async function verifyAudit(s: Services): Promise<boolean> {
  const r = await s.conn.call('auditVerify', {}, { timeoutMs: 120_000 });
  if (r.ok) {
    void vscode.window.showInformationMessage(`The audit log is intact: ${count(r.records, 'record')}, hash chain verified.`);
  } else {
    const first = r.problems[0];
    const go = 'Go to Record';
    void vscode.window
      .showErrorMessage(
        `The audit log has ${count(r.problems.length, 'problem')}${first ? ` (first: ${first.seq !== undefined ? `record ${first.seq}, ` : ''}line ${first.line}: ${first.problem})` : ''}. Someone may have edited or truncated it: keep a copy and investigate.`,
        ...(first ? [go] : []),
      )
      .then((p) => (p === go && first ? showAudit('all', first.seq ?? Number.MAX_SAFE_INTEGER) : undefined));
  }
  return r.ok;
}

type AuditFilter = 'all' | 'problems' | 'keys' | 'jobs' | `path:${string}`;

const FILTERS: { id: AuditFilter; label: string; description: string }[] = [
  { id: 'all', label: 'All records', description: 'the last 1000' },
  { id: 'problems', label: 'Failures, refusals and cancellations', description: 'every outcome other than ok' },
  { id: 'keys', label: 'Keys', description: 'generated, rotated, state changes, exports, destroyed' },
  { id: 'jobs', label: 'Files', description: 'encrypt, decrypt, rotate, rewrap, sops edits and updates' },
];

/** Opens the audit log (filtered); with `seq`, every record, and the cursor on that record (or the last one before it). */
async function showAudit(filter: AuditFilter, seq?: number): Promise<vscode.TextEditor> {
  const query = new URLSearchParams({ filter, t: String(Date.now()), ...(seq !== undefined ? { seq: String(seq) } : {}) });
  const uri = vscode.Uri.from({ scheme: AUDIT_SCHEME, path: '/Keyward audit log', query: query.toString() });
  const doc = await vscode.workspace.openTextDocument(uri);
  const editor = await vscode.window.showTextDocument(doc, { preview: false });
  if (seq === undefined) return editor;
  let at = -1;
  for (let i = 0; i < doc.lineCount; i++) {
    const m = /^\s*(\d+) /.exec(doc.lineAt(i).text);
    if (!m) continue;
    const n = Number(m[1]);
    if (n > seq) break;
    at = i;
  }
  if (at >= 0) {
    const range = doc.lineAt(at).range;
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenter);
  }
  return editor;
}

async function filterAudit(s: Services): Promise<void> {
  type Item = vscode.QuickPickItem & { id?: AuditFilter };
  const items: Item[] = FILTERS.map((f) => ({ ...f }));
  const paths = new Set<string>();
  for (const r of (await s.conn.call('auditShow', { limit: 1000 })).records) if (r.path) paths.add(r.path);
  if (paths.size) {
    items.push({ label: 'One file', kind: vscode.QuickPickItemKind.Separator });
    for (const p of [...paths].sort()) items.push({ id: `path:${p}`, label: `$(file) ${displayPath(p)}`, description: 'its records' });
  }
  const pick = await vscode.window.showQuickPick(items, { title: 'Show which audit records?', matchOnDescription: true });
  if (pick?.id) await showAudit(pick.id);
}

class AuditDocument implements vscode.TextDocumentContentProvider {
  constructor(private readonly s: Services) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const q = new URLSearchParams(uri.query);
    const filter = (q.get('filter') ?? 'all') as AuditFilter;
    const everything = q.has('seq');
    const r = await this.s.conn.call('auditShow', { limit: everything ? 100_000 : 1000 });
    const records = r.records.filter((rec) => matches(rec, filter));
    const what = FILTERS.find((f) => f.id === filter)?.label ?? (filter.startsWith('path:') ? `records of ${displayPath(filter.slice(5))}` : 'All records');
    const lines = [
      `# Keyward audit log: ${what} (${count(records.length, 'record')}, newest last${everything ? '' : ', at most the last 1000'}). It records key use and lifecycle, never secrets.`,
      '# Filter with "Keyward: Filter Audit Log…" (the funnel in the title bar). Paths are relative to the workspace.',
      '',
    ];
    for (const rec of records) lines.push(formatRecord(rec));
    return lines.join('\n') + '\n';
  }
}

function matches(r: AuditRecordView, f: AuditFilter): boolean {
  if (f === 'all') return true;
  if (f === 'problems') return r.outcome !== 'ok';
  if (f === 'keys') return /^keys?[.]/.test(r.event);
  if (f === 'jobs') return /^(job|artifact|age|sops|watch|team)[.]/.test(r.event);
  return r.path === f.slice(5);
}

function formatRecord(r: AuditRecordView): string {
  const parts = [String(r.seq).padStart(6), new Date(r.ts).toLocaleString(), r.outcome.padEnd(9), r.event];
  if (r.key) parts.push(`key=${r.key}`);
  if (r.path) parts.push(`path=${displayPath(r.path)}`);
  if (r.client) parts.push(`client=${r.client}`);
  if (r.detail) parts.push(`(${relativeIn(r.detail)})`);
  return parts.join('  ');
}

async function statusMenu(s: Services): Promise<void> {
  const st = s.conn.state;
  type Item = vscode.QuickPickItem & { command?: string };
  const items: Item[] = [];
  if (st.kind === 'connected') {
    const ks = st.status.keystore;
    items.push({ label: `$(pass) Daemon ${st.daemonVersion} (pid ${st.status.pid})`, description: count(st.status.keys, 'key'), kind: vscode.QuickPickItemKind.Default });
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
  items.push({ label: '$(settings-gear) Settings', command: 'keyward.openSettings' });
  items.push({ label: '$(book) Get Started', command: 'keyward.walkthrough' });
  const pick = await vscode.window.showQuickPick(items, { title: 'Keyward' });
  if (pick?.command) await vscode.commands.executeCommand(pick.command);
}
