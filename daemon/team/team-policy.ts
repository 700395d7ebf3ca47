// The team policy: who may decrypt what. It lives in the `team:` section of `.keyward.yaml`
// (reviewed like code), with the member list there or in AWS (an SSM parameter or a Secrets
// Manager secret), and team KEKs in AWS KMS.
//
//     team:
//       members:                          # or members_from (not both)
//         alice: age1...                  # one recipient, or a list
//         bob: [age1pq1..., age1...]      # X25519 and post-quantum recipients
//       members_from:
//         ssm: /keyward/team/members      # or secretsmanager: NAME-or-ARN; region: optional
//       kms:                              # team KEKs by name: key or alias ARNs (sops' form,
//         ci: arn:aws:kms:us-east-1:111122223333:key/...          # "ARN+ROLE_ARN" assumes a role)
//         serving: arn:aws:kms:us-east-1:111122223333:alias/keyward-serving
//       access:                           # first matching path decides (as sops' creation_rules)
//         - path: models/                 # globs as in protect rules; for *.age the .age is dropped
//           members: [alice, bob]         # names, or "*" for every member
//           kms: [serving]                # age artifacts: the service identities this key wraps
//         - path: secrets/**              # sops files: `kms` master keys
//           members: ["*"]
//           kms: [ci]
//
// Validation is strict and complete before anything changes: unknown keys, malformed or
// secret-looking recipients (named by position, never echoed), a recipient listed for two
// members, duplicate names, members or KMS names an access rule uses but nobody declared, and,
// with KMS checking on, KMS keys that do not exist or are disabled (DescribeKey). Errors name the
// file (or the AWS source) and line.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { parseRecipient } from '../age';
import { isTransitUri, KMS_ARN, parseTransitUri, sharedVault, transitUri, vaultKek, type AwsOptions, type KmsProvider, type VaultTransit } from '../kms';
import { Policy, compileGlob, type TeamSectionSource } from '../policy/protection';
import { ErrorCode } from '../protocol';
import { KeywardError, isKeywardError } from '../util/errors';
import { describeSource, fetchMemberSource, type MemberSource } from './sources';

export const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;
const MAX_MEMBERS = 1000;
const MAX_RECIPIENTS_PER_MEMBER = 16;
const MAX_RULES = 1000;
const ROLE_ARN = /^arn:aws[\w-]*:iam::[0-9]{12}:role\/[\w+=,.@/-]{1,512}$/;

export interface TeamMember {
  name: string;
  recipients: string[];
}

export interface TeamKek {
  name: string;
  /** The key or alias ARN, as written; or a Vault transit key URI (normalised as sops prints it). */
  arn: string;
  /** An IAM role to assume for it (sops' `ARN+ROLE`). */
  role?: string;
  /** The key ARN behind it, once checked with DescribeKey. */
  keyArn?: string;
  line?: number;
}

export interface AccessRule {
  index: number;
  path: string;
  /** Member names (`*` expanded once members are known). */
  members: string[];
  /** KEK names. */
  kms: string[];
  line?: number;
}

export interface TeamSpec {
  file: string;
  members: TeamMember[] | null;
  membersFrom: MemberSource | null;
  kms: TeamKek[];
  access: AccessRule[];
}

// ---- parsing -------------------------------------------------------------------------------

class Where {
  constructor(
    private readonly origin: string,
    private readonly lineOf: (n: YamlNode | Pair | null | undefined) => number | undefined,
    private readonly prefix: string,
  ) {}

  line(n: YamlNode | Pair | null | undefined): number | undefined {
    return this.lineOf(n);
  }

  error(node: YamlNode | Pair | null | undefined, field: string, problem: string, hint?: string): KeywardError {
    const line = this.lineOf(node);
    const at = line === undefined ? this.origin : `${this.origin} line ${line}`;
    const name = field ? `${this.prefix}${field}` : this.prefix.replace(/\.$/, '') || '(document)';
    return new KeywardError(ErrorCode.InvalidInput, `${at}: ${name}: ${problem}`, hint ?? 'see the team policy format in daemon/team/README.md; nothing was changed');
  }
}

