// Sync planning: for every artifact under the given paths that a team access rule covers, what
// must change for it to follow the policy. Nothing is written.
//
// - age artifacts (`*.age`): the target is the rule's members' recipients plus the recipients
//   of the service identities wrapped by the rule's KMS keys (versions active or retiring). The
//   current set is Keyward's metadata stanza, read with the file key (so the planner must be able
//   to open the file: with the keystore, or a service identity). Additions only: a header rewrap.
//   Any removal: a rotation (new file key), since a removed member may have kept the old one. A
//   file without metadata (written by age) is set to the target and rotated.
// - sops files: the target is the members' recipients as age keys and the KEKs as kms keys
//   (one key group). Additions only: updatekeys (same data key); removals: rotation (new data key).
//   Files with several key groups (Shamir) are left to sops and reported.
// - Problems that make a rule impossible (a KMS key granted to age artifacts with no service
//   identity it wraps; post-quantum and classic recipients mixed, which age refuses in one file)
//   are reported per rule and its files are skipped.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { glob } from 'tinyglobby';
import { parseRecipient, readHeader } from '../age';
import { readMeta } from '../artifacts/meta';
import { isNeverProtected, relativePath } from '../policy/protection';
import { isKeywardError } from '../util/errors';
import { listIdentities, identityRef, serviceIdentities, type Auditor, type IdentityCache, type IdentityFile } from './identity';
import type { AccessMatch, TeamKek, TeamPolicy } from './team-policy';
import { unwrapArtifactKey, type KeyUnwrapper } from '../artifacts/unwrap';

/** `pending`: an age artifact not opened while planning; the sync job decides when it opens it. */
export type PlanAction = 'none' | 'rewrap' | 'rotate' | 'updatekeys' | 'skip' | 'pending';

export interface PlanEntry {
  file: string;
  rel: string;
  kind: 'age' | 'sops';
  /** The team access rule (its path), by index. */
  rule: number;
  action: PlanAction;
  /** age recipients to add / remove. */
  add: string[];
  remove: string[];
  /** KMS key ARNs to add / drop (sops files). */
  addKms: string[];
  dropKms: string[];
  /** The full target: age recipients and KMS ARNs. */
  target: { age: string[]; kms: { arn: string; role?: string }[] };
  /** Why it is skipped, or a note (recipients unknown). */
  reason?: string;
  /** Which key opened it for planning (age). */
  openedBy?: string;
}

export interface PlanProblem {
  subject: string;
  problem: string;
}

export interface TeamPlan {
  root: string;
  entries: PlanEntry[];
  problems: PlanProblem[];
  /** Display names: recipient or ARN -> member name, `kms:NAME@vN` or KEK name. */
  labels: Record<string, string>;
  summary: { files: number; none: number; rewrap: number; rotate: number; updatekeys: number; skip: number; pending: number };
  /** Notes about what was not planned (e.g. sops files without the sops engine). */
  notes: string[];
}

/** What the planner needs of a sops file: its master keys, per key group (null: not a sops file). */
export type SopsKeysReader = (file: string) => Promise<{ groups: { type: string; id: string; role?: string }[][] } | null>;

export interface PlanOptions {
  keystore: KeyUnwrapper;
  cache?: IdentityCache;
  audit?: Auditor;
  /** Reads sops metadata (the sops engine's readInfo); absent: sops files are not planned. */
  sops?: SopsKeysReader;
  concurrency?: number;
  /** Service identities to use (default: the root's .keyward/identities). */
  identities?: IdentityFile[];
  /**
   * Open age artifacts to compare their recorded recipients (default true). A sync skips it:
   * its job opens each file anyway and decides there, so every file is opened once, not twice.
   */
  openAge?: boolean;
}

const IGNORE = ['**/.git/**', '**/node_modules/**', '**/.keyward/**', '**/*.keyward-tmp', '**/.*.keyward-job-*.tmp'];

/** Files under `roots` (files or directories), absolute and sorted. */
export async function walk(roots: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const r of roots) {
    const abs = path.resolve(r);
    const st = await fsp.stat(abs).catch(() => null);
    if (st?.isFile()) out.add(abs);
    else if (st?.isDirectory()) for (const f of await glob('**/*', { cwd: abs, absolute: true, onlyFiles: true, dot: true, ignore: IGNORE })) out.add(path.resolve(f));
  }
  return [...out].sort();
}

