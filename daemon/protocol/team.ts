// Methods of the team policy, AWS KMS and recipient sync. Declared here, spread into
// `methods` in index.ts. Sent by the CLI and the extension. Nothing here carries a private key:
// service identities cross the wire as recipients and KMS ARNs only.
import { z } from 'zod';
import { AbsPath } from './shapes';
import type { JobInfo } from './jobs';

/** How a person or the extension sees the team policy once validated. */
export interface TeamPolicyView {
  root: string;
  /** `.keyward.yaml`, or the AWS source of the member list (`SSM parameter /x`). */
  membersFrom: string;
  members: { name: string; recipients: string[] }[];
  kms: { name: string; arn: string; role?: string; keyArn?: string }[];
  rules: { path: string; members: string[]; kms: string[] }[];
}

export interface ServiceIdentityView {
  name: string;
  file: string;
  versions: { version: number; state: 'active' | 'retiring' | 'retired'; kind: 'x25519' | 'mlkem768x25519'; recipient: string; keyId: string; keyArn: string; createdAt: string }[];
}

/** `pending`: an age artifact the sync job decides for once it opens it (team/sync does not open files twice). */
export type TeamPlanAction = 'none' | 'rewrap' | 'rotate' | 'updatekeys' | 'skip' | 'pending';

/** One artifact of a sync plan: what changes for it to follow the policy. */
export interface TeamPlanEntryView {
  file: string;
  /** Relative to the root, POSIX. */
  rel: string;
  kind: 'age' | 'sops';
  /** Index of the team access rule that covers it. */
  rule: number;
  action: TeamPlanAction;
  add: string[];
  remove: string[];
  addKms: string[];
  dropKms: string[];
  reason?: string;
  openedBy?: string;
}

export interface TeamPlanView {
  root: string;
  entries: TeamPlanEntryView[];
  /** Rules or files that cannot follow the policy, and `.sops.yaml` inconsistencies. */
  problems: { subject: string; problem: string }[];
  /** Display names for recipients and ARNs (member names, `kms:NAME@vN`, `kms:KEK`). */
  labels: Record<string, string>;
  summary: { files: number; none: number; rewrap: number; rotate: number; updatekeys: number; skip: number; pending: number };
  notes: string[];
}

/** One artifact holding Vault-wrapped keys, and the transit key versions that wrapped them. */
export interface KekArtifactView {
  file: string;
  rel: string;
  kind: 'sops' | 'identity';
  uses: { key: string; version: number }[];
  stale: boolean;
}

/** A transit key: its versions, and how many wrapped keys of the tree each version holds. */
export interface KekKeyView {
  key: string;
  latestVersion?: number;
  minDecryptionVersion?: number;
  inUse: Record<string, number>;
  safeMinDecryptionVersion?: number;
  problem?: string;
}

export interface KekStatusView {
  root: string;
  artifacts: KekArtifactView[];
  keys: KekKeyView[];
}

const Root = AbsPath;
const Paths = z.array(AbsPath).min(1).max(100_000).optional();
const IdentityName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a service identity name is lowercase letters, digits, ".", "-" or "_"');
const KmsArn = z.string().min(1).max(2048);

export interface TeamCheckResult {
  policy: TeamPolicyView;
  identities: ServiceIdentityView[];
  sopsConfig: { file: string; exists: boolean; problems: { subject: string; problem: string }[] };
}

export interface TeamSyncResult {
  plan: TeamPlanView;
  job?: JobInfo;
  sopsConfigWritten: boolean;
}

export interface TeamIdentityCreateResult {
  identity: ServiceIdentityView;
}

export interface TeamIdentityListResult {
  identities: ServiceIdentityView[];
}

export interface TeamIdentityMoveResult {
  identity: ServiceIdentityView;
}

export interface TeamIdentityRotateResult {
  identity: ServiceIdentityView;
  detail: string;
}

export interface TeamSopsConfigResult {
  file: string;
  changed: boolean;
  written: boolean;
  text: string;
  problems: { subject: string; problem: string }[];
}

export interface TeamRewrapKekResult {
  status: KekStatusView;
  job?: JobInfo;
}

export interface TeamDecryptResult {
  files: { input: string; output: string; bytesOut: number; key: string }[];
  kmsCalls: number;
}

