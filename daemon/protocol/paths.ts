// Where a Keyward home's daemon listens: part of the contract between the daemon and its
// clients (the CLI and the extension compute the same socket path from the same home).
//
// This file is the one definition; clients in other languages (python/src/keyward/_paths.py)
// follow these rules step by step, and test/python/test_contract.py holds them to it:
// 1. home: KEYWARD_HOME made absolute; else, on Linux, $XDG_DATA_HOME/keyward (empty or unset:
//    ~/.local/share/keyward); macOS ~/Library/Application Support/Keyward; Windows
//    %APPDATA%\Keyward. ~ is $HOME, else the user database's home.
// 2. id: the first 12 hex digits of SHA-256 of the home's real path (symlinks resolved; the
//    path as given while it does not exist), as UTF-8.
// 3. runtime directory (0700): $XDG_RUNTIME_DIR/keyward, else HOME/run; if RUN/ID.sock would be
//    longer than 100 bytes, TMP/keyward-UID instead, TMP being $TMPDIR, $TMP, $TEMP or /tmp
//    without a trailing slash. Paths are joined and normalized as Node's path.join does.
// 4. socket RUN/ID.sock (Windows: the pipe \\.\pipe\keyward-ID), token RUN/ID.token: one line,
//    sent as `token` in session/authenticate, the first request of every connection.
import { realpathSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256Hex } from './sha256';

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
  const id = sha256Hex(real).slice(0, 12);
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
