// The `sops` metadata of an encrypted file <-> Keyward's model, as sops 3.13 reads and writes it
// (stores/stores.go, stores/metadata.go). The wire layout is not the model: stores hand us the
// metadata as a nested `sops` Branch (flattened formats are unflattened by the store), and take
// it back the same way.
//
// How sops writes it: every map with its keys sorted (a Go map through mapstructure), so the
// top level reads age, azure_kv, ..., key_groups, kms, lastmodified, mac, mac_only_encrypted,
// pgp, shamir_threshold, <rule>, version. One key group is written as top-level lists; several
// as `key_groups`, where every group has `age` and `hc_vault` even when empty (no omitempty on
// those two fields). A kms entry always has `aws_profile`, "" when unset.
//
// Saving an edit must change only `lastmodified` and `mac`: patchMetadataBranch rewrites those
// two in the branch as read, so a file written by an older sops keeps its own layout.
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';
import { formatGoFloat, goRfc3339 } from './cipher';
import type { AgeKeyEntry, KeyGroup, KmsKeyEntry, MasterKeyEntry, OtherKeyEntry, VaultKeyEntry } from './keys';
import { DEFAULT_UNENCRYPTED_SUFFIX, type EncryptRules } from './options';
import { Branch, Comment, Float, Int, type Item, type Value } from './tree';

/** The version Keyward writes into new files: the sops release it is interchangeable with. */
export const SOPS_VERSION = '3.13.3';
export const METADATA_KEY = 'sops';

export interface SopsMetadata {
  keyGroups: KeyGroup[];
  /** Groups needed to recover the data key (several groups only). */
  shamirThreshold?: number;
  /** As stored (RFC 3339). The MAC's associated data is its Go RFC 3339 form (goRfc3339). */
  lastModified: string;
  /** The encrypted MAC (`ENC[...]`), or "" when the file has none. */
  mac: string;
  version: string;
  /** The rules as stored (sops' default `_unencrypted` applies when none is: effectiveRules). */
  rules: EncryptRules;
}

type OtherKind = OtherKeyEntry['type'];
const KIND_FIELDS = ['age', 'azure_kv', 'gcp_kms', 'hc_vault', 'hckms', 'kms', 'pgp'] as const;
type Kind = (typeof KIND_FIELDS)[number];

const RULE_FIELDS: readonly [keyof EncryptRules, string][] = [
  ['unencryptedSuffix', 'unencrypted_suffix'],
  ['encryptedSuffix', 'encrypted_suffix'],
  ['unencryptedRegex', 'unencrypted_regex'],
  ['encryptedRegex', 'encrypted_regex'],
  ['unencryptedCommentRegex', 'unencrypted_comment_regex'],
  ['encryptedCommentRegex', 'encrypted_comment_regex'],
];

function malformed(what: string): KeywardError {
  return new KeywardError(ErrorCode.Malformed, `invalid sops metadata: ${what}`, 'the file was damaged or edited by hand; restore it from version control');
}

/** Items of a branch by key, comments left out; duplicate keys are refused. */
function fields(b: Branch, where: string): Map<string, Value> {
  const m = new Map<string, Value>();
  for (const it of b.items) {
    if (it.key instanceof Comment) continue;
    if (m.has(it.key)) throw malformed(`duplicate ${where}${it.key}`);
    m.set(it.key, it.value);
  }
  return m;
}

/** A scalar as mapstructure's weak decoding reads it into a Go string. */
function str(v: Value | undefined, name: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (v instanceof Int) return v.value.toString();
  if (v instanceof Float) return formatGoFloat(v.value);
  throw malformed(`${name} is not a string`);
}

function int(v: Value | undefined, name: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  let n: number;
  if (v instanceof Int) n = Number(v.value);
  else if (v instanceof Float) n = v.value;
  else if (typeof v === 'string' && /^[+-]?\d{1,4}$/.test(v)) n = Number(v);
  else throw malformed(`${name} is not a number`);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw malformed(`${name} out of range`);
  return n === 0 ? undefined : n;
}

function bool(v: Value | undefined, name: string): boolean {
  if (v === undefined || v === null || v === '') return false;
  if (typeof v === 'boolean') return v;
  if (v instanceof Int) return v.value !== 0n;
  if (typeof v === 'string') {
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  }
  throw malformed(`${name} is not a boolean`);
}

function list(v: Value | undefined, name: string): Branch[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw malformed(`${name} is not a list`);
  const out: Branch[] = [];
  for (const e of v) {
    if (e instanceof Comment) continue;
    if (!(e instanceof Branch)) throw malformed(`${name} has an entry that is not a mapping`);
    out.push(e);
  }
  return out;
}

function ageEntry(b: Branch): AgeKeyEntry {
  const f = fields(b, 'age.');
  const recipient = str(f.get('recipient'), 'age recipient');
  if (!recipient) throw malformed('age entry without recipient');
  return { type: 'age', recipient, enc: str(f.get('enc'), 'age enc') };
}

