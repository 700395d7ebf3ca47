// Errors from the daemon, as the extension sees them, and the sentences a person reads.
import { ErrorCode } from '../../daemon/protocol';

/** A failure the daemon reported (or the connection to it), with the daemon's own hint. */
export class DaemonError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'DaemonError';
  }
}

export function isDaemonError(e: unknown, code?: number): e is DaemonError {
  return e instanceof DaemonError && (code === undefined || e.code === code);
}

/** What to do next, by error code, when the daemon gave no hint of its own. */
const ADVICE: Partial<Record<number, string>> = {
  [ErrorCode.InvalidParams]: 'This looks like a bug in Keyward: please report it with the log (Keyward: Show Log).',
  [ErrorCode.MethodNotFound]: 'The running daemon is older than this extension: run "Keyward: Restart Daemon".',
  [ErrorCode.InternalError]: 'The daemon failed unexpectedly: see its log (Keyward: Show Log) and report it.',
  [ErrorCode.Unauthorized]: 'The daemon refused this window: run "Keyward: Restart Daemon" to reconnect with a fresh token.',
  [ErrorCode.NotFound]: 'Check the name or path, or refresh the Keyward views.',
  [ErrorCode.AlreadyExists]: 'Choose another name, or remove the existing one first.',
  [ErrorCode.InvalidInput]: 'Correct the input and try again.',
  [ErrorCode.IllegalState]: 'The key or file is not in a state that allows this: check it in the Keys view.',
  [ErrorCode.KeyUnusable]: 'Activate or rotate the key in the Keys view, or choose another key.',
  [ErrorCode.DecryptFailed]: 'No key in your keystore opens this file: import the right identity (Keyward: Import Key) or ask a teammate to add your recipient.',
  [ErrorCode.Malformed]: 'The file is damaged or not in the expected format: restore it from version control.',
  [ErrorCode.KeystoreUnavailable]: 'Start your OS keychain (on Linux: gnome-keyring or another Secret Service), or switch the keystore backend in the settings.',
  [ErrorCode.KeystoreLocked]: 'Unlock the keystore: run "Keyward: Unlock Keystore".',
  [ErrorCode.DaemonUnavailable]: 'Run "Keyward: Restart Daemon", or see its log (Keyward: Show Log).',
  [ErrorCode.IoFailed]: 'Check that the file exists, is writable and the disk is not full.',
  [ErrorCode.Cancelled]: 'Nothing was changed for the files not yet done.',
  [ErrorCode.Busy]: 'Another job is working on these files: wait for it, or cancel it.',
};

/** One or two sentences for a notification: what failed and what to do. Never a secret. */
export function describeError(e: unknown, doing?: string): string {
  const prefix = doing ? `${doing} failed: ` : '';
  if (e instanceof DaemonError) {
    const what = capitalize(e.message.replace(/\.$/, ''));
    const next = e.hint ? capitalize(e.hint.replace(/\.$/, '')) + '.' : (ADVICE[e.code] ?? '');
    return `${prefix}${prefix ? e.message.replace(/\.$/, '') : what}. ${next}`.trim();
  }
  const msg = e instanceof Error ? e.message : String(e);
  return `${prefix}${msg}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
