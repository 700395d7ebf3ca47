// `keyward exec` reaches the daemon through the light client (daemon/light-client.ts: no JSON-RPC
// library to load at every run): see ConnectDaemon in cli/backend.ts.
import { defaultDaemonScript, LightClient } from '../light-client';
import { overDaemon, type Backend } from './backend';

export async function connectLight(home: string): Promise<Backend> {
  return overDaemon(await LightClient.connectOrStart(home, 'cli', defaultDaemonScript()));
}
