// Quick fixes for hardcoded secrets: move the value into the workspace's encrypted secrets
// file (created through the sops engine) and replace the literal with a lookup suited to the
// language; allow it here with a `keyward:allow` comment; or accept it in the baseline.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ScanTextFinding } from '../../daemon/protocol/scan';
import { settings } from '../config';
import { describeError } from '../client/errors';
import type { Services } from '../services';
import { showError } from '../commands/util';
import { formatOf } from '../sops/detect';
import { SOURCE, type SecretDiagnostics } from './diagnostics';

export const MOVE_COMMAND = 'keyward.fix.moveToSecrets';
export const ALLOW_COMMAND = 'keyward.fix.allowHere';
export const BASELINE_COMMAND = 'keyward.fix.addToBaseline';
export const MOVE_ALL_COMMAND = 'keyward.fix.moveAllToSecrets';

export interface FixArgs {
  uri: string;
  fingerprint: string;
}

export class SecretQuickFixes implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];

  constructor(private readonly diags: SecretDiagnostics) {}

  provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, ctx: vscode.CodeActionContext): vscode.CodeAction[] {
    const out: vscode.CodeAction[] = [];
    const findings = this.diags.findingsOf(doc.uri);
    for (const d of ctx.diagnostics) {
      if (d.source !== SOURCE) continue;
      const f = findings.find((x) => x.ruleId === d.code && rangeOf(x).isEqual(d.range));
      if (!f) continue;
      const args: FixArgs = { uri: doc.uri.toString(), fingerprint: f.fingerprint };
      const secretsFile = settings(doc.uri).secretsFile;
      const move = new vscode.CodeAction(`Move the secret to ${secretsFile} (encrypted) and read it from the environment`, vscode.CodeActionKind.QuickFix);
      move.diagnostics = [d];
      move.isPreferred = true;
      move.command = { command: MOVE_COMMAND, title: move.title, arguments: [args] };
      out.push(move);
      if (commentStyle(doc.languageId)) {
        const allow = new vscode.CodeAction('Allow this secret here (keyward:allow comment)', vscode.CodeActionKind.QuickFix);
        allow.diagnostics = [d];
        allow.command = { command: ALLOW_COMMAND, title: allow.title, arguments: [args] };
        out.push(allow);
      }
      if (doc.uri.scheme === 'file') {
        const base = new vscode.CodeAction('Accept this finding in the baseline (.keyward-baseline.json)', vscode.CodeActionKind.QuickFix);
        base.diagnostics = [d];
        base.command = { command: BASELINE_COMMAND, title: base.title, arguments: [args] };
        out.push(base);
      }
    }
    if (out.length && findings.length > 1) {
      const all = new vscode.CodeAction(`Fix all in this file: move the ${findings.length} secrets to ${settings(doc.uri).secretsFile}`, vscode.CodeActionKind.QuickFix);
      all.command = { command: MOVE_ALL_COMMAND, title: all.title, arguments: [{ uri: doc.uri.toString() }] };
      out.push(all);
    }
    return out;
  }
}

