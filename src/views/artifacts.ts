// The Encrypted Artifacts view: by kind (models, secret configs), each with its format,
// recipients, key versions, when it was last written, and warnings. Context menus key on the
// items' contextValue: encryptedModel, plaintextModel, secretConfig, secretConfigLocked.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ArtifactDescription, RecipientView } from '../../daemon/protocol';
import { describeError } from '../client/errors';
import { formatBytes } from '../format';
import type { FolderInventory, InventoryStore, ModelArtifact, SecretConfig } from '../inventory';

export type ArtifactNode =
  | { type: 'kind'; kind: 'models' | 'secrets' }
  | { type: 'folder'; kind: 'models' | 'secrets'; folder: FolderInventory }
  | { type: 'model'; item: ModelArtifact }
  | { type: 'secret'; item: SecretConfig }
  | { type: 'detail'; label: string; value: string; warning?: boolean; copy?: string; tooltip?: string; icon?: string; file?: string; fix?: 'sops-recipients' }
  | { type: 'message'; label: string; warning?: boolean };

export class ArtifactsView implements vscode.TreeDataProvider<ArtifactNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ArtifactNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly store: InventoryStore) {
    this.sub = store.onDidChange(() => this.emitter.fire(undefined));
  }

  refresh(): void {
    void this.store.refresh();
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }

  async getChildren(node?: ArtifactNode): Promise<ArtifactNode[]> {
    if (!node) {
      if (!vscode.workspace.workspaceFolders?.length) return [];
      await this.store.ensure();
      // Not connected: empty, so that the view's welcome text says why and what to do.
      if (this.store.connected === false) return [];
      return [
        { type: 'kind', kind: 'models' },
        { type: 'kind', kind: 'secrets' },
      ];
    }
    const inv = this.store.current;
    if (!inv) return [];
    switch (node.type) {
      case 'kind': {
        const folders = inv.folders;
        if (folders.length === 1) return this.folderChildren(node.kind, folders[0]!);
        return folders.map((f) => ({ type: 'folder', kind: node.kind, folder: f }));
      }
      case 'folder':
        return this.folderChildren(node.kind, node.folder);
      case 'model':
        return modelDetails(node.item, this.store);
      case 'secret':
        return secretDetails(node.item, this.store);
      default:
        return [];
    }
  }

  private folderChildren(kind: 'models' | 'secrets', f: FolderInventory): ArtifactNode[] {
    if (f.error) return [{ type: 'message', label: f.error, warning: true }];
    const out: ArtifactNode[] = [];
    if (kind === 'models') {
      if (f.policyError) out.push({ type: 'message', label: `.keyward.yaml: ${f.policyError}`, warning: true });
      for (const w of f.policyWarnings) out.push({ type: 'message', label: w.message, warning: true });
      out.push(...f.models.map((item): ArtifactNode => ({ type: 'model', item })));
      if (f.truncated) out.push({ type: 'message', label: 'the list is incomplete: the folder has too many files', warning: true });
      if (f.models.length === 0) out.push({ type: 'message', label: 'No model files (encrypted or protected) in this folder' });
    } else {
      out.push(...f.secrets.map((item): ArtifactNode => ({ type: 'secret', item })));
      if (f.secrets.length === 0) out.push({ type: 'message', label: 'No sops files in this folder' });
    }
    return out;
  }

  getTreeItem(node: ArtifactNode): vscode.TreeItem {
    switch (node.type) {
      case 'kind': {
        const t = new vscode.TreeItem(node.kind === 'models' ? 'Models' : 'Secret configs', vscode.TreeItemCollapsibleState.Expanded);
        t.id = `kind:${node.kind}`;
        t.iconPath = new vscode.ThemeIcon(node.kind === 'models' ? 'database' : 'settings');
        const inv = this.store.current;
        const n = inv?.folders.reduce((s, f) => s + (node.kind === 'models' ? f.models.length : f.secrets.length), 0) ?? 0;
        t.description = String(n);
        t.contextValue = `kind-${node.kind}`;
        return t;
      }
      case 'folder': {
        const t = new vscode.TreeItem(node.folder.folder.name, vscode.TreeItemCollapsibleState.Expanded);
        t.id = `folder:${node.kind}:${node.folder.folder.uri.toString()}`;
        t.iconPath = vscode.ThemeIcon.Folder;
        t.resourceUri = node.folder.folder.uri;
        return t;
      }
      case 'model':
        return modelItem(node.item);
      case 'secret':
        return secretItem(node.item);
      case 'detail': {
        const t = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        t.description = node.value;
        t.tooltip = node.tooltip ?? `${node.label}: ${node.value}`;
        if (node.warning) t.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
        else if (node.icon) t.iconPath = new vscode.ThemeIcon(node.icon);
        if (node.copy) t.contextValue = 'detail-copyable';
        if (node.fix === 'sops-recipients' && node.file) {
          // The warning offers its fix: click it, or its inline button.
          t.contextValue = 'staleSopsKey';
          t.command = { command: 'keyward.fixSopsRecipients', title: 'Update .sops.yaml and Re-encrypt', arguments: [{ files: [node.file] }] };
          t.tooltip = `${node.value}\nClick to update .sops.yaml and re-encrypt it to the current key version.`;
        }
        return t;
      }
      case 'message': {
        const t = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        t.iconPath = new vscode.ThemeIcon(node.warning ? 'warning' : 'info', node.warning ? new vscode.ThemeColor('list.warningForeground') : undefined);
        t.tooltip = node.label;
        return t;
      }
    }
  }

  getParent(): undefined {
    return undefined;
  }
}

