// The walkthrough's steps tick when what they teach has happened, not when their command
// started: context keys set from what is there (a key in the keystore, an encrypted model in
// the workspace, a Keyward pre-commit hook) and from what succeeded (a secret config opened
// decrypted). package.json's completionEvents name them (`onContext:keyward.hasKeys && ...`).
//
// VS Code evaluates an `onContext` completion event once when it registers the walkthrough (as
// the walkthrough first opens, or earlier) and, if it holds already, never ticks the step (it
// notes the event as seen and ignores later changes). So each event also needs
// `keyward.walkthroughShown`, which is false until the walkthrough editor is on screen: the
// expressions become true after registration, and the steps tick.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Services } from './services';

const WALKTHROUGH = 'keyward.gettingStarted';
const SHOWN = 'keyward.walkthroughShown';

function set(key: string, value: boolean): Thenable<unknown> {
  return vscode.commands.executeCommand('setContext', key, value);
}

export function watchWalkthrough(s: Services): vscode.Disposable {
  let shown = false;
  const show = (): void => {
    if (shown) return;
    shown = true;
    void set(SHOWN, true);
  };
  void set(SHOWN, false);
  const subs = [
    s.inventory.onDidChange((inv) => {
      if (!inv.connected) return;
      void set('keyward.hasKeys', inv.keys.some((k) => k.versions.some((v) => v.state !== 'destroyed')));
      void set('keyward.hasEncryptedModel', inv.folders.some((f) => f.models.some((m) => m.status.encrypted)));
    }),
    // Opened from VS Code's own Welcome page or Help menu: its tab has no input the API knows.
    vscode.window.tabGroups.onDidChangeTabs((e) => {
      if ([...e.opened, ...e.changed].some((t) => t.isActive && t.input === undefined && /welcome|walkthrough|get started/i.test(t.label))) setTimeout(show, 500);
    }),
    vscode.commands.registerCommand('keyward.walkthrough', async () => {
      await vscode.commands.executeCommand('workbench.action.openWalkthrough', `${s.context.extension.id}#${WALKTHROUGH}`, false);
      show();
    }),
  ];
  void hookInstalled().then((yes) => set('keyward.hookInstalled', yes));
  return vscode.Disposable.from(...subs);
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
