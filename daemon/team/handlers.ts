import type { Handlers, Service } from '../service';

/** The team/KMS RPC handlers. */
export function teamHandlers(_svc: Service): Handlers {
  return {};
}
