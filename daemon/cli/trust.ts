// Consent to the recipients a repository's files name (daemon/trust): `keyward trust ...`, and
// the prompt any command gets when the daemon refuses with ErrorCode.Untrusted (a cloned
// repository's .keyward.yaml or .sops.yaml names recipients you never agreed to). A terminal
// asks; scripts pass --trust-recipients (after checking `keyward trust show`); otherwise the
// command fails with exit 4 and says what to run.
import * as path from 'node:path';
import type { Command } from 'commander';
import type { TrustSourceView } from '../protocol';
import { ErrorCode } from '../protocol/errors';
import { isKeywardError, KeywardError } from '../util/errors';
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
        const targets = targetsOf(params);
        const yes = globals().trustRecipients === true;
        if (!targets.length || (!yes && !process.stdin.isTTY)) throw noTerminal(e, await pendingOf(b, targets).catch(() => []));
        if (!(await agree(b, targets, yes))) throw e;
        return b.call(key, params);
      }
    },
  };
}

/** The paths whose config files decide the recipients of a call (a tree's: every .sops.yaml under it). */
function targetsOf(p: unknown): { path: string; deep?: boolean }[] {
  const o = p as { root?: unknown; path?: unknown; output?: unknown; inPlace?: unknown; paths?: unknown };
  if (Array.isArray(o.paths)) return o.paths.filter((x): x is string => typeof x === 'string').map((x) => ({ path: x, deep: true }));
  for (const v of [o.root, o.inPlace ? o.path : o.output, o.path]) if (typeof v === 'string') return [{ path: v }];
  return [];
}

/** The config files of `targets` whose recipients are not all agreed to (each once). */
async function pendingOf(b: Backend, targets: readonly { path: string; deep?: boolean }[]): Promise<TrustSourceView[]> {
  const out = new Map<string, TrustSourceView>();
  for (const t of targets) {
    const { sources } = await b.call('trustCheck', { path: t.path, ...(t.deep ? { deep: true } : {}) });
    for (const s of sources) if (!s.trusted) out.set(s.source, s);
  }
  return [...out.values()];
}

/** The refusal when nobody can be asked: who the recipients are, and the two ways to agree. */
function noTerminal(e: KeywardError, pending: readonly TrustSourceView[]): KeywardError {
  for (const s of pending) process.stderr.write(describe(s));
  const dir = pending[0] ? path.dirname(pending[0].source) : '.';
  return new KeywardError(
    ErrorCode.Untrusted,
    e.message,
    `there is no terminal to ask on: check who they are (above, or keyward trust show ${dir}), then agree with keyward trust add ${dir}, or pass --trust-recipients (scripts, CI)`,
  );
}

/**
 * Shows the config files that apply to `targets` and name recipients not agreed to, and records
 * consent when the user (or `yes`) agrees. False when there was nothing to agree to, or no.
 */
async function agree(b: Backend, targets: readonly { path: string; deep?: boolean }[], yes: boolean): Promise<boolean> {
  const pending = await pendingOf(b, targets);
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
    const who = r.who === 'yours' ? `your key ${r.name ?? ''}` : r.who === 'team' ? `team policy: ${r.name ?? ''}` : 'UNKNOWN: not your key, not a team member';
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
      const done = await withBackend((b) => agree(b, [{ path: target }], o.yes === true || globals().trustRecipients === true));
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