function modelItem(m: ModelArtifact): vscode.TreeItem {
  const s = m.status;
  const t = new vscode.TreeItem(path.basename(s.plaintext), vscode.TreeItemCollapsibleState.Collapsed);
  t.id = `model:${s.path}`;
  t.resourceUri = vscode.Uri.file(s.path);
  const warnings = [...s.warnings.map((w) => w.message), ...m.notes];
  const warn = warnings.length > 0;
  t.iconPath = s.encrypted
    ? new vscode.ThemeIcon(warn ? 'warning' : 'lock', warn ? new vscode.ThemeColor('list.warningForeground') : undefined)
    : new vscode.ThemeIcon('unlock', new vscode.ThemeColor('list.errorForeground'));
  const parts = [s.encrypted ? (s.armored ? 'age (armored)' : 'age') : 'not encrypted'];
  const dir = path.relative(m.folder.uri.fsPath, path.dirname(s.path));
  if (dir) parts.unshift(`${dir}/`);
  if (s.keys.length) parts.push(s.keys.join(', '));
  else if (s.encrypted) parts.push('no key of yours');
  if (warn) parts.push(`⚠ ${warnings.join('; ')}`);
  t.description = parts.join(' · ');
  t.contextValue = s.encrypted ? 'encryptedModel' : 'plaintextModel';
  t.tooltip = modelTooltip(m);
  return t;
}

function modelTooltip(m: ModelArtifact): vscode.MarkdownString {
  const s = m.status;
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escape(path.basename(s.path))}**\n\n`);
  md.appendMarkdown(`- Format: ${s.encrypted ? `age v1${s.armored ? ' (armored)' : ''}` : 'plaintext (protected by the policy)'}\n`);
  if (s.stanzas) md.appendMarkdown(`- Recipients: ${stanzaText(s.stanzas)} (expand to see whose)\n`);
  md.appendMarkdown(`- Key versions: ${s.keys.length ? s.keys.map(escape).join(', ') : 'none of yours'}\n`);
  if (m.mtime) md.appendMarkdown(`- Last written: ${m.mtime.toLocaleString()}\n`);
  if (s.rule) md.appendMarkdown(`- Policy rule: \`${escape(s.rule.glob)}\` → ${s.rule.recipients.map(escape).join(', ') || 'no recipients'}\n`);
  for (const w of [...s.warnings.map((x) => x.message), ...m.notes]) md.appendMarkdown(`\n$(warning) ${escape(w)}`);
  return md;
}

function stanzaText(stanzas: { type: string; count: number }[]): string {
  const n = stanzas.reduce((x, y) => x + y.count, 0);
  return `${n} (${stanzas.map((x) => `${x.type}×${x.count}`).join(', ')})`;
}

const SOURCE_WORDS: Record<string, string> = { keystore: 'your key', team: 'team policy', 'sops-config': '.sops.yaml', known: 'known recipient' };

