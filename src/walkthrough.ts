// The walkthrough's steps tick when what they teach has happened, not when their command
// started: context keys set from what is there (a key in the keystore, an encrypted model in
// the workspace, a Keyward pre-commit hook) and from what succeeded (a secret config opened
// decrypted). package.json's completionEvents name them (`onContext:keyward.hasKeys`, ...).
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Services } from './services';

export function watchWalkthrough(s: Services): vscode.Disposable {
  const set = (key: string, value: boolean) => void vscode.commands.executeCommand('setContext', key, value);
  const sub = s.inventory.onDidChange((inv) => {
    if (!inv.connected) return;
    set('keyward.hasKeys', inv.keys.some((k) => k.versions.some((v) => v.state !== 'destroyed')));
    set('keyward.hasEncryptedModel', inv.folders.some((f) => f.models.some((m) => m.status.encrypted)));
  });
  void hookInstalled().then((yes) => set('keyward.hookInstalled', yes));
  return sub;
}

/** Whether a workspace folder's git hooks hold Keyward's pre-commit hook. */
async function hookInstalled(): Promise<boolean> {
  for (const f of vscode.workspace.workspaceFolders ?? []) {
    if (f.uri.scheme !== 'file') continue;
    try {
      if (/keyward/.test(await fsp.readFile(path.join(f.uri.fsPath, '.git', 'hooks', 'pre-commit'), 'utf8'))) return true;
    } catch {
      // no hook, or not a git repository
    }
  }
  return false;
}
