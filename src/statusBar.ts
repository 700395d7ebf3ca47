// The status bar item: daemon and keychain state at a glance; click for the Keyward menu.
import * as vscode from 'vscode';
import type { ConnectionState, DaemonConnection } from './client/connection';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('keyward.status', vscode.StatusBarAlignment.Left, 50);
  private readonly sub: vscode.Disposable;

  constructor(private readonly conn: DaemonConnection) {
    this.item.name = 'Keyward';
    this.item.command = 'keyward.statusMenu';
    this.sub = conn.onDidChangeState((s) => this.render(s));
    this.render(conn.state);
    this.item.show();
  }

  private render(s: ConnectionState): void {
    this.item.backgroundColor = undefined;
    switch (s.kind) {
      case 'connected': {
        const ks = s.status.keystore;
        if (!ks.available) {
          this.item.text = '$(warning) Keyward';
          this.item.tooltip = `Keyward: the ${ks.backend} keystore is unavailable${ks.detail ? `: ${ks.detail}` : ''}`;
          this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
        } else if (ks.locked) {
          this.item.text = '$(lock) Keyward';
          this.item.tooltip = 'Keyward: the file keystore is locked. Click to unlock.';
        } else {
          this.item.text = '$(shield) Keyward';
          this.item.tooltip = `Keyward: daemon ${s.daemonVersion} connected · keystore ${ks.backend} · ${s.status.keys} key${s.status.keys === 1 ? '' : 's'}`;
        }
        break;
      }
      case 'connecting':
        this.item.text = '$(sync~spin) Keyward';
        this.item.tooltip = 'Keyward: connecting to the daemon…';
        break;
      case 'disconnected':
        this.item.text = '$(debug-disconnect) Keyward';
        this.item.tooltip = `Keyward: not connected: ${s.reason}${s.retryInMs ? ' (retrying)' : ''}. Click for options.`;
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        break;
      case 'idle':
        this.item.text = vscode.workspace.isTrusted ? '$(shield) Keyward' : '$(workspace-untrusted) Keyward';
        this.item.tooltip = s.reason ? `Keyward: ${s.reason}` : 'Keyward: not connected yet';
        break;
    }
    this.item.accessibilityInformation = { label: typeof this.item.tooltip === 'string' ? this.item.tooltip : 'Keyward' };
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}
