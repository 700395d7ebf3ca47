// The trust RPC handlers (daemon/protocol/trust.ts).
import { ErrorCode } from '../protocol/errors';
import type { Handlers } from '../rpc/context';
import type { Deps } from '../rpc/deps';
import { KeywardError } from '../util/errors';
import { describe, describeFor, recipientsOf, sourceKey } from './sets';
import { TrustStore } from './store';

export function trustHandlers(d: Pick<Deps, 'home' | 'keystore' | 'audit'>): Handlers {
  return {
    trustCheck: async (p) => ({ sources: await describeFor(d.home, d.keystore(), p.path, p.deep === true) }),

    trustGrant: async (p, call) => {
      const source = await sourceKey(p.source);
      const now = await recipientsOf(source);
      const given = new Set(p.recipients);
      const changed = now.recipients.filter((r) => !given.has(r));
      if (changed.length > 0) {
        throw new KeywardError(ErrorCode.IllegalState, `${source} names other recipients now than those agreed to`, 'it changed since it was shown: look at it again (keyward trust show) and agree to what it names now');
      }
      await TrustStore.in(d.home).grant(source, now.recipients);
      await d.audit({ event: 'trust.grant', outcome: 'ok', path: source, client: call.client, detail: `${now.recipients.length} recipient(s)` });
      return { source: await describe(d.home, d.keystore(), source, now.kind, now.recipients) };
    },

    trustRevoke: async (p, call) => {
      const source = await sourceKey(p.source);
      const removed = await TrustStore.in(d.home).revoke(source);
      if (removed) await d.audit({ event: 'trust.revoke', outcome: 'ok', path: source, client: call.client });
      return { removed };
    },

    trustList: async () => ({ sources: await TrustStore.in(d.home).list() }),
  };
}
