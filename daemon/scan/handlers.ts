import type { Handlers, Service } from '../service';

/** The scanner's RPC handlers. */
export function scanHandlers(_svc: Service): Handlers {
  return {};
}
