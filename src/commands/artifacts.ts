// Commands on encrypted artifacts: Encrypt File, Decrypt to…, Open Decrypted, Show Encrypted
// File, Rotate Data Key, Rewrap Recipients, Update .sops.yaml and Re-encrypt, Sync Team
// Recipients, Reveal, and the conflict helpers of the decrypted view. Long work runs as daemon
// jobs (jobs.ts): progress in percent and bytes, and a Cancel that stops it.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode, type JobInfo } from '../../daemon/protocol';
import { isDaemonError } from '../client/errors';
import { askTrust, withConsent } from '../trust';
import { settings } from '../config';
import { AGE_EDITOR } from '../editor/ageEditor';
import { count, displayPath } from '../format';
import { jobSummary, runJob } from '../jobs';
import type { Services } from '../services';
import { formatOf } from '../sops/detect';
import { decryptedUri, DISK_QUERY, encryptedUri, SCHEME, type SopsFileSystem } from '../sops/fs';
import type { SopsTabs } from '../sops/tabs';
import { confirmed, filesOf, isSopsFile, partition, pickArtifacts, pickRecipients, register, showError, type Recipients } from './util';

export function registerArtifactCommands(s: Services, fs: SopsFileSystem, tabs: SopsTabs): vscode.Disposable[] {
  return [
    register(s, 'keyward.encryptFile', 'Encrypting', (arg, more) => encryptFile(s, arg, more)),
    register(s, 'keyward.decryptTo', 'Decrypting', (arg, more) => decryptTo(s, arg, more)),
    register(s, 'keyward.openDecrypted', 'Opening decrypted', (arg, more) => openDecrypted(s, fs, filesOf(arg, more))),
    register(s, 'keyward.openRaw', 'Showing the encrypted file', async (arg) => {
      const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
      if (!uri) return;
      const file = uri.scheme === SCHEME ? encryptedUri(uri) : uri;
      tabs.allowRaw(file.fsPath);
      await vscode.commands.executeCommand('vscode.openWith', file, 'default');
    }),
    register(s, 'keyward.rotateDataKey', 'Rotating the data key', (arg, more) => rotateDataKey(s, filesOf(arg, more), confirmed(arg))),
    register(s, 'keyward.rewrapRecipients', 'Rewrapping', (arg, more) => rewrap(s, filesOf(arg, more))),
    register(s, 'keyward.fixSopsRecipients', 'Updating .sops.yaml', (arg) => fixSopsRecipients(s, arg)),
    register(s, 'keyward.syncTeamRecipients', 'Syncing team recipients', (arg) => syncTeam(s, arg)),
    register(s, 'keyward.reveal', 'Revealing', async (arg) => {
      const file = filesOf(arg, undefined)[0];
      if (file) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(file));
    }),
    register(s, 'keyward.compareWithDisk', 'Comparing', async (arg) => {
      const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
      if (!uri || uri.scheme !== SCHEME) throw new Error('open a secret config decrypted first');
      const disk = uri.with({ query: DISK_QUERY });
      await vscode.commands.executeCommand('vscode.diff', disk, uri.with({ query: '' }), `${path.basename(uri.path)} (on disk) ↔ (your edits)`);
    }),
    register(s, 'keyward.overwriteOnDisk', 'Overwriting', async (arg) => {
      const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
      if (!uri || uri.scheme !== SCHEME) throw new Error('open a secret config decrypted first');
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.with({ query: '' }).toString());
      if (!doc) throw new Error('the decrypted editor is closed');
      await fs.overwrite(doc.uri, doc.getText());
      // The file now holds the editor's text: reloading it makes the editor clean.
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('workbench.action.files.revert');
      s.refresh();
    }),
  ];
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

function names(files: string[]): string {
  return files.length === 1 ? path.basename(files[0]!) : `${files.length} files`;
}

/**
 * Where each file's encrypted copy goes: FILE.age, unless it exists, in which case the user says
 * whether to replace it or choose another name, before being asked anything else.
 */