export function registerQuickFixes(s: Services, diags: SecretDiagnostics): vscode.Disposable[] {
  const find = async (a: FixArgs): Promise<{ doc: vscode.TextDocument; f: ScanTextFinding }> => {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(a.uri));
    const f = diags.findingsOf(doc.uri).find((x) => x.fingerprint === a.fingerprint);
    if (!f) throw new Error('the finding is gone (the document changed): look at the Problems view again');
    return { doc, f };
  };
  return [
    vscode.languages.registerCodeActionsProvider([{ scheme: 'file' }, { scheme: 'untitled' }], new SecretQuickFixes(diags), { providedCodeActionKinds: SecretQuickFixes.kinds }),
    vscode.commands.registerCommand(MOVE_COMMAND, async (a: FixArgs) => {
      try {
        const { doc, f } = await find(a);
        await moveToSecrets(s, diags, doc, f);
      } catch (e) {
        void showError(describeError(e, 'Moving the secret'), e);
      }
    }),
    vscode.commands.registerCommand(MOVE_ALL_COMMAND, async (a: { uri: string }) => {
      try {
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(a.uri));
        await moveAllToSecrets(s, diags, doc);
      } catch (e) {
        void showError(describeError(e, 'Moving the secrets'), e);
      }
    }),
    vscode.commands.registerCommand(ALLOW_COMMAND, async (a: FixArgs) => {
      try {
        const { doc, f } = await find(a);
        await allowHere(doc, f);
        diags.forget(doc.uri, f.fingerprint);
      } catch (e) {
        void showError(describeError(e, 'Adding the comment'), e);
      }
    }),
    vscode.commands.registerCommand(BASELINE_COMMAND, async (a: FixArgs) => {
      try {
        const { doc, f } = await find(a);
        const file = await addToBaseline(doc, f);
        diags.forget(doc.uri, f.fingerprint);
        void vscode.window.showInformationMessage(`Accepted in ${path.basename(file)}: commit it so that the pre-commit hook and your team accept it too.`);
      } catch (e) {
        void showError(describeError(e, 'Updating the baseline'), e);
      }
    }),
  ];
}

function rangeOf(f: ScanTextFinding): vscode.Range {
  return new vscode.Range(f.range.startLine, f.range.startCol, f.range.endLine, f.range.endCol);
}

// ---- move to the encrypted secrets file -------------------------------------------------------

async function moveToSecrets(s: Services, diags: SecretDiagnostics, doc: vscode.TextDocument, f: ScanTextFinding): Promise<void> {
  const moved = await moveFindings(s, diags, doc, [f]);
  if (!moved.length) return;
  void vscode.window.showInformationMessage(`Moved the secret to ${moved[0]!.file} as ${moved[0]!.name} (encrypted). Run your program with it in the environment: sops exec-env ${moved[0]!.file} '<command>'. Revoke and replace the secret if it was ever committed.`);
}

/** Fix all in the file: every finding moved, in one edit of the document. */
async function moveAllToSecrets(s: Services, diags: SecretDiagnostics, doc: vscode.TextDocument): Promise<void> {
  const findings = diags.findingsOf(doc.uri);
  if (!findings.length) throw new Error('no hardcoded secret left in this file');
  const moved = await moveFindings(s, diags, doc, findings);
  if (!moved.length) return;
  void vscode.window.showInformationMessage(`Moved ${moved.length} secret${moved.length === 1 ? '' : 's'} to ${moved[0]!.file} (encrypted): ${moved.map((m) => m.name).join(', ')}. Revoke and replace any that were ever committed.`);
}

/**
 * Stores each finding's value in the workspace's encrypted secrets file, then replaces every
 * literal by its lookup in one edit (from the end of the document, so earlier ranges hold).
 */
