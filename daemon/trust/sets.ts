// Which recipients a repository's config file names, who they are, and whether the user agreed
// to them (./store.ts). The one check every path that encrypts to a file's recipients makes:
// the watcher and team sync (`.keyward.yaml`), `team sops-config --write` (which turns the team
// policy into creation rules), `sops encrypt`, `sops set --create` and `sops updatekeys`
// (`.sops.yaml`). Your own keys need no consent: encrypting to yourself redirects nothing.
//
// What a set holds, as strings: age recipients (`age1...`, plugin ones too), `kms:ARN` for an
// AWS KMS key and `vault:URI` for a Vault transit key (the data key is sent to that server to be
// wrapped, with your Vault token), and for a team whose member list lives in AWS, the list's
// source (`ssm:NAME`, `secretsmanager:NAME`): agreeing to it is trusting whoever controls it.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Keystore } from '../keystore/keystore';
import { POLICY_FILE, Policy } from '../policy/protection';
import { ErrorCode } from '../protocol/errors';
import type { TrustRecipientView, TrustSourceView } from '../protocol/trust';
import { isTransitUri } from '../kms/vault';
import { compileRule, CONFIG_FILE_NAME, loadConfig, lookupConfigFile } from '../sops/config';
import { expandSopsPaths, groupRecipients } from '../sops/files';
import { listIdentities } from '../team/identity';
import { parseTeamSection, type TeamPolicy } from '../team/team-policy';
import { errnoCode, isKeywardError, KeywardError } from '../util/errors';
import { TrustStore } from './store';

export type SourceKind = 'keyward' | 'sops';

/** The config file's real path: the key of its agreed set. */
export async function sourceKey(file: string): Promise<string> {
  try {
    return await fsp.realpath(file);
  } catch {
    return path.resolve(file);
  }
}

/** The recipients of a `.keyward.yaml`'s protect rules (what the watcher encrypts to; key names are yours). */
export function protectRecipients(policy: Policy): string[] {
  return policy.allRecipients().filter((r) => r.startsWith('age1'));
}

/**
 * Every recipient a folder's `.keyward.yaml` names (key names are your own keys: left out): its
 * protect rules' recipients and its team section's (members, or where the member list comes
 * from; KMS and Vault keys; the service identities in `.keyward/identities`, whose recipients
 * the KMS keys stand for). A team section that does not parse adds nothing: nothing can use it.
 */
export async function keywardRecipients(dir: string, policy?: Policy): Promise<string[]> {
  const p = policy ?? (await Policy.load(dir));
  const out = new Set(protectRecipients(p));
  if (p.team) {
    let spec;
    try {
      spec = parseTeamSection(p.team);
    } catch {
      spec = undefined;
    }
    if (spec) {
      for (const m of spec.members ?? []) for (const r of m.recipients) out.add(r);
      if (spec.membersFrom) out.add(`${spec.membersFrom.kind}:${spec.membersFrom.id}`);
      for (const k of spec.kms) out.add(kekRecipient(k.arn));
      for (const r of await identityRecipients(dir)) out.add(r);
    }
  }
  return [...out];
}

/** A team KEK as a set member: `kms:ARN` or `vault:URI`. */
function kekRecipient(arn: string): string {
  return isTransitUri(arn) ? `vault:${arn}` : `kms:${arn}`;
}

/** Recipients of the service identities in a team root (versions not retired); none when they cannot be read. */
async function identityRecipients(root: string): Promise<string[]> {
  try {
    return [...(await listIdentities(root)).values()].flatMap(({ identity }) => identity.versions.filter((v) => v.state !== 'retired').map((v) => v.recipient));
  } catch {
    return [];
  }
}

/** Every recipient the creation rules of a `.sops.yaml` name (KMS keys as `kms:ARN`, Vault keys as `vault:URI`); rules that do not compile are left out. */
export async function sopsRecipients(file: string): Promise<string[]> {
  const config = await loadConfig(file);
  const out = new Set<string>();
  for (const rule of config.creationRules ?? []) {
    try {
      for (const r of groupRecipients(compileRule(config, rule).keyGroups)) out.add(r);
    } catch (e) {
      if (!isKeywardError(e)) throw e;
    }
  }
  return [...out];
}

