// The audit log's commands: Show, Filter and Verify Audit Log, and the read-only document that
// shows its records (scheme keyward-audit).
import * as vscode from 'vscode';
import type { AuditRecordView } from '../../daemon/protocol';
import type { Services } from '../services';
import { count, displayPath, relativeIn } from '../format';
import { register } from './util';

const AUDIT_SCHEME = 'keyward-audit';

export function registerAuditCommands(s: Services): vscode.Disposable[] {
  return [
    vscode.workspace.registerTextDocumentContentProvider(AUDIT_SCHEME, new AuditDocument(s)),
    register(s, 'keyward.showAuditLog', 'Showing the audit log', (arg) => showAudit(typeof arg === 'string' ? (arg as AuditFilter) : 'all')),
    register(s, 'keyward.filterAuditLog', 'Filtering the audit log', () => filterAudit(s)),
    register(s, 'keyward.verifyAuditLog', 'Verifying the audit log', () => verifyAudit(s)),
  ];
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
