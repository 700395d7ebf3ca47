import { createHash } from 'node:crypto';
import { promises as fsp, realpathSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from './errors';

/** Where Keyward keeps its state: `KEYWARD_HOME`, else the platform's data directory. */
export function keywardHome(env: NodeJS.ProcessEnv = process.env): string {
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
  /** 0700 directory holding the socket and the token. */
  runDir: string;
  socket: string;
  token: string;
  lock: string;
  log: string;
}

// Unix socket paths are limited to 104 (macOS) or 108 (Linux) bytes including the NUL.
const MAX_SOCKET_PATH = 100;

/**
 * One daemon per user and KEYWARD_HOME: the socket's name carries a hash of the home, so two
 * homes (tests, or a second profile) never share a daemon.
 */
export function daemonPaths(home: string, env: NodeJS.ProcessEnv = process.env): DaemonPaths {
  let real = home;
  try {
    real = realpathSync(home);
  } catch {
    // not created yet: the resolved path is what it will be
  }
  const id = createHash('sha256').update(real).digest('hex').slice(0, 12);
  const lock = path.join(home, 'daemon.lock');
  const log = path.join(home, 'daemon.log');
  if (process.platform === 'win32') {
    const runDir = path.join(home, 'run');
    return { home, runDir, socket: `\\\\.\\pipe\\keyward-${id}`, token: path.join(runDir, 'token'), lock, log };
  }
  let runDir = env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'keyward') : path.join(home, 'run');
  if (path.join(runDir, `${id}.sock`).length > MAX_SOCKET_PATH) {
    runDir = path.join(os.tmpdir(), `keyward-${process.getuid?.() ?? 'user'}`);
  }
  return { home, runDir, socket: path.join(runDir, `${id}.sock`), token: path.join(runDir, `${id}.token`), lock, log };
}

/**
 * Creates `dir` as a private directory (0700), or checks an existing one: it must be a real
 * directory owned by this user and not readable by others. A directory another user could
 * have prepared is refused rather than trusted.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  const st = await fsp.lstat(dir);
  if (!st.isDirectory()) {
    throw new KeywardError(ErrorCode.IoFailed, `not a directory: ${dir}`, 'remove it and try again');
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new KeywardError(ErrorCode.IoFailed, `directory is owned by another user: ${dir}`, 'remove it or set KEYWARD_HOME / XDG_RUNTIME_DIR to a directory you own');
  }
  if ((st.mode & 0o077) !== 0) await fsp.chmod(dir, 0o700);
}
