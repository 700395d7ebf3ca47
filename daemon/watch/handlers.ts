import type { Handlers, Service } from '../service';

/** Workspace, policy and watcher RPC handlers. */
export function workspaceHandlers(_svc: Service): Handlers {
  return {};
}