export const teamMethods = {
  /**
   * Validates the team policy of a repo root: the team section, the member list (fetched from
   * AWS when it lives there), every KMS KEK (DescribeKey, unless `kms: false`), the service
   * identities, and `.sops.yaml` consistency. Throws on the first invalid item, changing nothing.
   */
  teamCheck: {
    name: 'team/check',
    params: z.strictObject({ root: Root, kms: z.boolean().optional() }),
    result: {} as TeamCheckResult,
  },
  /** Plans a sync of every artifact under `paths` (default: the root). Writes nothing. */
  teamPlan: {
    name: 'team/plan',
    params: z.strictObject({ root: Root, paths: Paths, kms: z.boolean().optional() }),
    result: {} as TeamPlanView,
  },
  /**
   * Plans, then applies as one job (kind `team-sync`): additions by header rewrap (age) or
   * updatekeys (sops), removals by rotation. Refuses, changing nothing, when the policy is
   * invalid or a rule cannot be followed. `.sops.yaml` is brought in line first when sops files
   * are synced. `job` is absent when nothing needs to change; follow it with jobs/wait.
   */
  teamSync: {
    name: 'team/sync',
    params: z.strictObject({ root: Root, paths: Paths, kms: z.boolean().optional() }),
    result: {} as TeamSyncResult,
  },
  /** Creates `.keyward/identities/NAME.kms.json`: an age identity wrapped by a KEK (`kms`: an AWS KMS ARN or a Vault transit key URI). */
  teamIdentityCreate: {
    name: 'team/identityCreate',
    params: z.strictObject({ root: Root, name: IdentityName, kms: KmsArn, pq: z.boolean().optional() }),
    result: {} as TeamIdentityCreateResult,
  },
  teamIdentityList: {
    name: 'team/identityList',
    params: z.strictObject({ root: Root }),
    result: {} as TeamIdentityListResult,
  },
  /** Moves a service identity to another KMS key with ReEncrypt (same identity, same recipient). */
  teamIdentityMove: {
    name: 'team/identityMove',
    params: z.strictObject({ root: Root, name: IdentityName, kms: KmsArn }),
    result: {} as TeamIdentityMoveResult,
  },
  /**
   * One step of a zero-downtime service identity rotation (begin: new version, old retiring;
   * rollback while both are present; finish: old retired; prune: retired versions deleted).
   * Each step changes the identity file only; a team/sync then moves the artifacts.
   */
  teamIdentityRotate: {
    name: 'team/identityRotate',
    params: z.strictObject({ root: Root, name: IdentityName, step: z.enum(['begin', 'finish', 'rollback', 'prune']), kms: KmsArn.optional(), pq: z.boolean().optional() }),
    result: {} as TeamIdentityRotateResult,
  },
  /** Reads `.sops.yaml` against the team policy; with `write`, brings it in line (comments kept). */
  teamSopsConfig: {
    name: 'team/sopsConfig',
    params: z.strictObject({ root: Root, write: z.boolean().optional() }),
    result: {} as TeamSopsConfigResult,
  },
  /**
   * Which artifact (sops file, service identity) under `paths` uses which Vault transit key
   * version, and per key its newest and minimum decryption version and the highest minimum that
   * keeps every artifact readable. Writes nothing.
   */
  teamKekStatus: {
    name: 'team/kekStatus',
    params: z.strictObject({ root: Root, paths: Paths }),
    result: {} as KekStatusView,
  },
  /**
   * Moves every Vault-wrapped key under `paths` to its transit key's newest version with
   * transit's rewrap (plaintext never leaves Vault), as one job (kind `kek-rewrap`: progress,
   * journal, resume). `job` is absent when everything is already at the newest version.
   */
  teamRewrapKek: {
    name: 'team/rewrapKek',
    params: z.strictObject({ root: Root, paths: Paths }),
    result: {} as TeamRewrapKekResult,
  },
  /**
   * Decrypts age artifacts with the keystore or the service identities that apply (each
   * unwrapped at most once per daemon process): the serving path. `outputs` default to the
   * inputs without `.age` (or into `outDir`).
   */
  teamDecrypt: {
    name: 'team/decrypt',
    params: z.strictObject({
      files: z.array(AbsPath).min(1).max(100_000),
      outDir: AbsPath.optional(),
      /** Identity files to use besides those found from each file's path. */
      identities: z.array(AbsPath).max(64).optional(),
      overwrite: z.boolean().optional(),
    }),
    result: {} as TeamDecryptResult,
  },
} as const;
