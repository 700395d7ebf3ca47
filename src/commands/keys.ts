// Commands on keys: Generate, Import, Export Public Key, Copy Recipient, Rotate Identity, the
// lifecycle (activate, suspend, mark compromised, destroy) and Unlock Keystore. Secret keys never
// reach the extension: export is public only.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { KeyName, type KeyVersionInfo } from '../../daemon/protocol';
import { count } from '../format';
import { jobSummary, runJob } from '../jobs';
import type { Services } from '../services';
import { confirmed, keyNameOf, keyRefOf, pickKeys, register } from './util';

export function registerKeyCommands(s: Services): vscode.Disposable[] {
  return [
    register(s, 'keyward.generateKey', 'Generating the key', (arg) => generateKey(s, arg)),
    register(s, 'keyward.importKey', 'Importing the key', (arg) => importKey(s, arg)),
    register(s, 'keyward.exportPublicKey', 'Exporting the public key', (arg) => exportPublic(s, arg)),
    register(s, 'keyward.copyRecipient', 'Copying the recipient', (arg) => copyRecipient(s, arg)),
    register(s, 'keyward.rotateIdentity', 'Rotating the identity', (arg) => rotateIdentity(s, arg)),
    register(s, 'keyward.unlockKeystore', 'Unlocking the keystore', () => unlockKeystore(s)),
    register(s, 'keyward.activateKey', 'Activating the key', (arg) => setState(s, arg, 'active')),
    register(s, 'keyward.suspendKey', 'Suspending the key', (arg) => setState(s, arg, 'suspended')),
    register(s, 'keyward.markCompromised', 'Marking the key compromised', (arg) => markCompromised(s, arg)),
    register(s, 'keyward.destroyKey', 'Destroying the key', (arg) => destroyKey(s, arg)),
  ];
}

function validateName(v: string): string | undefined {
  const r = KeyName.safeParse(v);
  return r.success ? undefined : (r.error.issues[0]?.message ?? 'invalid name');
}

/** Scripted: `{ name, pq?, cryptoperiodDays? }` generates without asking. */
async function generateKey(s: Services, arg: unknown): Promise<string | undefined> {
  const scripted = arg as { name?: string; pq?: boolean; cryptoperiodDays?: number } | undefined;
  let name = scripted?.name;
  let pq = scripted?.pq;
  if (!name) {
    name = await vscode.window.showInputBox({ title: 'Generate Key', prompt: 'A name for the key (lowercase letters, digits, ".", "-", "_")', placeHolder: 'alice', validateInput: validateName });
    if (!name) return undefined;
    const kind = await vscode.window.showQuickPick(
      [
        { label: 'X25519', description: 'age’s standard key: works with every age and sops version', pq: false },
        { label: 'Post-quantum (ML-KEM-768 + X25519)', description: 'age1pq1…: needs age ≥ 1.3 to decrypt outside Keyward', pq: true },
      ],
      { title: `Kind of key for ${name}` },
    );
    if (!kind) return undefined;
    pq = kind.pq;
  }
  const r = await s.conn.call('keysGenerate', { name, ...(pq ? { pq } : {}), ...(scripted?.cryptoperiodDays ? { cryptoperiodDays: scripted.cryptoperiodDays } : {}) });
  s.refresh();
  if (!scripted?.name) {
    const copy = 'Copy Recipient';
    void vscode.window.showInformationMessage(`Generated ${r.key.ref}; the secret key is in your keychain. Its recipient (public) is ${r.key.recipient.slice(0, 20)}…`, copy).then(async (p) => {
      if (p === copy) await vscode.env.clipboard.writeText(r.key.recipient);
    });
  }
  return r.key.ref;
}

async function importKey(s: Services, arg: unknown): Promise<void> {
  const scripted = arg as { name?: string; path?: string } | undefined;
  let file = scripted?.path;
  if (!file) {
    const picked = await vscode.window.showOpenDialog({ title: 'Import an age identity file (age-keygen output, sops keys.txt)', canSelectMany: false, openLabel: 'Import' });
    if (!picked?.[0]) return;
    file = picked[0].fsPath;
  }
  let name = scripted?.name;
  if (!name) {
    const suggestion = path.basename(file).replace(/\.[^.]*$/, '').toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '');
    name = await vscode.window.showInputBox({ title: 'Import Key', prompt: 'A name for the imported key', value: suggestion, validateInput: validateName });
    if (!name) return;
  }
  const r = await s.conn.call('keysImport', { name, path: file });
  s.refresh();
  void vscode.window.showInformationMessage(
    `Imported ${r.imported.map((k) => k.ref).join(', ')} into your keystore. The file ${path.basename(file)} still holds the secret key: delete it once you no longer need it.`,
  );
}

