import { ErrorCode } from '../protocol/errors';

/**
 * Marks a KeywardError of any copy of this module: the CLI loads some of its parts as bundles
 * of their own (esbuild.mjs), each with its own KeywardError class, and an error thrown in one
 * is caught in another.
 */
const BRAND = Symbol.for('keyward.error');

/**
 * The one error type Keyward throws on purpose. `message` is short, lowercase and holds no
 * secret (it may name a key by `name@vN`, a recipient or a path); `hint` says what to do.
 * Anything else that escapes is a bug and is reported as an internal error.
 */
export class KeywardError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'KeywardError';
  }
}
Object.defineProperty(KeywardError.prototype, BRAND, { value: true });

/** Whether `e` is a KeywardError, also one from another bundle (see BRAND). */
export function isKeywardError(e: unknown): e is KeywardError {
  return e instanceof KeywardError || (typeof e === 'object' && e !== null && (e as { [BRAND]?: unknown })[BRAND] === true);
}

/**
 * A failure's words for the audit log, events and job reports: Keyward's own messages (paths,
 * codes, never a secret), with the errno codes people rarely know spelled out; anything else (a
 * bug, a library's error that may quote its input) is reduced to a class.
 */
export function failureDetail(e: unknown): string {
  if (!isKeywardError(e)) return 'internal error';
  if (/\bEFBIG\b/.test(e.message)) return e.message.replace('EFBIG', 'file too large for the file system or the process file-size limit (EFBIG)');
  if (/\bEDQUOT\b/.test(e.message)) return e.message.replace('EDQUOT', 'disk quota exceeded (EDQUOT)');
  return e.message;
}

/** Node's errno code of a failed fs call, or undefined. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') {
    return e.code;
  }
  return undefined;
}

/** Turns an fs failure into a KeywardError that names the path and what to check. */
export function ioError(e: unknown, action: string, path: string): KeywardError {
  const code = errnoCode(e);
  switch (code) {
    case 'ENOENT':
      return new KeywardError(ErrorCode.NotFound, `${action}: no such file: ${path}`, 'check the path');
    case 'EACCES':
    case 'EPERM':
      return new KeywardError(ErrorCode.IoFailed, `${action}: permission denied: ${path}`, 'check the file and directory permissions');
    case 'ENOSPC':
      return new KeywardError(ErrorCode.IoFailed, `${action}: no space left on device: ${path}`, 'free some disk space and try again; nothing was replaced');
    case 'EROFS':
      return new KeywardError(ErrorCode.IoFailed, `${action}: read-only file system: ${path}`, 'write the output somewhere writable with -o');
    case 'EISDIR':
      return new KeywardError(ErrorCode.InvalidInput, `${action}: is a directory: ${path}`, 'give a file, not a directory');
    case 'EEXIST':
      return new KeywardError(ErrorCode.AlreadyExists, `${action}: already exists: ${path}`, 'choose another output path or remove the file first');
    default:
      return new KeywardError(ErrorCode.IoFailed, `${action}: ${code ?? 'i/o error'}: ${path}`);
  }
}
