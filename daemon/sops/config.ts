import { open, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { LineCounter, parseAllDocuments, type Node as YamlNode } from 'yaml';
import { ErrorCode } from '../protocol/errors';
import { ioError, isKeywardError, KeywardError } from '../util/errors';
import { compileGoRegexp, type GoRegexp } from '../util/goregex';
import { parseSopsAgeRecipient } from './agekey';
import { firstLine, isNull, YamlReader, type KeyList } from './goyaml';
import type { KeyGroupSpec } from './keys';
import type { EncryptRules } from './options';
import { parseTransitUri, transitUri } from '../kms/vault';

// `.sops.yaml`, read as sops 3.13 reads it (config/config.go, cmd/sops/main.go):
// - lookup: `.sops.yaml` in the start directory and up to 99 parents (sops starts in the
//   working directory). `.sops.yml` is NOT a config file: sops only warns that it ignores one.
// - types as go-yaml v3 decodes them into sops' structs: a string field takes any scalar's
//   text, an int field an integer (or an integral float), a bool field true/false and the YAML
//   1.1 words yes/no/on/off/y/n (even quoted); a wrong shape is an error for the whole file.
//   Aliases and merge keys work; only the first YAML document counts.
// - unknown fields: sops ignores them. We do too (a top-level `keys:` list of anchors is a
//   common idiom), but report those inside a creation rule or key group as warnings, where
//   they are likely typos.
// - creation rules: the first whose `path_regex` matches (an unanchored Go regexp search; a
//   rule without one matches everything) wins. The path matched is the file's absolute path
//   with the config directory and a separator cut off the front, so relative below the config,
//   absolute elsewhere. Like sops, rules after the match are not checked.
// - the six value selectors are mutually exclusive in 3.13 (the comment regexes too).
// Keyward is stricter where sops would go wrong silently: a selector regex that does not
// compile (sops then matches nothing, so `encrypted_regex` encrypts nothing), a fractional or
// negative threshold (truncated or kept), a null KMS context value (sops panics), and keys of
// kinds Keyward cannot encrypt to (pgp, gcp_kms, ...) are refused, not dropped.

export const CONFIG_FILE_NAME = '.sops.yaml';
const ALTERNATE_CONFIG_NAME = '.sops.yml';
const MAX_DEPTH = 100;

const HINT = 'fix .sops.yaml (see https://getsops.io/docs/#using-sops-yaml-conf-to-select-kms-pgp-and-age-for-new-files)';

// ---- lookup ----------------------------------------------------------------------------------

export interface ConfigLookup {
  path?: string;
  /** sops' warning when a `.sops.yml` was seen and ignored. */
  warning?: string;
}

/** Finds `.sops.yaml` in `startDir` or its parents, as sops does from the working directory. */
export async function lookupConfigFile(startDir: string): Promise<ConfigLookup> {
  let dir = path.resolve(startDir);
  let alternate: string | undefined;
  for (let i = 0; i < MAX_DEPTH; i++) {
    const candidate = path.join(dir, CONFIG_FILE_NAME);
    if (await exists(candidate)) {
      return alternate
        ? { path: candidate, warning: `ignoring ${alternate}: the config file must be called ${CONFIG_FILE_NAME}; using ${candidate}` }
        : { path: candidate };
    }
    if (alternate === undefined) {
      const alt = path.join(dir, ALTERNATE_CONFIG_NAME);
      if (await exists(alt)) alternate = alt;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return alternate ? { warning: `ignoring ${alternate}: the config file must be called ${CONFIG_FILE_NAME}` } : {};
}

/** The largest `.sops.yaml` Keyward reads (the team's rules for hundreds of paths fit in a few KiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export async function findConfigFile(startDir: string): Promise<string | undefined> {
  return (await lookupConfigFile(startDir)).path;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p); // like Go's os.Stat: follows links, any kind of file
    return true;
  } catch {
    return false;
  }
}

// ---- the file, typed -----------------------------------------------------------------------

export type { KeyList } from './goyaml';

export interface KmsKeyConfig {
  arn: string;
  role: string;
  context?: Record<string, string | null>;
  awsProfile: string;
}

export interface KeyGroupConfig {
  merge: KeyGroupConfig[];
  age: string[];
  kms: KmsKeyConfig[];
  vault: string[];
  /** Counts of entries of the kinds Keyward cannot encrypt to, by sops field name. */
  unsupported: Record<string, number>;
  where: string;
}

export interface CreationRuleConfig {
  /** 0-based position in `creation_rules`. */
  index: number;
  /** `file:line` of the rule, for messages. */
  where: string;
  pathRegex: string;
  age: KeyList;
  kms: KeyList;
  vault: KeyList;
  awsProfile: string;
  unsupported: Record<string, number>;
  keyGroups: KeyGroupConfig[];
  shamirThreshold: number;
  unencryptedSuffix: string;
  encryptedSuffix: string;
  unencryptedRegex: string;
  encryptedRegex: string;
  unencryptedCommentRegex: string;
  encryptedCommentRegex: string;
  macOnlyEncrypted: boolean;
  /** `file:line` of each field, by YAML name. */
  fields: Record<string, string>;
}

export interface SopsConfig {
  /** Absolute path of the file. */
  path: string;
  /** Undefined when the file has no `creation_rules` (sops then acts as if there were no config). */
  creationRules?: CreationRuleConfig[];
  warnings: string[];
}

/**
 * Reads and type-checks a `.sops.yaml`. Throws NotFound/IoFailed if it cannot be read and
 * InvalidInput naming the file, line and field for YAML syntax errors and wrong shapes.
 * What a rule means (recipients, regexes, conflicts) is checked when the rule is used.
 */
export async function loadConfig(configPath: string): Promise<SopsConfig> {
  const abs = path.resolve(configPath);
  return parseConfig(await readConfigText(abs), abs);
}

/**
 * The text of a `.sops.yaml`, read whole only if it is a regular file of at most
 * MAX_CONFIG_BYTES (a creation rules file is a few KiB; a huge one is an attack or a mistake,
 * and parsing it would hold the daemon). Throws as `loadConfig`.
 */
export async function readConfigText(abs: string): Promise<string> {
  let fh;
  try {
    fh = await open(abs, 'r');
  } catch (e) {
    throw ioError(e, 'read sops config', abs);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new KeywardError(ErrorCode.InvalidInput, `${abs} is not a regular file`, 'make .sops.yaml a file, or remove it');
    if (st.size > MAX_CONFIG_BYTES) throw tooLarge(abs);
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = await fh.read(buf, n, buf.length - n, n)).bytesRead > 0; ) n += r.bytesRead;
    if (n > MAX_CONFIG_BYTES) throw tooLarge(abs); // it grew after the stat
    return buf.toString('utf8', 0, n);
  } catch (e) {
    if (isKeywardError(e)) throw e;
    throw ioError(e, 'read sops config', abs);
  } finally {
    await fh.close();
  }
}

