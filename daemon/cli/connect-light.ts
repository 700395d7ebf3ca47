// `keyward exec` reaches the daemon through the light client (daemon/light-client.ts: no JSON-RPC
// library to load at every run): see ConnectDaemon in cli/backend.ts.
import { defaultDaemonScript, LightClient } from '../light-client';
import { overDaemon, type Backend } from './backend';

/** `early`: a connection to the daemon of `home` already on its way (cli/exec-lean.ts). */
export async function connectLight(home: string, early?: Promise<LightClient>): Promise<Backend> {
  return overDaemon(await LightClient.connectOrStart(home, 'cli', defaultDaemonScript(), process.env, early));
}
