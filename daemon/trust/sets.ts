// Which recipients a repository's config file names, who they are, and whether the user agreed
// to them (./store.ts). The one check every path that encrypts to a file's recipients makes:
// the watcher (`.keyward.yaml`), `sops encrypt`, `sops set --create` and `sops updatekeys`
// (`.sops.yaml`). Your own keys need no consent: encrypting to yourself redirects nothing.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Keystore } from '../keystore/keystore';
import { POLICY_FILE, Policy } from '../policy/protection';
import { ErrorCode } from '../protocol/errors';
import type { TrustRecipientView, TrustSourceView } from '../protocol/trust';
import { compileRule, CONFIG_FILE_NAME, loadConfig, lookupConfigFile } from '../sops/config';
import { parseTeamSection } from '../team/team-policy';
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

/** Every recipient a `.keyward.yaml` names (key names are your own keys: left out). */
export function keywardRecipients(policy: Policy): string[] {
  return policy.allRecipients().filter((r) => r.startsWith('age1'));
}

/**
 * Every recipient the creation rules of a `.sops.yaml` name (KMS keys as `kms:ARN`, Vault transit
 * keys as `vault:URI`: a key in someone else's account or on someone else's server would receive
 * the data key); rules that do not compile are left out.
 */
export async function sopsRecipients(file: string): Promise<string[]> {
  const config = await loadConfig(file);
  const out = new Set<string>();
  for (const rule of config.creationRules ?? []) {
    try {
      for (const g of compileRule(config, rule).keyGroups) {
        for (const r of g.age) out.add(r);
        for (const k of g.kms) out.add(`kms:${k.arn}`);
        for (const u of g.vault ?? []) out.add(`vault:${u}`);
      }
    } catch (e) {
      if (!isKeywardError(e)) throw e;
    }
  }
  return [...out];
}

/** A KMS key or Vault transit key (`kms:`, `vault:`), not an age recipient. */
const isKek = (r: string) => r.startsWith('kms:') || r.startsWith('vault:');

/** Recipients of `recipients` that are not keys of this keystore. */
export function notYours(keystore: Keystore, recipients: readonly string[]): string[] {
  return recipients.filter((r) => isKek(r) || keystore.refsForRecipients([r]).length === 0);
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
  return new KeywardError(
    ErrorCode.Untrusted,
    `${source} names recipients you have not agreed to encrypt to: ${shown}`,
    `check who they are (keyward trust show ${path.dirname(source)}), then agree with keyward trust add ${path.dirname(source)}, or run the command in a terminal to be asked`,
  );
}

function short(r: string): string {
  return isKek(r) ? r : `${r.slice(0, 16)}...${r.slice(-6)}`;
}

/** The config files that apply to `p` (a folder: its .keyward.yaml and nearest .sops.yaml; a file: its nearest .sops.yaml), described. */
export async function describeFor(home: string, keystore: Keystore, p: string): Promise<TrustSourceView[]> {
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
    if (policy.source.kind === 'file') out.push(await describe(home, keystore, file, 'keyward', keywardRecipients(policy)));
  }
  const sops = (await lookupConfigFile(isDir ? p : path.dirname(p))).path;
  if (sops) out.push(await describe(home, keystore, sops, 'sops', await sopsRecipients(sops)));
  return out;
}

/** The recipients a source names now (what a grant must match). */
export async function recipientsOf(source: string): Promise<{ kind: SourceKind; recipients: string[] }> {
  const base = path.basename(source);
  if (base === POLICY_FILE) return { kind: 'keyward', recipients: keywardRecipients(await Policy.load(path.dirname(source))) };
  if (base === CONFIG_FILE_NAME) return { kind: 'sops', recipients: await sopsRecipients(source) };
  throw new KeywardError(ErrorCode.InvalidInput, `not a config file that names recipients: ${source}`, `give the path of a ${POLICY_FILE} or ${CONFIG_FILE_NAME}`);
}

export async function describe(home: string, keystore: Keystore, source: string, kind: SourceKind, recipients: readonly string[]): Promise<TrustSourceView> {
  const key = await sourceKey(source);
  const agreed = await TrustStore.in(home).agreed(key);
  const team = await teamMembers(path.dirname(source));
  const ok = new Set(agreed?.recipients ?? []);
  const views: TrustRecipientView[] = recipients.map((r) => {
    const ref = isKek(r) ? undefined : keystore.refsForRecipients([r])[0];
    if (ref) return { recipient: r, who: 'yours', name: ref };
    const member = team.get(r);
    return member ? { recipient: r, who: 'team', name: member } : { recipient: r, who: 'unknown' };
  });
  const missing = views.filter((v) => v.who !== 'yours' && !ok.has(v.recipient)).map((v) => v.recipient);
  return { source: key, kind, recipients: views, trusted: missing.length === 0, untrusted: missing, ...(agreed ? { agreedAt: agreed.agreedAt } : {}) };
}

/** Recipient -> member name, from the team section of the folder's `.keyward.yaml` (if any). */
async function teamMembers(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  try {
    const policy = await Policy.load(dir);
    if (!policy.team) return out;
    for (const m of parseTeamSection(policy.team).members ?? []) for (const r of m.recipients) out.set(r, m.name);
  } catch {
    // no team section, or one that does not parse: nobody is a member
  }
  return out;
}