function fields(where: Where, node: YamlNode | null, allowed: readonly string[], field: string): Map<string, Pair> {
  if (!isMap(node)) throw where.error(node, field, `must be a mapping of ${allowed.join(', ')}`);
  const out = new Map<string, Pair>();
  for (const pair of node.items) {
    const k = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof k !== 'string') throw where.error(pair, field, 'keys must be plain words');
    if (!allowed.includes(k)) {
      const shown = /^[A-Za-z0-9_.-]{1,40}$/.test(k) ? `"${k}"` : '(a key)';
      throw where.error(pair, `${field ? `${field}.` : ''}${shown}`, `unknown key; expected one of: ${allowed.join(', ')}`);
    }
    out.set(k, pair);
  }
  return out;
}

function str(where: Where, node: unknown, field: string, what: string): string {
  const v = isScalar(node as YamlNode) ? (node as { value: unknown }).value : undefined;
  if (typeof v !== 'string' || v.trim() === '') throw where.error(node as YamlNode, field, `must be ${what}`);
  return v.trim();
}

function strList(where: Where, node: unknown, field: string, what: string): { value: string; node: YamlNode }[] {
  if (isScalar(node as YamlNode)) return [{ value: str(where, node, field, what), node: node as YamlNode }];
  if (!isSeq(node as YamlNode)) throw where.error(node as YamlNode, field, `must be ${what}, or a list of them`);
  return (node as { items: unknown[] }).items.map((item, i) => ({ value: str(where, item, `${field}[${i}]`, what), node: item as YamlNode }));
}

/** A recipient for a member: checked, lowercased, never echoed in an error. */
function recipient(where: Where, node: YamlNode, field: string, v: string): string {
  if (/^AGE-SECRET-KEY-/i.test(v) || /PRIVATE KEY/.test(v)) {
    throw where.error(node, field, 'is a secret key, not a recipient', 'put its public key (age1...) here, remove the secret from the file or source and its history, and treat it as exposed');
  }
  try {
    return parseRecipient(v).recipient;
  } catch (e) {
    throw where.error(node, field, `malformed recipient: ${isKeywardError(e) ? e.message : 'invalid'}`, 'copy the recipient again from its owner (age-keygen -y, keyward keys export NAME)');
  }
}

function parseMembers(where: Where, node: YamlNode | null, field: string): TeamMember[] {
  if (!isMap(node)) throw where.error(node, field, 'must map member names to their recipients (alice: age1...)');
  if (node.items.length === 0) throw where.error(node, field, 'lists no member');
  if (node.items.length > MAX_MEMBERS) throw where.error(node, field, `has more than ${MAX_MEMBERS} members`);
  const members: TeamMember[] = [];
  const owner = new Map<string, string>();
  for (const pair of node.items) {
    const name = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof name !== 'string' || !MEMBER_NAME.test(name)) {
      const shown = typeof name === 'string' && /^[\x20-\x7e]{1,64}$/.test(name) ? ` "${name}"` : '';
      throw where.error(pair, field, `invalid member name${shown}`, 'use letters, digits, ".", "_", "-", "@" or "+", starting with a letter or digit');
    }
    const list = strList(where, pair.value, `${field}.${name}`, 'an age recipient (age1...)');
    if (list.length === 0) throw where.error(pair, `${field}.${name}`, 'has no recipient');
    if (list.length > MAX_RECIPIENTS_PER_MEMBER) throw where.error(pair, `${field}.${name}`, `has more than ${MAX_RECIPIENTS_PER_MEMBER} recipients`);
    const recipients: string[] = [];
    for (const [i, r] of list.entries()) {
      const f = list.length === 1 && isScalar(pair.value) ? `${field}.${name}` : `${field}.${name}[${i}]`;
      const rec = recipient(where, r.node, f, r.value);
      const other = owner.get(rec);
      if (other !== undefined) {
        throw where.error(r.node, f, other === name ? 'lists the same recipient twice' : `is also ${other}'s recipient: a recipient belongs to one member`, 'remove the duplicate; nothing was changed');
      }
      owner.set(rec, name);
      recipients.push(rec);
    }
    members.push({ name, recipients });
  }
  return members;
}

