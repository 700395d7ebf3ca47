// What commands and providers share. Built once in extension.ts.
import * as vscode from 'vscode';
import type { DaemonConnection } from './client/connection';
import type { InventoryStore } from './inventory';

export interface Services {
  context: vscode.ExtensionContext;
  conn: DaemonConnection;
  log: vscode.LogOutputChannel;
  inventory: InventoryStore;
  /** Refreshes the views now (after a command changed something). */
  refresh(): void;
}