function tooLarge(abs: string): KeywardError {
  return new KeywardError(ErrorCode.InvalidInput, `${abs} is larger than ${MAX_CONFIG_BYTES / 1024} KiB, too large for a sops config file`, 'a .sops.yaml holds creation rules only: check what was written to it');
}

/** As `loadConfig`, from text already read; `file` names it in messages. */
export function parseConfig(text: string, file: string): SopsConfig {
  if (text.length > MAX_CONFIG_BYTES) throw tooLarge(file);
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, merge: true });
  const first = Array.isArray(docs) ? docs[0] : undefined;
  if (first === undefined) return { path: file, warnings: [] };
  const err = first.errors[0];
  if (err) {
    const line = err.linePos?.[0].line;
    throw new KeywardError(ErrorCode.InvalidInput, `${file}${line ? `:${line}` : ''}: invalid yaml: ${firstLine(err.message)}`, HINT);
  }
  const root = first.contents;
  if (root === null || isNull(root)) return { path: file, warnings: [] };

  const y = new YamlReader(file, lc, first, HINT);
  const warnings: string[] = [];
  const top = y.map(root, 'the config file');
  const rulesNode = top.get('creation_rules');
  // Other top-level fields (destination_rules, stores, anchors lists) are not Keyward's business.
  if (!rulesNode || isNull(y.deref(rulesNode.value))) return { path: file, warnings };
  const rules = y.seq(rulesNode.value, 'creation_rules').map((n, i) => readRule(y, n, i, warnings));
  return { path: file, creationRules: rules, warnings };
}

