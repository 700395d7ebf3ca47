// The artifacts/* methods: model artifacts (encrypted files) in bulk and one at a time: rewrap
// and rotate, encrypt and decrypt as cancellable jobs with progress, what is encrypted under a
// folder and with which warnings (status), and a description of one encrypted file (recipients
// named, who of your keys opens it, a fingerprint of its data key). Declared here, spread into
// `methods` in index.ts; served by daemon/artifacts/handlers.ts.
import { z } from 'zod';
import { AbsPath, KeyRef, RecipientString, type KeyState } from './shapes';
import type { JobInfo } from './jobs';
import type { PolicyRuleView, PolicyView } from './workspace';

const Files = z.array(AbsPath).min(1).max(100_000);
const Recipients = z.array(RecipientString).max(256).optional();
const Keys = z.array(KeyRef).max(256).optional();
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

/** Codes of artifact warnings, stable for clients; `message` is for people. */
export const ArtifactWarningCodes = [
  'plaintext-present',
  'plaintext-newer',
  'not-encrypted',
  'stale-key',
  'no-recipients',
  'policy-recipient-unusable',
  'not-decryptable',
  'keystore-unavailable',
  'malformed',
] as const;
export type ArtifactWarningCode = (typeof ArtifactWarningCodes)[number];

export interface ArtifactWarning {
  code: ArtifactWarningCode;
  message: string;
}

export interface ArtifactStatus {
  /** The encrypted file (`X.age`), or for a protected plaintext with no `.age` yet, the plaintext. */
  path: string;
  /** The plaintext path this artifact stands for (`X`). */
  plaintext: string;
  encrypted: boolean;
  /** Bytes of the `.age` file. */
  size?: number;
  armored?: boolean;
  /**
   * Recipient stanzas by type and count. X25519 and post-quantum stanzas do not say whose
   * they are, so this is all the header tells without a key.
   */
  stanzas?: { type: string; count: number }[];
  /** Key versions of this keystore that open the file (`name@vN`). */
  keys: string[];
  /** The policy rule that protects the plaintext path, if any. */
  rule?: PolicyRuleView;
  warnings: ArtifactWarning[];
}

/** Warnings that concern the policy as a whole (a named key that cannot encrypt, ...). */
export interface PolicyWarning {
  message: string;
}

export interface ArtifactsStatusResult {
  /** The workspace root whose policy applied. */
  root: string;
  policy?: PolicyView;
  /** The policy file is invalid: why (its line); defaults were not applied. */
  policyError?: string;
  policyWarnings: PolicyWarning[];
  artifacts: ArtifactStatus[];
  /** The walk stopped at its limit of entries; the list is incomplete. */
  truncated: boolean;
}

export const artifactMethods = {
  /**
   * Changes who can unwrap each file's key by rewriting the header only (same file key,
   * payload untouched). Runs as a job; the result is the job as it started.
   */
  artifactsRewrap: {
    name: 'artifacts/rewrap',
    params: z
      .strictObject({
        files: Files,
        add: Recipients,
        addKeys: Keys,
        remove: Recipients,
        removeKeys: Keys,
        /** Replaces the recipient set (needed for files whose recipients Keyward does not know). */
        setRecipients: Recipients,
        setKeys: Keys,
        /** Only files one of these key versions opens; others are skipped (identity rotation). */
        onlyIfOpenedBy: Keys,
      })
      .refine(
        (p) => [p.add, p.addKeys, p.remove, p.removeKeys, p.setRecipients, p.setKeys].some((x) => x !== undefined && x.length > 0),
        'give recipients to add, remove or set',
      ),
    result: {} as JobInfo,
  },
  /** Makes a new file key for each file and re-encrypts its payload; recipients as given or as before. */
  artifactsRotate: {
    name: 'artifacts/rotate',
    params: z.strictObject({ files: Files, recipients: Recipients, keys: Keys }),
    result: {} as JobInfo,
  },
  /**
   * Encrypted artifacts and unencrypted protected files under a folder (or one file), with
   * recipients, key versions and warnings. Reads headers only; never decrypts a payload.
   */
  artifactsStatus: {
    name: 'artifacts/status',
    params: z.strictObject({ path: AbsPath }),
    result: {} as ArtifactsStatusResult,
  },
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
