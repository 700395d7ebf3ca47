// Commands on encrypted artifacts: Encrypt File, Open Decrypted, Rotate Data Key, Rewrap
// Recipients, Sync Team Recipients, Reveal, and the conflict helpers of the decrypted view.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { JobInfo } from '../../daemon/protocol';
import { jobSummary, runJob } from '../jobs';
import type { Services } from '../services';
import { decryptedUri, DISK_QUERY, SCHEME, type SopsFileSystem } from '../sops/fs';
import { formatOf } from '../sops/detect';
import { settings } from '../config';
import { confirmed, filesOf, isSopsFile, partition, pickArtifacts, pickKeys, register } from './util';
import { withConsent } from '../trust';

export function registerArtifactCommands(s: Services, fs: SopsFileSystem): vscode.Disposable[] {
  return [
    register(s, 'keyward.encryptFile', 'Encrypting', (arg, more) => encryptFile(s, filesOf(arg, more))),
    register(s, 'keyward.openDecrypted', 'Opening decrypted', (arg, more) => openDecrypted(s, filesOf(arg, more))),
    register(s, 'keyward.rotateDataKey', 'Rotating the data key', (arg, more) => rotateDataKey(s, filesOf(arg, more), confirmed(arg))),
    register(s, 'keyward.rewrapRecipients', 'Rewrapping', (arg, more) => rewrap(s, filesOf(arg, more))),
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

async function encryptFile(s: Services, files: string[]): Promise<void> {
  if (files.length === 0) {
    const picked = await vscode.window.showOpenDialog({ canSelectMany: true, title: 'Encrypt which files?', openLabel: 'Encrypt' });
    if (!picked) return;
    files = picked.map((u) => u.fsPath);
  }
  files = files.filter((f) => !f.endsWith('.age'));
  if (files.length === 0) throw new Error('these files are encrypted already');
  const configs = files.filter((f) => formatOf(f) !== undefined);
  let asSops = false;
  if (configs.length === files.length) {
    const choice = await vscode.window.showQuickPick(
      [
        { label: 'As a sops secret config', description: 'value by value: keys stay readable, diffs stay small; sops -d opens it', sops: true },
        { label: 'As an age file', description: 'the whole file, to FILE.age; age -d opens it', sops: false },
      ],
      { title: `Encrypt ${files.length === 1 ? path.basename(files[0]!) : `${files.length} files`}` },
    );
    if (!choice) return;
    asSops = choice.sops;
  }
  if (asSops) {
    const items: (vscode.QuickPickItem & { keys?: string[] })[] = [{ label: 'Use the .sops.yaml creation rules', description: 'the recipients your team configured for this path' }, { label: 'Choose keys…', keys: [] }];
    const how = await vscode.window.showQuickPick(items, { title: 'Encrypt to whom?' });
    if (!how) return;
    let keys: string[] | undefined;
    if (how.keys) {
      keys = await pickKeys(s, 'Encrypt to which keys?', { many: true, activeOnly: true });
      if (!keys) return;
    }
    for (const f of files) {
      await withConsent(s.conn, f, () => s.conn.call('sopsEncrypt', { path: f, inPlace: true, ...(keys ? { age: keys } : {}) }, { timeoutMs: 120_000 }));
    }
    s.refresh();
    void vscode.window.showInformationMessage(`Encrypted ${files.map((f) => path.basename(f)).join(', ')} in place with sops. Open it with "Keyward: Open Decrypted".`);
    return;
  }
  const defaults = settings().defaultKeys;
  const keys = await pickKeys(s, 'Encrypt to which keys?', { many: true, activeOnly: true, preselect: defaults });
  if (!keys) return;
  const done: string[] = [];
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Encrypting', cancellable: true }, async (progress, token) => {
    for (const f of files) {
      if (token.isCancellationRequested) break;
      progress.report({ message: path.basename(f), increment: 100 / files.length });
      const r = await s.conn.call('ageEncrypt', { input: f, output: `${f}.age`, keys, recipients: [] }, { timeoutMs: 0, token });
      done.push(r.output);
    }
  });
  s.refresh();
  if (done.length) {
    void vscode.window.showInformationMessage(
      `Encrypted to ${done.map((f) => path.basename(f)).join(', ')}. The plaintext is still there: keep it out of git (.gitignore), or let a .keyward.yaml rule with "plaintext: remove" delete it.`,
    );
  }
}

