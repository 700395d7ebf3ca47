// The workspace/* RPC handlers (daemon/protocol/workspace.ts): registered workspaces, watched
// for protected files to encrypt (./manager.ts).
import type { Handlers } from '../rpc/context';
import type { WatchManager } from './manager';

export function workspaceHandlers(watch: WatchManager): Handlers {
  return {
    workspaceRegister: async (p, call) => ({
      workspace: await watch.register(p.root, p.events === false ? undefined : call.notify, call.client),
    }),
    workspaceUnregister: async (p, call) => ({ removed: await watch.unregister(p.root, call.client) }),
    workspaceList: async () => ({ workspaces: await watch.list() }),
  };
}
