// The extension's settings, read in one place. Names match `contributes.configuration`.
import * as vscode from 'vscode';

const SECTION = 'keyward';

export interface Settings {
  /** Register workspace folders with the daemon's watcher, and encrypt `protectedGlobs` on save. */
  encryptOnSave: boolean;
  /** Extra globs (relative to a workspace folder) encrypted to FILE.age when saved in the editor. */
  protectedGlobs: string[];
  /** Keys (names or age recipients) for files encrypted by the editor when no policy names any. */
  defaultKeys: string[];
  scanOnType: boolean;
  scanDelayMs: number;
  /** Workspace-relative path of the encrypted secrets file the quick fix moves values into. */
  secretsFile: string;
  keystoreBackend: 'keychain' | 'file' | 'default';
  daemonPath: string;
  daemonHome: string;
  autoStart: boolean;
  /** Save decrypted editors shortly after each change, so VS Code never backs up their plaintext. */
  decryptedAutoSave: boolean;
  /** Open sops files decrypted whenever they are opened as text (as the sops extensions do). */
  sopsOpenDecrypted: boolean;
}

export function settings(scope?: vscode.ConfigurationScope): Settings {
  const c = vscode.workspace.getConfiguration(SECTION, scope);
  return {
    encryptOnSave: c.get<boolean>('encryptOnSave', true),
    protectedGlobs: c.get<string[]>('protectedGlobs', []),
    defaultKeys: c.get<string[]>('defaultKeys', []),
    scanOnType: c.get<boolean>('scan.onType', true),
    scanDelayMs: Math.max(100, c.get<number>('scan.delayMs', 500)),
    secretsFile: c.get<string>('secretsFile', 'secrets.enc.yaml'),
    keystoreBackend: c.get<'keychain' | 'file' | 'default'>('keystore.backend', 'default'),
    daemonPath: c.get<string>('daemon.path', ''),
    daemonHome: c.get<string>('daemon.home', ''),
    autoStart: c.get<boolean>('daemon.autoStart', true),
    decryptedAutoSave: c.get<boolean>('decrypted.autoSave', true),
    sopsOpenDecrypted: c.get<boolean>('sops.openDecrypted', false),
  };
}

export function affects(e: vscode.ConfigurationChangeEvent, ...keys: string[]): boolean {
  return keys.some((k) => e.affectsConfiguration(`${SECTION}.${k}`));
}
