// The extension's own commands and those of its connection to the daemon: Open Settings, Show
// Log, Restart Daemon, Refresh, and the status bar's menu.
import * as vscode from 'vscode';
import type { Services } from '../services';
import { count } from '../format';
import { register } from './util';

export function registerDaemonCommands(s: Services): vscode.Disposable[] {
  return [
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