async function exportPublic(s: Services, arg: unknown): Promise<void> {
  const ref = keyRefOf(arg) ?? (await pickKeys(s, 'Export the public key (recipient) of which key?'))?.[0];
  if (!ref) return;
  const r = await s.conn.call('keysExport', { ref });
  const doc = await vscode.workspace.openTextDocument({ language: 'plaintext', content: `# ${r.ref}: the public recipient; share it with whoever encrypts for you\n${r.recipient}\n` });
  await vscode.window.showTextDocument(doc, { preview: true });
  await vscode.env.clipboard.writeText(r.recipient);
  void vscode.window.showInformationMessage(`The recipient of ${r.ref} is in the clipboard.`);
}

async function copyRecipient(s: Services, arg: unknown): Promise<void> {
  const detail = arg as { type?: string; copy?: string } | undefined;
  if (detail?.type === 'detail' && detail.copy) {
    await vscode.env.clipboard.writeText(detail.copy);
    return;
  }
  const ref = keyRefOf(arg) ?? (await pickKeys(s, 'Copy the recipient of which key?'))?.[0];
  if (!ref) return;
  const r = await s.conn.call('keysExport', { ref });
  await vscode.env.clipboard.writeText(r.recipient);
  void vscode.window.setStatusBarMessage(`Keyward: copied the recipient of ${r.ref}`, 4000);
}

/**
 * A new version of the identity; artifacts the previous version opens are then rewrapped to
 * the new one (header only), and the previous version is deactivated (decrypt only).
 */
async function rotateIdentity(s: Services, arg: unknown): Promise<void> {
  const scripted = arg as { name?: string; yes?: boolean } | undefined;
  const name = scripted?.name ?? keyNameOf(arg) ?? (await pickKeys(s, 'Rotate which identity?', { activeOnly: true }))?.[0];
  if (!name) return;
  if (!scripted?.yes) {
    const ok = await vscode.window.showWarningMessage(
      `Rotate ${name}? A new version is generated; files opened by the current version are rewrapped to the new one, and the current version is then kept for decryption only.`,
      { modal: true },
      'Rotate',
    );
    if (ok !== 'Rotate') return;
  }
  const r = await s.conn.call('keysRotate', { name, keepPrevious: true });
  const previous = r.previous.ref;
  const inv = await s.inventory.refresh();
  const files = inv.folders.flatMap((f) => f.models.filter((m) => m.status.keys.includes(previous)).map((m) => m.status.path));
  if (files.length) {
    const out = await runJob(
      s.conn,
      `Rewrapping ${files.length} file${files.length === 1 ? '' : 's'} to ${r.key.ref}`,
      () => s.conn.call('artifactsRewrap', { files, addKeys: [r.key.ref], removeKeys: [previous], onlyIfOpenedBy: [previous] }),
      s.log,
    );
    const sum = jobSummary('Rewrap', out.job);
    if (!sum.ok || out.cancelled) {
      s.refresh();
      void vscode.window.showWarningMessage(`${sum.text} ${previous} stays active until every file is rewrapped: run "Keyward: Rotate Identity" again later, or rewrap the rest.`);
      return;
    }
  }
  await s.conn.call('keysSetState', { ref: previous, state: 'deactivated', reason: `rotated to ${r.key.ref}` });
  s.refresh();
  const configs = inv.folders.flatMap((f) => f.secrets).filter((c) => c.info?.keyGroups.flat().some((k) => k.ref === previous));
  const done = `${name} is now ${r.key.ref}; ${previous} decrypts only. ${count(files.length, 'model file')} rewrapped.`;
  if (!configs.length) {
    void vscode.window.showInformationMessage(done);
    return;
  }
  // Secret configs still open with the old version (it decrypts), but new ones should not go to it.
  const fix = 'Update .sops.yaml and Re-encrypt';
  const pick = await vscode.window.showInformationMessage(`${done} ${count(configs.length, 'secret config')} ${configs.length === 1 ? 'is' : 'are'} still encrypted to ${previous}.`, fix);
  if (pick === fix) await vscode.commands.executeCommand('keyward.fixSopsRecipients', { files: configs.map((c) => c.path) });
}

