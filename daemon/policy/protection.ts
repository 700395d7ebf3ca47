// The protection policy: which files of a workspace Keyward encrypts, to whom, and what
// happens to the plaintext. Shared by the watcher, `artifacts/status` and (later) the scanner.
//
// ## `.keyward.yaml` (at the workspace root)
//
//     version: 1                    # required; the only version there is
//     recipients:                   # default recipients of every rule (optional)
//       - team                      # a key of the keystore: its current active version
//       - team@v3                   # a key version
//       - age1...                   # an age X25519 or post-quantum (age1pq1...) recipient
//     protect:                      # optional; absent: the default rules below
//       - glob: "*.safetensors"
//         plaintext: keep           # keep (default) | remove
//         recipients: [ops]         # optional; replaces the default list for this rule
//       - glob: "models/**"
//     settle_ms: 2000               # optional, 100..3600000 (default 2000)
//     team: ...                     # optional; the team policy, validated by daemon/team/team-policy.ts
//
// Decisions:
// - Validation is strict: unknown keys, duplicate keys, duplicate globs, a wrong type or an
//   unknown `plaintext` mode are errors that name the line and the field
//   (`.keyward.yaml line 7: protect[1].plaintext: must be keep or remove`). Recipients are
//   checked by syntax here (key name, or an age recipient with a valid checksum); whether a
//   named key exists and is active is checked when encrypting, since keys come and go. A bad
//   recipient is named by its position and line, never echoed: people paste secret keys there.
// - No file: the default rules (`*.safetensors *.pt *.pth *.ckpt *.onnx *.pkl *.joblib *.h5
//   *.keras *.gguf models/**`, plaintext `keep`) and no recipients. Files protected without
//   recipients are flagged "no recipients in policy": never skipped silently, never
//   encrypted to nobody.
// - Globs (`*`, `**`, `?`, `[...]`, `{a,b}`; case-sensitive, dot files like any other) match the
//   POSIX path relative to the root, translated to RE2 by ./glob.ts and run in linear time.
//   Like gitignore: a glob without "/" matches the file name at any depth; a glob with "/" is
//   anchored at the root; a leading "/" only anchors (`/*.pt`: top level only); a trailing "/"
//   means everything below (`models/` is `models/**`). `!` negation is not supported (an error).
// - The first rule that matches decides (as sops' creation_rules do).
// - Never protected, whatever the globs: `*.age`, Keyward's temp files (util/temps.ts),
//   anything under `.git/` or `node_modules/`, `.keyward.yaml` and `.gitignore` files.
// - The file is at most 256 KiB and one YAML document.
//
// What the watcher (daemon/watch/) does with a protected file:
// - Encrypts it to `FILE.age` beside it once its size, mtime and inode have not changed for
//   settle_ms; a change during encryption aborts it before the `.age` is replaced.
// - Skips it when the `.age` already holds the same content (known from
//   `KEYWARD_HOME/watch-state.json`, else by decrypting the `.age` into a hash); leaves a
//   `.age` alone (flagged) when it is newer than the plaintext and holds other content or
//   opens with none of our keys (a `git pull` brought it).
// - `keep`: the plaintext stays and is listed in `.gitignore` (a block Keyward owns).
//   `remove`: the plaintext is deleted only after one of our keys decrypted the `.age` to the
//   same SHA-256 and the plaintext is still unchanged; if none of our keys can, it stays.
// - Key names must name an active key when encrypting; a missing or unusable key flags the
//   file rather than encrypting to the others.
// - Re-reads `.keyward.yaml` when it changes; an invalid edit is reported and the previous
//   policy stays in force.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { parseRecipient } from '../age';
import { ErrorCode } from '../protocol';
import type { PlaintextMode, PolicyRuleView, PolicyView } from '../protocol/workspace';
import { KeywardError, errnoCode, ioError, isKeywardError } from '../util/errors';
import { compileGoRegexp } from '../util/goregex';
import { isKeywardTemp } from '../util/temps';
import { globToRegex } from './glob';

