// The VS Code extension. This issue keeps it minimal: the daemon, its protocol and the CLI
// come first; the views, commands and editor integration build on them (see DESIGN.md).
import * as vscode from 'vscode';
import { PROTOCOL_VERSION } from '../daemon/protocol';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Keyward', { log: true });
  context.subscriptions.push(log);
  log.info(`Keyward activated (daemon protocol v${PROTOCOL_VERSION})`);
}

export function deactivate(): void {
  // Nothing to release: every registration is in context.subscriptions.
}
