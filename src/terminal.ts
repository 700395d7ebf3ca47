// `keyward` on the PATH of VS Code's integrated terminals, so that advice naming a CLI command
// works where people read it. A small launcher in this extension's global storage runs the CLI
// this extension bundles (dist/cli.js) with the Node that runs VS Code; it is written again at
// every activation, so it follows the extension through updates (the launcher's own path never
// changes). The terminals also get KEYWARD_HOME when the daemon.home setting names one, so the
// CLI talks to the same daemon as the editor.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { settings } from './config';

export async function putCliOnPath(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<string | undefined> {
  if (context.globalStorageUri.scheme !== 'file') return undefined;
  const bin = path.join(context.globalStorageUri.fsPath, 'bin');
  const cli = vscode.Uri.joinPath(context.extensionUri, 'dist', 'cli.js').fsPath;
  try {
    await fsp.mkdir(bin, { recursive: true, mode: 0o700 });
    if (process.platform === 'win32') {
      await fsp.writeFile(path.join(bin, 'keyward.cmd'), `@echo off\r\nset ELECTRON_RUN_AS_NODE=1\r\n"${process.execPath}" "${cli}" %*\r\n`);
    } else {
      const q = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
      const script = `#!/bin/sh\n# Written by the Keyward extension at each start: runs the keyward CLI it bundles.\nELECTRON_RUN_AS_NODE=1 exec ${q(process.execPath)} ${q(cli)} "$@"\n`;
      const target = path.join(bin, 'keyward');
      const tmp = `${target}.${process.pid}.tmp`;
      await fsp.writeFile(tmp, script, { mode: 0o755 });
      await fsp.rename(tmp, target);
    }
  } catch (e) {
    log.warn(`cannot put keyward on the terminals' PATH: ${(e as Error).message}`);
    return undefined;
  }
  const env = context.environmentVariableCollection;
  env.description = 'Puts the keyward CLI on PATH (and KEYWARD_HOME when keyward.daemon.home is set)';
  env.prepend('PATH', `${bin}${path.delimiter}`);
  const home = settings().daemonHome;
  if (home) env.replace('KEYWARD_HOME', home);
  else env.delete('KEYWARD_HOME');
  return bin;
}