export const POLICY_FILE = '.keyward.yaml';
export const POLICY_VERSION = 1;
export const DEFAULT_GLOBS = ['*.safetensors', '*.pt', '*.pth', '*.ckpt', '*.onnx', '*.pkl', '*.joblib', '*.h5', '*.keras', '*.gguf', 'models/**'] as const;
export const DEFAULT_SETTLE_MS = 2000;
export const MIN_SETTLE_MS = 100;
export const MAX_SETTLE_MS = 3_600_000;
const MAX_POLICY_BYTES = 256 * 1024;
const MAX_RULES = 1000;
const MAX_RECIPIENTS = 256;
const MAX_GLOB = 1024;

/** `name` or `name@vN`, as in daemon/protocol's KeyRef. */
const KEY_REF = /^[a-z0-9][a-z0-9._-]{0,63}(@v[1-9][0-9]{0,5})?$/;

export interface PolicyRule {
  /** As written in the file (for messages and views). */
  readonly glob: string;
  readonly plaintext: PlaintextMode;
  /** null: the policy's default recipients apply. */
  readonly recipients: readonly string[] | null;
}

export interface PolicyMatch {
  readonly rule: PolicyRule;
  /** The recipients that apply: the rule's own, else the policy's defaults. May be empty. */
  readonly recipients: readonly string[];
}

/**
 * The `team:` section as parsed YAML, handed over unvalidated: daemon/team/team-policy.ts checks it
 * (members, KMS keys, per-path access), naming lines through `lineOf`.
 */
export interface TeamSectionSource {
  readonly node: YamlNode | null;
  /** The policy file's name, for messages. */
  readonly file: string;
  lineOf(node: YamlNode | Pair | null | undefined): number | undefined;
}

/** Where a policy came from: its file, or the defaults when there is none. */
export type PolicySource = { kind: 'file'; file: string } | { kind: 'defaults' };

/**
 * A parsed, validated policy with compiled matchers. Immutable: the watcher swaps the whole
 * object when the file changes.
 */
export class Policy {
  private readonly matchers: ((rel: string) => boolean)[];

  private constructor(
    readonly source: PolicySource,
    readonly recipients: readonly string[],
    readonly rules: readonly PolicyRule[],
    readonly settleMs: number,
    /** The `team:` section, when the file has one. */
    readonly team: TeamSectionSource | null = null,
  ) {
    this.matchers = rules.map((r) => compileGlob(r.glob));
  }

  /** The policy of a workspace without `.keyward.yaml`. */
  static defaults(): Policy {
    return new Policy({ kind: 'defaults' }, [], defaultRules(), DEFAULT_SETTLE_MS);
  }

  /**
   * Parses the text of a `.keyward.yaml`. Throws InvalidInput naming the line and field;
   * `file` is used in messages (default `.keyward.yaml`).
   */
  static parse(text: string, file = POLICY_FILE): Policy {
    const p = parsePolicyText(text, path.basename(file));
    return new Policy({ kind: 'file', file }, p.recipients, p.rules, p.settleMs, p.team);
  }

  /**
   * The policy of a workspace root: its `.keyward.yaml`, or the defaults when there is none.
   * Throws InvalidInput for an invalid file (naming its line) and IoFailed for a file that
   * cannot be read.
   */
  static async load(root: string): Promise<Policy> {
    const file = path.join(root, POLICY_FILE);
    let text: string;
    try {
      const st = await fsp.stat(file);
      if (!st.isFile()) throw new KeywardError(ErrorCode.InvalidInput, `${POLICY_FILE} is not a regular file: ${file}`, 'make it a file or remove it');
      if (st.size > MAX_POLICY_BYTES) throw new KeywardError(ErrorCode.InvalidInput, `${POLICY_FILE} is larger than ${MAX_POLICY_BYTES / 1024} KiB: ${file}`);
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return Policy.defaults();
      if (e instanceof KeywardError) throw e;
      throw ioError(e, 'read policy', file);
    }
    return Policy.parse(text, file);
  }