async function encryptOutputs(files: string[], yes: boolean): Promise<{ outputs: Record<string, string>; overwrite: boolean } | undefined> {
  const outputs: Record<string, string> = {};
  let overwrite = false;
  for (const f of files) {
    const out = `${f}.age`;
    if (!(await exists(out))) continue;
    if (yes) {
      overwrite = true;
      continue;
    }
    const replace = 'Replace';
    const other = 'Choose Another…';
    const pick = await vscode.window.showWarningMessage(
      `${path.basename(out)} already exists.`,
      { modal: true, detail: `Replace it with a new encryption of ${path.basename(f)}, or write the encrypted copy under another name. Nothing is asked or written before you choose.` },
      replace,
      other,
    );
    if (pick === replace) overwrite = true;
    else if (pick === other) {
      const chosen = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(path.dirname(f), `${path.basename(f)}.new.age`)), title: `Encrypt ${path.basename(f)} to…`, saveLabel: 'Encrypt Here' });
      if (!chosen) return undefined;
      outputs[f] = chosen.fsPath;
      // The save dialog has asked about replacing it already.
      if (await exists(chosen.fsPath)) overwrite = true;
    } else return undefined;
  }
  return { outputs, overwrite };
}

async function encryptFile(s: Services, arg: unknown, more: unknown): Promise<void> {
  let files = filesOf(arg, more);
  const yes = confirmed(arg);
  const scripted = arg as Partial<Recipients> | undefined;
  if (files.length === 0) {
    const picked = await vscode.window.showOpenDialog({ canSelectMany: true, title: 'Encrypt which files?', openLabel: 'Encrypt' });
    if (!picked) return;
    files = picked.map((u) => u.fsPath);
  }
  files = files.filter((f) => !f.endsWith('.age'));
  if (files.length === 0) throw new Error('these files are encrypted already');
  const configs = files.filter((f) => formatOf(f) !== undefined);
  let asSops = false;
  if (configs.length === files.length && !yes) {
    const choice = await vscode.window.showQuickPick(
      [
        { label: 'As a sops secret config', description: 'value by value: keys stay readable, diffs stay small; sops -d opens it', sops: true },
        { label: 'As an age file', description: 'the whole file, to FILE.age; age -d opens it', sops: false },
      ],
      { title: `Encrypt ${names(files)}` },
    );
    if (!choice) return;
    asSops = choice.sops;
  }
  if (asSops) return encryptSops(s, files);

  const placed = await encryptOutputs(files, yes);
  if (!placed) return;
  const who: Recipients | undefined =
    scripted?.keys || scripted?.recipients
      ? { keys: scripted.keys ?? [], recipients: scripted.recipients ?? [] }
      : await pickRecipients(s, `Encrypt ${names(files)} to whom?`, { activeOnly: true, preselect: settings().defaultKeys });
  if (!who) return;
  const out = await runJob(
    s.conn,
    `Encrypting ${names(files)}`,
    () => s.conn.call('artifactsEncrypt', { files, keys: who.keys, recipients: who.recipients, ...(Object.keys(placed.outputs).length ? { outputs: placed.outputs } : {}), ...(placed.overwrite ? { overwrite: true } : {}) }),
    s.log,
  );
  s.refresh();
  const j = out.job;
  if (j.state === 'done' && j.filesFailed === 0) {
    const written = files.map((f) => path.basename(placed.outputs[f] ?? `${f}.age`));
    const reveal = 'Reveal in Explorer';
    void vscode.window
      .showInformationMessage(
        `Encrypted to ${written.join(', ')} (${count(who.keys.length + who.recipients.length, 'recipient')}). The plaintext is still there: keep it out of git (.gitignore), or let a .keyward.yaml rule with "plaintext: remove" delete it.`,
        reveal,
      )
      .then((p) => p && vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(placed.outputs[files[0]!] ?? `${files[0]!}.age`)));
    return;
  }
  reportJob(`Encrypting ${names(files)}`, j);
}

