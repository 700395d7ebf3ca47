// What the command modules share: registration with uniform error reporting, and turning
// a command's arguments (a tree item, an Explorer selection, nothing) into files.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode, type KeyInfo } from '../../daemon/protocol';
import { describeError, isDaemonError } from '../client/errors';
import type { Services } from '../services';
import type { ArtifactNode } from '../views/artifacts';
import type { KeyNode } from '../views/keys';
import { encryptedUri, SCHEME } from '../sops/fs';
import { isSopsText } from '../sops/detect';
import { promises as fsp } from 'node:fs';

/** Registers a command whose failures become one actionable notification. */
export function register(s: Services, id: string, title: string, fn: (...args: unknown[]) => Promise<unknown>): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      return await fn(...args);
    } catch (e) {
      if (isDaemonError(e, ErrorCode.Cancelled)) return undefined;
      s.log.error(`${id}: ${describeError(e)}`);
      await showError(describeError(e, title), e);
      return undefined;
    }
  });
}

/**
 * The daemon's hints name CLI commands (its CLI users read them too): each gets the button of the
 * VS Code command that does the same, so nobody has to find a terminal for it.
 */
const HINT_COMMANDS: readonly [RegExp, string, string][] = [
  [/keyward keys import/, 'Import Key', 'keyward.importKey'],
  [/keyward keys rotate/, 'Rotate Identity', 'keyward.rotateIdentity'],
  [/keyward keys (state|list)/, 'Show Keys', 'keyward.keys.focus'],
  [/keyward (sops updatekeys|rewrap)/, 'Rewrap Recipients', 'keyward.rewrapRecipients'],
  [/keyward (rotate|sops rotate)/, 'Rotate Data Key', 'keyward.rotateDataKey'],
  [/keyward decrypt/, 'Decrypt to…', 'keyward.decryptTo'],
  [/keyward encrypt/, 'Encrypt File', 'keyward.encryptFile'],
  [/keyward hook/, 'Install Pre-commit Hook', 'keyward.installHook'],
  [/keyward scan/, 'Scan Workspace', 'keyward.scanWorkspace'],
  [/keyward audit/, 'Show Audit Log', 'keyward.showAuditLog'],
  [/keyward daemon/, 'Restart Daemon', 'keyward.restartDaemon'],
];

/** Buttons for an error: by its code, then by the CLI commands its text names. */
export function errorActions(message: string, e?: unknown): { label: string; command: string }[] {
  const out: { label: string; command: string }[] = [];
  const add = (label: string, command: string): void => {
    if (!out.some((x) => x.label === label)) out.push({ label, command });
  };
  if (isDaemonError(e, ErrorCode.KeystoreLocked)) add('Unlock Keystore', 'keyward.unlockKeystore');
  if (isDaemonError(e, ErrorCode.DaemonUnavailable) || isDaemonError(e, ErrorCode.Unauthorized) || isDaemonError(e, ErrorCode.MethodNotFound)) add('Restart Daemon', 'keyward.restartDaemon');
  if (isDaemonError(e, ErrorCode.DecryptFailed)) add('Import Key', 'keyward.importKey');
  for (const [re, label, command] of HINT_COMMANDS) if (re.test(message)) add(label, command);
  return out.slice(0, 2);
}

export async function showError(message: string, e?: unknown): Promise<void> {
  const actions = [...errorActions(message, e), { label: 'Show Log', command: 'keyward.showLog' }];
  const pick = await vscode.window.showErrorMessage(message, ...actions.map((a) => a.label));
  const cmd = actions.find((a) => a.label === pick)?.command;
  if (cmd) await vscode.commands.executeCommand(cmd);
}

