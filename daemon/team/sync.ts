// Applying a sync plan as one daemon job (kind `team-sync`): progress, a journal, resume after a
// crash, and an audit record per file, from the job machinery (daemon/jobs). Each file gets what
// the plan decided for it:
// - age, additions only: the added recipients' stanzas joined to the header (same file key,
//   payload untouched), decided when the job opens the file (see stageAge);
// - age, any removal: a rotation to the target set (new file key, payload re-encrypted,
//   verified before it replaces the original);
// - sops: updatekeys (same data key) or rotation (new data key) to the target key group.
// The target recipients travel in the job's params, so a resumed job finishes the plan it
// started with even if the policy changed meanwhile. Files are opened with the keystore or the
// repo's service identities (so CI holding only the team KMS key can run a sync).
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fitHeader, isKeywardStanza, readHeader, rewrapByCopy, wrapFileKey, writeHeaderInPlace } from '../age';
import { pluginStanzasOf, rotateOp } from '../artifacts/ops';
import { metaStanza, readMeta } from '../artifacts/meta';
import type { FileOp, StageContext } from '../jobs/manager';
import { jobTempPath } from '../jobs/manager';
import { jobTempDiscarder } from '../util/temps';
import type { Keystore } from '../keystore/keystore';
import { ErrorCode } from '../protocol';
import { KeywardError } from '../util/errors';
import { listIdentities, serviceIdentities, type Auditor, type IdentityFile } from './identity';
import type { TeamPlan } from './plan';
import { unwrapArtifactKey } from '../artifacts/unwrap';

export const TEAM_SYNC_JOB = 'team-sync';

