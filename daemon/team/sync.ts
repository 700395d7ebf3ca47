// Applying a sync plan as one daemon job (kind `team-sync`): progress, a journal, resume after a
// crash, and an audit record per file, from the job machinery (daemon/jobs). Each file gets what
// the plan decided for it:
// - age, additions only: a header rewrap to the target set (same file key, payload untouched);
// - age, any removal: a rotation to the target set (new file key, payload re-encrypted,
//   verified before it replaces the original);
// - sops: updatekeys (same data key) or rotation (new data key) to the target key group.
// The target recipients travel in the job's params, so a resumed job finishes the plan it
// started with even if the policy changed meanwhile. Files are opened with the keystore or the
// repo's service identities (so CI holding only the team KMS key can run a sync).
import { rewrapOp, rotateOp } from '../artifacts/ops';
import type { FileOp } from '../jobs/manager';
import type { Keystore } from '../keystore/keystore';
import { ErrorCode } from '../protocol';
import { KeywardError } from '../util/errors';
import { listIdentities, type Auditor, type IdentityFile } from './identity';
import type { TeamPlan } from './plan';
import { unwrapArtifactKey } from './unwrap';

export const TEAM_SYNC_JOB = 'team-sync';

/** What one file gets: its action and the index of its target in `targets`. */
export interface SyncFileParams {
  kind: 'age' | 'sops';
  action: 'rewrap' | 'rotate' | 'updatekeys';
  target: number;
}

export interface TeamSyncParams {
  root: string;
  /** Distinct targets (most files of a rule share one): age recipients and KMS keys. */
  targets: { age: string[]; kms: { arn: string; role?: string }[] }[];
  files: Record<string, SyncFileParams>;
}

/** The job's params for the files of a plan that change. */
export function syncParams(plan: TeamPlan): { files: string[]; params: TeamSyncParams } {
  const targets: TeamSyncParams['targets'] = [];
  const index = new Map<string, number>();
  const files: Record<string, SyncFileParams> = {};
  for (const e of plan.entries) {
    if (e.action === 'none' || e.action === 'skip') continue;
    const key = JSON.stringify(e.target);
    let t = index.get(key);
    if (t === undefined) {
      t = targets.push(e.target) - 1;
      index.set(key, t);
    }
    files[e.file] = { kind: e.kind, action: e.action, target: t };
  }
  return { files: Object.keys(files), params: { root: plan.root, targets, files } };
}

/**
 * The keystore, seen through the repo's service identities: `unwrapFileKey` tries the
 * keystore's keys, then the identities (each opened once per process). Everything else is the
 * keystore's own (a prototype link, so its private state is not copied).
 */
export function keystoreWithIdentities(ks: Keystore, identities: readonly IdentityFile[], audit?: Auditor): Keystore {
  if (!identities.length) return ks;
  const view = Object.create(ks) as Keystore;
  view.unwrapFileKey = (header: Uint8Array) => unwrapArtifactKey(ks, header, '', { identities, ...(audit ? { audit } : {}) });
  return view;
}

/** A sops file's part of a sync (the sops engine's updatekeys and rotate), plugged in by handlers. */
export type SopsSyncStage = (
  file: string,
  action: 'updatekeys' | 'rotate',
  target: TeamSyncParams['targets'][number],
  ks: Keystore,
  jobId: string,
) => Promise<{ data: unknown } | { skip: string }>;

export interface SopsSyncOps {
  stage: SopsSyncStage;
  commit: FileOp<never>['commit'];
  discard: FileOp<never>['discard'];
}

type Staged = { op: 'age'; inner: unknown } | { op: 'sops'; inner: unknown };

/** The `team-sync` job kind: register it in the Service's JobManager. */
export function teamSyncOp(ks: () => Keystore, opts: { audit?: Auditor; sops?: () => SopsSyncOps | undefined } = {}): FileOp<TeamSyncParams> {
  const identities = new Map<string, Promise<IdentityFile[]>>();
  const idsOf = (root: string) => {
    let p = identities.get(root);
    if (!p) {
      p = listIdentities(root).then((m) => [...m.values()].map((x) => x.identity));
      identities.set(root, p);
      p.catch(() => identities.delete(root)); // a failed read is retried next time
    }
    return p;
  };
  const view = async (root: string) => keystoreWithIdentities(ks(), await idsOf(root), opts.audit);
  const age = rewrapOp(ks); // its commit takes both in-place headers and renamed copies

  return {
    // The rewrap op works 8 files at a time, rotation 2; a sync is mostly rewraps.
    concurrency: 6,
    async stage(file, p, ctx) {
      const f = p.files[file];
      const target = f ? p.targets[f.target] : undefined;
      if (!f || !target) throw new KeywardError(ErrorCode.InvalidInput, 'this file is not part of the sync plan');
      if (f.kind === 'sops') {
        const sops = opts.sops?.();
        if (!sops) throw new KeywardError(ErrorCode.IllegalState, 'sops files need the sops engine, which this build lacks');
        const r = await sops.stage(file, f.action === 'rewrap' ? 'updatekeys' : f.action, target, await view(p.root), ctx.jobId);
        return 'skip' in r ? r : { data: { op: 'sops', inner: r.data } satisfies Staged };
      }
      const k = await view(p.root);
      const r = f.action === 'rotate' ? await rotateOp(() => k).stage(file, { recipients: target.age }, ctx) : await rewrapOp(() => k).stage(file, { setRecipients: target.age }, ctx);
      return 'skip' in r ? r : { data: { op: 'age', inner: r.data } satisfies Staged };
    },
    async commit(file, data) {
      const d = data as Staged;
      if (d.op === 'sops') {
        const sops = opts.sops?.();
        if (!sops) throw new KeywardError(ErrorCode.IllegalState, 'sops files need the sops engine, which this build lacks');
        return sops.commit(file, d.inner);
      }
      return age.commit(file, d.inner);
    },
    async discard(file, ctx) {
      await age.discard(file, ctx);
      await opts.sops?.()?.discard(file, ctx);
    },
  };
}
