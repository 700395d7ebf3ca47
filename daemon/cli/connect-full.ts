// The CLI's commands reach the daemon through the full client (daemon/client.ts, on vscode-jsonrpc):
// see ConnectDaemon in cli/backend.ts.
import { overDaemon, type Backend } from './backend';

export async function connectFull(home: string): Promise<Backend> {
  // Loaded here, not at start: commands that reach no daemon (--version, help, scan) do
  // without it and its JSON-RPC library.
  const { DaemonClient, defaultDaemonScript } = await import('../client');
  return overDaemon(await DaemonClient.connectOrStart(home, 'cli', defaultDaemonScript()));
}
