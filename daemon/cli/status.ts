import * as path from 'node:path';
import type { Command } from 'commander';
import type { ResultOf } from '../protocol';
import { ErrorCode } from '../protocol/errors';
import type { WorkspaceInfo } from '../protocol/workspace';
import { KeywardError } from '../util/errors';
import { globals, print, withBackend } from './context';

/** `keyward status [PATH]` and `keyward workspace add|remove|list`. */
export function registerStatusCommands(program: Command): void {
  program
    .command('status [path]')
    .description('list encrypted artifacts and protected files under PATH (default: .) with recipients, key versions and warnings')
    .action(async (p?: string) => {
      const r = await withBackend((b) => b.call('artifactsStatus', { path: path.resolve(p ?? '.') }));
      // Warnings are for reading, not failures: the exit code stays 0.
      print(formatStatus(r), r);
    });

  const ws = program.command('workspace').description('folders the daemon watches and encrypts on save');
  ws.command('add [path]')
    .description('watch a folder (default: .): protected files are encrypted to FILE.age once they stop changing')
    .action(async (p?: string) => {
      needsDaemon('workspace add');
      const r = await withBackend((b) => b.call('workspaceRegister', { root: path.resolve(p ?? '.'), events: false }));
      print(formatWorkspace(r.workspace), r.workspace);
    });
  ws.command('remove [path]')
    .description('stop watching a folder (default: .); encrypted files stay as they are')
    .action(async (p?: string) => {
      needsDaemon('workspace remove');
      const root = path.resolve(p ?? '.');
      const r = await withBackend((b) => b.call('workspaceUnregister', { root }));
      print(r.removed ? `not watching ${root} any more` : `${root} was not registered`, r);
    });
  ws.command('list')
    .description('the folders the daemon watches')
    .action(async () => {
      needsDaemon('workspace list');
      const r = await withBackend((b) => b.call('workspaceList', {}));
      print(r.workspaces.length ? r.workspaces.map(formatWorkspace).join('\n') : 'no workspace registered', r.workspaces);
    });
}

function needsDaemon(what: string): void {
  if (!globals().daemon) {
    throw new KeywardError(ErrorCode.InvalidInput, `${what} needs the daemon: it watches in the background`, 'drop --no-daemon');
  }
}

export function formatWorkspace(w: WorkspaceInfo): string {
  const lines = [`${w.root}\t${w.state}${w.pending ? `, ${w.pending} file(s) pending` : ''}`];
  if (w.policy) {
    const src = w.policy.source === 'file' ? path.basename(w.policy.file ?? '.keyward.yaml') : 'defaults (no .keyward.yaml)';
    lines.push(`  policy: ${src}; recipients: ${w.policy.recipients.length ? w.policy.recipients.join(', ') : 'none'}; settle ${w.policy.settleMs} ms`);
    for (const r of w.policy.rules) lines.push(`  protect ${r.glob}\tplaintext ${r.plaintext}\t-> ${r.recipients.length ? r.recipients.join(', ') : 'no recipients'}`);
  }
  if (w.error) lines.push(`  error: ${w.error}`);
  return lines.join('\n');
}

export function formatStatus(r: ResultOf<'artifactsStatus'>): string {
  const rel = (p: string) => path.relative(r.root, p) || '.';
  const policy = r.policyError ? `policy error: ${r.policyError}` : r.policy?.source === 'file' ? 'policy: .keyward.yaml' : 'policy: defaults (no .keyward.yaml)';
  const lines = [`workspace: ${r.root} (${policy})`];
  let warnings = 0;
  for (const a of r.artifacts) {
    const cols = [rel(a.path)];
    if (a.encrypted) {
      cols.push(a.stanzas?.length ? a.stanzas.map((s) => `${s.type} x${s.count}`).join(', ') : 'recipients unknown');
      cols.push(a.keys.length ? `opens with ${a.keys.join(', ')}` : 'opens with none of your keys');
      if (a.size !== undefined) cols.push(formatBytes(a.size));
    } else {
      cols.push('not encrypted');
    }
    lines.push(cols.join('  '));
    for (const w of a.warnings) {
      if (w.code === 'not-encrypted') continue; // said in the line itself
      warnings++;
      lines.push(`  ! ${w.message}`);
    }
  }
  for (const w of r.policyWarnings) lines.push(`policy: ${w.message}`);
  const enc = r.artifacts.filter((a) => a.encrypted).length;
  lines.push(
    `${enc} encrypted, ${r.artifacts.length - enc} not encrypted, ${warnings + r.policyWarnings.length} warning(s)${r.truncated ? ' (stopped early: too many files; give a smaller PATH)' : ''}`,
  );
  return lines.join('\n');
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(1)} ${units[u]}`;
}