/** Recipients of the service identities wrapped by a KEK (active or retiring versions). */
export function identityRecipients(kek: TeamKek, identities: readonly IdentityFile[]): { recipient: string; ref: string }[] {
  const out: { recipient: string; ref: string }[] = [];
  for (const id of identities) {
    for (const v of id.versions) {
      if (v.state === 'retired') continue;
      const same = v.kms.keyId === kek.arn || v.kms.keyArn === kek.arn || (kek.keyArn !== undefined && v.kms.keyArn === kek.keyArn);
      if (same) out.push({ recipient: v.recipient, ref: identityRef(id.name, v.version) });
    }
  }
  return out;
}

const diff = (a: readonly string[], b: readonly string[]) => a.filter((x) => !b.includes(x));

export async function planSync(team: TeamPolicy, roots: readonly string[], opts: PlanOptions): Promise<TeamPlan> {
  const identities = opts.identities ?? [...(await listIdentities(team.root)).values()].map((x) => x.identity);
  const labels: Record<string, string> = {};
  for (const m of team.members.values()) for (const r of m.recipients) labels[r] = m.name;
  for (const k of team.keks.values()) {
    labels[k.arn] = `kms:${k.name}`;
    if (k.keyArn) labels[k.keyArn] = `kms:${k.name}`;
  }
  for (const id of identities) for (const v of id.versions) labels[v.recipient] = identityRef(id.name, v.version);

  // Per rule: the age target, or why age artifacts cannot follow it.
  const problems: PlanProblem[] = [];
  const ageTargets = new Map<number, { recipients: string[]; problem?: string }>();
  for (const rule of team.rules) {
    const m: AccessMatch = { rule, members: rule.members.map((n) => team.members.get(n)!), keks: rule.kms.map((n) => team.keks.get(n)!) };
    const recipients = m.members.flatMap((x) => x.recipients);
    let problem: string | undefined;
    for (const k of m.keks) {
      const ids = identityRecipients(k, identities);
      if (!ids.length) {
        const unresolved = k.keyArn === undefined && /:alias\//.test(k.arn) && identities.length > 0;
        problem ??= unresolved
          ? `KMS key ${k.name} is an alias not resolved without checking KMS: no service identity names it; run with the KMS check, or create identities with --kms ${k.arn}`
          : `KMS key ${k.name} has no service identity for age artifacts: create one with keyward team identity create NAME --kms ${k.arn}`;
      }
      recipients.push(...ids.map((x) => x.recipient));
    }
    const unique = [...new Set(recipients)];
    const pq = unique.filter((r) => parseRecipient(r).postQuantum);
    if (pq.length && pq.length !== unique.length) problem ??= 'mixes post-quantum and classic recipients, which age refuses in one file: give every member and identity of this path the same kind';
    if (!unique.length) problem ??= 'grants age artifacts to nobody';
    ageTargets.set(rule.index, { recipients: unique, ...(problem ? { problem } : {}) });
  }

  const files = await walk(roots);
  const notes: string[] = [];
  if (!opts.sops) notes.push('sops files were not planned: the sops engine is not available in this build');
  const work: { file: string; rel: string; match: AccessMatch }[] = [];
  for (const file of files) {
    const rel = relativePath(team.root, file);
    if (rel === null) continue;
    const base = path.posix.basename(rel);
    if (base === '.keyward.yaml' || base === '.sops.yaml' || base === '.gitignore') continue;
    const match = team.match(rel);
    if (!match) continue;
    if (!rel.endsWith('.age') && (!opts.sops || isNeverProtected(rel))) continue;
    work.push({ file, rel, match });
  }

  const reported = new Set<number>();
  const entries: (PlanEntry | null)[] = new Array<PlanEntry | null>(work.length).fill(null);
  const one = async (i: number) => {
    const { file, rel, match } = work[i]!;
    if (rel.endsWith('.age')) {
      const t = ageTargets.get(match.rule.index)!;
      if (t.problem) {
        if (!reported.has(match.rule.index)) problems.push({ subject: `team.access[${match.rule.index}] (${match.rule.path})`, problem: t.problem });
        reported.add(match.rule.index);
        entries[i] = skip(file, rel, 'age', match, t.recipients, `team.access[${match.rule.index}] ${t.problem.split(':')[0]}`);
        return;
      }
      entries[i] =
        opts.openAge === false
          ? { file, rel, kind: 'age', rule: match.rule.index, action: 'pending', add: [], remove: [], addKms: [], dropKms: [], target: { age: t.recipients, kms: [] } }
          : await planAge(file, rel, match, t.recipients, opts);
    } else {
      entries[i] = await planSops(file, rel, match, opts.sops!);
    }
  };
  let next = 0;
  const lanes = Array.from({ length: Math.min(opts.concurrency ?? 8, work.length) }, async () => {
    while (next < work.length) await one(next++);
  });
  await Promise.all(lanes);
  const list = entries.filter((e): e is PlanEntry => e !== null);
  const summary = { files: list.length, none: 0, rewrap: 0, rotate: 0, updatekeys: 0, skip: 0, pending: 0 };
  for (const e of list) summary[e.action]++;
  return { root: team.root, entries: list, problems, labels, summary, notes };
}

