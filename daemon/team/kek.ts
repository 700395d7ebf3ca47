// KEK rotation without downtime for versioned KEKs (Vault / OpenBao transit): after the team
// rotates a transit key (`vault write -f transit/keys/NAME/rotate`), every artifact still opens
// (Vault decrypts every version at or above min_decryption_version), but the old version cannot
// be retired until nothing uses it. This module tells which artifact uses which key version
// (status), and moves them all to the newest one as a resumable daemon job (kind `kek-rewrap`)
// with transit's `rewrap` endpoint: the data keys are re-encrypted inside Vault, never in
// plaintext here. Then `min_decryption_version` can be raised and nothing breaks.
//
// What holds a Vault-wrapped key in a repository:
// - sops files: `hc_vault` master keys (`enc: vault:vN:...`);
// - service identity files (`.keyward/identities/*.kms.json`) wrapped by a transit key; the
//   model artifacts encrypted to those identities are age files and do not change.
// A file is changed only in its ciphertext strings (every other byte stays: the MAC, values,
// comments), checked by reading it back, staged beside it and committed by one rename.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { FileOp } from '../jobs/manager';
import { jobTempPath } from '../jobs/manager';
import { ciphertextVersion, isTransitUri, parseTransitUri, transitUri, type VaultTransit } from '../kms';
import { relativePath } from '../policy/protection';
import { ErrorCode } from '../protocol';
import { readInfo } from '../sops';
import { commitStaged, writeStaged } from '../sops/ops';
import { formatFromPath } from '../sops/stores';
import { KeywardError, isKeywardError } from '../util/errors';
import { IDENTITIES_DIR, IDENTITY_SUFFIX, listIdentities, parseIdentityFile } from './identity';
import { walk } from './plan';

export const KEK_REWRAP_JOB = 'kek-rewrap';

const MAX_FILE = 64 * 1024 * 1024;

/** One wrapped key of an artifact: the transit key (URI) and the version that wrapped it. */
export interface KekUse {
  key: string;
  version: number;
}

export interface KekArtifact {
  file: string;
  rel: string;
  kind: 'sops' | 'identity';
  uses: KekUse[];
  /** Some wrapped key is older than its key's newest version. */
  stale: boolean;
}

export interface KekKeyStatus {
  key: string;
  latestVersion?: number;
  minDecryptionVersion?: number;
  /** Wrapped keys per version, over the artifacts found. */
  inUse: Record<string, number>;
  /** The highest min_decryption_version that keeps every artifact found readable. */
  safeMinDecryptionVersion?: number;
  /** Why the key could not be read (the token may lack read on ENGINE/keys/NAME). */
  problem?: string;
}

export interface KekStatus {
  root: string;
  artifacts: KekArtifact[];
  keys: KekKeyStatus[];
}

export interface KekRewrapParams {
  root: string;
  /** The newest version of each key when the job was planned (a resumed job rewraps to the newest then). */
  latest: Record<string, number>;
}

const isIdentityFile = (file: string) => file.endsWith(IDENTITY_SUFFIX) && path.basename(path.dirname(file)) === path.basename(IDENTITIES_DIR) && path.basename(path.dirname(path.dirname(file))) === '.keyward';

/** The Vault-wrapped keys of one file: each transit key URI and its ciphertext (none: not ours). */
export function vaultCiphertexts(file: string, bytes: Buffer): { kind: 'sops' | 'identity'; wrapped: { key: string; ciphertext: string }[] } | null {
  if (isIdentityFile(file)) {
    const id = parseIdentityFile(bytes.toString('utf8'), file);
    const wrapped = id.versions.filter((v) => isTransitUri(v.kms.keyArn)).map((v) => ({ key: v.kms.keyArn, ciphertext: v.ciphertext }));
    return { kind: 'identity', wrapped };
  }
  // A cheap test first: a sops file with a Vault key holds both markers.
  if (!bytes.includes('ENC[AES256_GCM,') || !bytes.includes('vault:v')) return null;
  let info;
  try {
    info = readInfo(bytes, formatFromPath(file));
  } catch {
    return null; // not a sops file after all (the sync and status report those elsewhere)
  }
  const wrapped = info.keyGroups.flatMap((g) => g.keys.flatMap((k) => (k.type === 'hc_vault' ? [{ key: transitUri(k), ciphertext: k.enc }] : [])));
  return { kind: 'sops', wrapped };
}

async function readBounded(file: string): Promise<Buffer | null> {
  const st = await fsp.stat(file).catch(() => null);
  if (!st?.isFile() || st.size > MAX_FILE || st.size === 0) return null;
  return fsp.readFile(file);
}

/**
 * Which artifact under `paths` (default: the root) uses which transit key version, and, per key,
 * its newest and minimum decryption version (one read per key) and the highest minimum that
 * keeps everything readable. Nothing is written.
 */
