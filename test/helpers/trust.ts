import type { DaemonClient } from '../../daemon/client';

/**
 * Agrees, as the user would when asked, to every recipient the config files that apply to
 * `target` name (daemon/trust): a folder's .keyward.yaml and .sops.yaml, or with `deep` the
 * .sops.yaml of every sops file under it.
 */
export async function agreeTo(c: DaemonClient, target: string, deep = false): Promise<void> {
  const { sources } = await c.call('trustCheck', { path: target, ...(deep ? { deep: true } : {}) });
  for (const s of sources) if (!s.trusted) await c.call('trustGrant', { source: s.source, recipients: s.recipients.map((r) => r.recipient) });
}