/** What one file gets: its action and the index of its target in `targets`. */
export interface SyncFileParams {
  kind: 'age' | 'sops';
  /** For sops files; age files are decided when the job opens them. */
  action: 'rewrap' | 'rotate' | 'updatekeys' | 'pending';
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
    // An age file's action is decided by the job once it opens it ('pending' or a planned one).
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
  view.unwrapFileKey = (header: Uint8Array) => unwrapArtifactKey(ks, header, '', serviceIdentities({ identities, ...(audit ? { audit } : {}) }));
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

type Staged =
  | { op: 'age-add'; mode: 'inplace'; old: string; next: string; added: number }
  | { op: 'age-add'; mode: 'copy'; temp: string; header: string; added: number }
  | { op: 'age-rotate'; inner: unknown; detail: string }
  | { op: 'sops'; inner: unknown };

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * An age artifact brought to `target`. What changes is decided here, with the file open: the
 * recipients Keyward recorded in it against the target. Additions only: the existing recipient
 * stanzas stay as they are and only the added recipients' are wrapped (the same file key), the
 * header rewritten in place when it has room, else once by copying the payload bytes. Any
 * removal, or recipients not recorded (a file age wrote): a rotation to the target.
 */
async function stageAge(file: string, target: readonly string[], ks: Keystore, ctx: StageContext): Promise<{ data: Staged } | { skip: string }> {
  const header = await readHeader(file);
  const { fileKey } = await ks.unwrapFileKey(header.raw);
  let add: string[];
  let next: string[];
  try {
    const recorded = readMeta(fileKey, header.stanzas);
    const current = recorded?.recipients;
    if (current) {
      add = target.filter((r) => !current.includes(r));
      const remove = current.filter((r) => !target.includes(r));
      if (!add.length && !remove.length) return { skip: 'recipients already as the team policy says' };
      if (!remove.length) {
        next = [...current, ...add];
        const stanzas = [
          ...header.stanzas.filter((st) => !isKeywardStanza(st)),
          ...(await wrapFileKey(fileKey, add)),
          // Plugin identities wrapped to directly stay, with their stanzas (artifacts/targets.ts).
          metaStanza(fileKey, { recipients: next, keys: [...ks.refsForRecipients(next), ...(recorded?.identities ?? []).map((t) => t.key)], at: new Date().toISOString(), ...(recorded?.identities?.length ? { identities: recorded.identities } : {}) }),
        ];
        if (ctx.signal.aborted) throw new KeywardError(ErrorCode.Cancelled, 'cancelled');
        const fitted = header.armored ? null : fitHeader(stanzas, fileKey, header.size);
        if (fitted) return { data: { op: 'age-add', mode: 'inplace', old: Buffer.from(header.raw).toString('base64'), next: fitted.toString('base64'), added: add.length } };
        const temp = jobTempPath(file, ctx.jobId);
        const h = await rewrapByCopy({ input: file, output: temp, header, fileKey, stanzas, signal: ctx.signal });
        return { data: { op: 'age-add', mode: 'copy', temp, header: sha256(h), added: add.length } };
      }
      const detail = `new file key: -${remove.length}${add.length ? ` +${add.length}` : ''} recipient(s)`;
      const r = await rotateOp(() => ks).stage(file, { recipients: [...target] }, ctx);
      return 'skip' in r ? r : { data: { op: 'age-rotate', inner: r.data, detail } };
    }
  } finally {
    fileKey.fill(0);
  }
  const r = await rotateOp(() => ks).stage(file, { recipients: [...target] }, ctx);
  return 'skip' in r ? r : { data: { op: 'age-rotate', inner: r.data, detail: 'new file key, recipients set to the team policy (none were recorded)' } };
}

async function commitAgeAdd(file: string, d: Extract<Staged, { op: 'age-add' }>): Promise<{ bytes: number; detail: string }> {
  if (d.mode === 'inplace') {
    const next = Buffer.from(d.next, 'base64');
    await writeHeaderInPlace(file, Buffer.from(d.old, 'base64'), next);
    return { bytes: next.length, detail: `header rewritten in place: +${d.added} recipient(s)` };
  }
  try {
    await fsp.rename(d.temp, file);
  } catch (e) {
    // Redone after a crash: the rename happened if the file has the staged header.
    const h = await readHeader(file).catch(() => null);
    if (!h || sha256(h.raw) !== d.header) throw e;
  }
  const dir = await fsp.open(path.dirname(file), 'r');
  try {
    await dir.sync().catch(() => undefined);
  } finally {
    await dir.close();
  }
  return { bytes: (await fsp.stat(file)).size, detail: `header rewritten (payload copied once): +${d.added} recipient(s)` };
}

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
  const rotation = rotateOp(ks); // its commit does not use the keystore

  return {
    // The rewrap op works 8 files at a time, rotation 2; a sync is mostly rewraps.
    concurrency: 6,
    pluginStanzas: (file, p) => (p.files[file]?.kind === 'age' ? pluginStanzasOf(ks(), file) : Promise.resolve(null)),
    async stage(file, p, ctx) {
      const f = p.files[file];
      const target = f ? p.targets[f.target] : undefined;
      if (!f || !target) throw new KeywardError(ErrorCode.InvalidInput, 'this file is not part of the sync plan');
      if (f.kind === 'sops') {
        const sops = opts.sops?.();
        if (!sops) throw new KeywardError(ErrorCode.IllegalState, 'sops files need the sops engine, which this build lacks');
        const r = await sops.stage(file, f.action === 'rotate' ? 'rotate' : 'updatekeys', target, await view(p.root), ctx.jobId);
        return 'skip' in r ? r : { data: { op: 'sops', inner: r.data } satisfies Staged };
      }
      return stageAge(file, target.age, await view(p.root), ctx);
    },
    async commit(file, data) {
      const d = data as Staged;
      if (d.op === 'sops') {
        const sops = opts.sops?.();
        if (!sops) throw new KeywardError(ErrorCode.IllegalState, 'sops files need the sops engine, which this build lacks');
        return sops.commit(file, d.inner);
      }
      if (d.op === 'age-add') return commitAgeAdd(file, d);
      return { ...(await rotation.commit(file, d.inner)), detail: d.detail };
    },
    discard: jobTempDiscarder(),
  };
}
