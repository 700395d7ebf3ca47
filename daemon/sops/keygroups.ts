import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../protocol/errors';
import { isKeywardError, KeywardError } from '../util/errors';
import { decryptDataKeyAge, encryptDataKeyAge } from './agekey';
import type { AgeKeyEntry, KeyGroup, KeyGroupSpec, KeyServices, KmsKeyEntry, MasterKeyEntry, OtherKeyEntry, VaultKeyEntry } from './keys';
import { ciphertextVersion, parseTransitUri, transitUri } from '../kms/vault';
import { combine, split } from './shamir';

// The data key and the key groups of a sops file, as sops.go handles them
// (UpdateMasterKeysWithKeyServices, GetDataKeyWithKeyServices):
// - one group: every master key wraps the data key itself; a threshold is ignored;
// - several groups: the data key is split with Shamir, one share per group, `threshold` of
//   them needed (sops' default when unset: all groups); every key of a group wraps its share;
// - a group is opened by any one of its keys. We try age keys before KMS (local and cheap,
//   like sops' usual decryption order) and stop once `threshold` shares are in hand.
// Keys of kinds Keyward cannot use (pgp, gcp_kms, ...) are never tried, and kept as they are.

export const DATA_KEY_SIZE = 32;

export interface UnwrapResult {
  dataKey: Buffer;
  /** What opened each group used: keystore refs (`team@v2`) for age, ARNs for KMS. */
  usedKeys: string[];
  /** Groups that did not open, and why, for display (no secrets). */
  notes: string[];
}

export interface RewrapResult {
  groups: KeyGroup[];
  /** True when the data key was split again (every enc is new), false when encs were kept. */
  resplit: boolean;
  notes: string[];
}

/** The threshold sops uses for `groups` key groups: 0 or unset means all of them. */
export function effectiveThreshold(groupCount: number, threshold: number | undefined): number {
  if (groupCount <= 1) return 1;
  return threshold === undefined || threshold === 0 ? groupCount : threshold;
}

/**
 * Wraps a fresh `dataKey` to every master key of `groups`. Throws InvalidInput for no groups,
 * an empty group or a bad threshold, KeyUnusable when a group has KMS keys but KMS is not
 * configured, and passes on the KMS client's and the age engine's errors.
 */
export async function wrapDataKey(
  dataKey: Uint8Array,
  groups: readonly KeyGroupSpec[],
  threshold: number | undefined,
  services: KeyServices,
): Promise<KeyGroup[]> {
  checkDataKey(dataKey);
  checkSpecs(groups, threshold);
  const parts = splitKey(dataKey, groups.length, threshold);
  try {
    const out: KeyGroup[] = [];
    for (const [i, g] of groups.entries()) {
      const keys: MasterKeyEntry[] = [];
      for (const r of g.age) keys.push(await wrapAge(r, parts[i]!));
      for (const k of g.kms) keys.push(await wrapKms(k, parts[i]!, services));
      for (const u of g.vault ?? []) keys.push(await wrapVault(u, parts[i]!, services));
      out.push({ keys });
    }
    return out;
  } finally {
    if (groups.length > 1) for (const p of parts) p.fill(0);
  }
}

/**
 * Recovers the data key. Throws DecryptFailed when not enough groups open (saying how many
 * did and which recipients would), Malformed when the groups or threshold cannot be right.
 */
