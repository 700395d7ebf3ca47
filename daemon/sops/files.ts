// The sops engine as the daemon uses it on files: reading with a size bound, atomic writes that
// keep the file's mode, finding sops files under a tree, and deciding what to encrypt to (the
// caller's keys, or the `.sops.yaml` creation rule for the path). The engine itself works on
// bytes and never touches the disk.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import type { Keystore } from '../keystore/keystore';
import { AtomicFile } from '../util/atomic';
import { KeywardError, errnoCode, ioError } from '../util/errors';
import { findConfigFile, ruleForFile } from './config';
import type { KeyGroupSpec, KeyServices, SopsKmsClient, SopsVaultClient } from './keys';
import { parseTransitUri, sopsVaultClient, transitUri } from '../kms';
import type { EncryptRules } from './options';
import type { SopsFormat } from './store';
import { formatFromPath } from './stores';
import { isKeywardTemp } from '../util/temps';

/** Larger secret configs are refused: sops holds them whole in memory too. */
export const MAX_SOPS_FILE = 64 * 1024 * 1024;

/** What the engine needs from the daemon: the keystore's unwrap, KMS when configured, Vault transit (used only when a file names it). */
export function keyServices(keystore: Keystore, kms?: SopsKmsClient, vault: SopsVaultClient = sopsVaultClient()): KeyServices {
  return { unwrapAgeFileKey: (header) => keystore.unwrapFileKey(header), ...(kms ? { kms } : {}), vault };
}

export function formatOf(file: string, given?: SopsFormat): SopsFormat {
  return given ?? formatFromPath(file);
}

export async function readSopsFile(file: string): Promise<Buffer> {
  let st;
  try {
    st = await fsp.stat(file);
  } catch (e) {
    throw ioError(e, 'read', file);
  }
  if (!st.isFile()) throw new KeywardError(ErrorCode.InvalidInput, `not a file: ${file}`, 'give the path of a sops file');
  if (st.size > MAX_SOPS_FILE) {
    throw new KeywardError(ErrorCode.InvalidInput, `${file} is larger than 64 MiB`, 'sops files hold secret configs; encrypt large files as age artifacts (keyward encrypt)');
  }
  try {
    return await fsp.readFile(file);
  } catch (e) {
    throw ioError(e, 'read', file);
  }
}

/**
 * Writes an encrypted file atomically (temp beside it, fsync, rename), keeping the mode of the
 * file it replaces (new files: 0600). The old file stays whole until the rename. A symlink is
 * never replaced nor written through (InvalidInput).
 */
export async function writeSopsFile(file: string, bytes: Uint8Array, opts: { overwrite: boolean }): Promise<void> {
  let mode = 0o600;
  try {
    const st = await fsp.lstat(file);
    // The rename would replace the link with a file holding its target's content, encrypted to
    // this tree's recipients; writing through it would change a file elsewhere. Neither.
    if (st.isSymbolicLink()) {
      const to = await fsp.realpath(file).catch(() => 'a missing file');
      throw new KeywardError(ErrorCode.InvalidInput, `${file} is a symbolic link (to ${to}): not replaced`, 'run the command on the file itself, where it lives');
    }
    mode = st.mode & 0o777;
  } catch (e) {
    if (e instanceof KeywardError) throw e;
    if (errnoCode(e) !== 'ENOENT') throw ioError(e, 'write', file);
  }
  const out = await AtomicFile.open(file, { mode, overwrite: opts.overwrite });
  try {
    await out.handle.writeFile(bytes);
    await out.commit();
  } catch (e) {
    await out.abort();
    throw ioError(e, 'write', file);
  }
}

/** What a new or re-keyed file is encrypted to. */
export interface EncryptTarget {
  keyGroups: KeyGroupSpec[];
  shamirThreshold?: number;
  rules: EncryptRules;
  /** Where it came from, for messages: `.sops.yaml` path or `arguments`. */
  from: string;
}

export interface TargetOptions extends EncryptRules {
  /** age recipients or keystore key names (`team`, `team@v2`). */
  age?: string[];
  kms?: string[];
  /** Vault transit key URIs. */
  hcVaultTransit?: string[];
  shamirThreshold?: number;
}

const SELECTORS = ['unencryptedSuffix', 'encryptedSuffix', 'unencryptedRegex', 'encryptedRegex', 'unencryptedCommentRegex', 'encryptedCommentRegex'] as const;
const RULE_FIELDS = ['unencryptedSuffix', 'encryptedSuffix', 'unencryptedRegex', 'encryptedRegex', 'unencryptedCommentRegex', 'encryptedCommentRegex', 'macOnlyEncrypted'] as const;

/**
 * Throws ErrorCode.Untrusted unless the user agreed to encrypt to `recipients` (age recipients,
 * `kms:ARN`, `vault:URI`) for files governed by the config file `source` (daemon/trust/sets.ts).
 */
export type TrustCheck = (source: string, recipients: readonly string[]) => Promise<void>;

