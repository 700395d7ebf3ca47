// Commands and views, inside the real extension host, against the real daemon.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, fakeKey, until, workspaceRoot } from './util';

describe('views and commands', function () {
  it('lists the demo models, secret configs and keys', async function () {
    const k = await api();
    const inv = await k.services.inventory.refresh();
    const folder = inv.folders[0]!;
    const models = folder.models.map((m) => path.basename(m.status.plaintext)).sort();
    assert.deepEqual(models, ['classifier.safetensors', 'tokenizer.onnx']);
    for (const m of folder.models) {
      assert.ok(m.status.encrypted);
      assert.match((await k.services.inventory.describe(m.status.path)).dataKeyId ?? '', /^[0-9a-f]{12}$/);
      assert.ok(m.status.keys.some((r) => r.startsWith('demo@')), 'opened by a demo key version');
    }
    const secrets = folder.secrets.map((s) => path.relative(workspaceRoot(), s.path));
    assert.ok(secrets.includes(path.join('config', 'app.enc.yaml')));
    const app = folder.secrets.find((s) => s.path.endsWith('app.enc.yaml'))!;
    assert.equal(app.error, undefined, app.error);
    assert.equal(app.info?.format, 'yaml');
    assert.equal(app.info?.canDecrypt, true);
    assert.ok(inv.keys.some((key) => key.name === 'demo'));
  });

  it('generates a key, copies its recipient and exports the public key', async function () {
    const k = await api();
    const name = `host-${Date.now().toString(36)}`;
    const ref = await vscode.commands.executeCommand<string>('keyward.generateKey', { name });
    assert.equal(ref, `${name}@v1`);
    await vscode.commands.executeCommand('keyward.copyRecipient', name);
    const recipient = await vscode.env.clipboard.readText();
    assert.match(recipient, /^age1[0-9a-z]+$/);
    const listed = (await k.services.conn.call('keysList', {})).keys.find((x) => x.name === name);
    assert.equal(listed?.current?.recipient, recipient);
    await vscode.commands.executeCommand('keyward.exportPublicKey', name);
    const doc = vscode.window.activeTextEditor?.document;
    assert.ok(doc?.getText().includes(recipient), 'the export shows the recipient');
    assert.ok(!/AGE-SECRET-KEY/.test(doc!.getText()), 'never the secret key');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('rotates the data key of a model (scripted) and its fingerprint changes', async function () {
    const k = await api();
    const model = path.join(workspaceRoot(), 'models', 'tokenizer.onnx.age');
    const before = (await k.services.conn.call('artifactsDescribe', { path: model })).dataKeyId;
    await vscode.commands.executeCommand('keyward.rotateDataKey', { files: [model], yes: true });
    const after = (await k.services.conn.call('artifactsDescribe', { path: model })).dataKeyId;
    assert.ok(before && after && before !== after, `data key ${before} -> ${after}`);
  });

  it('shows and verifies the audit log', async function () {
    await vscode.commands.executeCommand('keyward.showAuditLog');
    const doc = await until('the audit log document', 10_000, () => vscode.window.visibleTextEditors.map((e) => e.document).find((d) => d.uri.scheme === 'keyward-audit'));
    assert.match(doc.getText(), /key\.generate|keys\.generate|generate/);
    assert.ok(!/AGE-SECRET-KEY/.test(doc.getText()));
    const ok = await vscode.commands.executeCommand<boolean>('keyward.verifyAuditLog');
    assert.equal(ok, true);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('scans the workspace for hardcoded secrets', async function () {
    const file = path.join(workspaceRoot(), 'src', 'leak_scan.js');
    await fsp.writeFile(file, `const token = "${fakeKey()}";\nmodule.exports = token;\n`);
    try {
      const n = await vscode.commands.executeCommand<number>('keyward.scanWorkspace');
      assert.ok(n >= 1, `findings: ${n}`);
      const diags = vscode.languages.getDiagnostics(vscode.Uri.file(file)).filter((d) => d.source === 'Keyward scan');
      assert.equal(diags.length, 1);
      assert.equal(diags[0]!.code, 'openai-api-key');
    } finally {
      await fsp.rm(file, { force: true });
    }
  });

  it('installs the pre-commit hook', async function () {
    await vscode.commands.executeCommand('keyward.installHook');
    const hook = await fsp.readFile(path.join(workspaceRoot(), '.git', 'hooks', 'pre-commit'), 'utf8');
    assert.match(hook, /keyward-hook v2/);
  });

  it('syncs team recipients: a member added to the team policy can open the models', async function () {
    const k = await api();
    const policyFile = path.join(workspaceRoot(), '.keyward.yaml');
    const before = await fsp.readFile(policyFile, 'utf8');
    const bob = `bob${Date.now().toString(36)}`;
    await vscode.commands.executeCommand('keyward.generateKey', { name: bob });
    const demo = (await k.services.conn.call('keysExport', { ref: 'demo' })).recipient;
    const bobRecipient = (await k.services.conn.call('keysExport', { ref: bob })).recipient;
    await fsp.writeFile(policyFile, `${before}team:\n  members:\n    demo: ${demo}\n    ${bob}: ${bobRecipient}\n  access:\n    - path: models/\n      members: ["*"]\n`);
    try {
      const plan = await k.services.conn.call('teamPlan', { root: workspaceRoot(), kms: false });
      // A model the UI steps shared with a teammate outside the team needs a rotation, not a rewrap.
      assert.ok(plan.summary.rewrap + plan.summary.rotate >= 2, JSON.stringify(plan.summary));
      await vscode.commands.executeCommand('keyward.syncTeamRecipients', { root: workspaceRoot(), yes: true });
      const inv = await k.services.inventory.refresh();
      const models = inv.folders[0]!.models.filter((m) => m.status.encrypted && path.dirname(m.status.path).endsWith('models'));
      assert.ok(models.length >= 2);
      // artifacts/status names the first of your keys that opens a file; the stanzas count them all.
      for (const m of models) assert.equal(m.status.stanzas?.find((x) => x.type === 'X25519')?.count, 2, `${path.basename(m.status.path)}: ${JSON.stringify(m.status.stanzas)}`);
      const after = await k.services.conn.call('teamPlan', { root: workspaceRoot(), kms: false });
      assert.equal(after.summary.rewrap + after.summary.rotate, 0, 'nothing left to sync');
    } finally {
      await fsp.writeFile(policyFile, before);
    }
  });
});

describe('encryption on save', function () {
  it('registers the folder with the daemon: a protected model written there is encrypted', async function () {
    const plain = path.join(workspaceRoot(), 'models', `adapter-${Date.now()}.safetensors`);
    await vscode.workspace.fs.writeFile(vscode.Uri.file(plain), Buffer.from('fake weights, not a secret'));
    try {
      await until(`${path.basename(plain)}.age`, 20_000, async () => ((await fsp.stat(`${plain}.age`).catch(() => undefined)) ? true : undefined));
      const k = await api();
      const inv = await until('the view to list it', 10_000, async () => {
        const i = await k.services.inventory.refresh();
        return i.folders[0]!.models.some((m) => m.status.path === `${plain}.age`) ? i : undefined;
      });
      assert.ok(inv);
    } finally {
      await fsp.rm(plain, { force: true });
      await fsp.rm(`${plain}.age`, { force: true });
    }
  });

  it('encrypts files of keyward.protectedGlobs when saved in the editor', async function () {
    const cfg = vscode.workspace.getConfiguration('keyward');
    await cfg.update('protectedGlobs', ['**/*.weights'], vscode.ConfigurationTarget.Workspace);
    await cfg.update('defaultKeys', ['demo'], vscode.ConfigurationTarget.Workspace);
    const file = path.join(workspaceRoot(), 'src', `lora-${Date.now()}.weights`);
    try {
      await fsp.writeFile(file, 'v1');
      const doc = await vscode.workspace.openTextDocument(file);
      const editor = await vscode.window.showTextDocument(doc);
      await editor.edit((e) => e.insert(new vscode.Position(0, 0), 'edited '));
      assert.ok(await doc.save());
      await until(`${path.basename(file)}.age`, 15_000, async () => ((await fsp.stat(`${file}.age`).catch(() => undefined)) ? true : undefined));
      const head = (await fsp.readFile(`${file}.age`)).subarray(0, 22).toString('latin1');
      assert.equal(head, 'age-encryption.org/v1\n');
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      await cfg.update('protectedGlobs', undefined, vscode.ConfigurationTarget.Workspace);
      await cfg.update('defaultKeys', undefined, vscode.ConfigurationTarget.Workspace);
      await fsp.rm(file, { force: true });
      await fsp.rm(`${file}.age`, { force: true });
    }
  });
});