function shortRecipient(r: string): string {
  return r.length > 24 ? `${r.slice(0, 12)}…${r.slice(-8)}` : r;
}

/** One row per recipient: its best name as the label, the other names and the recipient beside it. */
function recipientRows(d: ArtifactDescription): ArtifactNode[] {
  const rows: ArtifactNode[] = [];
  const sorted = [...d.recipients].sort((a, b) => Number(b.yours) - Number(a.yours));
  for (const r of sorted) {
    const [first, ...rest] = r.names;
    const label = first ? `${first.name}${first.source === 'keystore' ? (first.state && first.state !== 'active' ? ` (yours, ${first.state})` : ' (yours)') : ` (${SOURCE_WORDS[first.source] ?? first.source})`}` : 'not named';
    const others = rest.map((n) => `${n.name} (${SOURCE_WORDS[n.source] ?? n.source})`);
    rows.push({
      type: 'detail',
      label,
      value: [...others, shortRecipient(r.recipient)].join(' · '),
      tooltip: recipientTooltip(r),
      icon: r.yours ? 'key' : r.names.length ? 'person' : 'question',
      copy: r.recipient,
    });
  }
  if (d.unaccounted > 0) {
    rows.push({
      type: 'detail',
      label: `${d.unaccounted} more`,
      value: d.recipients.length || d.openedBy.length ? 'not named: Keyward did not record them (age does not say whom a stanza is for)' : 'none of your keys opens it, so Keyward cannot read whom it is for',
      icon: 'question',
    });
  }
  return rows;
}

function recipientTooltip(r: RecipientView): string {
  const lines = [r.recipient, `type: ${r.type}`];
  for (const n of r.names) lines.push(`${n.name}: ${SOURCE_WORDS[n.source] ?? n.source}${n.file ? ` (${n.file})` : ''}${n.state ? `, ${n.state}` : ''}`);
  if (!r.names.length) lines.push('Keyward knows no name for it: not one of your keys, not in the team policy or .sops.yaml');
  return lines.join('\n');
}

function dataKeyRow(d: ArtifactDescription | undefined): ArtifactNode {
  if (d?.dataKeyId) {
    return { type: 'detail', label: 'Data key', value: `#${d.dataKeyId} · a rotation changes it, a rewrap keeps it`, tooltip: 'A fingerprint of the data key (never the key): it changes when the data key is rotated, and stays the same when recipients are added or removed (rewrap, header only).', icon: 'symbol-key' };
  }
  return { type: 'detail', label: 'Data key', value: 'unknown: none of your keys opens it', icon: 'symbol-key' };
}

async function describeOrError(store: InventoryStore, file: string): Promise<{ d?: ArtifactDescription; error?: ArtifactNode }> {
  try {
    return { d: await store.describe(file) };
  } catch (e) {
    return { error: { type: 'detail', label: 'Recipients', value: describeError(e), warning: true } };
  }
}

async function modelDetails(m: ModelArtifact, store: InventoryStore): Promise<ArtifactNode[]> {
  const s = m.status;
  const out: ArtifactNode[] = [];
  out.push({ type: 'detail', label: 'Format', value: s.encrypted ? `age v1${s.armored ? ', armored' : ', binary'}${s.size !== undefined ? `, ${formatBytes(s.size)}` : ''}` : 'plaintext' });
  if (s.encrypted) {
    const { d, error } = await describeOrError(store, s.path);
    out.push(dataKeyRow(d));
    if (d) {
      out.push({ type: 'detail', label: 'Recipients', value: stanzaText(d.stanzas), icon: 'organization' });
      out.push(...recipientRows(d));
    } else if (error) out.push(error);
  }
  for (const ref of s.keys) {
    const v = store.findKeyVersion(ref);
    const due = v?.rotation === 'due' ? ' · rotation due' : v?.rotation === 'due-soon' ? ' · rotation due soon' : '';
    out.push({ type: 'detail', label: 'Opened by', value: `${ref}${v ? ` · ${v.state}` : ''}${due}`, warning: v?.rotation === 'due' || (v !== undefined && v.state !== 'active') });
  }
  if (s.encrypted && s.keys.length === 0) out.push({ type: 'detail', label: 'Opened by', value: 'none of your keys', warning: true });
  if (m.mtime) out.push({ type: 'detail', label: 'Last rotated or rewrapped', value: m.mtime.toLocaleString() });
  if (s.rule) out.push({ type: 'detail', label: 'Policy', value: `${s.rule.glob} → ${s.rule.recipients.join(', ') || 'no recipients'}` });
  for (const w of [...s.warnings.map((x) => x.message), ...m.notes]) out.push({ type: 'detail', label: 'Warning', value: w, warning: true });
  return out;
}

