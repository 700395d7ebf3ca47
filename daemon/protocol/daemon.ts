// The daemon/* methods: the daemon process itself. Declared here, spread into `methods` in
// index.ts; `daemon/status` is served by daemon/server/handlers.ts, `daemon/shutdown` by the
// server (daemon/server/daemon.ts), which owns the process.
import { z } from 'zod';
import type { KeystoreStatus } from './shapes';

export interface StatusResult {
  pid: number;
  version: string;
  home: string;
  socket: string;
  startedAt: string;
  keystore: KeystoreStatus;
  keys: number;
  /** Requests the daemon is serving, this one included (1 in-process). */
  requests: number;
}

export type ShutdownResult = Record<string, never>;

export const daemonMethods = {
  status: {
    name: 'daemon/status',
    params: z.strictObject({}),
    result: {} as StatusResult,
  },
  shutdown: {
    name: 'daemon/shutdown',
    params: z.strictObject({}),
    result: {} as ShutdownResult,
  },
} as const;