  /**
   * The rule protecting `rel` (a POSIX path relative to the root), or null when no rule
   * matches or the path is never protected (`*.age`, `.git/`, ...).
   */
  match(rel: string): PolicyMatch | null {
    if (isNeverProtected(rel)) return null;
    for (const [i, rule] of this.rules.entries()) {
      if (this.matchers[i]!(rel)) return { rule, recipients: rule.recipients ?? this.recipients };
    }
    return null;
  }

  /** Every recipient the policy names (defaults and rules), for checking them against the keystore. */
  allRecipients(): string[] {
    return [...new Set([...this.recipients, ...this.rules.flatMap((r) => r.recipients ?? [])])];
  }

  view(): PolicyView {
    return {
      source: this.source.kind,
      ...(this.source.kind === 'file' ? { file: this.source.file } : {}),
      recipients: [...this.recipients],
      rules: this.rules.map((r) => ruleView(r, this.recipients)),
      settleMs: this.settleMs,
    };
  }
}

export function ruleView(r: PolicyRule, defaults: readonly string[]): PolicyRuleView {
  return {
    glob: r.glob,
    plaintext: r.plaintext,
    recipients: [...(r.recipients ?? defaults)],
    recipientsFrom: r.recipients === null ? 'default' : 'rule',
  };
}

function defaultRules(): PolicyRule[] {
  return DEFAULT_GLOBS.map((glob) => ({ glob, plaintext: 'keep', recipients: null }));
}

// ---- paths and globs -----------------------------------------------------------------------

/** Directory names whose contents are never protected (nor watched). */
export const NEVER_DIRS: ReadonlySet<string> = new Set(['.git', 'node_modules']);

/** Whether a path (relative, POSIX) is outside every policy, whatever its globs say. */
export function isNeverProtected(rel: string): boolean {
  const parts = rel.split('/');
  const base = parts[parts.length - 1] ?? '';
  if (base.endsWith('.age') || isKeywardTemp(base)) return true;
  if (base === POLICY_FILE || base === '.gitignore') return true;
  return parts.slice(0, -1).some((p) => NEVER_DIRS.has(p));
}

/**
 * The POSIX path of `abs` relative to `root`, or null when it is the root itself or outside
 * it. Both must be absolute and resolved the same way (the watcher uses the real root).
 */