/** Files a command was invoked on: tree items, Explorer selections, or the active editor. */
export function filesOf(arg: unknown, more: unknown): string[] {
  const out: string[] = [];
  const add = (x: unknown): void => {
    if (x instanceof vscode.Uri) {
      if (x.scheme === 'file') out.push(x.fsPath);
      else if (x.scheme === SCHEME) out.push(encryptedUri(x).fsPath);
      return;
    }
    const node = x as ArtifactNode | undefined;
    if (node?.type === 'model') out.push(node.item.status.encrypted ? node.item.status.path : node.item.status.plaintext);
    else if (node?.type === 'secret') out.push(node.item.path);
    else if (node?.type === 'detail' && node.file) out.push(node.file);
  };
  const scripted = arg as { files?: unknown } | undefined;
  if (scripted && Array.isArray(scripted.files)) {
    // Scripted use (tests, other extensions): { files: ['/abs/path', ...], yes?: true }.
    for (const f of scripted.files) if (typeof f === 'string') out.push(f);
    return out;
  }
  if (Array.isArray(more) && more.length > 0) more.forEach(add);
  else add(arg);
  if (out.length === 0 && arg === undefined) {
    const doc = vscode.window.activeTextEditor?.document;
    if (doc) add(doc.uri);
  }
  return [...new Set(out)];
}

export function keyNameOf(arg: unknown): string | undefined {
  const n = arg as KeyNode | undefined;
  if (n?.type === 'key') return n.key.name;
  if (n?.type === 'version') return n.key.name;
  return typeof arg === 'string' ? arg : undefined;
}

export function keyRefOf(arg: unknown): string | undefined {
  const n = arg as KeyNode | undefined;
  if (n?.type === 'version') return n.version.ref;
  if (n?.type === 'key') return n.key.current?.ref ?? n.key.name;
  return typeof arg === 'string' ? arg : undefined;
}

export async function isSopsFile(file: string): Promise<boolean> {
  try {
    const st = await fsp.stat(file);
    if (st.size > 64 * 1024 * 1024) return false;
    return isSopsText(await fsp.readFile(file, 'utf8'), file);
  } catch {
    return false;
  }
}

/** Splits files into age artifacts and sops files (anything else is neither). */
export async function partition(files: string[]): Promise<{ age: string[]; sops: string[]; other: string[] }> {
  const r = { age: [] as string[], sops: [] as string[], other: [] as string[] };
  for (const f of files) {
    if (f.endsWith('.age')) r.age.push(f);
    else if (await isSopsFile(f)) r.sops.push(f);
    else r.other.push(f);
  }
  return r;
}

