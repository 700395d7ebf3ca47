// Opening a `.age` file shows what it is, not its header as editable text: a read-only summary
// (size, recipients named, which of your keys opens it, the data key's fingerprint) with the
// actions that apply (Decrypt to…, Rotate Data Key, Rewrap Recipients, Open as Text). Nothing
// is decrypted to draw it (artifacts/describe reads headers only).
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ArtifactDescription } from '../../daemon/protocol';
import { describeError } from '../client/errors';
import { count, formatBytes } from '../format';
import type { Services } from '../services';

export const AGE_EDITOR = 'keyward.ageFile';

const SOURCE_WORDS: Record<string, string> = { keystore: 'your key', team: 'team policy', 'sops-config': '.sops.yaml', known: 'known recipient' };

/** Messages the page sends: a button, by the command it runs. */
const ACTIONS: Record<string, string> = {
  decrypt: 'keyward.decryptTo',
  rotate: 'keyward.rotateDataKey',
  rewrap: 'keyward.rewrapRecipients',
};

export class AgeFileEditor implements vscode.CustomReadonlyEditorProvider {
  static register(s: Services): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(AGE_EDITOR, new AgeFileEditor(s), { supportsMultipleEditorsPerDocument: true, webviewOptions: { enableFindWidget: true } });
  }

  private constructor(private readonly s: Services) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  async resolveCustomEditor(doc: vscode.CustomDocument, panel: vscode.WebviewPanel): Promise<void> {
    const file = doc.uri.fsPath;
    panel.webview.options = { enableScripts: true, localResourceRoots: [] };
    const render = async (): Promise<void> => {
      const nonce = randomBytes(16).toString('base64');
      try {
        const d = await this.s.inventory.describe(file);
        panel.webview.html = page(panel.webview, nonce, path.basename(file), body(d));
      } catch (e) {
        panel.webview.html = page(panel.webview, nonce, path.basename(file), `<p class="error">${esc(describeError(e))}</p>${buttons(false)}`);
      }
    };
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(file)), path.basename(file)));
    const subs = [
      watcher,
      watcher.onDidChange(() => void render()),
      watcher.onDidCreate(() => void render()),
      this.s.inventory.onDidChange(() => void render()),
      panel.webview.onDidReceiveMessage(async (m: { action?: string; value?: string }) => {
        if (m.action === 'copy' && typeof m.value === 'string') {
          await vscode.env.clipboard.writeText(m.value);
          void vscode.window.setStatusBarMessage('Keyward: recipient copied', 3000);
        } else if (m.action === 'text') {
          await vscode.commands.executeCommand('vscode.openWith', doc.uri, 'default');
        } else if (m.action && ACTIONS[m.action]) {
          await vscode.commands.executeCommand(ACTIONS[m.action]!, doc.uri);
        }
      }),
    ];
    panel.onDidDispose(() => {
      for (const x of subs) x.dispose();
    });
    await render();
  }
}

function body(d: ArtifactDescription): string {
  const rows: string[] = [];
  const fact = (k: string, v: string) => rows.push(`<tr><th>${esc(k)}</th><td>${v}</td></tr>`);
  fact('Format', `age v1 (${d.armored ? 'armored' : 'binary'}), ${esc(formatBytes(d.size))}${typeof d.plaintextSize === 'number' ? `, ${esc(formatBytes(d.plaintextSize))} when decrypted` : ''}`);
  fact(
    'Your keys',
    d.openedBy.length ? d.openedBy.map((o) => `<span class="ok">${esc(o.ref)}</span>${o.state !== 'active' ? ` (${esc(o.state)})` : ''}`).join(', ') : '<span class="warn">none of your keys opens it</span>',
  );
  fact('Data key', d.dataKeyId ? `<code>#${esc(d.dataKeyId)}</code> <span class="muted">a fingerprint, never the key: a rotation changes it, a rewrap keeps it</span>` : '<span class="muted">unknown (none of your keys opens it)</span>');
  const total = d.stanzas.reduce((n, x) => n + x.count, 0);
  fact('Recipients', `${count(total, 'recipient')} (${d.stanzas.map((x) => `${esc(x.type)}×${x.count}`).join(', ')})`);
  if (d.recordedAt) fact('Recipients recorded', esc(new Date(d.recordedAt).toLocaleString()));
  const people = [...d.recipients].sort((a, b) => Number(b.yours) - Number(a.yours));
  const list = people.map((r) => {
    const names = r.names.length ? r.names.map((n) => `<b>${esc(n.name)}</b> <span class="muted">(${esc(SOURCE_WORDS[n.source] ?? n.source)}${n.state && n.state !== 'active' ? `, ${esc(n.state)}` : ''})</span>`).join(', ') : '<span class="muted">not named</span>';
    return `<li>${names}<br><code title="${esc(r.recipient)}">${esc(r.recipient)}</code> <button class="link" data-action="copy" data-value="${esc(r.recipient)}">Copy</button></li>`;
  });
  if (d.unaccounted) list.push(`<li class="muted">${count(d.unaccounted, 'more recipient')}: ${d.openedBy.length ? 'Keyward did not record whom (a file written by another tool); age does not say whom a stanza is for' : 'none of your keys opens the file, so Keyward cannot read whom it is for'}</li>`);
  return `<table>${rows.join('')}</table><h2>Who can open it</h2><ul class="people">${list.join('')}</ul>${buttons(d.openedBy.length > 0)}`;
}

function buttons(canOpen: boolean): string {
  const b = (action: string, label: string, primary = false, disabled = false) => `<button data-action="${action}"${primary ? ' class="primary"' : ''}${disabled ? ' disabled' : ''}>${esc(label)}</button>`;
  return `<div class="actions">${b('decrypt', 'Decrypt to…', true, !canOpen)}${b('rotate', 'Rotate Data Key', false, !canOpen)}${b('rewrap', 'Rewrap Recipients…', false, !canOpen)}${b('text', 'Open as Text')}</div>`;
}

function page(webview: vscode.Webview, nonce: string, title: string, content: string): string {
  const csp = `default-src 'none'; style-src ${webview.cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';`;
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style nonce="${nonce}">
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 8px 24px; max-width: 56em; }
h1 { font-size: 1.4em; font-weight: 600; } h2 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; } th { text-align: left; font-weight: 600; padding: 4px 16px 4px 0; vertical-align: top; white-space: nowrap; } td { padding: 4px 0; }
code { font-family: var(--vscode-editor-font-family); font-size: 0.95em; word-break: break-all; }
.muted { color: var(--vscode-descriptionForeground); } .warn, .error { color: var(--vscode-errorForeground); } .ok { color: var(--vscode-charts-green); }
ul.people { padding-left: 1.2em; } ul.people li { margin: 6px 0; }
.actions { margin-top: 1.6em; display: flex; gap: 8px; flex-wrap: wrap; }
button { font: inherit; padding: 4px 12px; border: 1px solid var(--vscode-button-border, transparent); background: var(--vscode-button-secondaryBackground); color: var(--vscode-button-secondaryForeground); cursor: pointer; border-radius: 2px; }
button.primary { background: var(--vscode-button-background); color: var(--vscode-button-foreground); }
button:disabled { opacity: 0.5; cursor: default; }
button.link { background: none; border: none; color: var(--vscode-textLink-foreground); padding: 0 4px; }
</style></head><body>
<h1>${esc(title)} <span class="muted">· encrypted with age</span></h1>
${content}
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
document.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-action]');
  if (b && !b.disabled) vscode.postMessage({ action: b.dataset.action, value: b.dataset.value });
});
</script></body></html>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
