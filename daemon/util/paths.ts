import { promises as fsp } from 'node:fs';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from './errors';

// Where the daemon listens is part of the wire contract (the extension computes it too).
export { daemonPaths, keywardHome, type DaemonPaths } from '../protocol/paths';

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
