// Helpers of the extension-host suites.
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { KeywardApi } from '../../../src/extension';

export async function api(): Promise<KeywardApi> {
  const ext = vscode.extensions.getExtension<KeywardApi>('keyward.keyward');
  if (!ext) throw new Error('the Keyward extension is not installed');
  return ext.activate();
}

export function workspaceRoot(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error('the suites need the demo workspace open');
  return f.uri.fsPath;
}

/** The sandbox of the Node-side runner (KEYWARD_HOME is <sandbox>/home). */
export function sandboxDir(): string {
  return path.dirname(process.env.KEYWARD_HOME ?? '/nonexistent/home');
}

export async function until<T>(what: string, ms: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A random string shaped like an OpenAI project key (made here, so the repository holds none). */
export function fakeKey(): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  for (;;) {
    const body = [...randomBytes(64)].map((b) => abc[b % 62]).join('');
    if (!/example|sample|dummy|placeholder|change|replace|your|insert|redacted|fake|xxxx|todo|fixme/i.test(body)) return ['sk', 'proj', body].join('-');
  }
}

export function keywardDiagnostics(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Keyward');
}
