// The `scan` and `hook` commands, registered on a commander program. Shared by the full CLI
// (daemon/cli/scan.ts) and the small pre-commit entry (daemon/scan/main.ts). Importing this
// module is cheap: the scanner (actions.ts) is loaded when a command runs.

import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { ErrorCode } from '../protocol/errors';
import { KeywardError, isKeywardError } from '../util/errors';
import { DEFAULT_MAX_FILE_BYTES } from './content';

export interface CommandHost {
  /** The global --json flag. */
  json(): boolean;
}

/** Scans exit 0 (clean), 1 (findings) or 2 (error), as gitleaks and detect-secrets do. */
export const SCAN_EXIT = { clean: 0, findings: 1, error: 2 } as const;

interface ScanFlags {
  staged?: boolean;
  since?: string;
  stdinPath?: string;
  format?: string;
  output?: string;
  baseline?: string | false;
  updateBaseline?: boolean;
  policy: boolean;
  maxFileSize?: string;
  listRules?: boolean;
}

function errorLine(e: unknown): string {
  if (isKeywardError(e)) return `keyward: ${e.message}${e.hint ? ` (${e.hint})` : ''}\n`;
  return `keyward: internal error: ${e instanceof Error ? e.message : String(e)} (please report it)\n`;
}

export function registerScanCommands(program: Command, host: CommandHost): void {
  program
    .command('scan [paths...]')
    .description('find hardcoded keys: in the work tree (respecting .gitignore), the index (--staged), history (--since) or standard input (-); exits 0 clean, 1 findings, 2 error')
    .option('--staged', 'scan what is staged for the next commit (read from the index), and check the encryption policy')
    .option('--since <rev>', 'scan the lines added by the commits since REV (REV..HEAD), or in a range A..B')
    .option('--stdin-path <path>', 'with -: judge standard input as if it were this file')
    .option('-f, --format <format>', 'text (default), json or sarif')
    .option('-o, --output <file>', 'write the report to a file')
    .option('--baseline <file>', 'accepted findings (default: .keyward-baseline.json at the repository root, if present)')
    .option('--no-baseline', 'report findings the baseline accepts')
    .option('--update-baseline', 'add every current finding to the baseline, then exit 0')
    .option('--no-policy', 'with --staged: skip the encryption policy checks')
    .option('--max-file-size <MiB>', 'skip files larger than this (default 25)')
    .option('--list-rules', 'print the detection rules and exit')
    .action(async (paths: string[], f: ScanFlags) => {
      try {
        process.exitCode = await scanAction(paths, f, host);
      } catch (e) {
        process.stderr.write(errorLine(e));
        process.exitCode = SCAN_EXIT.error;
      }
    });

  program
    .command('allow <files...>')
    .description('let staged plaintext files through the pre-commit check (model weights, protected files): recorded in .keyward-baseline.json with the reason and staged with the commit, for its reviewer; a file whose content changes is refused again')
    .requiredOption('--reason <text>', 'why this plaintext may be committed (one line, kept in the baseline)')
    .option('--baseline <file>', 'the baseline to write (default: .keyward-baseline.json at the repository root)')
    .action(async (files: string[], o: { reason: string; baseline?: string }) => {
      try {
        const { allowPlaintext } = await import('./actions');
        const r = await allowPlaintext(process.cwd(), files, o.reason, { maxFileBytes: DEFAULT_MAX_FILE_BYTES, ...(o.baseline !== undefined ? { baseline: o.baseline } : {}) });
        if (host.json()) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        else {
          for (const a of r.allowed) process.stdout.write(`allowed ${a.path} (${a.rule}, blob ${a.blob.slice(0, 12)})\n`);
          const where = path.relative(process.cwd(), r.baseline) || r.baseline;
          process.stdout.write(r.staged ? `recorded in ${where}, staged with this commit for its reviewer\n` : `recorded in ${where}: commit it with the files so that the allow is reviewed\n`);
        }
      } catch (e) {
        process.stderr.write(errorLine(e));
        process.exitCode = SCAN_EXIT.error;
      }
    });

  const hook = program.command('hook').description('the git pre-commit hook that runs keyward scan --staged');
  hook
    .command('install')
    .description('install the pre-commit hook (follows core.hooksPath; an existing hook is kept and runs first)')
    .action(async () => {
      const { installHook } = await import('./actions');
      const r = await installHook(process.cwd(), { node: process.execPath, script: hookScriptPath() });
      const what = { installed: 'installed', updated: 'updated', unchanged: 'already installed' }[r.action as 'installed'] ?? r.action;
      const line = `pre-commit hook ${what}: ${r.hook}${r.chained ? ` (runs ${r.chained} first)` : ''}`;
      process.stdout.write(host.json() ? JSON.stringify(r, null, 2) + '\n' : line + '\n');
    });
  hook
    .command('update')
    .description('rewrite Keyward\'s pre-commit hook with this install\'s, when one is installed (installs nothing otherwise); an editor runs it after an update')
    .action(async () => {
      const { installHook } = await import('./actions');
      const r = await installHook(process.cwd(), { node: process.execPath, script: hookScriptPath() }, { onlyIfInstalled: true });
      const line = r.action === 'not-installed' ? `no keyward pre-commit hook in ${r.hook}: nothing to update` : `pre-commit hook ${r.action === 'unchanged' ? 'up to date' : 'updated'}: ${r.hook}`;
      process.stdout.write(host.json() ? JSON.stringify(r, null, 2) + '\n' : line + '\n');
    });
  hook
    .command('uninstall')
    .description('remove the pre-commit hook (and put back the hook it replaced)')
    .action(async () => {
      const { uninstallHook } = await import('./actions');
      const r = await uninstallHook(process.cwd());
      const line = r.action === 'removed' ? `pre-commit hook removed: ${r.hook}${r.chained ? ' (the previous hook is back)' : ''}` : `no keyward pre-commit hook in ${r.hook}`;
      process.stdout.write(host.json() ? JSON.stringify(r, null, 2) + '\n' : line + '\n');
    });
}