async function moveFindings(s: Services, diags: SecretDiagnostics, doc: vscode.TextDocument, findings: ScanTextFinding[]): Promise<{ name: string; file: string }[]> {
  const folder = vscode.workspace.getWorkspaceFolder(doc.uri) ?? vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== 'file') throw new Error('open a folder first: the secrets file lives in the workspace folder');
  const cfg = settings(doc.uri);
  const secretsPath = path.resolve(folder.uri.fsPath, cfg.secretsFile);
  const format = formatOf(secretsPath);
  let age: string[] | undefined = cfg.defaultKeys.length ? cfg.defaultKeys : undefined;
  const names: { f: ScanTextFinding; name: string }[] = [];
  const taken = new Set<string>();
  for (const f of findings) {
    const range = rangeOf(f);
    const value = doc.getText(range);
    let name = await freeName(s, secretsPath, secretName(doc, range, f.ruleId), value);
    for (let i = 2; taken.has(name); i++) name = `${name.replace(/_\d+$/, '')}_${i}`;
    taken.add(name);
    const set = () =>
      s.conn.call('sopsSet', { path: secretsPath, keyPath: [name], valueJson: JSON.stringify(value), create: true, ...(format ? { format } : {}), ...(age?.length ? { age } : {}) }, { timeoutMs: 60_000 });
    try {
      await set();
    } catch (e) {
      if (age) throw e;
      // No creation rule in .sops.yaml for this path, and no default keys: ask which keys, once.
      age = await pickKeysForNewFile(s, describeError(e));
      if (!age) return [];
      await set();
    }
    names.push({ f, name });
  }
  const edit = new vscode.WorkspaceEdit();
  for (const { f, name } of [...names].sort((a, b) => b.f.range.startLine - a.f.range.startLine || b.f.range.startCol - a.f.range.startCol)) {
    const { replaceRange, replacement } = lookupEdit(doc, rangeOf(f), name);
    edit.replace(doc.uri, replaceRange, replacement);
  }
  const imp = importEdit(doc);
  if (imp) edit.insert(doc.uri, imp.at, imp.text);
  const wasDirty = doc.isDirty;
  if (!(await vscode.workspace.applyEdit(edit))) throw new Error('the editor refused the edit');
  for (const { f } of names) diags.forget(doc.uri, f.fingerprint);
  // The literal must leave the disk too: save a document that had no other unsaved changes.
  if (!wasDirty && doc.uri.scheme === 'file') await doc.save();
  s.refresh();
  const rel = path.relative(folder.uri.fsPath, secretsPath);
  return names.map((n) => ({ name: n.name, file: rel }));
}

