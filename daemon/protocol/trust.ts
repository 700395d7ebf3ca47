// Methods of repository trust: the recipient sets that a repository's files (`.keyward.yaml`,
// `.sops.yaml`) name, which Keyward encrypts to only once the user agreed to them. Declared
// here, spread into `methods` in index.ts. Sent by the CLI (its prompt) and the extension (its
// dialog) after a call failed with ErrorCode.Untrusted.
import { z } from 'zod';
import { AbsPath, RecipientString } from './shapes';

/** One recipient of a set, and who it is as far as this machine knows. */
export interface TrustRecipientView {
  /**
   * `age1...` (X25519, post-quantum, tagged or plugin recipients), `kms:ARN` for an AWS KMS key,
   * `vault:URI` for a Vault transit key, or where a team's member list comes from
   * (`ssm:NAME`, `secretsmanager:NAME`).
   */
  recipient: string;
  /** `yours`: a key of your keystore; `team`: a member of the team policy; `unknown`: neither. */
  who: 'yours' | 'team' | 'unknown';
  /** The key (`name@vN`) or team member it is, when known. */
  name?: string;
}

/** A config file of a repository and the recipients it names. */
export interface TrustSourceView {
  /** The config file (absolute). */
  source: string;
  kind: 'keyward' | 'sops';
  recipients: TrustRecipientView[];
  /** Every recipient that is not yours is in the set agreed to for this file. */
  trusted: boolean;
  /** Recipients not yours and not agreed to (what a prompt asks about). */
  untrusted: string[];
  /** When the set in force was agreed to. */
  agreedAt?: string;
}

const TrustRecipient = z.union([RecipientString, z.string().regex(/^(kms:arn:|vault:https?:\/\/|ssm:|secretsmanager:)[\x21-\x7e]{1,2040}$/)]);

export interface TrustCheckResult {
  sources: TrustSourceView[];
}

export interface TrustGrantResult {
  source: TrustSourceView;
}

export interface TrustRevokeResult {
  removed: boolean;
}

export interface TrustListResult {
  sources: { source: string; recipients: string[]; agreedAt: string }[];
}

export const trustMethods = {
  /**
   * The config files whose recipients apply to a path: for a folder its `.keyward.yaml` and the
   * nearest `.sops.yaml`; for a file the nearest `.sops.yaml`. With each, who the recipients
   * are and whether the set is agreed to. `deep`: for a folder, also the `.sops.yaml` of every
   * sops file under it (a tree's `sops updatekeys`).
   */
  trustCheck: {
    name: 'trust/check',
    params: z.strictObject({ path: AbsPath, deep: z.boolean().optional() }),
    result: {} as TrustCheckResult,
  },
  /**
   * Records the user's consent to encrypt to `recipients` for files governed by `source` (the
   * set shown by trust/check; it replaces the one agreed before). Refused when the file names
   * other recipients now than those given (it changed after it was shown).
   */
  trustGrant: {
    name: 'trust/grant',
    params: z.strictObject({ source: AbsPath, recipients: z.array(TrustRecipient).max(1024) }),
    result: {} as TrustGrantResult,
  },
  /** Forgets the consent for a config file (its recipients are asked about again). */
  trustRevoke: {
    name: 'trust/revoke',
    params: z.strictObject({ source: AbsPath }),
    result: {} as TrustRevokeResult,
  },
  /** Every config file with an agreed set. */
  trustList: {
    name: 'trust/list',
    params: z.strictObject({}),
    result: {} as TrustListResult,
  },
} as const;
