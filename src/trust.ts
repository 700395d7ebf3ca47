// The consent dialog for recipients a repository's files name (daemon/trust): when the daemon
// refuses with ErrorCode.Untrusted, show who the recipients are (your keys, team policy
// members, unknown) and record the user's answer with trust/grant. Nothing is agreed by default.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode, type TrustRecipientView, type TrustSourceView } from '../daemon/protocol';
import type { DaemonConnection } from './client/connection';
import { isDaemonError } from './client/errors';

/**
 * Runs `call`; when the daemon refuses it for recipients not agreed to, asks about the config
 * files that apply to `targets` (`deep`: every .sops.yaml of the sops files under a folder) and,
 * if the user agrees, runs it once more. Otherwise the refusal stands, with its hint.
 */
export async function withConsent<T>(conn: DaemonConnection, targets: string | readonly string[], call: () => Promise<T>, deep = false): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (!isDaemonError(e, ErrorCode.Untrusted) || !(await askTrust(conn, targets, deep))) throw e;
    return call();
  }
}

/** Asks about the config files that apply to `targets`; true when the user agreed (the caller retries). */
export async function askTrust(conn: DaemonConnection, targets: string | readonly string[], deep = false): Promise<boolean> {
  const all = new Map<string, TrustSourceView>();
  for (const t of typeof targets === 'string' ? [targets] : targets) {
    for (const s of (await conn.call('trustCheck', { path: t, ...(deep ? { deep: true } : {}) })).sources) if (!s.trusted) all.set(s.source, s);
  }
  const pending = [...all.values()];
  if (pending.length === 0) return false;
  const detail = pending
    .map((s) => `${path.basename(s.source)} in ${path.dirname(s.source)}${s.agreedAt ? ' (changed since you agreed)' : ''}:\n${s.recipients.map((r) => `${s.untrusted.includes(r.recipient) ? '+ ' : '   '}${who(r)}: ${r.recipient}`).join('\n')}`)
    .join('\n\n');
  const unknown = pending.flatMap((s) => s.recipients).filter((r) => r.who === 'unknown').length;
  const agree = 'Encrypt to Them';
  const answer = await vscode.window.showWarningMessage(
    `This repository asks Keyward to encrypt your files to recipients you have not agreed to${unknown ? ` (${unknown} unknown: not your key, not a team member)` : ''}.`,
    { modal: true, detail: `${detail}\n\nAnyone holding one of these keys can decrypt what Keyward encrypts here. Agree only if you know them.` },
    agree,
  );
  if (answer !== agree) return false;
  for (const s of pending) await conn.call('trustGrant', { source: s.source, recipients: s.recipients.map((r) => r.recipient) });
  return true;
}

function who(r: TrustRecipientView): string {
  if (r.who === 'yours') return `your key ${r.name ?? ''}`.trim();
  if (r.who === 'team') return `team policy: ${r.name ?? ''}`.trim();
  return 'UNKNOWN';
}