export async function kekStatus(root: string, paths: readonly string[], vault: VaultTransit): Promise<KekStatus> {
  const files = new Set(await walk(paths.length ? paths : [root]));
  for (const { file } of (await listIdentities(root)).values()) {
    if (paths.length === 0 || paths.some((p) => file === p || relativePath(p, file) !== null)) files.add(file);
  }
  const artifacts: KekArtifact[] = [];
  for (const file of [...files].sort()) {
    const bytes = await readBounded(file);
    if (!bytes) continue;
    const found = vaultCiphertexts(file, bytes);
    if (!found || found.wrapped.length === 0) continue;
    const uses = found.wrapped.map((w) => ({ key: w.key, version: ciphertextVersion(w.ciphertext) ?? 0 }));
    artifacts.push({ file, rel: relativePath(root, file) ?? file, kind: found.kind, uses, stale: false });
  }
  const keys: KekKeyStatus[] = [];
  for (const key of [...new Set(artifacts.flatMap((a) => a.uses.map((u) => u.key)))].sort()) {
    const inUse: Record<string, number> = {};
    for (const a of artifacts) for (const u of a.uses) if (u.key === key) inUse[u.version] = (inUse[u.version] ?? 0) + 1;
    const lowest = Math.min(...Object.keys(inUse).map(Number));
    try {
      const info = await vault.keyInfo(parseTransitUri(key));
      keys.push({ key, latestVersion: info.latestVersion, minDecryptionVersion: info.minDecryptionVersion, inUse, safeMinDecryptionVersion: lowest });
    } catch (e) {
      if (!isKeywardError(e)) throw e;
      keys.push({ key, inUse, safeMinDecryptionVersion: lowest, problem: e.message });
    }
  }
  const latest = new Map(keys.map((k) => [k.key, k.latestVersion]));
  for (const a of artifacts) a.stale = a.uses.some((u) => u.version < (latest.get(u.key) ?? Infinity) || latest.get(u.key) === undefined);
  return { root, artifacts, keys };
}

/** The job's params and files for a status: every artifact not (known to be) at the newest version. */
export function rewrapPlan(status: KekStatus): { files: string[]; params: KekRewrapParams } {
  const latest: Record<string, number> = {};
  for (const k of status.keys) if (k.latestVersion !== undefined) latest[k.key] = k.latestVersion;
  return { files: status.artifacts.filter((a) => a.stale).map((a) => a.file), params: { root: status.root, latest } };
}

interface Staged {
  temp: string;
  hash: string;
  detail: string;
}

/** `from -> to` per key, for results and audit records: key and versions, never a ciphertext. */
function describeMoves(moves: { key: string; from: number; to: number }[]): string {
  const by = new Map<string, { from: Set<number>; to: number; n: number }>();
  for (const m of moves) {
    const e = by.get(m.key) ?? { from: new Set<number>(), to: m.to, n: 0 };
    e.from.add(m.from);
    e.to = Math.max(e.to, m.to);
    e.n++;
    by.set(m.key, e);
  }
  return [...by].map(([key, e]) => `${key} v${[...e.from].sort((a, b) => a - b).join(',v')} -> v${e.to} (${e.n} wrapped key${e.n > 1 ? 's' : ''}, transit rewrap)`).join('; ');
}

/**
 * The `kek-rewrap` job kind: each file's Vault-wrapped keys moved to the newest key version with
 * one transit rewrap call per key and file. A file whose keys are already newest is skipped; a
 * refused rewrap (denied, key gone, version below min_decryption_version) fails that file only,
 * unchanged.
 */
export function kekRewrapOp(vault: () => VaultTransit): FileOp<KekRewrapParams> {
  return {
    concurrency: 8,
    async stage(file, p, ctx) {
      const bytes = await readBounded(file);
      if (!bytes) return { skip: 'no longer a file' };
      const found = vaultCiphertexts(file, bytes);
      if (!found || found.wrapped.length === 0) return { skip: 'holds no Vault-wrapped key' };
      const byKey = new Map<string, string[]>();
      for (const w of found.wrapped) {
        const v = ciphertextVersion(w.ciphertext) ?? 0;
        const latest = p.latest[w.key];
        if (latest !== undefined && v >= latest) continue;
        const list = byKey.get(w.key) ?? [];
        if (!list.includes(w.ciphertext)) list.push(w.ciphertext);
        byKey.set(w.key, list);
      }
      const moves: { key: string; from: number; to: number; old: string; next: string }[] = [];
      for (const [key, cts] of byKey) {
        if (ctx.signal.aborted) throw new KeywardError(ErrorCode.Cancelled, 'cancelled');
        const results = await vault().rewrap(parseTransitUri(key), cts);
        results.forEach((r, i) => {
          if ('error' in r) throw r.error;
          const from = ciphertextVersion(cts[i]!) ?? 0;
          if (r.version > from) moves.push({ key, from, to: r.version, old: cts[i]!, next: r.ciphertext });
        });
      }
      if (!moves.length) return { skip: 'already at the newest key version' };
      // Only the ciphertext strings change: each appears verbatim (its characters need no
      // escaping in YAML, JSON, dotenv or INI), so every other byte of the file stays.
      let text = bytes.toString('utf8');
      for (const m of moves) {
        const parts = text.split(m.old);
        if (parts.length < 2) throw new KeywardError(ErrorCode.IllegalState, `${file} changed while its keys were rewrapped`, 'run keyward team rewrap-kek again');
        text = parts.join(m.next);
      }
      const next = Buffer.from(text, 'utf8');
      const after = vaultCiphertexts(file, next);
      const want = found.wrapped.map((w) => moves.find((m) => m.old === w.ciphertext)?.next ?? w.ciphertext);
      if (!after || after.wrapped.length !== want.length || after.wrapped.some((w, i) => w.ciphertext !== want[i])) {
        throw new KeywardError(ErrorCode.InternalError, `${file}: the rewrapped file does not read back as expected`, 'nothing was written; report this as a keyward bug');
      }
      const staged = await writeStaged(file, ctx.jobId, next);
      ctx.onBytes(next.length);
      return { data: { ...staged, detail: describeMoves(moves) } satisfies Staged };
    },
    async commit(file, data) {
      const { temp, hash, detail } = data as Staged;
      return { bytes: await commitStaged(file, temp, hash), detail };
    },
    async discard(file, ctx) {
      await fsp.rm(jobTempPath(file, ctx.jobId), { force: true });
    },
  };
}