async function encryptSops(s: Services, files: string[]): Promise<void> {
  const items: (vscode.QuickPickItem & { choose?: boolean })[] = [
    { label: 'Use the .sops.yaml creation rules', description: 'the recipients your team configured for this path' },
    { label: 'Choose keys or paste recipients…', choose: true },
  ];
  const how = await vscode.window.showQuickPick(items, { title: 'Encrypt to whom?' });
  if (!how) return;
  let age: string[] | undefined;
  if (how.choose) {
    const who = await pickRecipients(s, 'Encrypt to whom?', { activeOnly: true });
    if (!who) return;
    age = [...who.keys, ...who.recipients];
  }
  for (const f of files) {
    const encrypt = () => s.conn.call('sopsEncrypt', { path: f, inPlace: true, ...(age ? { age } : {}) }, { timeoutMs: 120_000 });
    // .sops.yaml names recipients you have not agreed to: the consent dialog, then again.
    await encrypt().catch(async (e: unknown) => {
      if (isDaemonError(e, ErrorCode.Untrusted) && (await askTrust(s.conn, f))) return encrypt();
      throw e;
    });
  }
  s.refresh();
  const open = 'Open Decrypted';
  void vscode.window.showInformationMessage(`Encrypted ${files.map((f) => path.basename(f)).join(', ')} in place with sops.`, open).then((p) => p && vscode.commands.executeCommand('keyward.openDecrypted', vscode.Uri.file(files[0]!)));
}

/**
 * Decrypts age files to plaintext files the user names (a model for local use), as a job with
 * progress and cancel. Scripted: `{ files, output?, yes? }`.
 */
async function decryptTo(s: Services, arg: unknown, more: unknown): Promise<void> {
  const scripted = arg as { output?: string } | undefined;
  let files = filesOf(arg, more).filter((f) => f.endsWith('.age'));
  if (files.length === 0) {
    files = (await pickArtifacts(s, 'Decrypt which files?', (k) => k === 'model')) ?? [];
    if (files.length === 0) return;
  }
  const outputs: Record<string, string> = {};
  let overwrite = confirmed(arg);
  if (files.length === 1) {
    const f = files[0]!;
    let out = scripted?.output;
    if (!out) {
      const suggested = await suggestPlaintextPath(s, f);
      const picked = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(suggested), title: `Decrypt ${path.basename(f)} to…`, saveLabel: 'Decrypt' });
      if (!picked) return;
      out = picked.fsPath;
      // The save dialog asked before choosing an existing file.
      if (await exists(out)) overwrite = true;
    }
    outputs[f] = out;
  } else {
    const folder = scripted?.output ? [vscode.Uri.file(scripted.output)] : await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, title: `Decrypt ${files.length} files into which folder?`, openLabel: 'Decrypt Here' });
    if (!folder?.[0]) return;
    for (const f of files) outputs[f] = path.join(folder[0].fsPath, path.basename(f, '.age'));
    const existing = [];
    for (const o of Object.values(outputs)) if (await exists(o)) existing.push(path.basename(o));
    if (existing.length && !overwrite) {
      const ok = await vscode.window.showWarningMessage(`${count(existing.length, 'file')} exist already (${existing.slice(0, 3).join(', ')}). Replace them?`, { modal: true }, 'Replace');
      if (ok !== 'Replace') return;
      overwrite = true;
    }
  }
  const out = await runJob(s.conn, `Decrypting ${names(files)}`, () => s.conn.call('artifactsDecrypt', { files, outputs, ...(overwrite ? { overwrite: true } : {}) }), s.log);
  s.refresh();
  const j = out.job;
  if (j.state === 'done' && j.filesFailed === 0) {
    const first = Object.values(outputs)[0]!;
    const reveal = 'Reveal in Explorer';
    void vscode.window
      .showInformationMessage(`Decrypted ${names(files)} to ${displayPath(first)}${files.length > 1 ? ' and beside it' : ''}. This copy is plaintext: keep it out of git, and delete it when you are done.`, reveal)
      .then((p) => p && vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(first)));
    return;
  }
  reportJob(`Decrypting ${names(files)}`, j);
}

/**
 * Beside the .age file, unless a `plaintext: remove` rule protects that path (the daemon would
 * delete the decrypted copy again): then in the folder's parent, named so nobody mistakes it.
 */
async function suggestPlaintextPath(s: Services, file: string): Promise<string> {
  const plain = file.slice(0, -4);
  const model = s.inventory.current?.folders.flatMap((f) => f.models).find((m) => m.status.path === file);
  if (model?.status.rule?.plaintext === 'remove') {
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file));
    return path.join(path.dirname(folder?.uri.fsPath ?? path.dirname(plain)), path.basename(plain));
  }
  return (await exists(plain)) ? path.join(path.dirname(plain), `decrypted-${path.basename(plain)}`) : plain;
}

