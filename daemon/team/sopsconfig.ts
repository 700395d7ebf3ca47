// Keeping `.sops.yaml` consistent with the team policy, so that `sops` alone (creating a file,
// `sops updatekeys`) picks the same keys as Keyward's sync.
//
// - Each team access rule has one creation rule with the same files: `path_regex` is the rule's
//   glob translated (daemon/policy/glob.ts), `age` its members' recipients, `kms` its KEKs' ARNs.
// - Reading: a team rule whose creation rule is missing, differs in keys, or comes after another
//   rule that catches every path (no path_regex) is a problem; so is any sops file of the tree
//   whose first matching creation rule (sops' own choice) gives other keys than the team rule.
// - Writing, with the `yaml` Document API so comments, other rules and options survive: team
//   rules go first, in the team's order (first match wins in both), updated in place when one
//   with the same path_regex exists (its encrypted_regex and comments kept), added otherwise;
//   every other rule keeps its place after them. A creation rule with key_groups is not
//   rewritten (sops' Shamir setups are edited by hand): that is reported as an error.
import * as path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, YAMLMap, YAMLSeq, type Document } from 'yaml';
import { ErrorCode } from '../protocol';
import { writeFileAtomic } from '../util/atomic';
import { CONFIG_FILE_NAME, keyListEntries, matchRule, parseConfig, readConfigText, type SopsConfig } from '../sops/config';
import { isKeywardError, KeywardError } from '../util/errors';
import { globToRegex } from '../policy/glob';
import { isTransitUri } from '../kms/vault';
import type { AccessRule, TeamPolicy } from './team-policy';

export interface ExpectedRule {
  rule: AccessRule;
  pathRegex: string;
  age: string[];
  kms: string[];
  /** Vault transit KEKs: `hc_vault_transit_uri`. */
  vault: string[];
}

export interface SopsConfigProblem {
  /** The team access path it concerns, or the file. */
  subject: string;
  problem: string;
}

/** The creation rules the team policy implies, in its order. */
export function expectedRules(team: TeamPolicy): ExpectedRule[] {
  return team.rules.map((rule) => {
    const age = [...new Set(rule.members.flatMap((n) => team.members.get(n)?.recipients ?? []))].sort();
    const keks = rule.kms.map((n) => team.keks.get(n)!);
    const kms = keks.filter((k) => !isTransitUri(k.arn)).map((k) => (k.role ? `${k.arn}+${k.role}` : k.arn)).sort();
    const vault = keks.filter((k) => isTransitUri(k.arn)).map((k) => k.arn).sort();
    return { rule, pathRegex: globToRegex(rule.path), age, kms, vault };
  });
}

interface CreationRule {
  index: number;
  pathRegex: string | null;
  age: string[];
  kms: string[];
  vault: string[];
  keyGroups: boolean;
}

/**
 * `.sops.yaml` of the root, read and parsed by the sops engine's reader (daemon/sops/config.ts:
 * size limit, sops' types), and as a `yaml` Document for writing with comments kept.
 */
async function readConfig(root: string): Promise<{ file: string; config: SopsConfig | null; doc: Document | null }> {
  const file = path.join(root, CONFIG_FILE_NAME);
  let text: string;
  try {
    text = await readConfigText(file);
  } catch (e) {
    if (isKeywardError(e) && e.code === ErrorCode.NotFound) return { file, config: null, doc: null };
    throw e;
  }
  const config = parseConfig(text, file);
  const doc = parseDocument(text, { prettyErrors: false, version: '1.2' });
  if (doc.errors.length) throw new KeywardError(ErrorCode.InvalidInput, `${file}: invalid YAML (${doc.errors[0]!.code.toLowerCase().replace(/_/g, ' ')})`, 'fix it first: sops cannot read it either');
  return { file, config, doc };
}

function rulesOf(config: SopsConfig | null): CreationRule[] {
  return (config?.creationRules ?? []).map((r) => ({
    index: r.index,
    pathRegex: r.pathRegex !== '' ? r.pathRegex : null,
    age: keyListEntries(r.age),
    kms: keyListEntries(r.kms),
    vault: keyListEntries(r.vault),
    keyGroups: r.keyGroups.length > 0,
  }));
}

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

/** sops' choice for a path relative to the config's directory: the first rule whose regex matches. */
function sopsRuleFor(config: SopsConfig | null, rules: readonly CreationRule[], rel: string): CreationRule | undefined {
  if (!config) return undefined;
  try {
    const r = matchRule(config, path.join(path.dirname(config.path), ...rel.split('/')));
    return r && rules[r.index];
  } catch (e) {
    if (isKeywardError(e) && e.code === ErrorCode.NotFound) return undefined;
    throw e;
  }
}

/**
 * Problems between the team policy and `.sops.yaml` (empty when consistent). `sopsFiles` are
 * paths relative to the root of sops files whose keys the team governs; each must get the team's
 * keys from sops' own rule choice.
 */
