// Methods of secret configs in the sops format (YAML, JSON, dotenv, INI, binary), read and
// written so that `sops` 3.13 and Keyward are interchangeable on the same files. Declared here,
// spread into `methods` in index.ts. Plaintext crosses the wire only in `sops/decrypt` results
// and `sops/save` params (the local, token-authenticated socket); it is never logged.
import { z } from 'zod';
import { AbsPath, RecipientString } from './shapes';
import type { JobInfo } from './jobs';

export const SopsFormats = ['yaml', 'json', 'dotenv', 'ini', 'binary'] as const;
export type SopsFormatName = (typeof SopsFormats)[number];

/** One master key of a file, for display: never its wrapped data key. */
export interface SopsKeyView {
  type: 'age' | 'kms' | 'pgp' | 'gcp_kms' | 'hckms' | 'azure_kv' | 'hc_vault';
  /** age recipient, KMS ARN, PGP fingerprint, ... */
  id: string;
  /** The keystore key (`name@vN`) holding this age recipient, when there is one. */
  ref?: string;
}

export interface SopsFileInfo {
  path: string;
  format: SopsFormatName;
  keyGroups: SopsKeyView[][];
  shamirThreshold?: number;
  lastModified: string;
  version: string;
  /** Options from the metadata (unencrypted_suffix, encrypted_regex, mac_only_encrypted, ...). */
  options: Record<string, string | boolean>;
  /** Whether this keystore (or KMS) can open the data key. */
  canDecrypt: boolean;
}

/** The file's state a save is based on: the MAC and lastmodified read by `sops/decrypt`. */
export interface SopsRevision {
  mac: string;
  lastModified: string;
}

/** One file of a key plan: master keys to add and remove (ids as in SopsKeyView), or why not. */
export interface SopsKeyPlan {
  file: string;
  add: string[];
  remove: string[];
  /** The file is skipped: no creation rule matches, it is not a sops file, ... */
  skipped?: string;
}

const Format = z.enum(SopsFormats).optional();
export type TextEncoding = 'utf8' | 'base64';
/** How `text` carries the bytes (default utf8; base64 for any bytes, e.g. binary files). */
const Encoding = z.enum(['utf8', 'base64']).optional();
/** A path inside the tree: map keys (strings) and list indexes (numbers), as `sops set` takes. */
const TreePath = z.array(z.union([z.string().max(4096), z.number().int().min(0)])).min(1).max(256);
const Paths = z.array(AbsPath).min(1).max(100_000);

const EncryptOptions = {
  /** age recipients or keystore key names; absent: the `.sops.yaml` creation rule decides. */
  age: z.array(z.union([RecipientString, z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(@v[0-9]+)?$/)])).max(256).optional(),
  kms: z.array(z.string().min(1).max(2048)).max(64).optional(),
  /** Vault transit key URIs (`https://vault:8200/v1/transit/keys/NAME`), as sops' --hc-vault-transit. */
  hcVaultTransit: z.array(z.string().min(1).max(2048)).max(64).optional(),
  shamirThreshold: z.number().int().min(1).max(255).optional(),
  unencryptedSuffix: z.string().max(256).optional(),
  encryptedSuffix: z.string().max(256).optional(),
  unencryptedRegex: z.string().max(4096).optional(),
  encryptedRegex: z.string().max(4096).optional(),
  unencryptedCommentRegex: z.string().max(4096).optional(),
  encryptedCommentRegex: z.string().max(4096).optional(),
  macOnlyEncrypted: z.boolean().optional(),
};

export interface SopsDecryptResult {
  text: string;
  encoding: TextEncoding;
  format: SopsFormatName;
  revision: SopsRevision;
  macVerified: boolean;
  warnings: string[];
}

export interface SopsSaveResult {
  revision: SopsRevision;
  changed: number;
  unchanged: number;
}

export interface SopsEncryptResult {
  output?: string;
  text?: string;
  info: SopsFileInfo;
}

export interface SopsSetResult {
  revision: SopsRevision;
  created: boolean;
}

export interface SopsUnsetResult {
  revision: SopsRevision;
}

export interface SopsPlanKeysResult {
  plan: SopsKeyPlan[];
}

export interface SopsReplaceRecipientsResult {
  config?: string;
  changed: number;
}

