// What the daemon's watcher does, in the status bar: "Encrypting big.ckpt 42%" while a protected
// file is being encrypted, then "big.ckpt encrypted" for a while, which reveals the file in the
// Explorer when clicked. A large file encrypted on save is no longer a silent minute of CPU.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WorkspaceEventParams } from '../daemon/protocol';
import { formatBytes } from './format';

const SHOW_DONE_MS = 15_000;

export class WatcherStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('keyward.watcher', vscode.StatusBarAlignment.Left, 49);
  private readonly active = new Map<string, { done: number; total: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    this.item.name = 'Keyward: encryption on save';
  }

  onEvent(p: WorkspaceEventParams): void {
    if (p.kind === 'encrypting') {
      this.active.set(p.path, { done: p.bytesDone ?? 0, total: p.bytesTotal ?? 0 });
      this.renderActive();
    } else if (this.active.has(p.path)) {
      this.active.delete(p.path);
      if (this.active.size) this.renderActive();
      else this.renderEnd(p);
    }
  }

  private renderActive(): void {
    clearTimeout(this.timer);
    const [file, a] = [...this.active][0]!;
    const pct = a.total > 0 ? ` ${Math.floor((a.done / a.total) * 100)}%` : '';
    const more = this.active.size > 1 ? ` (+${this.active.size - 1})` : '';
    this.item.text = `$(sync~spin) Encrypting ${path.basename(file)}${pct}${more}`;
    this.item.tooltip = `Keyward is encrypting ${file} to ${path.basename(file)}.age (${formatBytes(a.done)} of ${formatBytes(a.total)}), as .keyward.yaml protects it.`;
    this.item.command = undefined;
    this.item.show();
  }

  private renderEnd(p: WorkspaceEventParams): void {
    const name = path.basename(p.path);
    const ok = p.kind === 'encrypted' || p.kind === 'removed';
    this.item.text = ok ? `$(check) ${name} encrypted` : `$(warning) ${name} not encrypted`;
    this.item.tooltip = `${p.message}. Click to reveal ${ok ? `${name}.age` : name} in the Explorer.`;
    this.item.command = { command: 'revealInExplorer', title: 'Reveal in Explorer', arguments: [vscode.Uri.file(ok ? `${p.path}.age` : p.path)] };
    this.item.show();
    this.timer = setTimeout(() => this.item.hide(), SHOW_DONE_MS);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.item.dispose();
  }
}