function parseSource(where: Where, node: YamlNode | null): MemberSource {
  const f = fields(where, node, ['ssm', 'secretsmanager', 'region'], 'members_from');
  const ssm = f.get('ssm');
  const sm = f.get('secretsmanager');
  if ((ssm === undefined) === (sm === undefined)) throw where.error(node, 'members_from', 'give exactly one of ssm (a parameter) or secretsmanager (a secret)');
  const regionPair = f.get('region');
  const region = regionPair ? str(where, regionPair.value, 'members_from.region', 'a region like us-east-1') : undefined;
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-[0-9]$/.test(region)) throw where.error(regionPair, 'members_from.region', 'must be a region like us-east-1');
  if (ssm) {
    const id = str(where, ssm.value, 'members_from.ssm', 'a parameter name (/path/name) or ARN');
    if (!/^(\/?[A-Za-z0-9_.\-/]{1,2048}|arn:aws[\w-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter\/.+)$/.test(id)) throw where.error(ssm, 'members_from.ssm', 'must be a parameter name (/path/name) or ARN');
    return { kind: 'ssm', id, ...(region ? { region } : {}) };
  }
  const id = str(where, sm!.value, 'members_from.secretsmanager', 'a secret name or ARN');
  if (!/^([A-Za-z0-9/_+=.@-]{1,512}|arn:aws[\w-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)$/.test(id)) throw where.error(sm, 'members_from.secretsmanager', 'must be a secret name or ARN');
  return { kind: 'secretsmanager', id, ...(region ? { region } : {}) };
}

function parseKms(where: Where, node: YamlNode | null): TeamKek[] {
  if (!isMap(node)) throw where.error(node, 'kms', 'must map KEK names to KMS key ARNs (ci: arn:aws:kms:...)');
  const out: TeamKek[] = [];
  const seen = new Map<string, string>();
  for (const pair of node.items) {
    const name = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof name !== 'string' || !MEMBER_NAME.test(name)) throw where.error(pair, 'kms', 'invalid KEK name', 'use letters, digits, ".", "_" or "-"');
    const v = str(where, pair.value, `kms.${name}`, 'a KMS key or alias ARN, or a Vault transit key URI');
    if (isTransitUri(v)) {
      let uri: string;
      try {
        uri = transitUri(parseTransitUri(v));
      } catch (e) {
        throw where.error(pair, `kms.${name}`, isKeywardError(e) ? e.message : 'not a Vault transit key URI', 'https://vault.example.com:8200/v1/transit/keys/NAME, as sops takes it');
      }
      if (seen.has(uri)) throw where.error(pair, `kms.${name}`, `names the same transit key as ${seen.get(uri)}`);
      seen.set(uri, name);
      const line = where.line(pair);
      out.push({ name, arn: uri, ...(line !== undefined ? { line } : {}) });
      continue;
    }
    const [arn, role, ...rest] = v.replace(/\s+/g, '').split('+');
    if (!arn || !KMS_ARN.test(arn) || rest.length) {
      throw where.error(pair, `kms.${name}`, 'must be a KMS key or alias ARN', 'arn:aws:kms:REGION:ACCOUNT:key/ID or arn:aws:kms:REGION:ACCOUNT:alias/NAME (sops needs the ARN: it names the region)');
    }
    if (role !== undefined && !ROLE_ARN.test(role)) throw where.error(pair, `kms.${name}`, 'the part after "+" must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)');
    const other = seen.get(arn);
    if (other) throw where.error(pair, `kms.${name}`, `names the same KMS key as ${other}`);
    seen.set(arn, name);
    const line = where.line(pair);
    out.push({ name, arn, ...(role ? { role } : {}), ...(line !== undefined ? { line } : {}) });
  }
  return out;
}

function parseAccess(where: Where, node: YamlNode | null): AccessRule[] {
  if (!isSeq(node)) throw where.error(node, 'access', 'must be a list of rules (- path: "...")');
  if (node.items.length === 0) throw where.error(node, 'access', 'is empty: list at least one rule');
  if (node.items.length > MAX_RULES) throw where.error(node, 'access', `has more than ${MAX_RULES} rules`);
  const out: AccessRule[] = [];
  const seen = new Set<string>();
  for (const [i, item] of node.items.entries()) {
    const field = `access[${i}]`;
    const f = fields(where, item as YamlNode, ['path', 'members', 'kms'], field);
    const p = f.get('path');
    if (!p) throw where.error(item as YamlNode, field, 'missing path');
    const glob = str(where, p.value, `${field}.path`, 'a glob');
    try {
      compileGlob(glob);
    } catch (e) {
      throw where.error(p, `${field}.path`, (e as Error).message);
    }
    if (seen.has(glob)) throw where.error(p, `${field}.path`, `duplicate path "${glob}": only the first rule for it would apply`);
    seen.add(glob);
    const members = f.get('members') ? strList(where, f.get('members')!.value, `${field}.members`, 'a member name or "*"').map((x) => x.value) : [];
    const kms = f.get('kms') ? strList(where, f.get('kms')!.value, `${field}.kms`, 'a KEK name').map((x) => x.value) : [];
    if (members.length + kms.length === 0) throw where.error(item as YamlNode, field, 'grants nobody: give members, kms or both');
    const line = where.line(item as YamlNode);
    out.push({ index: i, path: glob, members: [...new Set(members)], kms: [...new Set(kms)], ...(line !== undefined ? { line } : {}) });
  }
  return out;
}