const RULE_FIELDS = new Set([
  'path_regex', 'kms', 'aws_profile', 'age', 'pgp', 'gcp_kms', 'hckms', 'azure_keyvault', 'hc_vault_transit_uri',
  'key_groups', 'shamir_threshold', 'unencrypted_suffix', 'encrypted_suffix', 'unencrypted_regex', 'encrypted_regex',
  'unencrypted_comment_regex', 'encrypted_comment_regex', 'mac_only_encrypted',
]);
const GROUP_FIELDS = new Set(['merge', 'kms', 'gcp_kms', 'hckms', 'azure_keyvault', 'hc_vault', 'age', 'pgp']);

function readRule(y: YamlReader, node: YamlNode | null, index: number, warnings: string[]): CreationRuleConfig {
  const name = `creation_rules[${index}]`;
  const m = y.map(node, name);
  const fields: Record<string, string> = {};
  for (const [k, v] of m) {
    fields[k] = y.where(v.value ?? v.key);
    if (!RULE_FIELDS.has(k)) warnings.push(`${y.where(v.key)}: ${name}: unknown field ${k} (ignored, as sops does)`);
  }
  const str = (f: string) => y.str(m.get(f)?.value, `${name}.${f}`);
  const unsupported: Record<string, number> = {};
  for (const f of ['pgp', 'gcp_kms', 'azure_keyvault']) {
    const n = keyListItems(y.keyList(m.get(f)?.value, `${name}.${f}`)).length;
    if (n > 0) unsupported[f] = n;
  }
  const hckms = y.strList(m.get('hckms')?.value, `${name}.hckms`).filter((s) => s !== '').length;
  if (hckms > 0) unsupported.hckms = hckms;
  const groupsNode = m.get('key_groups')?.value;
  return {
    index,
    where: y.where(node),
    pathRegex: str('path_regex'),
    age: y.keyList(m.get('age')?.value, `${name}.age`),
    kms: y.keyList(m.get('kms')?.value, `${name}.kms`),
    vault: y.keyList(m.get('hc_vault_transit_uri')?.value, `${name}.hc_vault_transit_uri`),
    awsProfile: str('aws_profile'),
    unsupported,
    keyGroups: groupsNode ? y.seq(groupsNode, `${name}.key_groups`).map((g, i) => readGroup(y, g, `${name}.key_groups[${i}]`, warnings)) : [],
    shamirThreshold: y.int(m.get('shamir_threshold')?.value, `${name}.shamir_threshold`),
    unencryptedSuffix: str('unencrypted_suffix'),
    encryptedSuffix: str('encrypted_suffix'),
    unencryptedRegex: str('unencrypted_regex'),
    encryptedRegex: str('encrypted_regex'),
    unencryptedCommentRegex: str('unencrypted_comment_regex'),
    encryptedCommentRegex: str('encrypted_comment_regex'),
    macOnlyEncrypted: y.bool(m.get('mac_only_encrypted')?.value, `${name}.mac_only_encrypted`),
    fields,
  };
}