/** The key version a command was invoked on (a version or key node, `name@vN`, or asked for). */
async function versionOf(s: Services, arg: unknown, title: string): Promise<KeyVersionInfo | undefined> {
  const scripted = (arg as { ref?: string } | undefined)?.ref;
  const ref = scripted ?? keyRefOf(arg) ?? (await pickKeys(s, title))?.[0];
  if (!ref) return undefined;
  const keys = (await s.conn.call('keysList', {})).keys;
  for (const k of keys) {
    if (k.name === ref && k.current) return k.current;
    const v = k.versions.find((x) => x.ref === ref);
    if (v) return v;
  }
  throw new Error(`no key version ${ref}`);
}

async function setState(s: Services, arg: unknown, state: 'active' | 'suspended'): Promise<void> {
  const v = await versionOf(s, arg, state === 'active' ? 'Activate which key?' : 'Suspend which key?');
  if (!v) return;
  if (state === 'suspended' && !confirmed(arg)) {
    const ok = await vscode.window.showWarningMessage(
      `Suspend ${v.ref}?`,
      { modal: true, detail: 'A suspended key neither encrypts nor decrypts until it is activated again: files only it opens cannot be opened meanwhile. Nothing is deleted.' },
      'Suspend',
    );
    if (ok !== 'Suspend') return;
  }
  const r = await s.conn.call('keysSetState', { ref: v.ref, state });
  s.refresh();
  void vscode.window.showInformationMessage(state === 'active' ? `${r.key.ref} is active: it encrypts and decrypts again.` : `${r.key.ref} is suspended: it neither encrypts nor decrypts until you activate it.`);
}

async function markCompromised(s: Services, arg: unknown): Promise<void> {
  const v = await versionOf(s, arg, 'Which key is compromised?');
  if (!v) return;
  const scripted = arg as { reason?: string } | undefined;
  const reason =
    scripted?.reason ??
    (await vscode.window.showInputBox({
      title: `Mark ${v.ref} compromised`,
      prompt: 'What happened? (kept in the audit log: a lost laptop, a key pasted in a chat…)',
      placeHolder: 'laptop stolen on 2026-05-02',
      validateInput: (x) => (x.trim().length >= 3 ? undefined : 'Say briefly what happened'),
      ignoreFocusOut: true,
    }));
  if (!reason) return;
  const r = await s.conn.call('keysSetState', { ref: v.ref, state: 'compromised', reason: reason.trim() });
  s.refresh();
  // A compromised key may still decrypt (to recover data), never encrypt: what it opens must move.
  const rotate = 'Rotate Identity';
  const rotateData = 'Rotate Data Keys';
  const pick = await vscode.window.showWarningMessage(
    `${r.key.ref} is marked compromised: it no longer encrypts. Whoever holds it can open files encrypted to it: rotate ${v.name} to a new version, then rotate the data keys of those files.`,
    rotate,
    rotateData,
  );
  if (pick === rotate) await vscode.commands.executeCommand('keyward.rotateIdentity', v.name);
  else if (pick === rotateData) await vscode.commands.executeCommand('keyward.rotateDataKey');
}

async function destroyKey(s: Services, arg: unknown): Promise<void> {
  const v = await versionOf(s, arg, 'Destroy which key version?');
  if (!v) return;
  const inv = s.inventory.current;
  const only = (inv?.folders.flatMap((f) => f.models) ?? []).filter((m) => m.status.keys.length === 1 && m.status.keys[0] === v.ref).map((m) => path.basename(m.status.path));
  const typed =
    (arg as { confirm?: string } | undefined)?.confirm ??
    (await vscode.window.showInputBox({
      title: `Destroy ${v.ref}`,
      prompt: `Deletes the secret key from your keychain for good: whatever only it protects can never be decrypted again${only.length ? ` (here: ${only.slice(0, 3).join(', ')}${only.length > 3 ? ` and ${only.length - 3} more` : ''})` : ''}. Type ${v.ref} to confirm.`,
      placeHolder: v.ref,
      validateInput: (x) => (x === v.ref ? undefined : `Type ${v.ref} exactly to destroy it`),
      ignoreFocusOut: true,
    }));
  if (typed !== v.ref) return;
  const r = await s.conn.call('keysDestroy', { ref: v.ref });
  s.refresh();
  void vscode.window.showInformationMessage(`${r.key.ref} is destroyed: its secret key is gone from the keychain, and the audit log records it.`);
}

async function unlockKeystore(s: Services): Promise<void> {
  const passphrase = await vscode.window.showInputBox({ title: 'Unlock Keystore', prompt: 'The passphrase of the file keystore', password: true, ignoreFocusOut: true });
  if (!passphrase) return;
  await s.conn.call('keystoreUnlock', { passphrase });
  s.refresh();
  void vscode.window.setStatusBarMessage('Keyward: keystore unlocked', 4000);
}