async function openDecrypted(s: Services, fs: SopsFileSystem, files: string[]): Promise<void> {
  if (files.length === 0) {
    files = (await pickArtifacts(s, 'Open which secret configs decrypted?', (k) => k === 'sops')) ?? [];
    if (files.length === 0) return;
  }
  for (const f of files) {
    if (f.endsWith('.age')) {
      // A model or other binary: its summary, with Decrypt to… (it does not open as text).
      await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(f), AGE_EDITOR);
      continue;
    }
    if (!(await isSopsFile(f))) throw new Error(`${path.basename(f)} is not a sops file: encrypt it first (Keyward: Encrypt File)`);
    // Decrypt first, so that a failure is Keyward's message with its buttons, not an editor error.
    await fs.prefetch(f);
    const doc = await vscode.workspace.openTextDocument(decryptedUri(vscode.Uri.file(f)));
    await vscode.window.showTextDocument(doc, { preview: false });
  }
}

async function rotateDataKey(s: Services, files: string[], yes: boolean): Promise<void> {
  if (files.length === 0) {
    files = (await pickArtifacts(s, 'Rotate the data key of which files?')) ?? [];
    if (files.length === 0) return;
  }
  const p = await partition(files);
  if (p.other.length) throw new Error(`not encrypted: ${p.other.map((f) => path.basename(f)).join(', ')}`);
  const n = files.length;
  const ok = yes
    ? 'Rotate'
    : await vscode.window.showWarningMessage(
        `Rotate the data key of ${n === 1 ? path.basename(files[0]!) : `${n} files`}? Each gets a new random key and its content is re-encrypted, to the same recipients.`,
        { modal: true },
        'Rotate',
      );
  if (ok !== 'Rotate') return;
  const outcomes: { what: string; job: JobInfo }[] = [];
  if (p.age.length) {
    const r = await runJob(s.conn, 'Rotating data keys', () => s.conn.call('artifactsRotate', { files: p.age }), s.log);
    outcomes.push({ what: 'Data key rotation', job: r.job });
  }
  if (p.sops.length) {
    const r = await runJob(s.conn, 'Rotating sops data keys', () => s.conn.call('sopsRotate', { paths: p.sops }), s.log);
    outcomes.push({ what: 'Data key rotation (sops)', job: r.job });
  }
  s.refresh();
  report(outcomes);
}

async function recipientsOf(s: Services, who: Recipients): Promise<string[]> {
  const out = [...who.recipients];
  for (const k of who.keys) out.push((await s.conn.call('keysExport', { ref: k })).recipient);
  return [...new Set(out)];
}