/** Lets the user pick encrypted artifacts of the workspace (models and secret configs). */
export async function pickArtifacts(s: Services, title: string, filter: (kind: 'model' | 'sops') => boolean = () => true): Promise<string[] | undefined> {
  const inv = await s.inventory.refresh();
  const items: (vscode.QuickPickItem & { file: string })[] = [];
  for (const f of inv.folders) {
    if (filter('model')) {
      for (const m of f.models) {
        if (!m.status.encrypted) continue;
        items.push({ label: `$(database) ${path.relative(f.folder.uri.fsPath, m.status.path)}`, description: m.status.keys.join(', ') || 'no key of yours', file: m.status.path });
      }
    }
    if (filter('sops')) {
      for (const c of f.secrets) {
        const refs = c.info?.keyGroups.flat().map((k) => k.ref ?? k.id.slice(0, 16)) ?? [];
        items.push({ label: `$(symbol-key) ${path.relative(f.folder.uri.fsPath, c.path)}`, description: refs.join(', '), file: c.path });
      }
    }
  }
  if (items.length === 0) {
    void vscode.window.showInformationMessage('No encrypted artifacts in this workspace yet: encrypt a file first (Keyward: Encrypt File).');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(items, { canPickMany: true, title, placeHolder: 'Select the files' });
  return picked?.length ? picked.map((p) => p.file) : undefined;
}

/** Lets the user pick keys (names) from the keystore. */
export async function pickKeys(s: Services, title: string, opts: { many?: boolean; preselect?: string[]; activeOnly?: boolean } = {}): Promise<string[] | undefined> {
  const keys = (await s.conn.call('keysList', {})).keys.filter((k) => !opts.activeOnly || k.current?.state === 'active');
  if (keys.length === 0) {
    const gen = 'Generate Key';
    if ((await vscode.window.showWarningMessage('Your keystore has no usable key yet.', gen)) === gen) await vscode.commands.executeCommand('keyward.generateKey');
    return undefined;
  }
  const items = keys.map((k) => keyItem(k, opts.preselect));
  if (opts.many) {
    const picked = await vscode.window.showQuickPick(items, { canPickMany: true, title });
    return picked?.length ? picked.map((p) => p.label) : undefined;
  }
  const one = await vscode.window.showQuickPick(items, { title });
  return one ? [one.label] : undefined;
}

function keyItem(k: KeyInfo, preselect?: string[]): vscode.QuickPickItem {
  return {
    label: k.name,
    description: k.current ? `${k.current.ref} · ${k.current.state}${k.current.kind === 'mlkem768x25519' ? ' · post-quantum' : ''}` : 'no usable version',
    picked: preselect?.includes(k.name) ?? false,
  };
}

/** Whom to encrypt to: keys of the keystore, and recipients pasted in (a teammate's `age1...`). */
export interface Recipients {
  keys: string[];
  recipients: string[];
}

const RECIPIENT = /^age1[0-9a-z]{20,}$/;

/** The age recipients in pasted text (separated by spaces, commas or lines), or undefined if anything else is in it. */
export function pastedRecipients(text: string): string[] | undefined {
  const parts = text.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
  if (parts.length === 0 || !parts.every((p) => RECIPIENT.test(p))) return undefined;
  return [...new Set(parts)];
}

/**
 * Picks keys from the keystore, or takes recipients pasted into the box (`age1...`,
 * `age1pq1...`): a teammate can be added without a key of theirs in this keystore.
 */
export async function pickRecipients(s: Services, title: string, opts: { preselect?: string[]; activeOnly?: boolean } = {}): Promise<Recipients | undefined> {
  const keys = (await s.conn.call('keysList', {})).keys.filter((k) => !opts.activeOnly || k.current?.state === 'active');
  type Item = vscode.QuickPickItem & { recipient?: string };
  const keyItems: Item[] = keys.map((k) => keyItem(k, opts.preselect));
  const qp = vscode.window.createQuickPick<Item>();
  qp.title = title;
  qp.canSelectMany = true;
  qp.placeholder = keys.length ? 'Select keys, or paste a recipient (age1…) to add someone else' : 'Paste a recipient (age1…): your keystore has no usable key';
  qp.items = keyItems;
  qp.selectedItems = keyItems.filter((i) => i.picked);
  const pasted: Item[] = [];
  const onValue = (v: string): void => {
    const rs = pastedRecipients(v) ?? [];
    const fresh = rs.filter((r) => !pasted.some((p) => p.recipient === r) && !keys.some((k) => k.versions.some((x) => x.recipient === r)));
    if (!fresh.length) return;
    const selected = qp.selectedItems;
    for (const r of fresh) pasted.push({ label: `$(person-add) ${r.slice(0, 16)}…${r.slice(-6)}`, description: 'recipient pasted in', detail: r, recipient: r, alwaysShow: true });
    qp.items = [...pasted, ...keyItems];
    qp.selectedItems = [...selected, ...pasted.filter((p) => fresh.includes(p.recipient!))];
    qp.value = '';
  };
  try {
    return await new Promise<Recipients | undefined>((resolve) => {
      qp.onDidChangeValue(onValue);
      qp.onDidAccept(() => {
        onValue(qp.value);
        const chosen = qp.selectedItems;
        if (chosen.length === 0) return;
        resolve({ keys: chosen.filter((c) => !c.recipient).map((c) => c.label), recipients: chosen.flatMap((c) => (c.recipient ? [c.recipient] : [])) });
        qp.hide();
      });
      qp.onDidHide(() => resolve(undefined));
      qp.show();
    });
  } finally {
    qp.dispose();
  }
}

/** Whether a scripted call asked to skip confirmations: `{ files, yes: true }`. */
export function confirmed(arg: unknown): boolean {
  return (arg as { yes?: unknown } | undefined)?.yes === true;
}