export async function unwrapDataKey(groups: readonly KeyGroup[], threshold: number | undefined, services: KeyServices): Promise<UnwrapResult> {
  if (groups.length === 0) throw malformed('the file has no key groups');
  if (groups.length > 255) throw malformed('the file has more than 255 key groups');
  const need = effectiveThreshold(groups.length, threshold);
  if (groups.length > 1 && (!Number.isInteger(need) || need < 2 || need > groups.length)) {
    throw malformed(`shamir_threshold ${threshold} does not fit ${groups.length} key groups`);
  }

  const shares: Buffer[] = [];
  const usedKeys: string[] = [];
  const notes: string[] = [];
  const problems: string[] = [];
  let kmsMissing = false;
  let locked: KeywardError | undefined;
  try {
    for (const [i, group] of groups.entries()) {
      if (shares.length === need) break;
      const r = await openGroup(group, services);
      if (r.kmsMissing) kmsMissing = true;
      locked ??= r.locked;
      problems.push(...r.problems);
      if (r.part) {
        shares.push(r.part);
        usedKeys.push(r.used);
      } else if (groups.length > 1) {
        notes.push(`key group ${i + 1}: ${r.why}`);
      } else {
        notes.push(r.why);
      }
    }

    if (shares.length < need) {
      // A locked keystore may hold the key: that is what to fix (a client unlocks and asks again).
      if (locked) throw locked;
      const hint = failureHint(groups, kmsMissing, problems);
      if (shares.length === 0) throw new KeywardError(ErrorCode.DecryptFailed, 'no key of this keystore opens the data key', hint);
      throw new KeywardError(ErrorCode.DecryptFailed, `${shares.length} of ${groups.length} key groups opened, ${need} needed`, hint);
    }

    const dataKey = groups.length === 1 ? shares[0]! : combine(shares);
    if (dataKey.length !== DATA_KEY_SIZE) {
      dataKey.fill(0);
      throw malformed(`the recovered data key is ${dataKey.length} bytes, not ${DATA_KEY_SIZE}`);
    }
    if (groups.length === 1) shares.length = 0; // returned, not wiped
    return { dataKey, usedKeys, notes };
  } finally {
    for (const s of shares) s.fill(0);
  }
}

/**
 * The key groups for `target` (what `.sops.yaml` now says) with the same data key, for
 * updatekeys. When the layout is unchanged (as many groups, same threshold), each age or KMS
 * key that stays keeps its `enc`, so the file's diff shows only what changed; new keys wrap
 * the data key (one group) or their group's share, recovered from a key of that group that
 * stays. Otherwise, or when no such key opens, the data key is split afresh and every key
 * gets a new `enc`, as sops always does. Keys Keyward cannot use (pgp, ...) are kept in their
 * group when their enc stays valid; a new split would invalidate them, so that is refused.
 * Throws IllegalState without the data key.
 */
export async function rewrapGroups(
  dataKey: Uint8Array | undefined,
  current: readonly KeyGroup[],
  target: readonly KeyGroupSpec[],
  threshold: number | undefined,
  services: KeyServices,
  opts: { currentThreshold?: number } = {},
): Promise<RewrapResult> {
  if (dataKey === undefined || dataKey.length === 0) {
    throw new KeywardError(ErrorCode.IllegalState, 'the data key is not available', 'decrypt the file first: updating its keys keeps its data key');
  }
  checkDataKey(dataKey);
  checkSpecs(target, threshold);
  const notes: string[] = [];
  const sameLayout =
    current.length === target.length &&
    effectiveThreshold(current.length, opts.currentThreshold) === effectiveThreshold(target.length, threshold);

  if (sameLayout) {
    const diffs = target.map((spec, i) => diffGroup(current[i]!, spec));
    const parts: (Buffer | undefined)[] = [];
    try {
      let ok = true;
      for (const [i, d] of diffs.entries()) {
        if (d.added === 0) continue;
        if (target.length === 1) {
          parts[i] = Buffer.from(dataKey);
          continue;
        }
        // The group's share, from one of its keys that stays (a key being removed would do as
        // well, but its owner may be gone: keep to what the new layout vouches for).
        const r = await openGroup({ keys: d.kept }, services);
        if (!r.part) {
          notes.push(`key group ${i + 1}: no key that stays opens its share; splitting the data key again`);
          ok = false;
          break;
        }
        parts[i] = r.part;
      }
      if (ok) {
        const groups: KeyGroup[] = [];
        for (const [i, spec] of target.entries()) {
          const { kept } = diffs[i]!;
          const keys: MasterKeyEntry[] = [];
          // Target order: age then KMS, each as given; kinds Keyward cannot use stay at the end.
          for (const r of spec.age) {
            const old = kept.find((k): k is AgeKeyEntry => isAge(k) && k.recipient === r);
            keys.push(old ?? (await wrapAge(r, parts[i]!)));
          }
          for (const k of spec.kms) {
            const old = kept.find((e): e is KmsKeyEntry => e.type === 'kms' && sameKms(e, k));
            keys.push(old ?? (await wrapKms(k, parts[i]!, services)));
          }
          for (const u of spec.vault ?? []) {
            const old = kept.find((e): e is VaultKeyEntry => e.type === 'hc_vault' && transitUri(e) === u);
            keys.push(old ?? (await wrapVault(u, parts[i]!, services)));
          }
          keys.push(...current[i]!.keys.filter(isOther));
          groups.push({ keys });
        }
        return { groups, resplit: false, notes };
      }
    } finally {
      for (const p of parts) p?.fill(0);
    }
  }

  const others = current.flatMap((g) => g.keys.filter(isOther));
  if (others.length > 0 && !(current.length === 1 && target.length === 1)) {
    throw new KeywardError(
      ErrorCode.IllegalState,
      `cannot split the data key again: the file has ${describeKinds(others)} keys keyward cannot re-wrap`,
      'keep the key groups as they are, or update the keys with sops updatekeys',
    );
  }
  const groups = await wrapDataKey(dataKey, target, threshold, services);
  // One group before and after: the data key is unchanged, so pgp & co. encs stay valid.
  if (others.length > 0) groups[0]!.keys.push(...others);
  return { groups, resplit: true, notes };
}

