import { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { readHeader, type FileHeader } from '../age';
import type { Keystore } from '../keystore/keystore';
import { NEVER_DIRS, POLICY_FILE, Policy, relativePath, ruleView } from '../policy/protection';
import { ErrorCode, type ResultOf } from '../protocol';
import type { ArtifactStatus, ArtifactWarning, PolicyWarning } from '../protocol/artifacts';
import { errnoCode, ioError, isKeywardError, type KeywardError } from '../util/errors';
import { isKeywardTemp } from '../util/temps';

// `artifacts/status`: what is encrypted under a path, to whom (as far as headers tell), which
// of this keystore's keys open it, and what needs attention. Headers only: no payload is
// decrypted. Any readable path is accepted, registered or not, like `age/inspect`: it reveals
// file names and header facts the caller can already read, and `keyward status` must work in
// a clone nobody registered.

const MAX_ENTRIES = 100_000;

type Result = ResultOf<'artifactsStatus'>;

export interface StatusDeps {
  keystore: Keystore;
  /** The registered workspace containing a path, if any (its policy applies). */
  rootFor(abs: string): string | undefined;
}

export async function artifactsStatus(deps: StatusDeps, target: string): Promise<Result> {
  let abs: string;
  let st: Stats;
  try {
    abs = await fsp.realpath(target);
    st = await fsp.stat(abs);
  } catch (e) {
    throw ioError(e, 'status', target);
  }
  const isDir = st.isDirectory();
  const root = deps.rootFor(abs) ?? (await findRoot(isDir ? abs : path.dirname(abs)));

  let policy: Policy | undefined;
  let policyError: string | undefined;
  try {
    policy = await Policy.load(root);
  } catch (e) {
    if (!isKeywardError(e)) throw e;
    policyError = e.message;
  }

  // What to look at.
  const ages = new Set<string>();
  const plains = new Set<string>();
  let truncated = false;
  const protectedRel = (p: string): string | null => {
    const rel = relativePath(root, p);
    return rel !== null && policy?.match(rel) ? rel : null;
  };
  if (isDir) {
    truncated = await walk(abs, (f) => {
      if (f.endsWith('.age')) ages.add(f);
      else if (protectedRel(f) !== null) plains.add(f);
    });
  } else if (abs.endsWith('.age')) {
    ages.add(abs);
  } else if (await isFile(abs + '.age')) {
    ages.add(abs + '.age');
  } else if (protectedRel(abs) !== null) {
    plains.add(abs);
  }

  const ks = deps.keystore;
  const recipientProblems = new Map<string, string>();
  const policyWarnings: PolicyWarning[] = [];
  for (const r of policy?.allRecipients() ?? []) {
    if (r.startsWith('age1')) continue;
    try {
      ks.recipientsFor([r]);
    } catch (e) {
      if (!isKeywardError(e)) throw e;
      recipientProblems.set(r, e.message);
      policyWarnings.push({ message: `recipient ${r} cannot be encrypted to: ${e.message}` });
    }
  }

  const ruleFor = (plaintext: string) => {
    const rel = relativePath(root, plaintext);
    const m = rel === null ? null : (policy?.match(rel) ?? null);
    if (!m || !policy) return { rule: undefined, warnings: [] as ArtifactWarning[] };
    const warnings: ArtifactWarning[] = [];
    if (m.recipients.length === 0) warnings.push({ code: 'no-recipients', message: 'no recipients in policy' });
    for (const r of m.recipients) {
      const problem = recipientProblems.get(r);
      if (problem) warnings.push({ code: 'policy-recipient-unusable', message: `policy recipient ${r}: ${problem}` });
    }
    return { rule: ruleView(m.rule, policy.recipients), warnings };
  };

  const artifacts: ArtifactStatus[] = [];
  for (const agePath of ages) {
    artifacts.push(await encryptedStatus(agePath, ks, ruleFor));
  }
  for (const p of plains) {
    if (ages.has(p + '.age') || (!isDir && (await isFile(p + '.age')))) continue;
    const { rule, warnings } = ruleFor(p);
    artifacts.push({
      path: p,
      plaintext: p,
      encrypted: false,
      keys: [],
      ...(rule ? { rule } : {}),
      warnings: [{ code: 'not-encrypted', message: 'protected by policy but not encrypted yet' }, ...warnings],
    });
  }
  artifacts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    root,
    ...(policy ? { policy: policy.view() } : {}),
    ...(policyError ? { policyError } : {}),
    policyWarnings,
    artifacts,
    truncated,
  };
}