/** Checks the `team:` section's shape (no network). */
export function parseTeamSection(src: TeamSectionSource): TeamSpec {
  const where = new Where(src.file, (n) => src.lineOf(n), 'team.');
  const f = fields(where, src.node, ['members', 'members_from', 'kms', 'access'], '');
  const m = f.get('members');
  const mf = f.get('members_from');
  if (m && mf) throw where.error(mf, 'members_from', 'give members or members_from, not both');
  if (!m && !mf) throw where.error(src.node, 'members', 'missing: list the members, or say where they come from with members_from');
  const members = m ? parseMembers(where, (m.value as YamlNode | null) ?? null, 'members') : null;
  const membersFrom = mf ? parseSource(where, (mf.value as YamlNode | null) ?? null) : null;
  const kms = f.get('kms') ? parseKms(where, (f.get('kms')!.value as YamlNode | null) ?? null) : [];
  const accessPair = f.get('access');
  if (!accessPair) throw where.error(src.node, 'access', 'missing: say who may decrypt which paths');
  const access = parseAccess(where, (accessPair.value as YamlNode | null) ?? null);
  // Names used by the rules must be declared (members only once they are known: see resolve).
  const kmsNames = new Set(kms.map((k) => k.name));
  for (const r of access) {
    for (const [j, k] of r.kms.entries()) {
      if (!kmsNames.has(k)) {
        const item = (accessPair.value as { items: YamlNode[] }).items[r.index];
        throw where.error(item, `access[${r.index}].kms[${j}]`, `unknown KMS key name "${k}"`, `declare it under team.kms (${k}: arn:aws:kms:...); nothing was changed`);
      }
    }
  }
  return { file: src.file, members, membersFrom, kms, access };
}

/** A member list fetched from AWS, validated as strictly as the repo's. */
export function parseMemberDocument(text: string, origin: string): TeamMember[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, strict: true, version: '1.2', merge: false });
  const where = new Where(origin, (n) => {
    const node = n && 'range' in n ? n : n && 'key' in n ? (n.key as YamlNode | null) : null;
    const start = node?.range?.[0];
    return start === undefined ? undefined : lc.linePos(start).line;
  }, '');
  const err = doc.errors[0];
  if (err) {
    const what = err.code === 'DUPLICATE_KEY' ? 'a member is listed twice' : `invalid YAML or JSON (${err.code.toLowerCase().replace(/_/g, ' ')})`;
    throw new KeywardError(ErrorCode.InvalidInput, `${origin} line ${lc.linePos(err.pos[0]).line}: ${what}`, 'fix the member list at its source; nothing was changed');
  }
  const f = fields(where, doc.contents, ['members'], '');
  const m = f.get('members');
  if (!m) throw where.error(doc.contents, 'members', 'missing');
  return parseMembers(where, (m.value as YamlNode | null) ?? null, 'members');
}

// ---- the resolved policy ------------------------------------------------------------------

export interface AccessMatch {
  rule: AccessRule;
  members: TeamMember[];
  keks: TeamKek[];
}

export class TeamPolicy {
  private readonly matchers: ((rel: string) => boolean)[];
  private readonly byRecipient = new Map<string, string>();

  constructor(
    readonly root: string,
    readonly spec: TeamSpec,
    readonly members: ReadonlyMap<string, TeamMember>,
    readonly keks: ReadonlyMap<string, TeamKek>,
    /** Where the members came from, for messages: the policy file, or the AWS source. */
    readonly membersOrigin: string,
  ) {
    this.matchers = spec.access.map((r) => compileGlob(r.path));
    for (const m of members.values()) for (const r of m.recipients) this.byRecipient.set(r, m.name);
  }

  get rules(): readonly AccessRule[] {
    return this.spec.access;
  }

