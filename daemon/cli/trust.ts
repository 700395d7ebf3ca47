// Consent to the recipients a repository's files name (daemon/trust): `keyward trust ...`, and
// the prompt any command gets when the daemon refuses with ErrorCode.Untrusted (a cloned
// repository's .keyward.yaml or .sops.yaml names recipients you never agreed to). A terminal
// asks; scripts pass --trust-recipients (after checking `keyward trust show`); otherwise the
// command fails with exit 4 and says what to run.
import * as path from 'node:path';
import type { Command } from 'commander';
import type { TrustSourceView } from '../protocol';
import { ErrorCode } from '../protocol/errors';
import { isKeywardError } from '../util/errors';
import type { Backend } from './backend';
import { globals, print, withBackend } from './context';
import { confirm } from './prompt';

/** `b`, whose calls refused for untrusted recipients ask for consent once and are retried. */
export function trusting(b: Backend): Backend {
  return {
    onNotification: (m, h) => b.onNotification(m, h),
    close: () => b.close(),
    call: async (key, params) => {
      try {
        return await b.call(key, params);
      } catch (e) {
        if (!isKeywardError(e) || e.code !== ErrorCode.Untrusted) throw e;
        const target = targetOf(params);
        if (target === undefined || !(await agree(b, target, globals().trustRecipients === true))) throw e;
        return b.call(key, params);
      }
    },
  };
}

/** The path whose config files decide the recipients of a call. */
function targetOf(p: unknown): string | undefined {
  const o = p as { root?: unknown; path?: unknown; output?: unknown; inPlace?: unknown; paths?: unknown };
  for (const v of [o.root, o.inPlace ? o.path : o.output, o.path, Array.isArray(o.paths) ? o.paths[0] : undefined]) if (typeof v === 'string') return v;
  return undefined;
}

/**
 * Shows the config files that apply to `target` and name recipients not agreed to, and records
 * consent when the user (or `yes`) agrees. False when there was nothing to agree to, or no.
 */
async function agree(b: Backend, target: string, yes: boolean): Promise<boolean> {
  const { sources } = await b.call('trustCheck', { path: target });
  const pending = sources.filter((s) => !s.trusted);
  if (pending.length === 0) return false;
  for (const s of pending) process.stderr.write(describe(s));
  if (!yes) {
    if (!process.stdin.isTTY) return false;
    if (!(await confirm(`Encrypt files there to ${pending.length > 1 ? 'these recipients' : 'the recipients above'}? [y/N] `))) return false;
  }
  for (const s of pending) await b.call('trustGrant', { source: s.source, recipients: s.recipients.map((r) => r.recipient) });
  return true;
}

function describe(s: TrustSourceView): string {
  const lines = [`${s.source} names these recipients${s.agreedAt ? ' (changed since you agreed on ' + s.agreedAt + ')' : ''}:`];
  for (const r of s.recipients) {
    const who = r.who === 'yours' ? `your key ${r.name ?? ''}` : r.who === 'team' ? `team policy member ${r.name ?? ''}` : 'UNKNOWN: not your key, not a team member';
    lines.push(`  ${s.untrusted.includes(r.recipient) ? '+' : ' '} ${r.recipient}  (${who.trim()})`);
  }
  return lines.join('\n') + '\n';
}

export function registerTrustCommands(program: Command): void {
  const trust = program.command('trust').description("recipients named by a repository's .keyward.yaml or .sops.yaml: encrypted to only once you agree");
  trust
    .command('show [path]')
    .description('the config files that apply to a folder or file, who their recipients are, and whether you agreed')
    .action(async (p?: string) => {
      const r = await withBackend((b) => b.call('trustCheck', { path: path.resolve(p ?? '.') }));
      print(r.sources.map((s) => describe(s) + (s.trusted ? '  agreed\n' : '  not agreed: keyward trust add\n')).join('') || 'no .keyward.yaml or .sops.yaml applies here', r);
    });
  trust
    .command('add [path]')
    .description('agree to the recipients of the config files that apply to a folder or file (asks first)')
    .option('-y, --yes', 'do not ask (check them first with keyward trust show)')
    .action(async (p: string | undefined, o: { yes?: boolean }) => {
      const target = path.resolve(p ?? '.');
      const done = await withBackend((b) => agree(b, target, o.yes === true || globals().trustRecipients === true));
      print(done ? 'agreed' : 'nothing agreed', { agreed: done });
    });
  trust
    .command('remove <config-file>')
    .description('forget the agreement for a .keyward.yaml or .sops.yaml (asked again on next use)')
    .action(async (f: string) => {
      const r = await withBackend((b) => b.call('trustRevoke', { source: path.resolve(f) }));
      print(r.removed ? 'removed' : 'no agreement for it', r);
    });
  trust
    .command('list')
    .description('every config file whose recipients you agreed to')
    .action(async () => {
      const r = await withBackend((b) => b.call('trustList', {}));
      print(r.sources.map((s) => `${s.source}\t${s.recipients.length} recipient(s)\t${s.agreedAt}`).join('\n') || 'none', r);
    });
}
