// Hardcoded secrets in open documents, found by the daemon's scanner (`scan/text`, debounced)
// and shown in Problems. The text goes to the daemon over its private socket and is never
// written anywhere; findings carry only a redacted form and a fingerprint.
import * as vscode from 'vscode';
import { ErrorCode } from '../../daemon/protocol';
import { MAX_SCAN_TEXT, type ScanTextFinding } from '../../daemon/protocol/scan';
import type { DaemonConnection } from '../client/connection';
import { isDaemonError } from '../client/errors';
import { settings } from '../config';
import { isSopsText } from '../sops/detect';

export const SOURCE = 'Keyward';

/** Schemes whose documents are scanned: files and unsaved buffers, never decrypted views. */
const SCANNED_SCHEMES = new Set(['file', 'untitled', 'vscode-remote']);

export class SecretDiagnostics implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('keyward');
  private readonly findings = new Map<string, { version: number; findings: ScanTextFinding[] }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly subs: vscode.Disposable[] = [];
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  /** Fires when a document's diagnostics were updated (tests wait on it). */
  readonly onDidUpdate = this.emitter.event;
  private unavailable = false;

  constructor(
    private readonly conn: DaemonConnection,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subs.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.schedule(d, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length && settings(e.document.uri).scanOnType) this.schedule(e.document);
      }),
      vscode.workspace.onDidSaveTextDocument((d) => this.schedule(d, 0)),
      vscode.workspace.onDidCloseTextDocument((d) => this.clear(d.uri)),
      conn.onDidConnect(() => {
        this.unavailable = false;
        this.rescanAll();
      }),
    );
  }

  rescanAll(): void {
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
  }

  /** The findings behind the diagnostics of a document, as last scanned. */
  findingsOf(uri: vscode.Uri): ScanTextFinding[] {
    return this.findings.get(uri.toString())?.findings ?? [];
  }

  /** Drops one finding at once (after a fix), before the rescan confirms it. */
  forget(uri: vscode.Uri, fingerprint: string): void {
    const key = uri.toString();
    const e = this.findings.get(key);
    if (!e) return;
    e.findings = e.findings.filter((f) => f.fingerprint !== fingerprint);
    this.publish(uri, e.findings);
  }

  schedule(doc: vscode.TextDocument, delay?: number): void {
    if (!SCANNED_SCHEMES.has(doc.uri.scheme)) return;
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.scan(doc);
      }, delay ?? settings(doc.uri).scanDelayMs),
    );
  }

  async scan(doc: vscode.TextDocument): Promise<ScanTextFinding[]> {
    if (doc.isClosed || this.unavailable) return [];
    const key = doc.uri.toString();
    const text = doc.getText();
    // Encrypted sops files hold only ciphertext and metadata; huge buffers are not scanned.
    if (text.length > MAX_SCAN_TEXT || isSopsText(text, doc.uri.path)) {
      this.clear(doc.uri);
      return [];
    }
    const version = doc.version;
    let findings: ScanTextFinding[];
    try {
      const r = await this.conn.call('scanText', {
        text,
        languageId: doc.languageId.replace(/[^A-Za-z0-9._+-]/g, '') || 'plaintext',
        ...(doc.uri.scheme === 'file' ? { path: doc.uri.fsPath } : {}),
      });
      findings = r.findings;
    } catch (e) {
      if (isDaemonError(e, ErrorCode.MethodNotFound)) this.unavailable = true;
      this.log.debug(`scan of ${doc.uri.toString(true)} skipped: ${(e as Error).message}`);
      return [];
    }
    if (doc.isClosed || doc.version !== version) return findings; // a newer scan follows
    this.findings.set(key, { version, findings });
    this.publish(doc.uri, findings);
    return findings;
  }

  private publish(uri: vscode.Uri, findings: ScanTextFinding[]): void {
    this.collection.set(uri, findings.map(toDiagnostic));
    this.emitter.fire(uri);
  }

  private clear(uri: vscode.Uri): void {
    const key = uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.findings.delete(key);
    this.collection.delete(uri);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const s of this.subs) s.dispose();
    this.collection.dispose();
    this.emitter.dispose();
  }
}

function toDiagnostic(f: ScanTextFinding): vscode.Diagnostic {
  const range = new vscode.Range(f.range.startLine, f.range.startCol, f.range.endLine, f.range.endCol);
  const severity = f.severity === 'critical' || f.severity === 'high' ? vscode.DiagnosticSeverity.Error : f.severity === 'medium' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Information;
  const d = new vscode.Diagnostic(range, `Hardcoded secret: ${f.message}`, severity);
  d.source = SOURCE;
  d.code = f.ruleId;
  return d;
}