export async function checkSopsConfig(
  team: TeamPolicy,
  sopsFiles: readonly string[] = [],
  opts: { rules?: 'all' | 'used' } = {},
): Promise<{ file: string; exists: boolean; problems: SopsConfigProblem[] }> {
  const { file, config, doc } = await readConfig(team.root);
  const rules = rulesOf(config);
  const problems: SopsConfigProblem[] = [];
  const expected = expectedRules(team);
  // Which team rules need a creation rule: all of them once .sops.yaml exists ('all'), or only
  // those that cover sops files of the tree ('used': a rule for model artifacts needs none).
  const used = new Set(sopsFiles.map((rel) => team.match(rel)?.rule.index).filter((i): i is number => i !== undefined));
  const wanted = (opts.rules ?? 'all') === 'all' ? (doc ? expected : expected.filter((e) => used.has(e.rule.index))) : expected.filter((e) => used.has(e.rule.index));
  for (const e of wanted) {
    const subject = `team.access[${e.rule.index}] (${e.rule.path})`;
    const r = rules.find((x) => x.pathRegex === e.pathRegex);
    if (!r) {
      problems.push({ subject, problem: `no creation rule with path_regex ${e.pathRegex}` });
      continue;
    }
    if (r.keyGroups) problems.push({ subject, problem: `creation rule ${r.index + 1} uses key_groups, which Keyward does not rewrite` });
    else if (!same(r.age, e.age) || !same(r.kms, e.kms) || !same(r.vault, e.vault)) problems.push({ subject, problem: `creation rule ${r.index + 1} names other keys (age ${r.age.length}, kms ${r.kms.length}, hc_vault ${r.vault.length}; team: age ${e.age.length}, kms ${e.kms.length}, hc_vault ${e.vault.length})` });
    const catchAll = rules.find((x) => x.pathRegex === null && x.index < r.index);
    if (catchAll) problems.push({ subject, problem: `creation rule ${catchAll.index + 1} has no path_regex and comes first: sops never reaches rule ${r.index + 1}` });
  }
  for (const rel of sopsFiles) {
    const m = team.match(rel);
    if (!m) continue;
    const e = expected.find((x) => x.rule.index === m.rule.index)!;
    const r = sopsRuleFor(config, rules, rel);
    if (!r) problems.push({ subject: rel, problem: 'no creation rule of .sops.yaml matches it: sops alone could not pick its keys' });
    else if (!r.keyGroups && (!same(r.age, e.age) || !same(r.kms, e.kms) || !same(r.vault, e.vault))) {
      problems.push({ subject: rel, problem: `sops would use creation rule ${r.index + 1}, whose keys differ from team.access[${e.rule.index}]` });
    }
  }
  return { file, exists: doc !== null, problems };
}

/**
 * Brings `.sops.yaml` in line with the team policy (see the top of this file). Returns the new
 * text and whether it differs; writes it (atomically) unless `dryRun`.
 */
export async function writeSopsConfig(team: TeamPolicy, opts: { dryRun?: boolean } = {}): Promise<{ file: string; changed: boolean; text: string }> {
  const { file, doc: existing } = await readConfig(team.root);
  const before = existing ? existing.toString() : '';
  const doc = existing ?? parseDocument('# Creation rules for sops. Rules marked "keyward team" follow .keyward.yaml (keyward team sops-config --write).\ncreation_rules: []\n');
  if (doc.contents === null || (isScalar(doc.contents) && (doc.contents.value === null || doc.contents.value === ''))) doc.contents = doc.createNode({ creation_rules: [] });
  if (!isMap(doc.contents)) throw new KeywardError(ErrorCode.InvalidInput, `${file}: must be a mapping (creation_rules: ...)`);
  let seq = doc.get('creation_rules', true);
  if (!isSeq(seq)) {
    doc.set('creation_rules', doc.createNode([]));
    seq = doc.get('creation_rules', true);
  }
  const list = seq as YAMLSeq;
  const current = [...list.items];
  const used = new Set<unknown>();
  const managed: unknown[] = [];
  for (const e of expectedRules(team)) {
    let node = current.find((item) => !used.has(item) && isMap(item) && item.get('path_regex') === e.pathRegex) as YAMLMap | undefined;
    if (node) {
      const groups: unknown = node.get('key_groups', true);
      if (isSeq(groups) && groups.items.length > 0) {
        throw new KeywardError(
          ErrorCode.IllegalState,
          `${file}: the creation rule for ${e.pathRegex} uses key_groups, which Keyward does not rewrite`,
          'remove its key_groups (or the rule) and run again; nothing was changed',
        );
      }
      setKeys(doc, node, 'age', e.age);
      setKeys(doc, node, 'kms', e.kms);
      setKeys(doc, node, 'hc_vault_transit_uri', e.vault);
    } else {
      node = doc.createNode({ path_regex: e.pathRegex, ...(e.age.length ? { age: e.age } : {}), ...(e.kms.length ? { kms: e.kms } : {}), ...(e.vault.length ? { hc_vault_transit_uri: e.vault } : {}) });
      node.commentBefore = ` keyward team: ${e.rule.path}`;
    }
    used.add(node);
    managed.push(node);
  }
  list.items = [...managed, ...current.filter((x) => !used.has(x))];
  const text = doc.toString();
  const changed = text !== before;
  if (changed && !opts.dryRun) await writeFileAtomic(file, text, 0o644);
  return { file, changed, text };
}

/** Sets a key list, keeping the node's style: a list stays a list, a string a comma-separated string. */
function setKeys(doc: Document, node: YAMLMap, key: 'age' | 'kms' | 'hc_vault_transit_uri', values: string[]): void {
  const cur = node.get(key, true);
  if (values.length === 0) {
    if (cur !== undefined) node.delete(key);
    return;
  }
  if (same(keyListEntries(isSeq(cur) || isScalar(cur) ? (cur as { toJSON(): unknown }).toJSON() : undefined), values)) return;
  if (isScalar(cur)) {
    cur.value = values.join(',');
    return;
  }
  node.set(key, doc.createNode(values));
}
