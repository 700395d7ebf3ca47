// Methods for programs that read and write age files in their own process (the Python package
// `keyward`, python/): the daemon releases the file key of one named age file, or seals a new
// header, to an authenticated client; the client does the payload (ChaCha20-Poly1305 over 64 KiB
// chunks) itself. Private keys never cross the wire; a file key does, over the local
// token-authenticated socket, and only the key of the file named. Declared here, spread into
// `methods` in index.ts. Sent by the Python client (and any other client of the socket).
import { z } from 'zod';
import { AbsPath, KeyRef, RecipientString } from './shapes';

/** A program's name (never its arguments), for the audit log: `python3`, `train.py`. */
export const ProgramName = z
  .string()
  .min(1)
  .max(255)
  .refine((p) => !/[/\\\0]/.test(p), 'a program name, without its directory or arguments');

export interface RuntimeFileKeyResult {
  /** Base64 of the 16-byte file key. */
  fileKey: string;
  /** Which key opened it: `name@vN`, or `kms:NAME@vN` for a service identity. */
  key: string;
  /** Where the payload starts: the header's length in bytes. */
  headerSize: number;
}

export interface RuntimeSealResult {
  /** Base64 of the header, through the MAC line. */
  header: string;
  /** Base64 of the 16-byte file key. */
  fileKey: string;
  recipients: string[];
  /** Keystore key versions among the recipients, by ref. */
  keys: string[];
}

export const runtimeMethods = {
  /**
   * The file key of one binary age file: the daemon reads its header, unwraps it with the
   * keystore (keys whose state allows decryption) or a service identity that applies to the
   * file, checks the header MAC, and audits the release as a key use. Refused (and audited)
   * when no usable key opens it; armored and passphrase files are refused with what to do.
   */
  runtimeFileKey: {
    name: 'runtime/fileKey',
    params: z.strictObject({ path: AbsPath, program: ProgramName.optional() }),
    result: {} as RuntimeFileKeyResult,
  },
  /**
   * A new age header for recipients and keystore keys (active ones): a fresh file key wrapped to
   * each, Keyward's metadata stanza and header room (as `keyward encrypt` writes), MACed. Returns
   * the header and the file key, for the client to write the payload; the daemon keeps neither.
   */
  runtimeSeal: {
    name: 'runtime/seal',
    params: z
      .strictObject({
        recipients: z.array(RecipientString).max(256).default([]),
        keys: z.array(KeyRef).max(256).default([]),
        /** The file the header is for (audit only). */
        path: AbsPath.optional(),
        program: ProgramName.optional(),
      })
      .refine((p) => p.recipients.length + p.keys.length > 0, 'give at least one recipient or key'),
    result: {} as RuntimeSealResult,
  },
} as const;