/** Each group's master keys by their public ids, for display: recipients, ARNs, fingerprints. */
export function describeGroups(groups: readonly KeyGroup[]): string[][] {
  return groups.map((g) => g.keys.map(describeKey));
}

export function describeKey(k: MasterKeyEntry): string {
  switch (k.type) {
    case 'age':
      return k.recipient;
    case 'kms':
      return k.role ? `${k.arn}+${k.role}` : k.arn;
    case 'hc_vault':
      return transitUri(k);
    default: {
      const f = k.fields;
      const id =
        k.type === 'pgp' ? f.fp
        : k.type === 'gcp_kms' ? f.resource_id
        : k.type === 'hckms' ? f.key_id
        : [f.vault_url, f.name, f.version].filter(Boolean).join('/');
      return `${k.type}:${id ?? '?'}`;
    }
  }
}

// ---- internals -----------------------------------------------------------------------------

type GroupOpen = ({ part: Buffer; used: string } | { part?: undefined; why: string }) & {
  kmsMissing: boolean;
  /** Failures other than "not this keystore's key": tampering, KMS errors. */
  problems: string[];
  /** The keystore's KeystoreLocked error, when an age key could not be tried because the keystore is locked. */
  locked?: KeywardError;
};

/** Tries a group's keys, age first, then KMS; other kinds are skipped. */
async function openGroup(group: KeyGroup, services: KeyServices): Promise<GroupOpen> {
  const reasons: string[] = [];
  const problems: string[] = [];
  let kmsMissing = false;
  let locked: KeywardError | undefined;
  for (const k of group.keys.filter(isAge)) {
    try {
      const { dataKey, ref } = await decryptDataKeyAge(k.enc, services);
      return { part: dataKey, used: ref, kmsMissing, problems };
    } catch (e) {
      if (!isKeywardError(e)) throw e;
      if (e.code === ErrorCode.DecryptFailed && /no identity matched/.test(e.message)) {
        reasons.push(`${short(k.recipient)}: not in this keystore`);
      } else if (e.code === ErrorCode.KeystoreLocked) {
        locked ??= e;
        reasons.push(`${short(k.recipient)}: ${e.message}`);
      } else {
        reasons.push(`${short(k.recipient)}: ${e.message}`);
        problems.push(`${short(k.recipient)}: ${e.message}`);
      }
    }
  }
  for (const k of group.keys.filter((x): x is KmsKeyEntry => x.type === 'kms')) {
    if (!services.kms) {
      kmsMissing = true;
      reasons.push(`${k.arn}: kms is not configured`);
      continue;
    }
    try {
      return { part: await services.kms.decrypt(k), used: k.arn, kmsMissing, problems };
    } catch (e) {
      // A remote service: any failure (denied, offline) only means this key did not open.
      const why = isKeywardError(e) ? e.message : e instanceof Error ? `kms: ${e.name}` : 'kms: failed';
      reasons.push(`${k.arn}: ${why}`);
      problems.push(`${k.arn}: ${why}`);
    }
  }
  for (const k of group.keys.filter((x): x is VaultKeyEntry => x.type === 'hc_vault')) {
    const uri = transitUri(k);
    if (!services.vault) {
      kmsMissing = true;
      reasons.push(`${uri}: vault is not configured`);
      continue;
    }
    try {
      // Key and version, for the audit record (`.../keys/team@v2`): never the ciphertext.
      return { part: await services.vault.decrypt(k), used: `${uri}@v${ciphertextVersion(k.enc) ?? '?'}`, kmsMissing, problems };
    } catch (e) {
      const why = isKeywardError(e) ? `${e.message}${e.hint ? ` (${e.hint})` : ''}` : 'vault: failed';
      reasons.push(`${uri}: ${why}`);
      problems.push(`${uri}: ${why}`);
    }
  }
  const others = group.keys.filter(isOther);
  if (others.length > 0) reasons.push(`skipped ${describeKinds(others)} keys: keyward cannot use them`);
  return { why: reasons.length > 0 ? reasons.join('; ') : 'no keys', kmsMissing, problems, ...(locked ? { locked } : {}) };
}

