// Error codes of the wire contract. The daemon maps every failure to one of these at the RPC
// edge; the CLI maps them to exit codes and the extension to sentences a person can act on.
// JSON-RPC reserves -32768..-32000 for itself; Keyward's own codes start at 1000.

export const ErrorCode = {
  // JSON-RPC's own
  InvalidParams: -32602,
  MethodNotFound: -32601,
  InternalError: -32603,
  // Keyward's
  Unauthorized: 1001,
  NotFound: 1002,
  AlreadyExists: 1003,
  InvalidInput: 1004,
  IllegalState: 1005,
  KeyUnusable: 1006,
  DecryptFailed: 1007,
  Malformed: 1008,
  KeystoreUnavailable: 1009,
  KeystoreLocked: 1010,
  DaemonUnavailable: 1011,
  IoFailed: 1012,
  Cancelled: 1013,
  Busy: 1014,
  /** An age plugin failed, broke its protocol, or needed an answer nobody could give. */
  PluginFailed: 1015,
  /** Recipients named by a repository's file that the user has not agreed to (daemon/trust). */
  Untrusted: 1016,
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Exit codes of the `keyward` CLI, documented in the README. Scanning commands use their
 * own 0/1/2 contract (clean / findings / error), as gitleaks and detect-secrets do.
 */
export const ExitCode = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  NotFound: 3,
  Refused: 4,
  DecryptFailed: 5,
  KeystoreUnavailable: 6,
  DaemonUnavailable: 7,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeFor(code: number): ExitCode {
  switch (code) {
    case ErrorCode.InvalidParams:
    case ErrorCode.InvalidInput:
      return ExitCode.Usage;
    case ErrorCode.NotFound:
      return ExitCode.NotFound;
    case ErrorCode.AlreadyExists:
    case ErrorCode.IllegalState:
    case ErrorCode.KeyUnusable:
    case ErrorCode.Untrusted:
      return ExitCode.Refused;
    case ErrorCode.DecryptFailed:
    case ErrorCode.Malformed:
      return ExitCode.DecryptFailed;
    case ErrorCode.KeystoreUnavailable:
    case ErrorCode.KeystoreLocked:
      return ExitCode.KeystoreUnavailable;
    case ErrorCode.Unauthorized:
    case ErrorCode.DaemonUnavailable:
      return ExitCode.DaemonUnavailable;
    default:
      return ExitCode.Failed;
  }
}

/** Structured data sent in a JSON-RPC error's `data` field. Never holds a secret. */
export interface ErrorData {
  /** One sentence telling the user what to do next. */
  hint?: string;
}