/** A key name for the secret: the assigned variable's, else the rule's, in UPPER_SNAKE_CASE. */
export function secretName(doc: vscode.TextDocument, range: vscode.Range, ruleId: string): string {
  const before = doc.lineAt(range.start.line).text.slice(0, range.start.character);
  const m = /([A-Za-z_][A-Za-z0-9_.-]*)["'\]]{0,2}\s*(?::=|=>|=|:)\s*(?:[A-Za-z]*\()?\s*[frbuFRBU]{0,2}["'`]?[^"'`]*$/.exec(before);
  let raw = m?.[1]?.split('.').pop() ?? '';
  if (!raw || raw.length < 2 || /^(const|let|var|val|export|def)$/.test(raw)) raw = ruleId;
  const snake = raw
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  return /^[A-Z_]/.test(snake) ? snake : `SECRET_${snake}`;
}

/** The name, or NAME_2, NAME_3... when the secrets file holds another value under it. */
async function freeName(s: Services, file: string, name: string, value: string): Promise<string> {
  for (let i = 1; i < 50; i++) {
    const candidate = i === 1 ? name : `${name}_${i}`;
    try {
      const r = await s.conn.call('sopsDecrypt', { path: file, extract: [candidate] }, { timeoutMs: 30_000 });
      const existing = r.text.replace(/\r?\n$/, '');
      if (existing === value) return candidate;
    } catch {
      return candidate; // no such file or key: free
    }
  }
  return `${name}_${Date.now()}`;
}

async function pickKeysForNewFile(s: Services, why: string): Promise<string[] | undefined> {
  const keys = (await s.conn.call('keysList', {})).keys.filter((k) => k.current?.state === 'active');
  if (keys.length === 0) {
    const gen = 'Generate Key';
    if ((await vscode.window.showErrorMessage(`${why} You have no active key to encrypt the secrets file to.`, gen)) === gen) await vscode.commands.executeCommand('keyward.generateKey');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    keys.map((k) => ({ label: k.name, description: k.current!.ref, picked: keys.length === 1 })),
    { canPickMany: true, title: 'Encrypt the new secrets file to which keys? (add a creation rule to .sops.yaml to skip this)' },
  );
  return picked?.length ? picked.map((p) => p.label) : undefined;
}

const CODE_LOOKUP: Record<string, (n: string) => string> = {
  python: (n) => `os.environ["${n}"]`,
  javascript: (n) => `process.env.${n}`,
  javascriptreact: (n) => `process.env.${n}`,
  typescript: (n) => `process.env.${n}`,
  typescriptreact: (n) => `process.env.${n}`,
  go: (n) => `os.Getenv("${n}")`,
  rust: (n) => `std::env::var("${n}").unwrap_or_default()`,
  java: (n) => `System.getenv("${n}")`,
  kotlin: (n) => `System.getenv("${n}")`,
  scala: (n) => `sys.env("${n}")`,
  csharp: (n) => `Environment.GetEnvironmentVariable("${n}")`,
  ruby: (n) => `ENV.fetch("${n}")`,
  php: (n) => `getenv('${n}')`,
  swift: (n) => `ProcessInfo.processInfo.environment["${n}"]`,
  r: (n) => `Sys.getenv("${n}")`,
  julia: (n) => `ENV["${n}"]`,
  powershell: (n) => `$env:${n}`,
};

/**
 * The edit that replaces the secret: in code, the whole string literal becomes a lookup
 * (or the literal is split around it); in shell and config files, `${NAME}` interpolation.
 */
export function lookupEdit(doc: vscode.TextDocument, range: vscode.Range, name: string): { replaceRange: vscode.Range; replacement: string } {
  const line = doc.lineAt(range.start.line).text;
  const lookup = CODE_LOOKUP[doc.languageId];
  if (doc.languageId === 'shellscript') {
    const q = line[range.start.character - 1];
    return q === "'" && line[range.end.character] === "'"
      ? { replaceRange: new vscode.Range(range.start.translate(0, -1), range.end.translate(0, 1)), replacement: `"\${${name}}"` }
      : { replaceRange: range, replacement: `\${${name}}` };
  }
  if (!lookup || range.start.line !== range.end.line) return { replaceRange: range, replacement: `\${${name}}` };
  const q = line[range.start.character - 1];
  if (q !== undefined && `"'\``.includes(q) && line[range.end.character] === q) {
    let start = range.start.character - 1;
    // Python string prefixes (f, r, b, u) go with the literal.
    if (doc.languageId === 'python') while (start > 0 && /[frbuFRBU]/.test(line[start - 1]!) && !/[A-Za-z0-9_]/.test(line[start - 2] ?? ' ')) start--;
    return { replaceRange: new vscode.Range(range.start.line, start, range.end.line, range.end.character + 1), replacement: lookup(name) };
  }
  // The secret is part of a longer literal: split the literal around the lookup.
  const left = line.slice(0, range.start.character);
  const quote = [...left].reverse().find((c) => `"'\``.includes(c));
  if (!quote) return { replaceRange: range, replacement: lookup(name) };
  if (quote === '`' && (doc.languageId.startsWith('javascript') || doc.languageId.startsWith('typescript'))) return { replaceRange: range, replacement: `\${${lookup(name)}}` };
  // "Bearer SECRET" -> "Bearer " + lookup (the closing quote goes with the secret).
  if (line[range.end.character] === quote) return { replaceRange: range.with({ end: range.end.translate(0, 1) }), replacement: `${quote} + ${lookup(name)}` };
  return { replaceRange: range, replacement: `${quote} + ${lookup(name)} + ${quote}` };
}

