// Diagnostics of hardcoded secrets and their quick fixes, inside the real extension host.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { lookupEdit, secretName } from '../../../src/editor/quickfix';
import { fakeKey, keywardDiagnostics, until, workspaceRoot } from './util';

async function openWith(name: string, text: string): Promise<vscode.TextDocument> {
  const file = path.join(workspaceRoot(), 'src', name);
  await fsp.writeFile(file, text);
  const doc = await vscode.workspace.openTextDocument(file);
  await vscode.window.showTextDocument(doc);
  return doc;
}

async function actionsFor(doc: vscode.TextDocument, d: vscode.Diagnostic): Promise<vscode.CodeAction[]> {
  return (await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, d.range, vscode.CodeActionKind.QuickFix.value)) ?? [];
}

describe('diagnostics and quick fixes', function () {
  const created: string[] = [];
  after(async function () {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const f of created) await fsp.rm(f, { force: true });
  });

  it('reports a hardcoded key while typing, with three quick fixes', async function () {
    const doc = await openWith('leak_a.ts', `export const client = makeClient();\n`);
    created.push(doc.uri.fsPath);
    const key = fakeKey();
    const edit = new vscode.WorkspaceEdit();
    edit.insert(doc.uri, new vscode.Position(1, 0), `const openaiKey = "${key}";\n`);
    assert.ok(await vscode.workspace.applyEdit(edit));
    const [d] = await until('a diagnostic', 15_000, () => {
      const ds = keywardDiagnostics(doc.uri);
      return ds.length ? ds : undefined;
    });
    assert.equal(d!.code, 'openai-api-key');
    assert.equal(d!.range.start.line, 1);
    assert.equal(doc.getText(d!.range), key, 'the range is the secret itself');
    assert.ok(!d!.message.includes(key), 'the message does not repeat the secret');
    const titles = (await actionsFor(doc, d!)).map((a) => a.title);
    assert.ok(titles.some((t) => t.startsWith('Move the secret')), titles.join(' | '));
    assert.ok(titles.some((t) => t.startsWith('Allow this secret here')));
    assert.ok(titles.some((t) => t.startsWith('Accept this finding in the baseline')));
  });

  it('allows a secret with an inline comment', async function () {
    const doc = await openWith('leak_b.py', `API_KEY = "${fakeKey()}"\n`);
    created.push(doc.uri.fsPath);
    const [d] = await until('a diagnostic', 15_000, () => (keywardDiagnostics(doc.uri).length ? keywardDiagnostics(doc.uri) : undefined));
    const allow = (await actionsFor(doc, d!)).find((a) => a.title.startsWith('Allow'))!;
    await vscode.commands.executeCommand(allow.command!.command, ...((allow.command!.arguments ?? []) as unknown[]));
    assert.match(doc.lineAt(0).text, /# keyward:allow$/);
    await until('the diagnostic to go', 15_000, () => (keywardDiagnostics(doc.uri).length === 0 ? true : undefined));
  });

  it('accepts a finding in the baseline', async function () {
    const doc = await openWith('leak_c.js', `const k = "${fakeKey()}";\n`);
    created.push(doc.uri.fsPath);
    const [d] = await until('a diagnostic', 15_000, () => (keywardDiagnostics(doc.uri).length ? keywardDiagnostics(doc.uri) : undefined));
    const base = (await actionsFor(doc, d!)).find((a) => a.title.startsWith('Accept'))!;
    await vscode.commands.executeCommand(base.command!.command, ...((base.command!.arguments ?? []) as unknown[]));
    const baseline = JSON.parse(await fsp.readFile(path.join(workspaceRoot(), '.keyward-baseline.json'), 'utf8')) as { findings: { rule: string; path: string }[] };
    assert.ok(baseline.findings.some((f) => f.rule === 'openai-api-key' && f.path === 'src/leak_c.js'));
    // The daemon reads the baseline too: a rescan stays clean.
    const edit = new vscode.WorkspaceEdit();
    edit.insert(doc.uri, new vscode.Position(1, 0), '// touched\n');
    await vscode.workspace.applyEdit(edit);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(keywardDiagnostics(doc.uri).length, 0);
  });

  it('moves a secret into the encrypted secrets file and reads it from the environment', async function () {
    const key = fakeKey();
    const doc = await openWith('leak_d.js', `const client = new OpenAI({ apiKey: "${key}" });\n`);
    created.push(doc.uri.fsPath);
    const [d] = await until('a diagnostic', 15_000, () => (keywardDiagnostics(doc.uri).length ? keywardDiagnostics(doc.uri) : undefined));
    const move = (await actionsFor(doc, d!)).find((a) => a.title.startsWith('Move'))!;
    await vscode.commands.executeCommand(move.command!.command, ...((move.command!.arguments ?? []) as unknown[]));
    assert.equal(doc.lineAt(0).text, 'const client = new OpenAI({ apiKey: process.env.API_KEY });');
    const onDisk = await fsp.readFile(doc.uri.fsPath, 'utf8');
    assert.ok(!onDisk.includes(key), 'the literal left the disk too');
  });

  it('names secrets and writes lookups per language', async function () {
    const cases: [string, string, string, string][] = [
      ['python', 'token = "SECRET"', 'TOKEN', 'token = os.environ["TOKEN"]'],
      ['javascript', 'const apiKey = "SECRET";', 'API_KEY', 'const apiKey = process.env.API_KEY;'],
      ['go', 'var dbPassword = "SECRET"', 'DB_PASSWORD', 'var dbPassword = os.Getenv("DB_PASSWORD")'],
      ['yaml', 'password: SECRET', 'PASSWORD', 'password: ${PASSWORD}'],
      ['shellscript', "export HF_TOKEN='SECRET'", 'HF_TOKEN', 'export HF_TOKEN="${HF_TOKEN}"'],
      ['typescript', 'headers["Authorization"] = "Bearer SECRET";', 'AUTHORIZATION', 'headers["Authorization"] = "Bearer " + process.env.AUTHORIZATION;'],
    ];
    for (const [lang, line, name, expected] of cases) {
      const doc = await vscode.workspace.openTextDocument({ language: lang, content: line });
      const start = line.indexOf('SECRET');
      const range = new vscode.Range(0, start, 0, start + 'SECRET'.length);
      assert.equal(secretName(doc, range, 'generic-secret'), name, lang);
      const { replaceRange, replacement } = lookupEdit(doc, range, name);
      const out = line.slice(0, replaceRange.start.character) + replacement + line.slice(replaceRange.end.character);
      assert.equal(out, expected, lang);
    }
  });
});
