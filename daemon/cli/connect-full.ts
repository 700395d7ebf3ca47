// The CLI's commands reach the daemon through the full client (daemon/client.ts, on vscode-jsonrpc):
// see ConnectDaemon in cli/backend.ts.
import type { Backend } from './backend';
import { registerPluginHandlers } from './plugin-prompt';

export async function connectFull(home: string): Promise<Backend> {
  // Loaded here, not at start: commands that reach no daemon (--version, help, scan) do
  // without it and its JSON-RPC library.
  const { DaemonClient, defaultDaemonScript } = await import('../client');
  const c = await DaemonClient.connectOrStart(home, 'cli', defaultDaemonScript());
  registerPluginHandlers(c); // age plugins' questions come to this terminal
  return {
    call: (k, p) => c.call(k, p),
    onNotification: (m, h) => c.onNotification(m, h),
    close: () => Promise.resolve(c.close()),
  };
}
