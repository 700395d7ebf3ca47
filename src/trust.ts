// The consent dialog for recipients a repository's files name (daemon/trust): when the daemon
// refuses with ErrorCode.Untrusted, show who the recipients are (your keys, team policy
// members, unknown) and record the user's answer with trust/grant. Nothing is agreed by default.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TrustRecipientView } from '../daemon/protocol';
import type { DaemonConnection } from './client/connection';

/** Asks about the config files that apply to `target`; true when the user agreed (the caller retries). */
export async function askTrust(conn: DaemonConnection, target: string): Promise<boolean> {
  const { sources } = await conn.call('trustCheck', { path: target });
  const pending = sources.filter((s) => !s.trusted);
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