/**
 * The script the hook runs: this process's own (dist/cli.js or dist/scan.js), through any
 * symbolic link (`/usr/bin/keyward`), so that the hook finds dist/scan.js beside it.
 */
function hookScriptPath(): string {
  const s = process.argv[1];
  if (!s) throw new KeywardError(ErrorCode.InternalError, 'cannot tell where keyward is installed');
  try {
    return realpathSync(s);
  } catch {
    return s;
  }
}

async function scanAction(paths: string[], f: ScanFlags, host: CommandHost): Promise<number> {
  const format = f.format ?? (host.json() ? 'json' : 'text');
  if (format !== 'text' && format !== 'json' && format !== 'sarif') {
    throw new KeywardError(ErrorCode.InvalidInput, `unknown report format: ${format}`, 'use text, json or sarif');
  }
  if (f.listRules) {
    const { POLICY_RULES, RULES } = await import('./actions');
    const all = [...RULES, ...POLICY_RULES];
    if (format === 'text') process.stdout.write(all.map((r) => `${r.id}\t${r.severity}\t${r.description}`).join('\n') + '\n');
    else process.stdout.write(JSON.stringify(all, null, 2) + '\n');
    return SCAN_EXIT.clean;
  }
  let maxFileBytes = DEFAULT_MAX_FILE_BYTES;
  if (f.maxFileSize !== undefined) {
    const n = Number(f.maxFileSize);
    if (!Number.isFinite(n) || n <= 0) throw new KeywardError(ErrorCode.InvalidInput, `not a size in MiB: ${f.maxFileSize}`);
    maxFileBytes = Math.floor(n * 1024 * 1024);
  }
  const { runScan } = await import('./actions');
  return runScan(
    {
      cwd: process.cwd(),
      paths,
      ...(f.staged ? { staged: true } : {}),
      ...(f.since !== undefined ? { since: f.since } : {}),
      stdin: readAllStdin,
      ...(f.stdinPath !== undefined ? { stdinPath: f.stdinPath } : {}),
      format,
      ...(f.output !== undefined ? { output: f.output } : {}),
      ...(typeof f.baseline === 'string' ? { baseline: f.baseline } : {}),
      ...(f.baseline === false ? { noBaseline: true } : {}),
      ...(f.updateBaseline ? { updateBaseline: true } : {}),
      policy: f.policy,
      maxFileBytes,
    },
    { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) },
  );
}

async function readAllStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