export function relativePath(root: string, abs: string): string | null {
  const rel = path.relative(root, abs);
  if (rel === '' || rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}

/**
 * Checks a glob and compiles it with gitignore-like anchoring (see the top of this file).
 * Throws a plain Error with a short reason; parsePolicyText adds the line.
 */
export function compileGlob(glob: string): (rel: string) => boolean {
  const reason = globProblem(glob);
  if (reason !== null) throw new Error(reason);
  let source: string;
  try {
    source = globToRegex(glob);
  } catch (e) {
    if (!isKeywardError(e)) throw e;
    throw new Error('uses syntax Keyward globs do not have ("(", ")", "|", extglobs): use *, **, ?, [...] and {a,b}');
  }
  const re = compileGoRegexp(source);
  return (rel) => re.test(rel);
}

function globProblem(glob: string): string | null {
  if (glob.length === 0) return 'is empty';
  if (glob.length > MAX_GLOB) return `is longer than ${MAX_GLOB} characters`;
  if (glob.includes('\0')) return 'contains a NUL byte';
  if (glob.includes('\\')) return 'contains a backslash: use "/" as the separator';
  if (glob.startsWith('!')) return 'negation ("!") is not supported: list what to protect';
  if (glob === '/' || /^\/+$/.test(glob) || glob.startsWith('//')) return 'is not a path';
  if (glob.split('/').some((p) => p === '..' || p === '.')) return 'must not contain "." or ".." segments: globs are relative to the workspace root';
  if (/\.age$/.test(glob)) return 'matches .age files, which are never re-encrypted: name the plaintext files instead';
  return null;
}

// ---- the YAML ------------------------------------------------------------------------------

interface ParsedPolicy {
  recipients: string[];
  rules: PolicyRule[];
  settleMs: number;
  team: TeamSectionSource | null;
}

const TOP_KEYS = ['version', 'recipients', 'protect', 'settle_ms', 'team'] as const;
const RULE_KEYS = ['glob', 'plaintext', 'recipients'] as const;

class Where {
  constructor(
    private readonly file: string,
    private readonly lc: LineCounter,
  ) {}

  line(node: YamlNode | Pair | null | undefined): number | undefined {
    const n = node && 'range' in node ? node : node && 'key' in node ? (node.key as YamlNode | null) : null;
    const start = n?.range?.[0];
    return start === undefined ? undefined : this.lc.linePos(start).line;
  }

  error(node: YamlNode | Pair | null | undefined, field: string, problem: string, hint?: string): KeywardError {
    const line = this.line(node);
    const at = line === undefined ? this.file : `${this.file} line ${line}`;
    return new KeywardError(ErrorCode.InvalidInput, `${at}: ${field ? `${field}: ` : ''}${problem}`, hint ?? 'see the .keyward.yaml format in the README');
  }
}

function parsePolicyText(text: string, file: string): ParsedPolicy {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) {
    throw new KeywardError(ErrorCode.InvalidInput, `${file} is larger than ${MAX_POLICY_BYTES / 1024} KiB`);
  }
  const lc = new LineCounter();
  const where = new Where(file, lc);
  // prettyErrors would quote the offending source line: it may hold a pasted secret.
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, strict: true, version: '1.2', merge: false });
  const err = doc.errors[0];
  if (err) {
    const line = lc.linePos(err.pos[0]).line;
    const what = err.code.toLowerCase().replace(/_/g, ' ');
    throw new KeywardError(ErrorCode.InvalidInput, `${file}${line !== undefined ? ` line ${line}` : ''}: invalid YAML (${what})`, 'fix the YAML syntax');
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
    throw new KeywardError(ErrorCode.InvalidInput, `${file}: is empty; it needs at least "version: 1"`, 'write version: 1, or delete the file to use the defaults');
  }
  if (!isMap(root)) throw where.error(root, '', 'must be a mapping of version, recipients, protect, settle_ms and team');

  const top = fields(where, root.items, TOP_KEYS, '');
  const versionNode = top.get('version');
  if (!versionNode) throw where.error(root, '', 'missing "version: 1"', 'add version: 1 at the top');
  if (!isScalar(versionNode.value) || versionNode.value.value !== POLICY_VERSION) {
    throw where.error(versionNode, 'version', `unsupported policy version (this Keyward reads version ${POLICY_VERSION})`);
  }

  const recipientsPair = top.get('recipients');
  const recipients = recipientsPair ? parseRecipientList(where, recipientsPair, 'recipients') : [];

  let settleMs = DEFAULT_SETTLE_MS;
  const settle = top.get('settle_ms');
  if (settle) {
    const v = isScalar(settle.value) ? settle.value.value : undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < MIN_SETTLE_MS || v > MAX_SETTLE_MS) {
      throw where.error(settle, 'settle_ms', `must be a whole number of milliseconds from ${MIN_SETTLE_MS} to ${MAX_SETTLE_MS}`);
    }
    settleMs = v;
  }

  let rules = defaultRules();
  const protect = top.get('protect');
  if (protect) {
    const seq = protect.value;
    if (!isSeq(seq)) throw where.error(protect, 'protect', 'must be a list of rules (- glob: "...")');
    if (seq.items.length === 0) throw where.error(protect, 'protect', 'is empty: list at least one rule, or remove the key to use the defaults');
    if (seq.items.length > MAX_RULES) throw where.error(protect, 'protect', `has more than ${MAX_RULES} rules`);
    rules = [];
    const seen = new Set<string>();
    for (const [i, item] of seq.items.entries()) {
      const field = `protect[${i}]`;
      if (!isMap(item)) throw where.error(item as YamlNode, field, 'must be a mapping with a glob');
      const f = fields(where, item.items, RULE_KEYS, `${field}.`);
      const globPair = f.get('glob');
      if (!globPair) throw where.error(item, field, 'missing glob');
      const glob = stringValue(where, globPair, `${field}.glob`);
      try {
        compileGlob(glob);
      } catch (e) {
        throw where.error(globPair, `${field}.glob`, (e as Error).message);
      }
      if (seen.has(glob)) throw where.error(globPair, `${field}.glob`, `duplicate glob "${glob}": only the first rule for it would apply`);
      seen.add(glob);
      let plaintext: PlaintextMode = 'keep';
      const mode = f.get('plaintext');
      if (mode) {
        const v = isScalar(mode.value) ? mode.value.value : undefined;
        if (v !== 'keep' && v !== 'remove') throw where.error(mode, `${field}.plaintext`, 'must be keep or remove');
        plaintext = v;
      }
      const rp = f.get('recipients');
      rules.push({ glob, plaintext, recipients: rp ? parseRecipientList(where, rp, `${field}.recipients`) : null });
    }
  }
  const teamPair = top.get('team');
  const team = teamPair ? { node: (teamPair.value as YamlNode | null) ?? null, file, lineOf: (n: YamlNode | Pair | null | undefined) => where.line(n) } : null;
  return { recipients, rules, settleMs, team };
}