/** What to do when the data key does not open: whose keys would, and what went wrong. */
function failureHint(groups: readonly KeyGroup[], kmsMissing: boolean, problems: readonly string[]): string {
  const recipients = [...new Set(groups.flatMap((g) => g.keys.filter(isAge).map((k) => short(k.recipient))))];
  const parts: string[] = [];
  if (recipients.length > 0) {
    const listed = recipients.length > 6 ? `${recipients.slice(0, 6).join(', ')} and ${recipients.length - 6} more` : recipients.join(', ');
    parts.push(`the file is encrypted to ${listed}`);
  }
  if (kmsMissing) parts.push("the file's KMS keys need KMS, which is not configured (or Vault, for hc_vault keys)");
  if (problems.length > 0) parts.push(`also: ${problems.slice(0, 2).join('; ')}`);
  parts.push('import a matching identity with keyward keys import');
  return parts.join('; ');
}

/** A recipient short enough for a message (post-quantum ones are ~2000 characters). */
function short(recipient: string): string {
  return recipient.length > 70 ? `${recipient.slice(0, 24)}...${recipient.slice(-8)}` : recipient;
}

async function wrapAge(recipient: string, part: Buffer): Promise<AgeKeyEntry> {
  return { type: 'age', recipient, enc: await encryptDataKeyAge(recipient, part) };
}

async function wrapKms(k: KeyGroupSpec['kms'][number], part: Buffer, services: KeyServices): Promise<KmsKeyEntry> {
  if (!services.kms) {
    throw new KeywardError(ErrorCode.KeyUnusable, `kms is not configured: cannot encrypt to ${k.arn}`, 'configure AWS KMS for keyward, or remove the kms key from the key groups');
  }
  const enc = await services.kms.encrypt(k, part);
  return {
    type: 'kms',
    arn: k.arn,
    ...(k.role ? { role: k.role } : {}),
    ...(k.context ? { context: k.context } : {}),
    // sops writes RFC 3339 in UTC without fractions.
    createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    enc,
    awsProfile: k.awsProfile ?? '',
  };
}

async function wrapVault(uri: string, part: Buffer, services: KeyServices): Promise<VaultKeyEntry> {
  const k = parseTransitUri(uri);
  if (!services.vault) {
    throw new KeywardError(ErrorCode.KeyUnusable, `vault is not configured: cannot encrypt to ${uri}`, 'remove the hc_vault key from the key groups');
  }
  const enc = await services.vault.encrypt(k, part);
  return { type: 'hc_vault', ...k, createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), enc };
}