function skip(file: string, rel: string, kind: 'age' | 'sops', m: AccessMatch, age: string[], reason: string): PlanEntry {
  return { file, rel, kind, rule: m.rule.index, action: 'skip', add: [], remove: [], addKms: [], dropKms: [], target: { age, kms: [] }, reason };
}

async function planAge(file: string, rel: string, m: AccessMatch, target: string[], opts: PlanOptions): Promise<PlanEntry> {
  let opened: { fileKey: Uint8Array; ref: string };
  let header;
  try {
    header = await readHeader(file);
    opened = await unwrapArtifactKey(
      opts.keystore,
      header.raw,
      file,
      serviceIdentities({
        ...(opts.cache ? { cache: opts.cache } : {}),
        ...(opts.audit ? { audit: opts.audit } : {}),
        ...(opts.identities ? { identities: opts.identities } : {}),
      }),
    );
  } catch (e) {
    return skip(file, rel, 'age', m, target, isKeywardError(e) ? `cannot open it: ${e.message}` : 'cannot open it');
  }
  try {
    const meta = readMeta(opened.fileKey, header.stanzas);
    const base = { file, rel, kind: 'age' as const, rule: m.rule.index, addKms: [], dropKms: [], target: { age: target, kms: [] }, openedBy: opened.ref };
    if (!meta) return { ...base, action: 'rotate', add: target, remove: [], reason: 'recipients unknown (no Keyward metadata): set to the policy with a new file key' };
    const add = diff(target, meta.recipients);
    const remove = diff(meta.recipients, target);
    return { ...base, action: remove.length ? 'rotate' : add.length ? (header.armored ? 'rotate' : 'rewrap') : 'none', add, remove, ...(add.length && !remove.length && header.armored ? { reason: 'armored: rewritten whole' } : {}) };
  } finally {
    opened.fileKey.fill(0);
  }
}

async function planSops(file: string, rel: string, m: AccessMatch, read: SopsKeysReader): Promise<PlanEntry | null> {
  const age = [...new Set(m.members.flatMap((x) => x.recipients))];
  const kms = m.keks.map((k) => ({ arn: k.arn, ...(k.role ? { role: k.role } : {}) }));
  let keys;
  try {
    keys = await read(file);
  } catch (e) {
    return { ...skip(file, rel, 'sops', m, age, isKeywardError(e) ? `cannot read its sops metadata: ${e.message}` : 'cannot read its sops metadata'), target: { age, kms } };
  }
  if (!keys) return null; // not a sops file
  if (keys.groups.length > 1) return { ...skip(file, rel, 'sops', m, age, 'several key groups (Shamir): edit them with sops'), target: { age, kms } };
  const group = keys.groups[0] ?? [];
  const haveAge = group.filter((k) => k.type === 'age').map((k) => k.id);
  // Vault transit keys are KEKs too (their ids are transit URIs, as team.kms holds them).
  const haveKms = group.filter((k) => k.type === 'kms' || k.type === 'hc_vault').map((k) => k.id);
  const same = (arn: string) => m.keks.some((k) => k.arn === arn || k.keyArn === arn);
  const add = diff(age, haveAge);
  const remove = diff(haveAge, age);
  const addKms = kms.map((k) => k.arn).filter((a) => !haveKms.includes(a) && !(m.keks.find((k) => k.arn === a)?.keyArn && haveKms.includes(m.keks.find((k) => k.arn === a)!.keyArn!)));
  const dropKms = haveKms.filter((a) => !same(a));
  const others = group.filter((k) => k.type !== 'age' && k.type !== 'kms' && k.type !== 'hc_vault').map((k) => `${k.type}:${k.id}`);
  const removing = remove.length + dropKms.length + others.length > 0;
  return {
    file,
    rel,
    kind: 'sops',
    rule: m.rule.index,
    action: removing ? 'rotate' : add.length + addKms.length ? 'updatekeys' : 'none',
    add,
    remove: [...remove, ...others],
    addKms,
    dropKms,
    target: { age, kms },
  };
}
