// The keys/* and keystore/* RPC handlers (daemon/protocol/keys.ts, daemon/protocol/keystore.ts):
// the key lifecycle, and where keys live.
import { promises as fsp } from 'node:fs';
import { ErrorCode } from '../protocol';
import type { Deps } from '../rpc/deps';
import type { Handlers } from '../rpc/context';
import { KeywardError, ioError } from '../util/errors';
import type { Registry } from './registry';

export function keysHandlers(d: Pick<Deps, 'keystore'>): Handlers {
  return {
    keysList: (p) => Promise.resolve({ keys: d.keystore().list(p.includeDestroyed ?? false) }),

    keysGenerate: async (p) => ({
      key: await d.keystore().generate(p.name, {
        ...(p.pq !== undefined ? { pq: p.pq } : {}),
        ...(p.cryptoperiodDays !== undefined ? { cryptoperiodDays: p.cryptoperiodDays } : {}),
        ...(p.preActivation !== undefined ? { preActivation: p.preActivation } : {}),
      }),
    }),

    keysImport: async (p) => {
      let text = p.text;
      if (p.path !== undefined) {
        try {
          text = await fsp.readFile(p.path, 'utf8');
        } catch (e) {
          throw ioError(e, 'read identity file', p.path);
        }
      }
      return {
        imported: await d.keystore().import(p.name, text ?? '', p.cryptoperiodDays !== undefined ? { cryptoperiodDays: p.cryptoperiodDays } : {}),
      };
    },

    keysExport: (p) => d.keystore().export(p.ref, p.secret ?? false),

    keysRotate: (p) =>
      d.keystore().rotate(p.name, {
        ...(p.cryptoperiodDays !== undefined ? { cryptoperiodDays: p.cryptoperiodDays } : {}),
        ...(p.keepPrevious ? { keepPrevious: true } : {}),
      }),

    keysSetState: async (p) => ({ key: await d.keystore().setState(p.ref, p.state, p.reason) }),

    keysDestroy: async (p) => ({ key: await d.keystore().destroy(p.ref) }),
  };
}

export interface KeystoreDeps extends Pick<Deps, 'keystore' | 'audit'> {
  registry: Registry;
  /**
   * Makes the keystore use another backend (keystore/use while it holds no key). Absent when
   * the backend was given from outside (tests run the daemon with memory keys): then the
   * choice is not applied.
   */
  useBackend?: (kind: Registry['backend']) => void;
}

export function keystoreHandlers(d: KeystoreDeps): Handlers {
  return {
    keystoreUse: async (p, call) => {
      if (d.keystore().count() > 0 && p.backend !== d.registry.backend) {
        throw new KeywardError(
          ErrorCode.IllegalState,
          `this keystore already holds keys in the ${d.registry.backend} backend`,
          'export and re-import the keys into a new KEYWARD_HOME to change backends',
        );
      }
      if (d.useBackend && p.backend !== d.registry.backend) {
        await d.registry.update((r) => {
          r.backend = p.backend;
        });
        d.useBackend(p.backend);
        await d.audit({ event: 'keystore.use', outcome: 'ok', detail: p.backend, client: call.client });
      }
      return { keystore: await d.keystore().status() };
    },

    keystoreUnlock: async (p, call) => {
      try {
        await d.keystore().unlock(p.passphrase);
      } catch (e) {
        await d.audit({ event: 'keystore.unlock', outcome: 'refused', client: call.client });
        throw e;
      }
      await d.audit({ event: 'keystore.unlock', outcome: 'ok', client: call.client });
      return { keystore: await d.keystore().status() };
    },
  };
}
