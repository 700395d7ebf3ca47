import type { Keystore } from '../keystore/keystore';
import type { Handlers } from '../rpc/context';
import type { WatchManager } from './manager';
import { artifactsStatus } from './status';

/** Workspace, policy and watcher RPC handlers. */
export function workspaceHandlers(d: { watch: WatchManager; keystore: () => Keystore }): Handlers {
  const m = d.watch;
  return {
    workspaceRegister: async (p, call) => ({
      workspace: await m.register(p.root, p.events === false ? undefined : call.notify, call.client),
    }),
    workspaceUnregister: async (p, call) => ({ removed: await m.unregister(p.root, call.client) }),
    workspaceList: async () => ({ workspaces: await m.list() }),
    artifactsStatus: (p) => artifactsStatus({ keystore: d.keystore(), rootFor: (abs) => m.rootFor(abs) }, p.path),
  };
}
