// The Keys view: identities, their versions with state and due dates. contextValue: `key`,
// and `keyVersion-<state>` for versions (menus: copy recipient, export, rotate).
import * as vscode from 'vscode';
import type { KeyInfo, KeyVersionInfo } from '../../daemon/protocol';
import type { InventoryStore } from '../inventory';

export type KeyNode = { type: 'key'; key: KeyInfo } | { type: 'version'; key: KeyInfo; version: KeyVersionInfo } | { type: 'message'; label: string };

const STATE_ICONS: Record<string, string> = {
  'pre-activation': 'circle-outline',
  active: 'pass-filled',
  suspended: 'debug-pause',
  deactivated: 'circle-slash',
  compromised: 'error',
  destroyed: 'trash',
};

export class KeysView implements vscode.TreeDataProvider<KeyNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<KeyNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly store: InventoryStore) {
    this.sub = store.onDidChange(() => this.emitter.fire(undefined));
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }

  async getChildren(node?: KeyNode): Promise<KeyNode[]> {
    if (!node) {
      const inv = await this.store.ensure();
      if (this.store.connected === false) return [];
      if (inv.keysError) return [{ type: 'message', label: inv.keysError }];
      return inv.keys.map((key) => ({ type: 'key', key }));
    }
    if (node.type === 'key') return [...node.key.versions].reverse().map((version) => ({ type: 'version', key: node.key, version }));
    return [];
  }

  getTreeItem(node: KeyNode): vscode.TreeItem {
    if (node.type === 'message') {
      const t = new vscode.TreeItem(node.label);
      t.iconPath = new vscode.ThemeIcon('warning');
      t.tooltip = node.label;
      return t;
    }
    if (node.type === 'key') {
      const cur = node.key.current;
      const t = new vscode.TreeItem(node.key.name, vscode.TreeItemCollapsibleState.Collapsed);
      t.id = `key:${node.key.name}`;
      t.iconPath = new vscode.ThemeIcon('key', cur?.rotation === 'due' ? new vscode.ThemeColor('list.warningForeground') : undefined);
      t.description = cur ? `${cur.plugin ? `${cur.plugin} plugin · ` : ''}v${cur.version} · ${cur.state}${dueText(cur)}` : 'no usable version';
      t.contextValue = cur ? 'key' : 'key-unusable';
      t.tooltip = cur ? `${cur.ref} (${kindText(cur)})\n${recipientText(cur)}` : node.key.name;
      return t;
    }
    const v = node.version;
    const t = new vscode.TreeItem(v.ref, vscode.TreeItemCollapsibleState.None);
    t.id = `keyVersion:${v.ref}`;
    const color = v.state === 'compromised' ? 'list.errorForeground' : v.rotation === 'due' ? 'list.warningForeground' : undefined;
    t.iconPath = new vscode.ThemeIcon(STATE_ICONS[v.state] ?? 'circle', color ? new vscode.ThemeColor(color) : undefined);
    t.description = `${v.plugin ? `${v.plugin} plugin · ` : ''}${v.state}${dueText(v)}${v.origin === 'imported' ? ' · imported' : ''}`;
    t.contextValue = `keyVersion-${v.state}`;
    const lines = [
      `${v.ref} · ${kindText(v)}`,
      `state: ${v.state} since ${new Date(v.stateChangedAt).toLocaleString()}`,
      `created: ${new Date(v.createdAt).toLocaleString()}`,
      `cryptoperiod: ${v.cryptoperiodDays} days${v.rotationDueAt ? `, rotation due ${new Date(v.rotationDueAt).toLocaleDateString()}` : ''}`,
      `recipient: ${recipientText(v)}`,
    ];
    t.tooltip = lines.join('\n');
    return t;
  }
}

/** X25519, post-quantum, or the age plugin (hardware key) it goes through. */
function kindText(v: KeyVersionInfo): string {
  if (v.kind === 'plugin') return `age plugin identity, used through age-plugin-${v.plugin ?? '?'}`;
  return v.kind === 'mlkem768x25519' ? 'post-quantum (ML-KEM-768 + X25519)' : 'X25519';
}

function recipientText(v: KeyVersionInfo): string {
  return v.recipient || `none known: files are encrypted to the identity itself, through the ${v.plugin ?? ''} plugin`;
}

function dueText(v: KeyVersionInfo): string {
  if (!v.rotationDueAt || v.state !== 'active') return '';
  const days = Math.ceil((Date.parse(v.rotationDueAt) - Date.now()) / 86_400_000);
  if (v.rotation === 'due' || days <= 0) return ' · rotation due';
  return ` · due in ${days} d`;
}