/** Recipients of `recipients` that are not keys of this keystore. */
export function notYours(keystore: Keystore, recipients: readonly string[]): string[] {
  return recipients.filter((r) => !r.startsWith('age1') || keystore.refsForRecipients([r]).length === 0);
}

/** Those of `recipients` (not yours) that are outside the set agreed to for `source`. */
export async function untrusted(home: string, keystore: Keystore, source: string, recipients: readonly string[]): Promise<string[]> {
  const foreign = notYours(keystore, recipients);
  if (foreign.length === 0) return [];
  const agreed = await TrustStore.in(home).agreed(await sourceKey(source));
  const ok = new Set(agreed?.recipients ?? []);
  return foreign.filter((r) => !ok.has(r));
}

/** Throws ErrorCode.Untrusted unless every recipient (not yours) is agreed to for `source`. */
export async function requireTrusted(home: string, keystore: Keystore, source: string, recipients: readonly string[]): Promise<void> {
  const missing = await untrusted(home, keystore, source, recipients);
  if (missing.length === 0) return;
  throw untrustedError(source, missing);
}

export function untrustedError(source: string, missing: readonly string[]): KeywardError {
  const shown = missing.slice(0, 3).map(short).join(', ') + (missing.length > 3 ? ` and ${missing.length - 3} more` : '');
  const dir = path.dirname(source);
  return new KeywardError(
    ErrorCode.Untrusted,
    `${source} names recipients you have not agreed to encrypt to: ${shown}`,
    `check who they are (keyward trust show ${dir}); to agree, run the command in a terminal to be asked, or keyward trust add ${dir}, or pass --trust-recipients (scripts, CI)`,
  );
}

/**
 * Throws ErrorCode.Untrusted unless the user agreed to what the `.sops.yaml` of each of `files`
 * names (checked once per config file, before a tree's `sops updatekeys` starts). Config files
 * that cannot be read are left to the job, which reports them file by file.
 */
export async function requireTrustedConfigs(home: string, keystore: Keystore, files: readonly string[]): Promise<void> {
  const byDir = new Map<string, string | undefined>();
  const configs = new Set<string>();
  for (const f of files) {
    const dir = path.dirname(f);
    if (!byDir.has(dir)) byDir.set(dir, (await lookupConfigFile(dir)).path);
    const c = byDir.get(dir);
    if (c) configs.add(c);
  }
  for (const c of configs) {
    let named: string[];
    try {
      named = await sopsRecipients(c);
    } catch (e) {
      if (isKeywardError(e)) continue;
      throw e;
    }
    await requireTrusted(home, keystore, c, named);
  }
}

/**
 * Throws ErrorCode.Untrusted unless the user agreed to what the `.keyward.yaml` of `root` names
 * (team sync, `team sops-config --write`).
 */
export async function requirePolicyTrusted(home: string, keystore: Keystore, root: string): Promise<void> {
  await requireTrusted(home, keystore, path.join(root, POLICY_FILE), await keywardRecipients(root));
}

/**
 * After Keyward wrote a `.sops.yaml` from an agreed team policy: records consent for it too, when
 * everything it names (not yours) comes from that policy (`team`: its members as fetched, its
 * KEKs, its service identities). A `.sops.yaml` with rules of its own is left to be asked about.
 */
export async function agreeToWritten(home: string, keystore: Keystore, file: string, team: TeamPolicy): Promise<boolean> {
  const allowed = new Set<string>([...team.members.values()].flatMap((m) => m.recipients));
  for (const k of team.keks.values()) allowed.add(kekRecipient(k.arn));
  for (const r of await identityRecipients(team.root)) allowed.add(r);
  const named = await sopsRecipients(file);
  if (notYours(keystore, named).some((r) => !allowed.has(r))) return false;
  await TrustStore.in(home).grant(await sourceKey(file), named);
  return true;
}

/**
 * After Keyward made a service identity on this machine (`team identity create`, `rotate`): its
 * recipients join the set agreed for the team's `.keyward.yaml`, when one was agreed. The user
 * who made the key needs no question about it.
 */
export async function agreeToMade(home: string, root: string, recipients: readonly string[]): Promise<void> {
  await TrustStore.in(home).extend(await sourceKey(path.join(root, POLICY_FILE)), recipients);
}