async function encryptedStatus(
  agePath: string,
  ks: Keystore,
  ruleFor: (plaintext: string) => { rule: ArtifactStatus['rule']; warnings: ArtifactWarning[] },
): Promise<ArtifactStatus> {
  const plaintext = agePath.slice(0, -'.age'.length);
  const warnings: ArtifactWarning[] = [];
  const out: ArtifactStatus = { path: agePath, plaintext, encrypted: true, keys: [], warnings };
  const ageSt = await fsp.stat(agePath).catch(() => null);
  if (ageSt) out.size = ageSt.size;

  let header: FileHeader | null = null;
  try {
    header = await readHeader(agePath);
  } catch (e) {
    if (!isKeywardError(e)) throw e;
    warnings.push({ code: 'malformed', message: e.message });
  }
  if (header) {
    out.armored = header.armored;
    const counts = new Map<string, number>();
    // Keyward's own stanzas (`keyward-*`: metadata, padding) are not recipients.
    for (const s of header.stanzas) if (!s.type.startsWith('keyward-')) counts.set(s.type, (counts.get(s.type) ?? 0) + 1);
    out.stanzas = [...counts].map(([type, count]) => ({ type, count }));
    try {
      const openers = await ks.openers(header.raw);
      out.keys = openers.map((o) => o.ref);
      const stale = openers.filter((o) => o.state === 'deactivated' || o.state === 'compromised');
      if (stale.length === openers.length) {
        // Only old versions open it: it was never rewrapped to the current one.
        warnings.push({ code: 'stale-key', message: `stale key version: opened by ${stale[0]!.ref} (${stale[0]!.state})` });
      } else {
        // Also an old version: the rewrap that should have removed it did not (yet).
        for (const o of stale) {
          warnings.push({
            code: 'stale-key',
            message:
              o.state === 'compromised'
                ? `still opens with ${o.ref} (compromised): whoever holds it can read this file; rewrap to remove it, then rotate`
                : `still opens with ${o.ref} (deactivated): rewrap to remove it`,
          });
        }
      }
    } catch (e) {
      if (!isKeywardError(e)) throw e;
      warnings.push(unwrapWarning(e, header));
    }
  }

  const plainSt = await fsp.lstat(plaintext).catch(() => null);
  if (plainSt?.isFile()) {
    warnings.push({ code: 'plaintext-present', message: 'plaintext present' });
    if (ageSt && plainSt.mtimeMs > ageSt.mtimeMs) warnings.push({ code: 'plaintext-newer', message: 'plaintext newer than ciphertext' });
  }
  const { rule, warnings: ruleWarnings } = ruleFor(plaintext);
  if (rule) out.rule = rule;
  warnings.push(...ruleWarnings);
  return out;
}

function unwrapWarning(e: KeywardError, header: FileHeader): ArtifactWarning {
  switch (e.code) {
    case ErrorCode.DecryptFailed: {
      const pass = header.stanzas.length > 0 && header.stanzas.every((s) => s.type === 'scrypt');
      return { code: 'not-decryptable', message: `not decryptable by any of your keys${pass ? ' (encrypted to a passphrase)' : ''}` };
    }
    case ErrorCode.KeystoreLocked:
    case ErrorCode.KeystoreUnavailable:
      return { code: 'keystore-unavailable', message: `cannot tell which of your keys open it: ${e.message}` };
    default:
      return { code: 'malformed', message: e.message };
  }
}

/** The workspace root of a folder: the nearest ancestor with `.keyward.yaml`, else with `.git`, else the folder. */
async function findRoot(dir: string): Promise<string> {
  for (const marker of [POLICY_FILE, '.git']) {
    for (let d = dir; ; ) {
      if (await exists(path.join(d, marker))) return d;
      const up = path.dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  return dir;
}

/** Calls `onFile` for every regular file below `dir` (symlinks not followed, .git and node_modules skipped). Returns true when it stopped at its limit. */
async function walk(dir: string, onFile: (abs: string) => void): Promise<boolean> {
  let budget = MAX_ENTRIES;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch (e) {
      if (d === dir) throw ioError(e, 'status', d);
      if (errnoCode(e) === 'EACCES' || errnoCode(e) === 'EPERM' || errnoCode(e) === 'ENOENT') continue;
      throw ioError(e, 'status', d);
    }
    for (const ent of entries) {
      if (--budget < 0) return true;
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) {
        if (!NEVER_DIRS.has(ent.name)) stack.push(p);
      } else if (ent.isFile() && !isKeywardTemp(ent.name)) {
        onFile(p);
      }
    }
  }
  return false;
}

async function isFile(p: string): Promise<boolean> {
  return (await fsp.lstat(p).catch(() => null))?.isFile() ?? false;
}

async function exists(p: string): Promise<boolean> {
  return (await fsp.lstat(p).catch(() => null)) !== null;
}
