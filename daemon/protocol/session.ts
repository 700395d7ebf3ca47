// The session/* method: the first request on every connection, answered by the daemon's server
// itself (daemon/server/daemon.ts) before any handler is reached. Declared here, spread into
// `methods` in index.ts. Sent by every client (the CLI, the extension, the Python package).
import { z } from 'zod';

/** The version of this contract; a client and a daemon of different versions refuse each other. */
export const PROTOCOL_VERSION = 1;

export interface AuthenticateResult {
  daemonVersion: string;
  protocolVersion: number;
}

export const sessionMethods = {
  /** First request on every connection; until it succeeds, every other request is refused. */
  authenticate: {
    name: 'session/authenticate',
    params: z.strictObject({
      token: z.string().min(1).max(256),
      client: z.string().min(1).max(64),
      protocolVersion: z.number().int().min(1).max(1000),
    }),
    result: {} as AuthenticateResult,
  },
} as const;
