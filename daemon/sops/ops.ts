// Key updates and rotation of sops files over whole trees, as crash-safe daemon jobs (sops can
// only do one file at a time: getsops/sops#1071). Each file is staged as a verified temp file
// beside it and committed by one rename, so a file is always in its old or its new form.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, type SopsKeyPlan } from '../protocol';
import type { FileOp } from '../jobs/manager';
import { jobTempPath } from '../jobs/manager';
import type { Keystore } from '../keystore/keystore';
import { AtomicFile } from '../util/atomic';
import { jobTempDiscarder } from '../util/temps';
import { KeywardError, isKeywardError } from '../util/errors';
import { checkOpens, openFile, readInfo, rotate, updateKeys } from './engine';
import { formatOf, keyServices, readSopsFile, targetFor, type TrustCheck } from './files';
import { transitUri } from '../kms/vault';
import type { KeyGroup, KeyGroupSpec, KeyServices, SopsKmsClient } from './keys';

export interface SopsRotateParams {
  addAge?: string[];
  removeAge?: string[];
}

interface Staged {
  temp: string;
  hash: string;
}

/** The ids of a file's master keys (age recipients, KMS ARNs), in group order. */
function idsOf(groups: readonly KeyGroup[]): string[] {
  const out: string[] = [];
  for (const g of groups) for (const k of g.keys) out.push(k.type === 'age' ? k.recipient : k.type === 'kms' ? k.arn : k.type === 'hc_vault' ? transitUri(k) : `${k.type}:${Object.values(k.fields)[0] ?? ''}`);
  return out;
}

function idsOfSpec(groups: readonly KeyGroupSpec[]): string[] {
  const out: string[] = [];
  for (const g of groups) out.push(...g.age, ...g.kms.map((k) => k.arn), ...(g.vault ?? []));
  return out;
}

/** What updatekeys would change in each file: master keys to add and remove. */
export async function planKeys(keystore: Keystore, files: readonly string[], trust: TrustCheck): Promise<SopsKeyPlan[]> {
  const plan: SopsKeyPlan[] = [];
  for (const file of files) {
    try {
      const info = readInfo(await readSopsFile(file), formatOf(file));
      const target = await targetFor(keystore, file, {}, trust);
      const have = idsOf(info.keyGroups);
      const want = idsOfSpec(target.keyGroups);
      plan.push({ file, add: want.filter((x) => !have.includes(x)), remove: have.filter((x) => !want.includes(x)) });
    } catch (e) {
      plan.push({ file, add: [], remove: [], skipped: isKeywardError(e) ? e.message : 'unreadable' });
    }
  }
  return plan;
}

function stageOp<P>(
  ks: () => Keystore,
  kms: () => SopsKmsClient | undefined,
  transform: (file: string, bytes: Buffer, p: P, services: KeyServices) => Promise<Buffer | { skip: string }>,
): FileOp<P> {
  return {
    concurrency: 2,
    async stage(file, p, ctx) {
      const services = keyServices(ks(), kms());
      const bytes = await readSopsFile(file);
      const next = await transform(file, bytes, p, services);
      if (!Buffer.isBuffer(next)) return next;
      // Verify before anything is committed: the engine read the new file back whole (values and
      // MAC); the keys here must open its data key, or the rotation would lock the user out.
      await checkOpens(next, formatOf(file), services);
      const staged = await writeStaged(file, ctx.jobId, next);
      ctx.onBytes(next.length);
      return { data: staged satisfies Staged };
    },
    async commit(file, data) {
      const { temp, hash } = data as Staged;
      return { bytes: await commitStaged(file, temp, hash) };
    },
    // The job's temp and an atomic write's temps of it: a leftover inner temp once made every
    // later `sops rotate DIR` fail.
    discard: jobTempDiscarder(),
  };
}

/** `sops updatekeys` for every file: master keys as `.sops.yaml` says, same data key. */
export function updateKeysOp(ks: () => Keystore, kms: () => SopsKmsClient | undefined, trust: TrustCheck): FileOp<Record<string, never>> {
  return stageOp(ks, kms, async (file, bytes, _p, services) => {
    const format = formatOf(file);
    const target = await targetFor(ks(), file, {}, trust);
    const have = idsOf(readInfo(bytes, format).keyGroups);
    const want = idsOfSpec(target.keyGroups);
    if (have.length === want.length && have.every((x, i) => x === want[i])) return { skip: 'keys already match .sops.yaml' };
    const opened = await openFile(bytes, format, services, {});
    return updateKeys(opened, target, services);
  });
}

