// Where the daemon of a Keyward home listens: computed by the contract's own function, which
// the daemon uses too (daemon/protocol/paths.ts).
import * as os from 'node:os';
import * as path from 'node:path';
import { keywardHome as defaultHome } from '../../daemon/protocol/paths';

export { daemonPaths, type DaemonPaths } from '../../daemon/protocol/paths';

/** The `keyward.daemon.home` setting if set, else `KEYWARD_HOME`, else the platform's data directory. */
export function keywardHome(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) return path.resolve(configured.replace(/^~(?=$|\/)/, os.homedir()));
  return defaultHome(env);
}