function secretItem(c: SecretConfig): vscode.TreeItem {
  const t = new vscode.TreeItem(path.basename(c.path), vscode.TreeItemCollapsibleState.Collapsed);
  t.id = `sops:${c.path}`;
  t.resourceUri = vscode.Uri.file(c.path);
  const warn = c.warnings.length > 0 || c.error !== undefined;
  t.iconPath = new vscode.ThemeIcon(warn ? 'warning' : 'file-symlink-file', warn ? new vscode.ThemeColor('list.warningForeground') : undefined);
  const parts: string[] = [];
  const dir = path.relative(c.folder.uri.fsPath, path.dirname(c.path));
  if (dir) parts.push(`${dir}/`);
  if (c.info) {
    parts.push(`sops ${c.info.format}`);
    const refs = keyRefs(c);
    parts.push(refs.length ? refs.join(', ') : `${keyCount(c)} recipients`);
  }
  if (c.error) parts.push(`⚠ ${c.error}`);
  else if (c.warnings.length) parts.push(`⚠ ${c.warnings.join('; ')}`);
  t.description = parts.join(' · ');
  t.contextValue = c.info?.canDecrypt ? 'secretConfig' : 'secretConfigLocked';
  if (c.info?.canDecrypt) {
    t.command = { command: 'keyward.openDecrypted', title: 'Open Decrypted', arguments: [vscode.Uri.file(c.path)] };
  }
  t.tooltip = `${c.path}${c.info ? `\nsops ${c.info.format}, ${keyCount(c)} master keys, last modified ${c.info.lastModified}` : ''}${c.warnings.map((w) => `\n⚠ ${w}`).join('')}`;
  return t;
}

async function secretDetails(c: SecretConfig, store: InventoryStore): Promise<ArtifactNode[]> {
  if (!c.info) return c.error ? [{ type: 'detail', label: 'Error', value: c.error, warning: true }] : [];
  const i = c.info;
  const out: ArtifactNode[] = [{ type: 'detail', label: 'Format', value: `sops ${i.format} (sops ${i.version})` }];
  const { d, error } = await describeOrError(store, c.path);
  out.push(dataKeyRow(d));
  const keys = i.keyGroups.flat();
  out.push({ type: 'detail', label: 'Recipients', value: `${keys.length}${i.keyGroups.length > 1 ? ` in ${i.keyGroups.length} groups (threshold ${i.shamirThreshold ?? i.keyGroups.length})` : ''}`, icon: 'organization' });
  if (d) out.push(...recipientRows(d));
  else if (error) out.push(error);
  out.push({ type: 'detail', label: 'Last modified', value: new Date(i.lastModified).toLocaleString() });
  if (c.plan?.add.length) out.push({ type: 'detail', label: '.sops.yaml adds', value: c.plan.add.map(short).join(', '), warning: true });
  if (c.plan?.remove.length) out.push({ type: 'detail', label: '.sops.yaml removes', value: c.plan.remove.map(short).join(', '), warning: true });
  for (const w of c.warnings) {
    const stale = /^encrypted to \S+, which is (deactivated|compromised|destroyed|suspended)/.test(w);
    out.push({ type: 'detail', label: 'Warning', value: stale ? `${w}: click to update .sops.yaml and re-encrypt` : w, warning: true, ...(stale ? { fix: 'sops-recipients' as const, file: c.path } : {}) });
  }
  return out;
}

function keyRefs(c: SecretConfig): string[] {
  return (c.info?.keyGroups.flat() ?? []).map((k) => k.ref).filter((r): r is string => !!r);
}

function keyCount(c: SecretConfig): number {
  return c.info?.keyGroups.flat().length ?? 0;
}

function short(id: string): string {
  return id.length > 24 ? `${id.slice(0, 12)}…${id.slice(-8)}` : id;
}

function escape(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
