// Secret configs decrypted in memory (the keyward: file system), inside the real extension
// host: open, edit, save re-encrypts; a change on disk while editing is a conflict that loses
// nothing; unsaved decrypted text never stays in VS Code's backups.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { decryptedUri } from '../../../src/sops/fs';
import { api, sandboxDir, until, workspaceRoot } from './util';

async function setAutoSave(on: boolean): Promise<void> {
  await vscode.workspace.getConfiguration('keyward').update('decrypted.autoSave', on, vscode.ConfigurationTarget.Global);
}

async function decrypted(file: string, key: string): Promise<string> {
  const k = await api();
  const r = await k.services.conn.call('sopsDecrypt', { path: file, extract: [key] });
  return r.text.trim();
}

async function filesUnder(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && (await fsp.readFile(p).catch(() => Buffer.alloc(0))).includes(needle)) hits.push(p);
    }
  };
  await walk(dir);
  return hits;
}

describe('secret configs in memory', function () {
  const file = (): string => path.join(workspaceRoot(), 'config', 'app.enc.yaml');

  afterEach(async function () {
    await setAutoSave(true);
    await vscode.commands.executeCommand('workbench.action.files.revert').then(undefined, () => undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('opens decrypted, and saving re-encrypts only what changed', async function () {
    await setAutoSave(false);
    const before = await fsp.readFile(file(), 'utf8');
    const hostLine = /^ {4}host: (ENC\[[^\]]+\])$/m.exec(before)?.[1];
    assert.ok(hostLine, 'the demo file has an encrypted host');
    await vscode.commands.executeCommand('keyward.openDecrypted', vscode.Uri.file(file()));
    const doc = await until('the decrypted editor', 10_000, () => vscode.window.activeTextEditor?.document);
    assert.equal(doc.uri.scheme, 'keyward');
    assert.match(doc.getText(), /host: db\.internal/);
    const value = `v${Date.now()}`;
    const edit = new vscode.WorkspaceEdit();
    const text = doc.getText();
    const i = text.indexOf('new_tokenizer: true');
    edit.replace(doc.uri, new vscode.Range(doc.positionAt(i), doc.positionAt(i + 'new_tokenizer: true'.length)), `new_tokenizer: true\n    rollout: ${value}`);
    assert.ok(await vscode.workspace.applyEdit(edit));
    assert.ok(await doc.save());
    const after = await fsp.readFile(file(), 'utf8');
    assert.ok(!after.includes(value), 'no plaintext on disk');
    assert.ok(after.includes(hostLine), 'unchanged values keep their exact ciphertext');
    assert.match(await decrypted(file(), 'feature_flags'), new RegExp(value));
  });

  it('saves a decrypted editor by itself, before VS Code would back it up', async function () {
    await setAutoSave(true);
    const doc = await vscode.workspace.openTextDocument(decryptedUri(vscode.Uri.file(file())));
    await vscode.window.showTextDocument(doc);
    const value = `auto${Date.now()}`;
    const i = doc.getText().indexOf('host: db.internal');
    const edit = new vscode.WorkspaceEdit();
    edit.insert(doc.uri, doc.positionAt(i + 'host: db.internal'.length), value);
    assert.ok(await vscode.workspace.applyEdit(edit));
    await until('the editor to be saved', 5_000, () => (doc.isDirty ? undefined : true));
    assert.match(await decrypted(file(), 'database'), new RegExp(`db\\.internal${value}`));
  });

  it('deletes backups of a decrypted editor that cannot be saved yet', async function () {
    await setAutoSave(true);
    const k = await api();
    assert.ok(k.guard.roots.some((r) => r.startsWith(sandboxDir())), `backups are looked for in the user data dir: ${k.guard.roots.join(', ')}`);
    const doc = await vscode.workspace.openTextDocument(decryptedUri(vscode.Uri.file(file())));
    await vscode.window.showTextDocument(doc);
    const canary = `unsaved${Date.now()}`;
    // Not YAML any more: it cannot be encrypted, so the editor stays dirty.
    const edit = new vscode.WorkspaceEdit();
    edit.insert(doc.uri, new vscode.Position(0, 0), `${canary}: [unclosed\n`);
    assert.ok(await vscode.workspace.applyEdit(edit));
    // VS Code backs a dirty editor up 1-2 s after the last change; wait past that.
    await new Promise((r) => setTimeout(r, 4_500));
    assert.ok(doc.isDirty, 'still dirty (it does not parse)');
    const hits = await filesUnder(sandboxDir(), canary);
    assert.deepEqual(hits, [], 'no copy of the unsaved decrypted text on disk');
  });

  it('refuses to overwrite a file changed on disk while it was edited, and loses nothing', async function () {
    await setAutoSave(false);
    const k = await api();
    const doc = await vscode.workspace.openTextDocument(decryptedUri(vscode.Uri.file(file())));
    await vscode.window.showTextDocument(doc);
    const mine = `mine${Date.now()}`;
    const edit = new vscode.WorkspaceEdit();
    edit.insert(doc.uri, new vscode.Position(doc.lineCount - 1, 0), `editor_value: ${mine}\n`);
    assert.ok(await vscode.workspace.applyEdit(edit));
    // Someone else changes the file meanwhile (another editor, git pull, sops set).
    const theirs = `theirs${Date.now()}`;
    await k.services.conn.call('sopsSet', { path: file(), keyPath: ['external_value'], valueJson: JSON.stringify(theirs) });
    await new Promise((r) => setTimeout(r, 300));
    const saved = await doc.save();
    assert.equal(saved, false, 'the save is refused');
    assert.ok(doc.isDirty, 'the editor keeps the edits');
    assert.ok(doc.getText().includes(mine));
    assert.equal(await decrypted(file(), 'external_value'), theirs, 'the other change is intact');
    await assert.rejects(decrypted(file(), 'editor_value'));

    // Compare shows the file on disk beside the edits; Overwrite then saves the edits over it.
    await vscode.commands.executeCommand('keyward.compareWithDisk', doc.uri);
    const tab = await until('the diff editor', 10_000, () => {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return input instanceof vscode.TabInputTextDiff ? input : undefined;
    });
    assert.equal(tab.original.query, 'disk');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await vscode.commands.executeCommand('keyward.overwriteOnDisk', doc.uri);
    await until('the editor to be clean', 10_000, () => (doc.isDirty ? undefined : true));
    assert.equal(await decrypted(file(), 'editor_value'), mine);
  });
});