/** What key groups encrypt to, as the members of a trusted set: `age1...`, `kms:ARN`, `vault:URI`. */
export function groupRecipients(groups: readonly KeyGroupSpec[]): string[] {
  return groups.flatMap((g) => [...g.age, ...g.kms.map((k) => `kms:${k.arn}`), ...(g.vault ?? []).map((u) => `vault:${u}`)]);
}

/**
 * The keys and options for encrypting `file`: the caller's, when any key is given (options
 * not given then fall back to the creation rule's, as sops does), else the first
 * `.sops.yaml` creation rule whose path_regex matches, once `trust` accepts its recipients
 * (a cloned repository's `.sops.yaml` must not choose whom your secrets are encrypted to).
 */
export async function targetFor(keystore: Keystore, file: string, o: TargetOptions, trust: TrustCheck): Promise<EncryptTarget> {
  const config = await findConfigFile(path.dirname(file));
  const rule = config ? await ruleForFile(file, config) : undefined;
  const givenRules: EncryptRules = {};
  for (const f of RULE_FIELDS) if (o[f] !== undefined) (givenRules as Record<string, unknown>)[f] = o[f];
  const selectors = SELECTORS.filter((f) => givenRules[f] !== undefined);
  if (selectors.length > 1) {
    throw new KeywardError(ErrorCode.InvalidInput, `only one of ${selectors.join(', ')} may be given`, 'sops allows one selector (suffix or regex, for keys or comments) per file');
  }
  if (o.age?.length || o.kms?.length || o.hcVaultTransit?.length) {
    const age: string[] = [];
    const names = (o.age ?? []).filter((a) => !a.startsWith('age1'));
    for (const r of o.age ?? []) if (r.startsWith('age1')) age.push(r);
    if (names.length) for (const x of keystore.recipientsFor(names)) age.push(x.recipient);
    const rules = selectors.length || !rule ? givenRules : { ...rule.rules, ...givenRules };
    return {
      keyGroups: [{ age: [...new Set(age)], kms: (o.kms ?? []).map((arn) => ({ arn })), ...(o.hcVaultTransit?.length ? { vault: [...new Set(o.hcVaultTransit.map((u) => transitUri(parseTransitUri(u))))] } : {}) }],
      ...(o.shamirThreshold !== undefined ? { shamirThreshold: o.shamirThreshold } : {}),
      rules,
      from: 'arguments',
    };
  }
  if (!rule || !config) {
    throw new KeywardError(
      ErrorCode.InvalidInput,
      config ? `no creation rule in ${config} matches ${file}` : `no .sops.yaml above ${file}, and no keys given`,
      'give recipients with --age (age1... or a key name) or add a creation_rules entry to .sops.yaml',
    );
  }
  await trust(config, groupRecipients(rule.keyGroups));
  // A selector given on the command line replaces the rule's (they are exclusive).
  const rules: EncryptRules = selectors.length ? { ...givenRules } : { ...rule.rules, ...givenRules };
  if (selectors.length && rules.macOnlyEncrypted === undefined && rule.rules.macOnlyEncrypted !== undefined) rules.macOnlyEncrypted = rule.rules.macOnlyEncrypted;
  const threshold = o.shamirThreshold ?? rule.shamirThreshold;
  return { keyGroups: rule.keyGroups, ...(threshold !== undefined ? { shamirThreshold: threshold } : {}), rules, from: config };
}

const SKIP_DIRS = new Set(['.git', 'node_modules', '.hg', '.svn', '.venv', '__pycache__']);
const MAX_TREE_FILES = 100_000;

/**
 * Files and directories to the sops files among them. A directory is walked (skipping VCS and
 * dependency folders and Keyward's temp files, not following symlinks); a file there counts
 * when its first bytes look like sops metadata. Files named directly are taken as they are (the engine says if not sops).
 */
export async function expandSopsPaths(paths: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const p of paths) {
    let st;
    try {
      st = await fsp.lstat(p);
    } catch (e) {
      throw ioError(e, 'read', p);
    }
    if (st.isDirectory()) await walk(p, out);
    else out.add(p);
  }
  return [...out].sort();
}

async function walk(dir: string, out: Set<string>): Promise<void> {
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw ioError(e, 'read', dir);
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) await walk(p, out);
    } else if (e.isFile() && !isKeywardTemp(e.name) && (await looksLikeSops(p))) {
      if (out.size >= MAX_TREE_FILES) throw new KeywardError(ErrorCode.InvalidInput, `more than ${MAX_TREE_FILES} sops files under the given paths`, 'run it on smaller trees');
      out.add(p);
    }
  }
}

/** A cheap test on the file's text: the metadata keys every sops format writes. */
async function looksLikeSops(file: string): Promise<boolean> {
  let text: string;
  try {
    const st = await fsp.stat(file);
    if (st.size > MAX_SOPS_FILE || st.size < 20) return false;
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return false;
  }
  // Every sops file holds at least its encrypted MAC, and a `sops` entry (nested or flattened).
  return text.includes('ENC[AES256_GCM,') && /(^|\n)\s*("sops"\s*:|sops:|\[sops\]|sops_version\s*=)/.test(text);
}