function importEdit(doc: vscode.TextDocument): { at: vscode.Position; text: string } | undefined {
  if (doc.languageId !== 'python') return undefined;
  const text = doc.getText();
  if (/^\s*import\s+os\b|^\s*import\s+.*\bos\b/m.test(text)) return undefined;
  // After a shebang, encoding line or module docstring would be nicer; the top is always valid.
  let line = 0;
  while (line < doc.lineCount && /^#!|^#.*coding[:=]/.test(doc.lineAt(line).text)) line++;
  return { at: new vscode.Position(line, 0), text: 'import os\n' };
}

// ---- allow here -------------------------------------------------------------------------------

type CommentStyle = { prefix: string; suffix?: string; nextLine: boolean };

function commentStyle(languageId: string): CommentStyle | undefined {
  if (['python', 'shellscript', 'ruby', 'perl', 'r', 'powershell', 'dockerfile', 'makefile', 'julia', 'elixir', 'coffeescript'].includes(languageId)) return { prefix: '#', nextLine: false };
  if (['yaml', 'dotenv', 'properties', 'toml', 'ini', 'dockercompose', 'terraform', 'hcl', 'nix'].includes(languageId)) return { prefix: languageId === 'ini' ? ';' : '#', nextLine: true };
  if (['javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'go', 'java', 'kotlin', 'scala', 'c', 'cpp', 'csharp', 'rust', 'swift', 'php', 'dart', 'jsonc', 'groovy', 'objective-c'].includes(languageId)) return { prefix: '//', nextLine: false };
  if (['sql', 'lua', 'haskell'].includes(languageId)) return { prefix: '--', nextLine: false };
  if (['html', 'xml', 'markdown'].includes(languageId)) return { prefix: '<!--', suffix: ' -->', nextLine: true };
  return undefined;
}

async function allowHere(doc: vscode.TextDocument, f: ScanTextFinding): Promise<void> {
  const style = commentStyle(doc.languageId);
  if (!style) throw new Error(`${doc.languageId} files have no comments: accept the finding in the baseline instead`);
  const edit = new vscode.WorkspaceEdit();
  if (style.nextLine) {
    const line = doc.lineAt(f.range.startLine);
    const indent = line.text.slice(0, line.firstNonWhitespaceCharacterIndex);
    edit.insert(doc.uri, new vscode.Position(f.range.startLine, 0), `${indent}${style.prefix} keyward:allow-next-line${style.suffix ?? ''}\n`);
  } else {
    const line = doc.lineAt(f.range.endLine);
    edit.insert(doc.uri, line.range.end, ` ${style.prefix} keyward:allow${style.suffix ?? ''}`);
  }
  if (!(await vscode.workspace.applyEdit(edit))) throw new Error('the editor refused the edit');
}

// ---- baseline ---------------------------------------------------------------------------------

/** Adds the finding to `.keyward-baseline.json` at the repository root (the folder's, without git). */
async function addToBaseline(doc: vscode.TextDocument, f: ScanTextFinding): Promise<string> {
  const file = doc.uri.fsPath;
  const root = (await gitRoot(path.dirname(file))) ?? vscode.workspace.getWorkspaceFolder(doc.uri)?.uri.fsPath ?? path.dirname(file);
  const baseline = path.join(root, '.keyward-baseline.json');
  let data: { version: number; findings: { fingerprint: string; rule: string; path: string; line?: number }[] } = { version: 1, findings: [] };
  try {
    const parsed = JSON.parse(await fsp.readFile(baseline, 'utf8')) as typeof data;
    if (!Array.isArray(parsed.findings)) throw new Error(`${baseline} has no findings list: fix or delete it`);
    data = parsed;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (!data.findings.some((x) => x.fingerprint === f.fingerprint)) {
    data.findings.push({ fingerprint: f.fingerprint, rule: f.ruleId, path: path.relative(root, file).split(path.sep).join('/'), line: f.range.startLine + 1 });
  }
  const tmp = `${baseline}.keyward-tmp`;
  await fsp.writeFile(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o644 });
  await fsp.rename(tmp, baseline);
  return baseline;
}

async function gitRoot(dir: string): Promise<string | undefined> {
  for (let d = dir, i = 0; i < 64; i++) {
    try {
      await fsp.lstat(path.join(d, '.git'));
      return d;
    } catch {
      // go up
    }
    const up = path.dirname(d);
    if (up === d) return undefined;
    d = up;
  }
  return undefined;
}
