import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';

// The age engine's failure vocabulary, in one place so every module says the same thing
// the same way. Messages are short, lowercase and never hold key material or plaintext.

/** The input does not parse as age (binary or armored). */
export function malformed(message: string, hint = 'the file is damaged or is not an age file'): KeywardError {
  return new KeywardError(ErrorCode.Malformed, message, hint);
}

export function notAgeFile(): KeywardError {
  return malformed('not an age file', 'the file does not start with an age header or ASCII armor');
}

export function truncated(): KeywardError {
  return malformed('file is truncated', 'the file ends early: copy it again from its source');
}

export function invalidHeader(reason: string): KeywardError {
  return malformed(`invalid header: ${reason}`);
}

export function invalidArmor(reason: string): KeywardError {
  return malformed(`invalid armor: ${reason}`, 'the armored file was edited or damaged; copy it again from its source');
}

export function headerAuthFailed(): KeywardError {
  return new KeywardError(
    ErrorCode.DecryptFailed,
    'header authentication failed: the file was modified or is not for this key',
    'copy the file again from its source; if it is intact, it was tampered with',
  );
}

/** `chunk` counts from 0, like the STREAM nonce counter. */
export function payloadAuthFailed(chunk: number): KeywardError {
  return new KeywardError(
    ErrorCode.DecryptFailed,
    `payload authentication failed at chunk ${chunk}: the file is corrupted or was tampered with`,
    'copy the file again from its source; nothing was written',
  );
}

export function invalidInput(message: string, hint?: string): KeywardError {
  return new KeywardError(ErrorCode.InvalidInput, message, hint);
}

/** A broken promise between this engine and a library or caller: a bug, not bad input. */
export function internal(message: string, hint?: string): KeywardError {
  return new KeywardError(ErrorCode.InternalError, message, hint);
}

export function cancelled(): KeywardError {
  return new KeywardError(ErrorCode.Cancelled, 'cancelled', 'nothing was written');
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled();
}

/**
 * "X25519, mlkem768x25519": the distinct stanza types of a header, for messages. They come
 * from the file, so each is cut short and only the first few are named.
 */
export function describeTypes(stanzas: readonly { type: string }[]): string {
  const types = [...new Set(stanzas.map((s) => (s.type.length > 40 ? `${s.type.slice(0, 37)}...` : s.type)))];
  return types.length > 5 ? `${types.slice(0, 5).join(', ')} and ${types.length - 5} more` : types.join(', ');
}