function kmsEntry(b: Branch): KmsKeyEntry {
  const f = fields(b, 'kms.');
  const arn = str(f.get('arn'), 'kms arn');
  if (!arn) throw malformed('kms entry without arn');
  const e: KmsKeyEntry = { type: 'kms', arn, createdAt: str(f.get('created_at'), 'kms created_at'), enc: str(f.get('enc'), 'kms enc'), awsProfile: str(f.get('aws_profile'), 'kms aws_profile') };
  const role = str(f.get('role'), 'kms role');
  if (role) e.role = role;
  const ctx = f.get('context');
  if (ctx !== undefined && ctx !== null) {
    if (!(ctx instanceof Branch)) throw malformed('kms context is not a mapping');
    const c: Record<string, string | null> = {};
    for (const [k, v] of fields(ctx, 'kms.context.')) c[k] = v === null ? null : str(v, 'kms context value');
    if (Object.keys(c).length) e.context = c;
  }
  return e;
}

function vaultEntry(b: Branch): VaultKeyEntry {
  const f = fields(b, 'hc_vault.');
  const e: VaultKeyEntry = {
    type: 'hc_vault',
    address: str(f.get('vault_address'), 'hc_vault vault_address'),
    enginePath: str(f.get('engine_path'), 'hc_vault engine_path'),
    keyName: str(f.get('key_name'), 'hc_vault key_name'),
    createdAt: str(f.get('created_at'), 'hc_vault created_at'),
    enc: str(f.get('enc'), 'hc_vault enc'),
  };
  if (!e.address || !e.enginePath || !e.keyName) throw malformed('hc_vault entry without vault_address, engine_path or key_name');
  return e;
}

function otherEntry(type: OtherKind, b: Branch): OtherKeyEntry {
  const out: Record<string, string> = {};
  for (const [k, v] of fields(b, `${type}.`)) out[k] = str(v, `${type} ${k}`);
  return { type, fields: out };
}

function groupFrom(f: Map<string, Value>, prefix: string): KeyGroup {
  const keys: MasterKeyEntry[] = [];
  for (const kind of KIND_FIELDS) {
    for (const b of list(f.get(kind), `${prefix}${kind}`)) {
      if (kind === 'age') keys.push(ageEntry(b));
      else if (kind === 'kms') keys.push(kmsEntry(b));
      else if (kind === 'hc_vault') keys.push(vaultEntry(b));
      else keys.push(otherEntry(kind, b));
    }
  }
  return { keys };
}

/** Reads the `sops` branch. Throws Malformed naming the field (never a value). */
export function parseMetadata(b: Branch): SopsMetadata {
  const f = fields(b, '');
  const lastModified = str(f.get('lastmodified'), 'lastmodified');
  if (goRfc3339(lastModified) === undefined) throw malformed('lastmodified is not an RFC 3339 time');
  const top = groupFrom(f, '');
  let keyGroups: KeyGroup[];
  if (top.keys.length > 0) keyGroups = [top];
  else keyGroups = list(f.get('key_groups'), 'key_groups').map((g, i) => groupFrom(fields(g, `key_groups[${i}].`), `key_groups[${i}].`));
  if (keyGroups.length === 0 || keyGroups.every((g) => g.keys.length === 0)) throw malformed('no master keys');
  const rules: EncryptRules = {};
  let n = 0;
  for (const [field, name] of RULE_FIELDS) {
    const v = str(f.get(name), name);
    if (v) {
      (rules as Record<string, string>)[field] = v;
      n++;
    }
  }
  if (n > 1) throw malformed('more than one of the suffix and regex rules');
  if (bool(f.get('mac_only_encrypted'), 'mac_only_encrypted')) rules.macOnlyEncrypted = true;
  const m: SopsMetadata = { keyGroups, lastModified, mac: str(f.get('mac'), 'mac'), version: str(f.get('version'), 'version'), rules };
  const t = int(f.get('shamir_threshold'), 'shamir_threshold');
  if (t !== undefined) m.shamirThreshold = t;
  return m;
}

/** The rules encryption follows: the stored ones, or sops' default `_unencrypted` suffix. */
export function effectiveRules(m: EncryptRules): EncryptRules {
  const r: EncryptRules = {};
  for (const [field] of RULE_FIELDS) if (m[field]) (r as Record<string, string>)[field] = m[field] as string;
  if (Object.keys(r).length === 0) r.unencryptedSuffix = DEFAULT_UNENCRYPTED_SUFFIX;
  if (m.macOnlyEncrypted) r.macOnlyEncrypted = true;
  return r;
}

/** Refuses rule sets sops refuses (more than one selector). */
export function checkRules(r: EncryptRules): void {
  const n = RULE_FIELDS.filter(([field]) => r[field]).length;
  if (n > 1) {
    throw new KeywardError(ErrorCode.InvalidInput, 'cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex', 'keep one selector in the creation rule or options');
  }
}

/** The options stored in the metadata, by their sops names (for display). */
export function metadataOptions(r: EncryptRules): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const [field, name] of RULE_FIELDS) if (r[field]) out[name] = r[field];
  if (r.macOnlyEncrypted) out.mac_only_encrypted = true;
  return out;
}

// ---- writing -------------------------------------------------------------------------------