function readGroup(y: YamlReader, node: YamlNode | null, name: string, warnings: string[]): KeyGroupConfig {
  const m = y.map(node, name);
  for (const [k, v] of m) if (!GROUP_FIELDS.has(k)) warnings.push(`${y.where(v.key)}: ${name}: unknown field ${k} (ignored, as sops does)`);
  const unsupported: Record<string, number> = {};
  const count = (f: string, n: number) => {
    if (n > 0) unsupported[f] = n;
  };
  count('pgp', y.strList(m.get('pgp')?.value, `${name}.pgp`).length);
  for (const [f, inner] of [['gcp_kms', ['resource_id']], ['hckms', ['key_id']], ['azure_keyvault', ['vaultUrl', 'key', 'version']]] as const) {
    const items = y.seq(m.get(f)?.value, `${name}.${f}`);
    items.forEach((it, i) => {
      const im = y.map(it, `${name}.${f}[${i}]`);
      for (const k of inner) y.str(im.get(k)?.value, `${name}.${f}[${i}].${k}`);
    });
    count(f, items.length);
  }
  const mergeNode = m.get('merge')?.value;
  return {
    merge: mergeNode ? y.seq(mergeNode, `${name}.merge`).map((g, i) => readGroup(y, g, `${name}.merge[${i}]`, warnings)) : [],
    age: y.strList(m.get('age')?.value, `${name}.age`),
    kms: y.seq(m.get('kms')?.value, `${name}.kms`).map((k, i) => readKms(y, k, `${name}.kms[${i}]`, warnings)),
    vault: y.strList(m.get('hc_vault')?.value, `${name}.hc_vault`),
    unsupported,
    where: y.where(node),
  };
}

function readKms(y: YamlReader, node: YamlNode | null, name: string, warnings: string[]): KmsKeyConfig {
  const m = y.map(node, name);
  for (const [k, v] of m) {
    if (!['arn', 'role', 'context', 'aws_profile'].includes(k)) warnings.push(`${y.where(v.key)}: ${name}: unknown field ${k} (ignored, as sops does)`);
  }
  const ctxNode = m.get('context')?.value;
  let context: Record<string, string | null> | undefined;
  if (ctxNode && !isNull(y.deref(ctxNode))) {
    context = {};
    for (const [k, v] of y.map(ctxNode, `${name}.context`)) context[k] = isNull(y.deref(v.value)) ? null : y.str(v.value, `${name}.context.${k}`);
  }
  return {
    arn: y.str(m.get('arn')?.value, `${name}.arn`),
    role: y.str(m.get('role')?.value, `${name}.role`),
    ...(context ? { context } : {}),
    awsProfile: y.str(m.get('aws_profile')?.value, `${name}.aws_profile`),
  };
}

// ---- the rule for a file -------------------------------------------------------------------

export interface FileRule {
  /** Empty when the rule names no keys (sops then needs keys on the command line). */
  keyGroups: KeyGroupSpec[];
  /** As written (sops keeps it in the metadata even for one group); absent when 0. */
  shamirThreshold?: number;
  /** Only what the rule sets; sops adds the default `_unencrypted` suffix when none is set. */
  rules: EncryptRules;
  /** The config file the rule came from, and the rule's position in it. */
  configPath: string;
  ruleIndex: number;
  warnings: string[];
}

/**
 * The creation rule sops would use for `filePath`. `configPath` defaults to the nearest
 * `.sops.yaml` above the file (sops itself searches from the working directory: a caller that
 * must behave exactly like the sops CLI passes `findConfigFile(process.cwd())`). Returns
 * undefined when there is no config file or it has no creation rules. Throws NotFound when
 * rules exist but none matches (sops refuses then too), InvalidInput for a rule that sops
 * would refuse or Keyward cannot honour.
 */
export async function ruleForFile(filePath: string, configPath?: string): Promise<FileRule | undefined> {
  const abs = path.resolve(filePath);
  const lookup = configPath === undefined ? await lookupConfigFile(path.dirname(abs)) : { path: configPath };
  if (lookup.path === undefined) return undefined;
  const config = await loadConfig(lookup.path);
  const rule = matchRule(config, abs);
  if (rule === undefined) return undefined;
  const out = compileRule(config, rule);
  if (lookup.warning) out.warnings.unshift(lookup.warning);
  return out;
}

