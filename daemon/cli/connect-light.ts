// `keyward exec` reaches the daemon through the light client (daemon/light-client.ts: no JSON-RPC
// library to load at every run): see ConnectDaemon in cli/backend.ts.
import { defaultDaemonScript, LightClient } from '../light-client';
import type { Backend } from './backend';
import { registerPluginHandlers } from './plugin-prompt';

export async function connectLight(home: string): Promise<Backend> {
  const c = await LightClient.connectOrStart(home, 'cli', defaultDaemonScript());
  registerPluginHandlers(c); // age plugins' questions come to this terminal
  return {
    call: (k, p) => c.call(k, p),
    onNotification: (m, h) => c.onNotification(m, h),
    close: () => Promise.resolve(c.close()),
  };
}
