// Where the daemon of a Keyward home listens, computed exactly as the daemon computes it
// (daemon/util/paths.ts). The extension may import only the wire contract, so the few lines
// are repeated here; the socket name is part of the contract in all but name.
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** `KEYWARD_HOME` (or the `keyward.daemon.home` setting), else the platform's data directory. */
export function keywardHome(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) return path.resolve(configured.replace(/^~(?=$|\/)/, os.homedir()));
  if (env.KEYWARD_HOME) return path.resolve(env.KEYWARD_HOME);
  const home = os.homedir();
  switch (process.platform) {
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', 'Keyward');
    case 'win32':
      return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Keyward');
    default:
      return path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'keyward');
  }
}

export interface DaemonPaths {
  home: string;
  socket: string;
  token: string;
  log: string;
}

const MAX_SOCKET_PATH = 100;

export function daemonPaths(home: string, env: NodeJS.ProcessEnv = process.env): DaemonPaths {
  let real = home;
  try {
    real = realpathSync(home);
  } catch {
    // not created yet
  }
  const id = createHash('sha256').update(real).digest('hex').slice(0, 12);
  const log = path.join(home, 'daemon.log');
  if (process.platform === 'win32') {
    return { home, socket: `\\\\.\\pipe\\keyward-${id}`, token: path.join(home, 'run', 'token'), log };
  }
  let runDir = env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'keyward') : path.join(home, 'run');
  if (path.join(runDir, `${id}.sock`).length > MAX_SOCKET_PATH) {
    runDir = path.join(os.tmpdir(), `keyward-${process.getuid?.() ?? 'user'}`);
  }
  return { home, socket: path.join(runDir, `${id}.sock`), token: path.join(runDir, `${id}.token`), log };
}
