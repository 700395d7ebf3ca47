// Words and numbers for people: sizes, counts with the right plural, paths relative to the workspace.
import * as path from 'node:path';
import * as vscode from 'vscode';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** `1 key`, `2 keys`; `plural` when the word does not just take an s. */
export function count(n: number, word: string, plural = `${word}s`): string {
  return `${n} ${n === 1 ? word : plural}`;
}

/** A path as the user knows it: relative to its workspace folder when it is in one. */
export function displayPath(file: string): string {
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file));
  if (!folder || folder.uri.scheme !== 'file') return file;
  const rel = path.relative(folder.uri.fsPath, file) || '.';
  return (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? `${folder.name}/${rel}` : rel;
}

/** Text with the workspace folders' absolute paths made relative (in messages that name files). */
export function relativeIn(text: string): string {
  let out = text;
  for (const f of vscode.workspace.workspaceFolders ?? []) {
    if (f.uri.scheme !== 'file') continue;
    const root = f.uri.fsPath;
    const as = (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? `${f.name}/` : '';
    out = out.split(`${root}${path.sep}`).join(as).split(root).join(as || '.');
  }
  return out;
}
