// Runs the bundled `keyward` CLI (dist/cli.js) for what runs in-process by design: the
// workspace scan and the pre-commit hook (they need no daemon and no key). A separate
// process, never an import: the extension may import only the wire contract.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The Node to run scripts with. In VS Code desktop, process.execPath is Electron: fine for a
 * child run with ELECTRON_RUN_AS_NODE, but the git hook bakes the binary in and runs it
 * without that variable, so for the hook a real `node` on PATH is preferred.
 */
export function nodeBinary(forHook = false): string {
  if (!forHook || !process.versions.electron) return process.execPath;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, process.platform === 'win32' ? 'node.exe' : 'node');
    if (dir && existsSync(p)) return p;
  }
  return process.execPath;
}

export function runCli(extensionUri: vscode.Uri, args: string[], opts: { cwd: string; token?: vscode.CancellationToken; forHook?: boolean; env?: NodeJS.ProcessEnv }): Promise<CliRun> {
  const script = vscode.Uri.joinPath(extensionUri, 'dist', 'cli.js').fsPath;
  return new Promise((resolve, reject) => {
    const child = execFile(
      nodeBinary(opts.forHook),
      [script, ...args],
      { cwd: opts.cwd, env: { ...process.env, ...opts.env, ELECTRON_RUN_AS_NODE: '1' }, maxBuffer: 64 * 1024 * 1024, timeout: 10 * 60_000 },
      (err, stdout, stderr) => {
        sub?.dispose();
        if (err && typeof err.code !== 'number') return reject(new Error(`cannot run keyward: ${err.message}`));
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
      },
    );
    const sub = opts.token?.onCancellationRequested(() => child.kill());
  });
}