/** One share per group, or the data key itself (a copy) for one group. */
function splitKey(dataKey: Uint8Array, groups: number, threshold: number | undefined): Buffer[] {
  if (groups === 1) return [Buffer.from(dataKey)];
  return split(dataKey, groups, effectiveThreshold(groups, threshold));
}

function checkDataKey(dataKey: Uint8Array): void {
  if (dataKey.length !== DATA_KEY_SIZE) throw new KeywardError(ErrorCode.InternalError, `a sops data key is ${DATA_KEY_SIZE} bytes`);
}

function checkSpecs(groups: readonly KeyGroupSpec[], threshold: number | undefined): void {
  if (groups.length === 0) throw new KeywardError(ErrorCode.InvalidInput, 'no keys to encrypt to', 'give age recipients, or a .sops.yaml creation rule with keys');
  if (groups.length > 255) throw new KeywardError(ErrorCode.InvalidInput, 'at most 255 key groups');
  groups.forEach((g, i) => {
    if (g.age.length + g.kms.length + (g.vault?.length ?? 0) === 0) {
      throw new KeywardError(ErrorCode.InvalidInput, groups.length > 1 ? `key group ${i + 1} is empty` : 'no keys to encrypt to', 'every key group needs at least one key');
    }
  });
  if (groups.length > 1 && threshold !== undefined && threshold !== 0) {
    if (!Number.isInteger(threshold) || threshold < 2) {
      throw new KeywardError(ErrorCode.InvalidInput, `shamir threshold must be at least 2, not ${threshold}`);
    }
    if (threshold > groups.length) {
      throw new KeywardError(ErrorCode.InvalidInput, `shamir threshold ${threshold} is more than the ${groups.length} key groups`);
    }
  }
}

/** The keys of `cur` that `spec` keeps, and how many of `spec`'s keys are new. */
function diffGroup(cur: KeyGroup, spec: KeyGroupSpec): { kept: MasterKeyEntry[]; added: number } {
  const kept = cur.keys.filter(
    (k) => (isAge(k) && spec.age.includes(k.recipient)) || (k.type === 'kms' && spec.kms.some((s) => sameKms(k, s))) || (k.type === 'hc_vault' && (spec.vault ?? []).includes(transitUri(k))),
  );
  const added =
    spec.age.filter((r) => !kept.some((k) => isAge(k) && k.recipient === r)).length +
    spec.kms.filter((s) => !kept.some((k) => k.type === 'kms' && sameKms(k, s))).length +
    (spec.vault ?? []).filter((u) => !kept.some((k) => k.type === 'hc_vault' && transitUri(k) === u)).length;
  return { kept, added };
}

function sameKms(e: KmsKeyEntry, s: KeyGroupSpec['kms'][number]): boolean {
  return e.arn === s.arn && (e.role ?? '') === (s.role ?? '') && (e.awsProfile ?? '') === (s.awsProfile ?? '') && sameContext(e.context, s.context);
}

function sameContext(a: Record<string, string | null> | undefined, b: Record<string, string | null> | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b![k]);
}

function isAge(k: MasterKeyEntry): k is AgeKeyEntry {
  return k.type === 'age';
}

function isOther(k: MasterKeyEntry): k is OtherKeyEntry {
  return k.type !== 'age' && k.type !== 'kms' && k.type !== 'hc_vault';
}

function describeKinds(keys: readonly OtherKeyEntry[]): string {
  return [...new Set(keys.map((k) => k.type))].join(', ');
}

function malformed(message: string): KeywardError {
  return new KeywardError(ErrorCode.Malformed, message, 'the file\'s sops metadata is damaged or was edited');
}

/** A new random data key, as sops makes one. */
export function generateDataKey(): Buffer {
  return randomBytes(DATA_KEY_SIZE);
}