async function openDecrypted(s: Services, files: string[]): Promise<void> {
  if (files.length === 0) {
    files = (await pickArtifacts(s, 'Open which secret configs decrypted?', (k) => k === 'sops')) ?? [];
    if (files.length === 0) return;
  }
  for (const f of files) {
    if (f.endsWith('.age')) throw new Error(`${path.basename(f)} is an age file (a model or other binary): decrypt it with keyward decrypt in a terminal; only sops secret configs open in the editor`);
    if (!(await isSopsFile(f))) throw new Error(`${path.basename(f)} is not a sops file: encrypt it first (Keyward: Encrypt File)`);
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
  const ok = yes ? 'Rotate' : await vscode.window.showWarningMessage(
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

async function rewrap(s: Services, files: string[]): Promise<void> {
  if (files.length === 0) {
    files = (await pickArtifacts(s, 'Rewrap which files?')) ?? [];
    if (files.length === 0) return;
  }
  const p = await partition(files);
  if (p.other.length) throw new Error(`not encrypted: ${p.other.map((f) => path.basename(f)).join(', ')}`);
  type Action = vscode.QuickPickItem & { id: 'add' | 'remove' | 'set' | 'policy' };
  const actions: Action[] = [
    { id: 'add', label: 'Add keys', description: 'they can open the files too (header only, payload untouched)' },
    { id: 'remove', label: 'Remove keys', description: 'they can no longer open new copies; rotate the data key too if they kept old ones' },
    { id: 'set', label: 'Set the keys', description: 'exactly these keys open the files' },
  ];
  if (p.sops.length) actions.push({ id: 'policy', label: 'Apply .sops.yaml', description: 'bring sops files in line with their creation rules (sops updatekeys)' });
  const action = await vscode.window.showQuickPick(actions, { title: `Rewrap ${files.length === 1 ? path.basename(files[0]!) : `${files.length} files`}` });
  if (!action) return;
  const outcomes: { what: string; job: JobInfo }[] = [];
  if (action.id === 'policy') {
    const r = await runJob(s.conn, 'Applying .sops.yaml', () => withConsent(s.conn, p.sops, () => s.conn.call('sopsUpdateKeys', { paths: p.sops }), true), s.log);
    outcomes.push({ what: 'Recipient update (sops)', job: r.job });
  } else {
    const keys = await pickKeys(s, action.id === 'add' ? 'Add which keys?' : action.id === 'remove' ? 'Remove which keys?' : 'Which keys should open the files?', { many: true, activeOnly: action.id !== 'remove' });
    if (!keys) return;
    if (p.age.length) {
      const params = action.id === 'add' ? { addKeys: keys } : action.id === 'remove' ? { removeKeys: keys } : { setKeys: keys };
      const r = await runJob(s.conn, 'Rewrapping', () => s.conn.call('artifactsRewrap', { files: p.age, ...params }), s.log);
      outcomes.push({ what: 'Rewrap', job: r.job });
    }
    if (p.sops.length) {
      if (action.id === 'set') throw new Error('for sops files, set the recipients in .sops.yaml and choose "Apply .sops.yaml"');
      const recipients: string[] = [];
      for (const k of keys) recipients.push((await s.conn.call('keysExport', { ref: k })).recipient);
      const params = action.id === 'add' ? { addAge: recipients } : { removeAge: recipients };
      // sops changes master keys with a new data key (as `sops rotate --add-age`).
      const r = await runJob(s.conn, 'Changing sops recipients', () => s.conn.call('sopsRotate', { paths: p.sops, ...params }), s.log);
      outcomes.push({ what: 'Recipient change (sops)', job: r.job });
    }
  }
  s.refresh();
  report(outcomes);
}

function report(outcomes: { what: string; job: JobInfo }[]): void {
  for (const o of outcomes) {
    const r = jobSummary(o.what, o.job);
    if (r.ok) void vscode.window.showInformationMessage(r.text);
    else void vscode.window.showErrorMessage(r.text, 'Show Log').then((p) => p && vscode.commands.executeCommand('keyward.showLog'));
  }
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
    void vscode.window.showInformationMessage(`Every artifact already follows the team policy (${sum.files} files).${problems.length ? ` ${problems.length} problem(s): ${problems[0]}` : ''}`);
    return;
  }
  if (!scripted?.yes) {
    const detail = [
      `${sum.rewrap} to rewrap (header only), ${sum.rotate} to rotate (new data key: a member or KMS key leaves), ${sum.updatekeys} sops files to update, ${sum.skip} skipped.`,
      ...problems.slice(0, 5),
      ...plan.notes.slice(0, 3),
    ].join('\n');
    const ok = await vscode.window.showWarningMessage(`Sync ${changes} file${changes === 1 ? '' : 's'} with the team policy?`, { modal: true, detail }, 'Sync');
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