/** `sops rotate` for every file: a new data key, every value re-encrypted. */
export function rotateSopsOp(ks: () => Keystore, kms: () => SopsKmsClient | undefined): FileOp<SopsRotateParams> {
  return stageOp(ks, kms, async (file, bytes, p, services) => {
    const format = formatOf(file);
    const opened = await openFile(bytes, format, services, {});
    if (!p.addAge?.length && !p.removeAge?.length) return rotate(opened, services);
    const groups = opened.metadata.keyGroups;
    if (groups.length !== 1 && p.addAge?.length) {
      throw new KeywardError(ErrorCode.InvalidInput, `${file} has ${groups.length} key groups`, 'add recipients to key groups through .sops.yaml and keyward sops updatekeys');
    }
    const target: KeyGroupSpec[] = groups.map((g, i) => {
      const spec = specOf(g);
      // A recipient the file has already is not wrapped to twice.
      return { ...spec, age: [...new Set([...spec.age.filter((r) => !p.removeAge?.includes(r)), ...(i === 0 ? (p.addAge ?? []) : [])])] };
    });
    return rotate(opened, services, { keyGroups: target, ...(opened.metadata.shamirThreshold ? { shamirThreshold: opened.metadata.shamirThreshold } : {}) });
  });
}

export interface SopsAddKeysParams {
  addAge: string[];
}

/**
 * Adds age recipients to every file, header only: the same data key, wrapped to them too (values
 * untouched, as `sops updatekeys` does). Adding keeps the key; removing needs a new one (rotate).
 */
export function addKeysOp(ks: () => Keystore, kms: () => SopsKmsClient | undefined): FileOp<SopsAddKeysParams> {
  return stageOp(ks, kms, async (file, bytes, p, services) => {
    const format = formatOf(file);
    const groups = readInfo(bytes, format).keyGroups;
    const have = new Set(idsOf(groups));
    const add = p.addAge.filter((r) => !have.has(r));
    if (add.length === 0) return { skip: 'already encrypted to these keys' };
    if (groups.length !== 1) {
      throw new KeywardError(ErrorCode.InvalidInput, `${file} has ${groups.length} key groups`, 'add recipients to key groups through .sops.yaml and keyward sops updatekeys');
    }
    const other = groups[0]!.keys.find((k) => k.type !== 'age' && k.type !== 'kms' && k.type !== 'hc_vault');
    if (other) throw new KeywardError(ErrorCode.InvalidInput, `${file} has a ${other.type} master key, which Keyward cannot wrap to`, 'add the recipients with sops itself (sops updatekeys)');
    const opened = await openFile(bytes, format, services, {});
    const target: KeyGroupSpec[] = [{ ...specOf(groups[0]!), age: [...specOf(groups[0]!).age, ...add] }];
    return updateKeys(opened, { keyGroups: target, ...(opened.metadata.shamirThreshold ? { shamirThreshold: opened.metadata.shamirThreshold } : {}) }, services);
  });
}

/** A key group as a spec to encrypt to (age recipients, KMS and Vault transit keys; others cannot be re-wrapped). */
function specOf(g: KeyGroup): KeyGroupSpec {
  const vault = g.keys.flatMap((k) => (k.type === 'hc_vault' ? [transitUri(k)] : []));
  return {
    age: g.keys.flatMap((k) => (k.type === 'age' ? [k.recipient] : [])),
    kms: g.keys.flatMap((k) => (k.type === 'kms' ? [{ arn: k.arn, ...(k.role ? { role: k.role } : {}), ...(k.context ? { context: k.context } : {}), ...(k.awsProfile ? { awsProfile: k.awsProfile } : {}) }] : [])),
    ...(vault.length ? { vault } : {}),
  };
}

/**
 * Writes a job's new version of `file` to its temp path beside it (same mode, fsync'd), for a
 * later commitStaged. Shared by the sops jobs and team sync.
 */
export async function writeStaged(file: string, jobId: string, next: Uint8Array): Promise<{ temp: string; hash: string }> {
  const temp = jobTempPath(file, jobId);
  const out = await AtomicFile.open(temp, { mode: (await fsp.stat(file)).mode & 0o777, overwrite: true });
  try {
    await out.handle.writeFile(next);
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
  return { temp, hash: sha256(next) };
}

/**
 * Renames a staged temp over its file and syncs the directory; returns the new size.
 * Idempotent: redone after a crash, the rename already happened if the file is the staged one.
 */
export async function commitStaged(file: string, temp: string, hash: string): Promise<number> {
  try {
    await fsp.rename(temp, file);
  } catch (e) {
    const now = await fsp.readFile(file).catch(() => null);
    if (!now || sha256(now) !== hash) throw e;
  }
  const dir = await fsp.open(path.dirname(file), 'r');
  try {
    await dir.sync().catch(() => undefined);
  } finally {
    await dir.close();
  }
  return (await fsp.stat(file)).size;
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
