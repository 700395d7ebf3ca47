// Methods of model artifacts for the editor: encrypt and decrypt as cancellable jobs with
// progress, and a description of one encrypted file (recipients named, who of your keys opens
// it, a fingerprint of its data key). Declared here, spread into `methods` in index.ts; served
// by daemon/artifacts/handlers.ts.
import { z } from 'zod';
import { AbsPath, KeyRef, RecipientString, type KeyState } from './shapes';
import type { JobInfo } from './jobs';

const Files = z.array(AbsPath).min(1).max(100_000);
/** Input path -> output path, for files whose output is not the default. */
const Outputs = z.record(z.string().max(4096), AbsPath).optional();

/** Where a name for a recipient comes from (shown beside it: a name from a repository file is a claim, not a proof). */
export type RecipientNameSource = 'keystore' | 'team' | 'sops-config' | 'known';

export interface RecipientName {
  name: string;
  source: RecipientNameSource;
  /** The file that gave the name (team policy, `.sops.yaml`), when it comes from one. */
  file?: string;
  /** For a key of this keystore: its state. */
  state?: KeyState;
}

export interface RecipientView {
  /** `age1...`, `age1pq1...`; for sops files also a KMS ARN or another master key id. */
  recipient: string;
  /** `X25519`, `mlkem768x25519`, `kms`, ... */
  type: string;
  /** Every name Keyward knows for it (empty: nobody it knows). */
  names: RecipientName[];
  /** A key version of this keystore. */
  yours: boolean;
}

export interface ArtifactDescription {
  path: string;
  kind: 'age' | 'sops';
  /** Bytes of the file. */
  size: number;
  /** Bytes of plaintext (age files; null when the payload length is not a valid one). */
  plaintextSize?: number | null;
  armored?: boolean;
  /** Recipient stanzas (age) or master keys (sops) by type. */
  stanzas: { type: string; count: number }[];
  /**
   * The recipients Keyward knows, named where it knows whose they are. For an age file: the set
   * Keyward recorded when it wrote the file (sealed with the file key, so only readable with one
   * of your keys), else only your keys that open it (age headers do not say whom a stanza is for).
   */
  recipients: RecipientView[];
  /** Stanzas not accounted for by `recipients` (a file written by another tool, or none of your keys opens it). */
  unaccounted: number;
  /** Key versions of this keystore that open it, newest first. */
  openedBy: { ref: string; state: KeyState }[];
  /**
   * A fingerprint of the data key (the age file key, the sops data key): 12 hex digits of
   * HKDF-SHA-256(data key, info "keyward data key fingerprint"). It changes when the data key
   * is rotated and stays the same through a rewrap; it tells nothing about the key. Absent
   * when none of your keys opens the file.
   */
  dataKeyId?: string;
  /** When Keyward recorded the recipient set (age files it wrote). */
  recordedAt?: string;
}

export const artifactMethods = {
  /**
   * Encrypts files to `FILE.age` (or `outputs[FILE]`) as a job: progress in bytes, cancellable
   * (jobs/cancel stops the work and removes the partial output). An output that exists is
   * refused unless `overwrite`. Sent by the extension.
   */
  artifactsEncrypt: {
    name: 'artifacts/encrypt',
    params: z
      .strictObject({
        files: Files,
        outputs: Outputs,
        recipients: z.array(RecipientString).max(256).default([]),
        keys: z.array(KeyRef).max(256).default([]),
        armor: z.boolean().optional(),
        overwrite: z.boolean().optional(),
      })
      .refine((p) => p.recipients.length + p.keys.length > 0, 'give at least one recipient or key'),
    result: {} as JobInfo,
  },
  /**
   * Decrypts age files to `FILE` without `.age` (or `outputs[FILE.age]`) as a job, each output
   * appearing only once every chunk authenticated; cancellable like artifacts/encrypt.
   */
  artifactsDecrypt: {
    name: 'artifacts/decrypt',
    params: z.strictObject({ files: Files, outputs: Outputs, overwrite: z.boolean().optional() }),
    result: {} as JobInfo,
  },
  /** What one encrypted file (age or sops) is encrypted to, named, and whether you can open it. Reads headers only. */
  artifactsDescribe: {
    name: 'artifacts/describe',
    params: z.strictObject({ path: AbsPath }),
    result: {} as ArtifactDescription,
  },
} as const;