/**
 * The first creation rule whose path_regex matches `absFilePath` (made relative to the config
 * directory as sops does), or undefined without creation rules. Throws as `ruleForFile`.
 */
export function matchRule(config: SopsConfig, absFilePath: string): CreationRuleConfig | undefined {
  if (config.creationRules === undefined) return undefined;
  const configDir = path.resolve(path.dirname(config.path));
  // sops trims "<configDir>/" only: a file outside the config directory stays absolute.
  const prefix = configDir + path.sep;
  const subject = absFilePath.startsWith(prefix) ? absFilePath.slice(prefix.length) : absFilePath;
  for (const r of config.creationRules) {
    if (r.pathRegex === '') return r;
    if (regexpFor(r.pathRegex, r, 'path_regex').test(subject)) return r;
  }
  throw new KeywardError(
    ErrorCode.NotFound,
    `no creation rule in ${config.path} matches ${subject}`,
    'add a creation rule whose path_regex matches the file, or a last rule without path_regex',
  );
}

const SELECTORS = [
  ['unencryptedSuffix', 'unencrypted_suffix'],
  ['encryptedSuffix', 'encrypted_suffix'],
  ['unencryptedRegex', 'unencrypted_regex'],
  ['encryptedRegex', 'encrypted_regex'],
  ['unencryptedCommentRegex', 'unencrypted_comment_regex'],
  ['encryptedCommentRegex', 'encrypted_comment_regex'],
] as const;

/** What a rule means: key groups, threshold and value selectors, checked as sops checks them. */
export function compileRule(config: SopsConfig, rule: CreationRuleConfig): FileRule {
  const name = `creation_rules[${rule.index}]`;
  const set = SELECTORS.filter(([k]) => rule[k] !== '');
  if (set.length > 1) {
    throw new KeywardError(
      ErrorCode.InvalidInput,
      `${rule.where}: ${name}: cannot use more than one of ${SELECTORS.map(([, f]) => f).join(', ')} in one rule (it has ${set.map(([, f]) => f).join(' and ')})`,
      'sops refuses this too: keep one',
    );
  }
  const rules: EncryptRules = {};
  for (const [k, f] of set) {
    if (f.endsWith('_regex')) regexpFor(rule[k], rule, f);
    rules[k] = rule[k];
  }
  if (rule.macOnlyEncrypted) rules.macOnlyEncrypted = true;

  const fail = (field: string, message: string, hint = HINT) =>
    new KeywardError(ErrorCode.InvalidInput, `${rule.fields[field] ?? rule.where}: ${name}.${field}: ${message}`, hint);
  const warnings = [...config.warnings];
  let keyGroups: KeyGroupSpec[];
  if (rule.keyGroups.length > 0) {
    const ignored = ['age', 'kms', 'hc_vault_transit_uri', ...Object.keys(rule.unsupported)].filter((f) => f in rule.fields && !isEmptyKeys(f, rule));
    if (ignored.length > 0) warnings.push(`${rule.where}: ${name}: ${ignored.join(', ')} ignored because key_groups is set (as sops does)`);
    keyGroups = rule.keyGroups.map((g, i) => {
      const spec = groupSpec(g, `${name}.key_groups[${i}]`);
      if (spec.age.length + spec.kms.length + (spec.vault?.length ?? 0) === 0) {
        throw new KeywardError(ErrorCode.InvalidInput, `${g.where}: ${name}.key_groups[${i}]: key group has no keys`, 'sops refuses empty key groups: add a key or remove the group');
      }
      return spec;
    });
  } else {
    const kinds = Object.keys(rule.unsupported);
    if (kinds.length > 0) throw fail(kinds[0]!, `${kinds.join(', ')} keys are not supported`, UNSUPPORTED_HINT);
    const age: string[] = [];
    // Strings are split at commas (empty items dropped); list items are taken whole, and then
    // split at commas as well when sops joins them again.
    const items = typeof rule.age === 'string' ? rule.age.split(',').map((s) => s.trim()).filter((s) => s !== '') : (rule.age ?? []);
    for (const item of items) for (const r of item.split(',')) age.push(recipient(r, 'age', fail));
    const kms: KeyGroupSpec['kms'] = [];
    const arns = typeof rule.kms === 'string' ? rule.kms.split(',').map((s) => s.trim()).filter((s) => s !== '') : (rule.kms ?? []);
    for (const item of arns) {
      for (const raw of item.split(',')) {
        const a = raw.replace(/ /g, '');
        if (a === '') throw fail('kms', 'empty KMS key ARN');
        // "ARN+role ARN": '+arn:' cannot be part of a key ARN, so it separates the two.
        const at = a.indexOf('+arn:');
        kms.push({
          arn: at > 0 ? a.slice(0, at) : a,
          ...(at > 0 ? { role: a.slice(at + 1) } : {}),
          ...(rule.awsProfile ? { awsProfile: rule.awsProfile } : {}),
        });
      }
    }
    const vault = keyListItems(rule.vault).flatMap((u) => u.split(',')).filter((u) => u !== '').map((u) => transitKeyUri(u, 'hc_vault_transit_uri', fail));
    keyGroups = age.length + kms.length + vault.length > 0 ? [{ age, kms, ...(vault.length ? { vault } : {}) }] : [];
  }

  const t = rule.shamirThreshold;
  if (t < 0) throw fail('shamir_threshold', `must not be negative, not ${t}`);
  if (keyGroups.length > 1 && t !== 0) {
    if (t < 2) throw fail('shamir_threshold', `must be at least 2, not ${t}`, 'sops refuses a threshold of 1 for several key groups; remove it or set 2 or more');
    if (t > keyGroups.length) throw fail('shamir_threshold', `${t} is more than the ${keyGroups.length} key groups`, 'sops refuses this too: lower the threshold or add groups');
  }
  return {
    keyGroups,
    ...(t !== 0 ? { shamirThreshold: t } : {}),
    rules,
    configPath: config.path,
    ruleIndex: rule.index,
    warnings,
  };
}