function sorted(items: Item[]): Branch {
  return new Branch(items.sort((a, b) => ((a.key as string) < (b.key as string) ? -1 : (a.key as string) > (b.key as string) ? 1 : 0)));
}

function entryBranch(k: MasterKeyEntry): Branch {
  if (k.type === 'age') return sorted([{ key: 'enc', value: k.enc }, { key: 'recipient', value: k.recipient }]);
  if (k.type === 'kms') {
    const items: Item[] = [
      { key: 'arn', value: k.arn },
      { key: 'created_at', value: k.createdAt },
      { key: 'enc', value: k.enc },
      { key: 'aws_profile', value: k.awsProfile },
    ];
    if (k.role) items.push({ key: 'role', value: k.role });
    if (k.context && Object.keys(k.context).length) {
      items.push({ key: 'context', value: sorted(Object.entries(k.context).map(([key, value]) => ({ key, value }))) });
    }
    return sorted(items);
  }
  if (k.type === 'hc_vault') {
    // sops' vaultkey struct: these five, always written.
    return sorted([
      { key: 'vault_address', value: k.address },
      { key: 'engine_path', value: k.enginePath },
      { key: 'key_name', value: k.keyName },
      { key: 'created_at', value: k.createdAt },
      { key: 'enc', value: k.enc },
    ]);
  }
  return sorted(Object.entries(k.fields).map(([key, value]) => ({ key, value })));
}

function kindItems(g: KeyGroup, always: ReadonlySet<Kind>): Item[] {
  const items: Item[] = [];
  for (const kind of KIND_FIELDS) {
    const entries = g.keys.filter((k) => k.type === kind).map(entryBranch);
    if (entries.length || always.has(kind)) items.push({ key: kind, value: entries });
  }
  return items;
}

const NONE: ReadonlySet<Kind> = new Set();
const IN_KEY_GROUPS: ReadonlySet<Kind> = new Set<Kind>(['age', 'hc_vault']);

/** The `sops` branch exactly as sops 3.13 writes it for this metadata. */
export function metadataBranch(m: SopsMetadata): Branch {
  const items: Item[] = [];
  if (m.keyGroups.length === 1) items.push(...kindItems(m.keyGroups[0] as KeyGroup, NONE));
  else items.push({ key: 'key_groups', value: m.keyGroups.map((g) => sorted(kindItems(g, IN_KEY_GROUPS))) });
  items.push({ key: 'lastmodified', value: m.lastModified }, { key: 'mac', value: m.mac }, { key: 'version', value: m.version });
  if (m.rules.macOnlyEncrypted) items.push({ key: 'mac_only_encrypted', value: true });
  if (m.shamirThreshold) items.push({ key: 'shamir_threshold', value: new Int(BigInt(m.shamirThreshold)) });
  for (const [field, name] of RULE_FIELDS) if (m.rules[field]) items.push({ key: name, value: m.rules[field] });
  return sorted(items);
}

/**
 * The branch as read, with `lastmodified` and `mac` replaced in place (and added, in sops'
 * sorted position, when missing): what an edit changes, and nothing else.
 */
export function patchMetadataBranch(original: Branch, change: { lastModified: string; mac: string }): Branch {
  const items = original.items.map((it) => ({ ...it }));
  for (const [key, value] of [['lastmodified', change.lastModified], ['mac', change.mac]] as const) {
    const it = items.find((i) => i.key === key);
    if (it) it.value = value;
    else {
      const at = items.findIndex((i) => typeof i.key === 'string' && i.key > key);
      items.splice(at < 0 ? items.length : at, 0, { key, value });
    }
  }
  return new Branch(items);
}

/** Two key groups lists hold the same master keys with the same wrapped data keys. */
export function sameKeyGroups(a: KeyGroup[], b: KeyGroup[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// ---- the metadata inside a file's branches ---------------------------------------------------

export interface SplitFile {
  /** The data, `sops` removed from every document. */
  branches: Branch[];
  /** The `sops` branch of the first document. */
  metadata: Branch;
}

/** Takes the `sops` entry out of the branches a store loaded (stores/metadata.go ExtractMetadata). */
export function splitMetadata(branches: Branch[]): SplitFile {
  let metadata: Branch | undefined;
  const out = branches.map((b, bi) => {
    let found = false;
    const items = b.items.filter((it) => {
      if (it.key !== METADATA_KEY) return true;
      if (bi === 0) {
        if (found) throw malformed('duplicate sops entry');
        if (!(it.value instanceof Branch)) throw malformed('the sops entry is not a mapping');
        metadata = it.value;
      }
      found = true;
      return false;
    });
    return new Branch(items);
  });
  if (!metadata) {
    throw new KeywardError(ErrorCode.Malformed, 'sops metadata not found', 'the file is not encrypted with sops (or not in the format given)');
  }
  return { branches: out, metadata };
}

/**
 * Puts the `sops` entry back as the last key of the first document. The store writes it where
 * sops does (into every YAML document, flattened for dotenv and INI).
 */
export function joinMetadata(branches: Branch[], metadata: Branch): Branch[] {
  return branches.map((b, i) => (i === 0 ? new Branch([...b.items, { key: METADATA_KEY, value: metadata }]) : b));
}
