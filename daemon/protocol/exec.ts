// The method behind `keyward exec`: decrypt sops files into environment variables and age or
// sops files into a private directory on a RAM file system, for one program. Declared here,
// spread into `methods` in index.ts. Sent by the CLI (through the daemon or in-process).
// Plaintext crosses the wire only in the `env` result (the local, token-authenticated socket),
// as with `sops/decrypt`; files are written by the daemon straight into the directory.
import { z } from 'zod';
import { AbsPath } from './shapes';
import { SopsFormats } from './sops';
import { ProgramName } from './runtime';

export interface ExecVariable {
  name: string;
  value: string;
  /** The sops file it came from. */
  file: string;
}

export interface ExecFile {
  path: string;
  output: string;
  kind: 'age' | 'sops';
  bytes: number;
  /** The key that opened it (`name@vN`, `kms:NAME@vN`, KMS ARNs for sops files). */
  key: string;
}

export interface ExecOpenResult {
  env: ExecVariable[];
  files: ExecFile[];
  warnings: string[];
}

export const execMethods = {
  /**
   * Decrypts each `env` file (sops, any format) into variables named as `sops exec-env` names
   * them, refusing what it refuses (nested values, keys with "="), and each `files` entry (age,
   * or sops rendered as `sops -d` prints it) into `output`, a new 0600 file whose directory
   * must be private (0700) and on a RAM file system unless `allowDisk`. Audits each file with
   * the program's name. On failure, the outputs written so far are removed.
   */
  execOpen: {
    name: 'exec/open',
    params: z.strictObject({
      program: ProgramName,
      env: z.array(z.strictObject({ path: AbsPath, format: z.enum(SopsFormats).optional() })).max(64).default([]),
      files: z.array(z.strictObject({ path: AbsPath, output: AbsPath })).max(64).default([]),
      allowDisk: z.boolean().optional(),
    }),
    result: {} as ExecOpenResult,
  },
} as const;