export const sopsMethods = {
  /** Metadata of an encrypted file (no decryption needed, except to tell `canDecrypt`). */
  sopsInfo: {
    name: 'sops/info',
    params: z.strictObject({ path: AbsPath, format: Format }),
    result: {} as SopsFileInfo,
  },
  /** Decrypts a file, MAC verified, and returns its plaintext in its own format (in memory only). */
  sopsDecrypt: {
    name: 'sops/decrypt',
    params: z.strictObject({
      path: AbsPath,
      format: Format,
      /** Decrypt even when the MAC is missing or wrong (the result says so). */
      ignoreMac: z.boolean().optional(),
      /** Return one value: a tree path. */
      extract: TreePath.optional(),
    }),
    /** `text` is base64 for the binary format (any bytes), UTF-8 text otherwise; `encoding` says which. */
    result: {} as SopsDecryptResult,
  },
  /**
   * Re-encrypts edited plaintext into the file, atomically. Diff-stable: every value whose path
   * and plaintext are unchanged keeps its exact `ENC[...]` string. With `base`, refuses
   * (IllegalState) when the file changed since that revision was read.
   */
  sopsSave: {
    name: 'sops/save',
    params: z.strictObject({ path: AbsPath, text: z.string().max(90 * 1024 * 1024), encoding: Encoding, format: Format, base: z.strictObject({ mac: z.string(), lastModified: z.string() }).optional() }),
    result: {} as SopsSaveResult,
  },
  /** Encrypts a plaintext file (to `output`, or in place) with the given or configured keys. */
  sopsEncrypt: {
    name: 'sops/encrypt',
    params: z.strictObject({
      path: AbsPath,
      output: AbsPath.optional(),
      inPlace: z.boolean().optional(),
      overwrite: z.boolean().optional(),
      format: Format,
      /** Plaintext given by the client instead of read from `path` (`path` names the target's rules). */
      text: z.string().max(90 * 1024 * 1024).optional(),
      encoding: Encoding,
      ...EncryptOptions,
    }),
    /** Without `output` or `inPlace`, the encrypted text comes back in `text` (nothing is written). */
    result: {} as SopsEncryptResult,
  },
  /**
   * Sets one value (JSON-encoded) at a tree path, diff-stable. With `create`, a missing file is
   * created with the `.sops.yaml` creation rule for its path (or the given keys).
   */
  sopsSet: {
    name: 'sops/set',
    params: z.strictObject({
      path: AbsPath,
      keyPath: TreePath,
      valueJson: z.string().max(16 * 1024 * 1024),
      format: Format,
      create: z.boolean().optional(),
      ...EncryptOptions,
    }),
    result: {} as SopsSetResult,
  },
  sopsUnset: {
    name: 'sops/unset',
    params: z.strictObject({ path: AbsPath, keyPath: TreePath, format: Format }),
    result: {} as SopsUnsetResult,
  },
  /**
   * Brings the master keys of every sops file under `paths` (files or directories) in line with
   * `.sops.yaml`, keeping the data key (as `sops updatekeys`, but over a whole tree). A job.
   */
  sopsUpdateKeys: {
    name: 'sops/updatekeys',
    params: z.strictObject({ paths: Paths }),
    result: {} as JobInfo,
  },
  /** What `sops/updatekeys` would change, file by file (nothing is written). */
  sopsPlanKeys: {
    name: 'sops/planKeys',
    params: z.strictObject({ paths: Paths }),
    result: {} as SopsPlanKeysResult,
  },
  /** Makes a new data key for every sops file under `paths` and re-encrypts every value. A job. */
  sopsRotate: {
    name: 'sops/rotate',
    params: z.strictObject({ paths: Paths, addAge: z.array(RecipientString).max(256).optional(), removeAge: z.array(RecipientString).max(256).optional() }),
    result: {} as JobInfo,
  },
  /**
   * Adds age recipients to every sops file under `paths`, header only: the data key stays and is
   * wrapped to them too; values are untouched. A job. (Removing a recipient needs sops/rotate.)
   */
  sopsAddKeys: {
    name: 'sops/addKeys',
    params: z.strictObject({ paths: Paths, addAge: z.array(RecipientString).min(1).max(256) }),
    result: {} as JobInfo,
  },
  /**
   * Replaces age recipients in the `.sops.yaml` that applies to `path` (after a key rotation),
   * keeping its comments, anchors and other rules. `changed` is 0 when none was listed there.
   */
  sopsReplaceRecipients: {
    name: 'sops/replaceRecipients',
    params: z.strictObject({ path: AbsPath, replace: z.array(z.strictObject({ from: RecipientString, to: RecipientString })).min(1).max(256) }),
    result: {} as SopsReplaceRecipientsResult,
  },
} as const;