async function rewrap(s: Services, files: string[]): Promise<void> {
  if (files.length === 0) {
    files = (await pickArtifacts(s, 'Rewrap which files?')) ?? [];
    if (files.length === 0) return;
  }
  const p = await partition(files);
  if (p.other.length) throw new Error(`not encrypted: ${p.other.map((f) => path.basename(f)).join(', ')}`);
  // Each label says what will really happen to these files.
  const actions: (vscode.QuickPickItem & { id: 'add' | 'remove' | 'set' | 'policy' })[] = [
    { id: 'add', label: 'Add keys', description: 'header only: the data key and the encrypted content stay as they are' },
    {
      id: 'remove',
      label: 'Remove keys',
      description: p.sops.length
        ? p.age.length
          ? 'age files: header only (rotate too if they kept a copy); sops files: a new data key'
          : 'sops files get a new data key, so a copy they kept opens nothing new'
        : 'header only: rotate the data key too if they kept a copy',
    },
  ];
  if (!p.sops.length) actions.push({ id: 'set', label: 'Set the keys', description: 'header only: exactly these keys open the files' });
  if (p.sops.length) actions.push({ id: 'policy', label: 'Apply .sops.yaml', description: 'header only: master keys as the creation rules say (sops updatekeys)' });
  const action = await vscode.window.showQuickPick(actions, { title: `Rewrap ${names(files)}` });
  if (!action) return;
  const outcomes: { what: string; job: JobInfo }[] = [];
  if (action.id === 'policy') {
    // Recipients the .sops.yaml files name and you have not agreed to: asked once, before the job.
    const r = await runJob(s.conn, 'Applying .sops.yaml', () => withConsent(s.conn, p.sops, () => s.conn.call('sopsUpdateKeys', { paths: p.sops }), true), s.log);
    outcomes.push({ what: 'Recipient update (sops, header only)', job: r.job });
  } else {
    const who = await pickRecipients(s, action.id === 'add' ? 'Add whom?' : action.id === 'remove' ? 'Remove whom?' : 'Which keys should open the files?', { activeOnly: action.id !== 'remove' });
    if (!who) return;
    if (p.age.length) {
      const params =
        action.id === 'add'
          ? { addKeys: who.keys, add: who.recipients }
          : action.id === 'remove'
            ? { removeKeys: who.keys, remove: who.recipients }
            : { setKeys: who.keys, setRecipients: who.recipients };
      const r = await runJob(s.conn, 'Rewrapping (header only)', () => s.conn.call('artifactsRewrap', { files: p.age, ...params }), s.log);
      outcomes.push({ what: 'Rewrap (header only)', job: r.job });
    }
    if (p.sops.length) {
      const recipients = await recipientsOf(s, who);
      if (action.id === 'add') {
        const r = await runJob(s.conn, 'Adding keys (header only)', () => s.conn.call('sopsAddKeys', { paths: p.sops, addAge: recipients }), s.log);
        outcomes.push({ what: 'Keys added (sops, header only)', job: r.job });
      } else {
        // Removing needs a new data key: the removed holder may have kept the old one.
        const r = await runJob(s.conn, 'Removing keys (new data key)', () => s.conn.call('sopsRotate', { paths: p.sops, removeAge: recipients }), s.log);
        outcomes.push({ what: 'Keys removed (sops, new data key)', job: r.job });
      }
    }
  }
  s.refresh();
  report(outcomes);
}

/**
 * After a key rotation: secret configs still encrypted to the old version (deactivated, or
 * worse). Replaces it by the key's current version in `.sops.yaml` and re-encrypts each file with
 * a new data key to the current version. Arg: a tree item of the warning, `{ files }`, or nothing
 * (every secret config of the workspace that needs it).
 */
async function fixSopsRecipients(s: Services, arg: unknown): Promise<void> {
  const inv = await s.inventory.refresh();
  const wanted = new Set(filesOf(arg, undefined).filter((f) => !f.endsWith('.age')));
  const byRef = new Map(inv.keys.flatMap((k) => k.versions.map((v) => [v.ref, { key: k, v }] as const)));
  const plan: { file: string; pairs: { from: string; to: string; move: string }[] }[] = [];
  const problems: string[] = [];
  for (const c of inv.folders.flatMap((f) => f.secrets)) {
    if (wanted.size && !wanted.has(c.path)) continue;
    const pairs: { from: string; to: string; move: string }[] = [];
    for (const k of c.info?.keyGroups.flat() ?? []) {
      const e = k.ref ? byRef.get(k.ref) : undefined;
      if (!e || e.v.state === 'active') continue;
      const current = e.key.current;
      if (!current || current.state !== 'active' || current.ref === e.v.ref) {
        problems.push(`${displayPath(c.path)}: ${e.v.ref} has no active successor (rotate ${e.key.name} first)`);
        continue;
      }
      pairs.push({ from: e.v.recipient, to: current.recipient, move: `${e.v.ref} → ${current.ref}` });
    }
    if (pairs.length) plan.push({ file: c.path, pairs });
  }
  if (plan.length === 0) {
    void vscode.window.showInformationMessage(problems.length ? `Nothing to re-encrypt: ${problems[0]}.` : 'Every secret config is encrypted to current key versions: nothing to do.');
    return;
  }
  const all = plan.flatMap((x) => x.pairs);
  const moves = [...new Set(all.map((x) => x.move))];
  if (!confirmed(arg)) {
    const go = 'Update and Re-encrypt';
    const ok = await vscode.window.showWarningMessage(
      `Update .sops.yaml and re-encrypt ${count(plan.length, 'secret config')}?`,
      { modal: true, detail: `${moves.join(', ')} in .sops.yaml, so new files go to the current version; then each file gets a new data key, encrypted to it (the old version no longer opens them).${problems.length ? `\n${problems[0]}.` : ''}` },
      go,
    );
    if (ok !== go) return;
  }
  const replace = [...new Map(all.map((x) => [x.from, { from: x.from, to: x.to }])).values()];
  let configs = 0;
  const seen = new Set<string>();
  for (const x of plan) {
    const r = await s.conn.call('sopsReplaceRecipients', { path: x.file, replace });
    if (r.config && !seen.has(r.config)) {
      seen.add(r.config);
      configs += r.changed;
    }
  }
  const out = await runJob(
    s.conn,
    `Re-encrypting ${names(plan.map((x) => x.file))}`,
    () => s.conn.call('sopsRotate', { paths: plan.map((x) => x.file), addAge: [...new Set(all.map((x) => x.to))], removeAge: [...new Set(all.map((x) => x.from))] }),
    s.log,
  );
  s.refresh();
  const sum = jobSummary(`${configs ? `Updated .sops.yaml (${count(configs, 'place')}) and re-encrypted` : 'Re-encrypted'} to ${moves.map((m) => m.split(' → ')[1]).join(', ')}`, out.job);
  if (sum.ok) void vscode.window.showInformationMessage(sum.text);
  else void showError(sum.text);
}