const UNSUPPORTED_HINT = 'keyward encrypts to age, AWS KMS and Vault transit keys only: use sops for files under this rule, or remove those keys';

/** A Vault transit key URI as sops parses it (NewMasterKeyFromURI), normalised. */
function transitKeyUri(raw: string, field: string, fail: Fail): string {
  try {
    return transitUri(parseTransitUri(raw.trim()));
  } catch (e) {
    if (isKeywardError(e)) throw fail(field, e.message, e.hint);
    throw e;
  }
}

function isEmptyKeys(field: string, rule: CreationRuleConfig): boolean {
  if (field === 'hc_vault_transit_uri') return keyListItems(rule.vault).length === 0;
  if (field === 'age' || field === 'kms') return keyListItems(rule[field]).length === 0;
  return false;
}

type Fail = (field: string, message: string, hint?: string) => KeywardError;

/** A key_groups entry with its merges, de-duplicated as sops does (same kind and id). */
function groupSpec(g: KeyGroupConfig, field: string): KeyGroupSpec {
  const fail: Fail = (f, message, hint = HINT) => new KeywardError(ErrorCode.InvalidInput, `${g.where}: ${f}: ${message}`, hint);
  const kinds = Object.keys(g.unsupported);
  if (kinds.length > 0) {
    throw fail(`${field}.${kinds[0]!}`, `${kinds.join(', ')} keys are not supported`, UNSUPPORTED_HINT);
  }
  const age: string[] = [];
  const kms: KeyGroupSpec['kms'] = [];
  const seen = new Set<string>();
  const addAge = (r: string) => {
    if (!seen.has(`age/${r}`)) age.push(r);
    seen.add(`age/${r}`);
  };
  const addKms = (k: KeyGroupSpec['kms'][number]) => {
    if (!seen.has(`kms/${kmsId(k)}`)) kms.push(k);
    seen.add(`kms/${kmsId(k)}`);
  };
  const vault: string[] = [];
  const addVault = (u: string) => {
    if (!vault.includes(u)) vault.push(u);
  };
  g.merge.forEach((sub, i) => {
    const s = groupSpec(sub, `${field}.merge[${i}]`);
    s.age.forEach(addAge);
    s.kms.forEach(addKms);
    s.vault?.forEach(addVault);
  });
  g.vault.forEach((u, i) => addVault(transitKeyUri(u, `${field}.hc_vault[${i}]`, fail)));
  for (const item of g.age) {
    if (item === '') continue; // sops: an empty string is no recipients
    for (const raw of item.split(',')) addAge(recipient(raw, `${field}.age`, fail));
  }
  g.kms.forEach((k, i) => {
    if (k.arn === '') throw fail(`${field}.kms[${i}].arn`, 'empty KMS key ARN');
    if (k.context && Object.values(k.context).some((v) => v === null)) {
      throw fail(`${field}.kms[${i}].context`, 'a context value is null', 'give every encryption context key a string value (sops crashes on null)');
    }
    const spec = {
      arn: k.arn,
      ...(k.role ? { role: k.role } : {}),
      ...(k.context ? { context: k.context } : {}),
      ...(k.awsProfile ? { awsProfile: k.awsProfile } : {}),
    };
    addKms(spec);
  });
  return { age, kms, ...(vault.length ? { vault } : {}) };
}

