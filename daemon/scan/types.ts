// The scanner's domain types. The wire shapes (daemon/protocol/scan.ts) and the report
// formats (report.ts) are built from these at the edge.

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Where in a notebook a finding is: the 1-based cell, the 1-based line within its text, and whether in an output. */
export interface NotebookCell {
  index: number;
  line: number;
  output: boolean;
}

/** How a secret was encoded where it was found (see encoded.ts). */
export type Encoding = 'base64' | 'hex' | 'percent';

/** What a rule knows of the text it runs on. */
export interface RuleContext {
  /** The whole text being scanned. */
  readonly text: string;
  /** POSIX path relative to the scan root ('' when unknown, e.g. an editor buffer). */
  readonly path: string;
  /** Lowercased file name ('' when unknown). */
  readonly fileName: string;
  /** Code (values need quotes to count) or config (unquoted values count too). */
  readonly style: 'code' | 'config';
  /** A package manager's lockfile: hashes and resolved URLs, no hand-written secrets. */
  readonly lockfile: boolean;
  /**
   * Generated text (lockfiles, source maps, minified bundles, stylesheets): only the rules of
   * formats that cannot be mistaken (`strict`: a provider's prefix, a key block) run. Their
   * look-alikes (hashes, mangled names, selectors) make any judgement by name or shape noise.
   */
  readonly strict: boolean;
}

/** One match of a rule: where the secret is, and what it is (kept inside the scanner). */
export interface Match {
  /** Offsets of the secret in the text (UTF-16 code units, end exclusive). */
  start: number;
  end: number;
  /** Overrides the rule's severity (e.g. an encrypted private key is less severe). */
  severity?: Severity;
}

export interface RuleInfo {
  /** Stable id, kebab-case: `github-pat`, `age-secret-key`. */
  readonly id: string;
  /** One line for a person: what was found. */
  readonly description: string;
  readonly severity: Severity;
  /** Families, for documentation and SARIF tags: `cloud`, `ai`, `vcs`, ... */
  readonly tags: readonly string[];
}

/**
 * A detection rule. `scan` reports every match in `ctx.text`; it must run in time linear
 * in the text's length (bounded quantifiers only, or hand-written loops).
 */
export interface Rule extends RuleInfo {
  /** When two findings overlap, the one whose rule has the higher priority is kept. */
  readonly priority: number;
  /** Placeholder words are not looked for in the secret (formats that cannot hold words). */
  readonly noPlaceholderCheck?: boolean;
  /** Runs on generated text too (see RuleContext.strict): a distinctive prefix or armor, not a guess. */
  readonly strict?: boolean;
  /** Literals (case-insensitive) of which one must occur in the text for the rule to run at all. */
  readonly keywords?: readonly string[];
  scan(ctx: RuleContext, report: (m: Match) => void): void;
}

/**
 * A finding as the scanner hands it out: where, what, and a redacted form. The secret
 * itself is never part of it; its offsets are (`start`/`end`) so that callers holding the
 * text can underline it.
 */
export interface Finding {
  ruleId: string;
  description: string;
  severity: Severity;
  /** POSIX path relative to the scan root, or a name such as `(stdin)`. */
  path: string;
  /** 1-based line and column of the secret's first character (columns in UTF-16 units). */
  line: number;
  column: number;
  /** 1-based line and column just past the secret's last character. */
  endLine: number;
  endColumn: number;
  start: number;
  end: number;
  /** A few leading characters and a mask: never the whole secret. */
  redacted: string;
  /** Stable across line moves: sha256 of rule, path and secret (see fingerprint.ts). */
  fingerprint: string;
  /** `--since`: the commit that added it. */
  commit?: string;
  /** Policy findings: why the file is refused (names globs and key paths, never values). */
  detail?: string;
  /** Policy findings of --staged: the git blob id of the staged content. */
  blob?: string;
  /** In a Jupyter notebook: the cell, and the line within it (`line`/`column` are the file's). */
  cell?: NotebookCell;
  /**
   * Found in what an encoded segment decodes to, outermost encoding first (`['base64']`; base64
   * of hex: `['base64', 'hex']`). The position is the encoded text's, as near the secret as the
   * encoding allows; `redacted` and `fingerprint` are of the decoded secret.
   */
  decoded?: readonly Encoding[];
}