function short(r: string): string {
  return r.startsWith('age1') ? `${r.slice(0, 16)}...${r.slice(-6)}` : r.length > 120 ? `${r.slice(0, 117)}...` : r;
}

/**
 * The config files that apply to `p` (a folder: its .keyward.yaml and nearest .sops.yaml; a
 * file: its nearest .sops.yaml), described. `deep`: for a folder, also the nearest .sops.yaml of
 * every sops file under it (what `sops updatekeys DIR` encrypts to).
 */
export async function describeFor(home: string, keystore: Keystore, p: string, deep = false): Promise<TrustSourceView[]> {
  let isDir = false;
  try {
    isDir = (await fsp.stat(p)).isDirectory();
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  const out: TrustSourceView[] = [];
  if (isDir) {
    const file = path.join(p, POLICY_FILE);
    const policy = await Policy.load(p);
    if (policy.source.kind === 'file') out.push(await describe(home, keystore, file, 'keyward', await keywardRecipients(p, policy)));
  }
  const configs = new Set<string>();
  const nearest = (await lookupConfigFile(isDir ? p : path.dirname(p))).path;
  if (nearest) configs.add(nearest);
  if (isDir && deep) {
    const dirs = new Set((await expandSopsPaths([p])).map((f) => path.dirname(f)));
    for (const d of dirs) {
      const c = (await lookupConfigFile(d)).path;
      if (c) configs.add(c);
    }
  }
  for (const sops of configs) out.push(await describe(home, keystore, sops, 'sops', await sopsRecipients(sops)));
  return out;
}

/** The recipients a source names now (what a grant must match). */
export async function recipientsOf(source: string): Promise<{ kind: SourceKind; recipients: string[] }> {
  const base = path.basename(source);
  if (base === POLICY_FILE) return { kind: 'keyward', recipients: await keywardRecipients(path.dirname(source)) };
  if (base === CONFIG_FILE_NAME) return { kind: 'sops', recipients: await sopsRecipients(source) };
  throw new KeywardError(ErrorCode.InvalidInput, `not a config file that names recipients: ${source}`, `give the path of a ${POLICY_FILE} or ${CONFIG_FILE_NAME}`);
}

export async function describe(home: string, keystore: Keystore, source: string, kind: SourceKind, recipients: readonly string[]): Promise<TrustSourceView> {
  const key = await sourceKey(source);
  const agreed = await TrustStore.in(home).agreed(key);
  const team = await teamMembers(path.dirname(source));
  const ok = new Set(agreed?.recipients ?? []);
  const views: TrustRecipientView[] = recipients.map((r) => {
    const ref = r.startsWith('age1') ? keystore.refsForRecipients([r])[0] : undefined;
    if (ref) return { recipient: r, who: 'yours', name: ref };
    const member = team.get(r);
    return member ? { recipient: r, who: 'team', name: member } : { recipient: r, who: 'unknown' };
  });
  const missing = views.filter((v) => v.who !== 'yours' && !ok.has(v.recipient)).map((v) => v.recipient);
  return { source: key, kind, recipients: views, trusted: missing.length === 0, untrusted: missing, ...(agreed ? { agreedAt: agreed.agreedAt } : {}) };
}

/**
 * Recipient -> who the team section of the folder's `.keyward.yaml` (if any) says it is: a
 * member's name, a KMS or Vault key's name, a service identity, the member list's source.
 */
async function teamMembers(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  try {
    const policy = await Policy.load(dir);
    if (!policy.team) return out;
    const spec = parseTeamSection(policy.team);
    for (const m of spec.members ?? []) for (const r of m.recipients) out.set(r, `member ${m.name}`);
    if (spec.membersFrom) out.set(`${spec.membersFrom.kind}:${spec.membersFrom.id}`, 'the source of the member list');
    for (const k of spec.kms) out.set(kekRecipient(k.arn), `${isTransitUri(k.arn) ? 'Vault' : 'KMS'} key ${k.name}`);
    for (const { identity } of (await listIdentities(dir).catch(() => new Map<string, never>())).values()) {
      for (const v of identity.versions) out.set(v.recipient, `service identity ${identity.name}@v${v.version}`);
    }
  } catch {
    // no team section, or one that does not parse: nobody is a member
  }
  return out;
}
