// The VS Code extension: wiring only. Every registration goes into context.subscriptions.
import * as vscode from 'vscode';
import { methods, PROTOCOL_VERSION } from '../daemon/protocol';
import { registerArtifactCommands } from './commands/artifacts';
import { registerKeyCommands } from './commands/keys';
import { registerAuditCommands } from './commands/audit';
import { registerDaemonCommands } from './commands/daemon';
import { registerScanCommands } from './commands/scan';
import { affects, settings } from './config';
import { DaemonConnection } from './client/connection';
import { keywardHome } from './client/paths';
import { SecretDiagnostics } from './editor/diagnostics';
import { registerQuickFixes } from './editor/quickfix';
import { InventoryStore } from './inventory';
import type { Services } from './services';
import { SCHEME, SopsFileSystem } from './sops/fs';
import { PlaintextGuard } from './sops/guard';
import { StatusBar } from './statusBar';
import { AgeFileEditor } from './editor/ageEditor';
import { registerHovers } from './editor/hover';
import { SopsTabs } from './sops/tabs';
import { putCliOnPath } from './terminal';
import { watchWalkthrough } from './walkthrough';
import { ArtifactsView } from './views/artifacts';
import { KeysView } from './views/keys';
import { EncryptOnSave } from './encryptOnSave';
import { registerPluginPrompts } from './plugins/prompts';

/** What tests reach through `extension.exports`. */
export interface KeywardApi {
  services: Services;
  diagnostics: SecretDiagnostics;
  fs: SopsFileSystem;
  guard: PlaintextGuard;
}

export function activate(context: vscode.ExtensionContext): KeywardApi {
  const log = vscode.window.createOutputChannel('Keyward', { log: true });
  context.subscriptions.push(log);
  log.info(`Keyward ${String((context.extension.packageJSON as { version?: string }).version)} activated (protocol v${PROTOCOL_VERSION}, ${vscode.workspace.isTrusted ? 'trusted' : 'restricted mode'})`);

  const conn = new DaemonConnection({
    home: () => keywardHome(settings().daemonHome || undefined),
    daemonScript: () => settings().daemonPath || vscode.Uri.joinPath(context.extensionUri, 'dist', 'daemon.js').fsPath,
    // Restricted mode: never start a daemon (connecting to one already running is harmless).
    mayStart: () => vscode.workspace.isTrusted && settings().autoStart,
    log,
  });
  const inventory = new InventoryStore(conn, log);
  let refreshTimer: NodeJS.Timeout | undefined;
  const services: Services = {
    context,
    conn,
    log,
    inventory,
    refresh: () => {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => void inventory.refresh().catch((e: unknown) => log.warn(`refresh: ${(e as Error).message}`)), 150);
    },
  };
  context.subscriptions.push(conn, inventory, { dispose: () => clearTimeout(refreshTimer) });
  context.subscriptions.push(registerPluginPrompts(conn)); // age plugins ask here (PIN, touch)

  // Context keys for menus and enablement.
  const setContext = (key: string, value: unknown) => void vscode.commands.executeCommand('setContext', key, value);
  setContext('keyward.teamAvailable', Object.values(methods).some((m) => m.name.startsWith('team/')));
  setContext('keyward.connected', false);
  context.subscriptions.push(
    conn.onDidChangeState((s) => {
      setContext('keyward.connected', s.kind === 'connected');
      if (s.kind === 'idle' || s.kind === 'disconnected') inventory.markDisconnected();
      setContext('keyward.keystoreLocked', s.kind === 'connected' && s.status.keystore.locked === true);
    }),
    conn.onDidConnect(() => {
      void applyKeystoreBackend(services);
      services.refresh();
    }),
  );

  // Views.
  const artifactsView = new ArtifactsView(inventory);
  const keysView = new KeysView(inventory);
  context.subscriptions.push(
    artifactsView,
    keysView,
    vscode.window.createTreeView('keyward.artifacts', { treeDataProvider: artifactsView, showCollapseAll: true, canSelectMany: true }),
    vscode.window.createTreeView('keyward.keys', { treeDataProvider: keysView, showCollapseAll: true }),
  );

  // Secret configs, decrypted in memory.
  const fs = new SopsFileSystem(conn, log, {
    onDecrypted: (file, mac) => {
      inventory.recordMac(file, mac);
      setContext('keyward.openedDecrypted', true);
    },
    onSaved: () => services.refresh(),
  });
  const guard = new PlaintextGuard(context, log, () => settings().decryptedAutoSave);
  const tabs = new SopsTabs(services, fs, () => settings().sopsOpenDecrypted);
  context.subscriptions.push(fs, guard, tabs, vscode.workspace.registerFileSystemProvider(SCHEME, fs, { isCaseSensitive: true }), AgeFileEditor.register(services));

  // Diagnostics and quick fixes.
  const diagnostics = new SecretDiagnostics(conn, log);
  const scanCollection = vscode.languages.createDiagnosticCollection('keyward-scan');
  context.subscriptions.push(diagnostics, scanCollection, ...registerQuickFixes(services, diagnostics), ...registerHovers(conn, diagnostics));

  // Commands.
  context.subscriptions.push(
    ...registerArtifactCommands(services, fs, tabs),
    ...registerKeyCommands(services),
    ...registerScanCommands(services, scanCollection),
    ...registerAuditCommands(services),
    ...registerDaemonCommands(services),
  );

  // Encryption on save, the status bar, the walkthrough's progress, and `keyward` in terminals.
  context.subscriptions.push(new EncryptOnSave(services), new StatusBar(conn), watchWalkthrough(services));
  void putCliOnPath(context, log);

  // Refresh the views when encrypted files, policies or sops files change.
  const watcher = vscode.workspace.createFileSystemWatcher('**/{*.age,.keyward.yaml,.sops.yaml,*.yaml,*.yml,*.json,*.env,*.ini}');
  const onFile = () => services.refresh();
  context.subscriptions.push(watcher, watcher.onDidCreate(onFile), watcher.onDidChange(onFile), watcher.onDidDelete(onFile));
  context.subscriptions.push(
    vscode.workspace.onDidChangeWorkspaceFolders(() => services.refresh()),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      log.info('workspace trusted: starting the daemon if needed');
      conn.start();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (affects(e, 'daemon.home', 'daemon.path')) {
        conn.disconnect('the daemon settings changed');
        conn.start();
        void putCliOnPath(context, log);
      }
    }),
  );

  conn.start();
  return { services, diagnostics, fs, guard };
}

/** Applies the keystore backend setting while the keystore is still empty (the daemon refuses later). */
async function applyKeystoreBackend(s: Services): Promise<void> {
  const want = settings().keystoreBackend;
  const st = s.conn.state;
  if (want === 'default' || st.kind !== 'connected' || st.status.keystore.backend === want || st.status.keys > 0) return;
  try {
    await s.conn.call('keystoreUse', { backend: want });
    s.log.info(`keystore backend set to ${want}`);
  } catch (e) {
    s.log.warn(`cannot switch the keystore to ${want}: ${(e as Error).message}`);
  }
}

export function deactivate(): void {
  // Everything is in context.subscriptions. The daemon keeps running for the CLI and other windows.
}
