// The daemon/* RPC handlers (daemon/protocol/daemon.ts). `daemon/shutdown` and
// `session/authenticate` are answered by the server itself (daemon.ts), which owns the
// connection and the process; `daemon/status` is here, so that `--no-daemon` answers it too.
import type { Handlers } from '../rpc/context';
import type { Deps } from '../rpc/deps';
import { VERSION } from '../version';
import { requests } from './requests';

export interface DaemonDeps extends Pick<Deps, 'home' | 'keystore'> {
  /** The socket the daemon listens on; absent in-process. */
  socket?: string;
  startedAt: Date;
}

export function daemonHandlers(d: DaemonDeps): Handlers {
  return {
    status: async () => ({
      pid: process.pid,
      version: VERSION,
      home: d.home,
      socket: d.socket ?? '(in-process)',
      startedAt: d.startedAt.toISOString(),
      keystore: await d.keystore().status(),
      keys: d.keystore().count(),
      requests: Math.max(1, requests.inFlight),
    }),
  };
}