/** The pairs of a mapping by key; unknown and non-string keys are errors. */
function fields(where: Where, items: readonly Pair[], allowed: readonly string[], prefix: string): Map<string, Pair> {
  const out = new Map<string, Pair>();
  for (const pair of items) {
    const k = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof k !== 'string') throw where.error(pair, prefix.replace(/\.$/, ''), 'keys must be plain words');
    if (!allowed.includes(k)) {
      // The key is a word the user typed as a field name, short by the check below.
      const shown = /^[A-Za-z0-9_.-]{1,40}$/.test(k) ? `"${k}"` : '(a key)';
      throw where.error(pair, `${prefix}${shown}`, `unknown key; expected one of: ${allowed.join(', ')}`);
    }
    out.set(k, pair);
  }
  return out;
}

function stringValue(where: Where, pair: Pair, field: string): string {
  const v = isScalar(pair.value) ? pair.value.value : undefined;
  if (typeof v !== 'string') throw where.error(pair, field, 'must be a string');
  return v;
}

function parseRecipientList(where: Where, pair: Pair, field: string): string[] {
  const seq = pair.value;
  if (!isSeq(seq)) throw where.error(pair, field, 'must be a list of key names or age recipients');
  if (seq.items.length > MAX_RECIPIENTS) throw where.error(pair, field, `has more than ${MAX_RECIPIENTS} entries`);
  const out: string[] = [];
  for (const [i, item] of seq.items.entries()) {
    const node = item as YamlNode;
    const f = `${field}[${i}]`;
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== 'string') throw where.error(node, f, 'must be a key name or an age recipient (a string)');
    out.push(checkRecipient(where, node, f, v));
  }
  return [...new Set(out)];
}

/** A key name/ref, or an age recipient with a valid checksum. Never echoes the value. */
function checkRecipient(where: Where, node: YamlNode, field: string, v: string): string {
  const s = v.trim();
  if (/^AGE-SECRET-KEY-/i.test(s) || /PRIVATE KEY/.test(s)) {
    throw where.error(node, field, 'is a secret key, not a recipient', 'put its public key (age1...) here, remove the secret from this file and its history, and treat it as exposed');
  }
  // Before key names: an X25519 recipient is also a well-formed name (so no key name starts with age1 here).
  if (/^age1/i.test(s)) {
    try {
      parseRecipient(s);
    } catch (e) {
      throw where.error(node, field, e instanceof KeywardError ? e.message : 'invalid recipient', 'copy the recipient again from its source');
    }
    return s.toLowerCase();
  }
  if (KEY_REF.test(s)) return s;
  throw where.error(node, field, 'is neither a key name (lowercase, like team or team@v2) nor an age recipient (age1...)');
}