  /**
   * The rule for a path relative to the root (POSIX). For an age artifact the `.age` suffix is
   * dropped first, so `*.safetensors` covers `model.safetensors.age`, as in the protect rules.
   */
  match(rel: string): AccessMatch | null {
    const candidates = rel.endsWith('.age') ? [rel.slice(0, -4), rel] : [rel];
    for (const [i, rule] of this.spec.access.entries()) {
      if (candidates.some((c) => this.matchers[i]!(c))) {
        return { rule, members: rule.members.map((n) => this.members.get(n)!), keks: rule.kms.map((n) => this.keks.get(n)!) };
      }
    }
    return null;
  }

  /** The member a recipient belongs to, if any. */
  memberOf(recipient: string): string | undefined {
    return this.byRecipient.get(recipient);
  }
}

/** Turns a spec and its member list into a policy: `*` expanded, every name known. */
export function resolveTeam(root: string, spec: TeamSpec, members: TeamMember[], membersOrigin: string): TeamPolicy {
  const byName = new Map(members.map((m) => [m.name, m]));
  const access = spec.access.map((r) => {
    const names: string[] = [];
    for (const [j, n] of r.members.entries()) {
      if (n === '*') {
        names.push(...byName.keys());
        continue;
      }
      if (!byName.has(n)) {
        throw new KeywardError(
          ErrorCode.InvalidInput,
          `${spec.file}${r.line !== undefined ? ` line ${r.line}` : ''}: team.access[${r.index}].members[${j}]: unknown member "${n.slice(0, 64)}"`,
          `add ${n.slice(0, 64)} to the members (${membersOrigin}), or remove them from the rule; nothing was changed`,
        );
      }
      names.push(n);
    }
    return { ...r, members: [...new Set(names)] };
  });
  return new TeamPolicy(root, { ...spec, access }, byName, new Map(spec.kms.map((k) => [k.name, k])), membersOrigin);
}

export interface LoadTeamOptions {
  aws?: AwsOptions;
  /** With a provider, every KEK is checked with DescribeKey (exists, enabled, symmetric). */
  kms?: KmsProvider;
  /** Vault transit for KEKs named by URI, checked when `kms` is given (default: the process's). */
  vault?: VaultTransit;
}

/**
 * Loads the team policy of a repo root: `.keyward.yaml`'s team section, the member list
 * (fetched when it lives in AWS), and, when `kms` is given, each KEK checked in KMS. Throws
 * before anything is changed; the error names the file or source and the line.
 */
export async function loadTeamPolicy(root: string, opts: LoadTeamOptions = {}): Promise<TeamPolicy> {
  const policy = await Policy.load(root);
  if (!policy.team) {
    throw new KeywardError(ErrorCode.NotFound, `no team policy in ${root}/.keyward.yaml`, 'add a team: section (members, kms, access); see daemon/team/README.md');
  }
  const spec = parseTeamSection(policy.team);
  let members = spec.members;
  let origin = spec.file;
  if (!members) {
    const src = spec.membersFrom!;
    origin = describeSource(src);
    const text = await fetchMemberSource(src, { ...opts.aws, ...(src.region ? { region: src.region } : {}) });
    members = parseMemberDocument(text, origin);
  }
  if (opts.kms) {
    for (const k of spec.kms) {
      try {
        if (isTransitUri(k.arn)) {
          const d = await vaultKek(opts.vault ?? sharedVault()).describe(k.arn);
          if (!d.enabled) throw new KeywardError(ErrorCode.KeyUnusable, `transit key ${k.arn} cannot encrypt`, 'use an encryption key type (aes256-gcm96, chacha20-poly1305)');
          k.keyArn = d.keyId;
          continue;
        }
        const d = await opts.kms.describeKey(k.arn, k.role ? { role: k.role } : {});
        if (!d.enabled) throw new KeywardError(ErrorCode.KeyUnusable, `KMS key ${k.arn} is disabled or pending deletion`, 'enable it, or name another key');
        if (d.usage && d.usage !== 'ENCRYPT_DECRYPT') throw new KeywardError(ErrorCode.KeyUnusable, `KMS key ${k.arn} is not an encryption key (${d.usage})`, 'use a symmetric ENCRYPT_DECRYPT key');
        k.keyArn = d.keyArn;
      } catch (e) {
        if (!isKeywardError(e)) throw e;
        throw new KeywardError(e.code, `${spec.file}${k.line !== undefined ? ` line ${k.line}` : ''}: team.kms.${k.name}: ${e.message}`, e.hint ? `${e.hint}; nothing was changed` : 'nothing was changed');
      }
    }
  }
  return resolveTeam(root, spec, members, origin);
}
