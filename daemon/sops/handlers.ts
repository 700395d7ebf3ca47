import type { Handlers, Service } from '../service';

/** The sops RPC handlers. */
export function sopsHandlers(_svc: Service): Handlers {
  return {};
}