/** sops' identity of a KMS key: ARN, role, sorted context and profile. */
function kmsId(k: KeyGroupSpec['kms'][number]): string {
  const ctx = Object.keys(k.context ?? {}).sort().map((c) => `${c}:${k.context![c]}`).join(',');
  return JSON.stringify([k.arn, k.role ?? '', ctx, k.awsProfile ?? '']);
}

const KEY_REF = /^[a-z0-9][a-z0-9._-]*(?:@v[1-9][0-9]*)?$/;

/** A recipient as sops parses one (trimmed), refusing Keyward key names with a hint. */
function recipient(raw: string, field: string, fail: Fail): string {
  const r = raw.trim();
  if (r === '') throw fail(field, 'empty recipient', 'remove the extra comma, or the empty list item');
  if (!/^age-secret-key-/i.test(r) && !r.startsWith('age1') && KEY_REF.test(r)) {
    throw fail(
      field,
      `"${r}" looks like a keyward key name; .sops.yaml needs age recipients, since sops cannot read keyward names`,
      `put the key's recipient (age1..., shown by keyward keys list) in .sops.yaml instead`,
    );
  }
  if (/\s/.test(r) && !r.startsWith('ssh-')) {
    throw fail(field, 'recipients must be separated by commas', 'sops splits the age list at commas only: put a comma between recipients, or make it a YAML list');
  }
  try {
    return parseSopsAgeRecipient(r).recipient;
  } catch (e) {
    if (isKeywardError(e)) throw fail(field, e.message, e.hint);
    throw e;
  }
}

function regexpFor(pattern: string, rule: CreationRuleConfig, field: string): GoRegexp {
  try {
    return compileGoRegexp(pattern);
  } catch (e) {
    if (!isKeywardError(e)) throw e;
    throw new KeywardError(ErrorCode.InvalidInput, `${rule.fields[field] ?? rule.where}: creation_rules[${rule.index}].${field}: ${e.message}`, e.hint);
  }
}

/**
 * The entries of a key list field (`age`, `kms`, `hc_vault_transit_uri`) as sops' parseKeyField
 * reads them: a comma-separated string (its empty entries dropped) or a list of strings, each
 * entry trimmed. For reading what a file names (team sync compares it with the team policy); the
 * rules compiled for encryption refuse empty entries instead (compileRule).
 */
export function keyListEntries(v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string').map((s) => s.trim());
  return [];
}

function keyListItems(k: KeyList): string[] {
  if (k === undefined) return [];
  return typeof k === 'string' ? k.split(',').filter((s) => s.trim() !== '') : k;
}
