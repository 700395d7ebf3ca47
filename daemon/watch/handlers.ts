import type { Handlers, Service } from '../service';
import { WatchManager } from './manager';
import { artifactsStatus } from './status';

const managers = new WeakMap<Service, WatchManager>();

/** The watcher of a service (created with its handlers). */
export function watchManager(svc: Service): WatchManager {
  let m = managers.get(svc);
  if (!m) {
    m = new WatchManager(svc);
    managers.set(svc, m);
  }
  return m;
}

/**
 * Starts watching the workspaces registered before this daemon started. The daemon calls
 * it once after Service.open; in-process CLI runs do not (they must not start watchers).
 */
export function resumeWorkspaces(svc: Service): Promise<void> {
  return watchManager(svc).resume();
}

/** Workspace, policy and watcher RPC handlers. */
export function workspaceHandlers(svc: Service): Handlers {
  const m = watchManager(svc);
  return {
    workspaceRegister: async (p, call) => ({
      workspace: await m.register(p.root, p.events === false ? undefined : call.notify, call.client),
    }),
    workspaceUnregister: async (p, call) => ({ removed: await m.unregister(p.root, call.client) }),
    workspaceList: async () => ({ workspaces: await m.list() }),
    artifactsStatus: (p) => artifactsStatus({ keystore: svc.keystore, rootFor: (abs) => m.rootFor(abs) }, p.path),
  };
}