function reportJob(what: string, j: JobInfo): void {
  const r = jobSummary(what, j);
  if (j.state === 'cancelled') void vscode.window.showInformationMessage(r.text);
  else if (r.ok) void vscode.window.showInformationMessage(r.text);
  else void showError(r.text);
}

function report(outcomes: { what: string; job: JobInfo }[]): void {
  for (const o of outcomes) reportJob(o.what, o.job);
}

/**
 * Brings every artifact of a repository in line with its team policy (`.keyward.yaml` team
 * section): shows the plan, then applies it as one job. Enabled (keyward.teamAvailable) when
 * the daemon's contract has the team methods.
 */
async function syncTeam(s: Services, arg: unknown): Promise<void> {
  const scripted = arg as { root?: string; yes?: boolean } | undefined;
  let root = scripted?.root ?? (arg instanceof vscode.Uri ? vscode.workspace.getWorkspaceFolder(arg)?.uri.fsPath : undefined);
  if (!root) {
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
    const f = folders.length === 1 ? folders[0] : await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Sync the team recipients of which repository?' });
    if (!f) return;
    root = f.uri.fsPath;
  }
  const plan = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Planning the team sync' }, () => s.conn.call('teamPlan', { root }, { timeoutMs: 120_000 }));
  const sum = plan.summary;
  const changes = sum.rewrap + sum.rotate + sum.updatekeys;
  const problems = plan.problems.map((p) => `${p.subject}: ${p.problem}`);
  if (changes === 0) {
    void vscode.window.showInformationMessage(`Every artifact already follows the team policy (${count(sum.files, 'file')}).${problems.length ? ` ${count(problems.length, 'problem')}: ${problems[0]}` : ''}`);
    return;
  }
  if (!scripted?.yes) {
    const detail = [
      `${sum.rewrap} to rewrap (header only), ${sum.rotate} to rotate (new data key: a member or KMS key leaves), ${sum.updatekeys} sops files to update, ${sum.skip} skipped.`,
      ...problems.slice(0, 5),
      ...plan.notes.slice(0, 3),
    ].join('\n');
    const ok = await vscode.window.showWarningMessage(`Sync ${count(changes, 'file')} with the team policy?`, { modal: true, detail }, 'Sync');
    if (ok !== 'Sync') return;
  }
  let started: { job?: JobInfo; sopsConfigWritten: boolean } | undefined;
  const out = await runJob(
    s.conn,
    'Syncing team recipients',
    async () => {
      started = await withConsent(s.conn, root, () => s.conn.call('teamSync', { root }, { timeoutMs: 120_000 }));
      return started.job ?? { id: 'none', kind: 'team-sync', state: 'done', filesTotal: 0, filesDone: 0, filesFailed: 0, filesSkipped: 0, bytesTotal: 0, bytesDone: 0, current: [], errors: [], createdAt: new Date().toISOString() };
    },
    s.log,
  );
  s.inventory.renewTeamPlan();
  s.refresh();
  report([{ what: `Team sync${started?.sopsConfigWritten ? ' (.sops.yaml updated)' : ''}`, job: out.job }]);
}
