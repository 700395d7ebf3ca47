// Reports of a scan: text for people, JSON for scripts, SARIF 2.1.0 for code-scanning
// dashboards. None of them ever holds a secret: findings carry a redacted form and a
// fingerprint only.

import { VERSION } from '../version';
import { PLAINTEXT_RULES, POLICY_RULES } from './encryption-checks';
import { RULES } from './rules';
import type { Finding, RuleInfo, Severity } from './types';

export type ReportFormat = 'text' | 'json' | 'sarif';

/** Why a file was not scanned for secrets. */
export type SkipReason = 'binary' | 'too-large' | 'ignored' | 'unreadable';

const SKIP_WORDS: Record<SkipReason, string> = {
  binary: 'binary',
  'too-large': 'larger than --max-file-size',
  ignored: 'in .keywardignore',
  unreadable: 'not a regular file',
};

export interface ScanStats {
  /** Files (or staged blobs, or commit/file pairs) scanned for secrets. */
  files: number;
  bytes: number;
  /** Not scanned for secrets: binary, too large, or ignored by .keywardignore (by reason in skippedBy). */
  skipped: number;
  skippedBy: Partial<Record<SkipReason, number>>;
  /** Findings left out because the baseline accepts them (secrets). */
  baselined: number;
  /** --staged: files checked against the plaintext and sops rules (every staged file, 0 with --no-policy). */
  checked?: number;
  /** --staged: plaintext files refused by a rule but allowed in the baseline (keyward allow). */
  allowed?: number;
  ms: number;
}

export interface ScanReport {
  mode: 'workspace' | 'staged' | 'since' | 'stdin';
  findings: readonly Finding[];
  stats: ScanStats;
}

export function formatReport(r: ScanReport, format: ReportFormat): string {
  if (format === 'json') return JSON.stringify(toJson(r), null, 2) + '\n';
  if (format === 'sarif') return JSON.stringify(toSarif(r), null, 2) + '\n';
  return toText(r);
}

function where(f: Finding): string {
  const c = f.commit ? `${f.commit.slice(0, 12)}:` : '';
  if (f.detail !== undefined) return `${c}${f.path}`;
  const cell = f.cell ? ` (cell ${f.cell.index}${f.cell.output ? ' output' : ''}, line ${f.cell.line})` : '';
  return `${c}${f.path}:${f.line}:${f.column}${cell}`;
}

/**
 * What a finding is, for a person: `GitHub personal access token: ghp_********`, with
 * `(decoded from base64)` when it was found in what an encoded segment decodes to.
 */
export function findingMessage(f: Finding): string {
  if (f.detail !== undefined) return `${f.description}: ${f.detail}`;
  const decoded = f.decoded ? ` (decoded from ${f.decoded.join(' in ')})` : '';
  return `${f.description}: ${f.redacted}${decoded}`;
}

function toText(r: ScanReport): string {
  const lines = r.findings.map((f) => `${where(f)}: ${f.severity} ${f.ruleId}: ${findingMessage(f)}`);
  return lines.length ? lines.join('\n') + '\n' : '';
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "12 not scanned for secrets (10 binary, 2 in .keywardignore)", or '' when none were skipped. */
function skippedWords(s: ScanStats): string {
  if (!s.skipped) return '';
  const why = (Object.keys(SKIP_WORDS) as SkipReason[]).filter((k) => s.skippedBy[k]).map((k) => `${s.skippedBy[k]} ${SKIP_WORDS[k]}`);
  return `${s.skipped} not scanned for secrets${why.length ? ` (${why.join(', ')})` : ''}`;
}

/** What was looked at: `3 staged files checked in 120 ms: 2 scanned for secrets, 1 not scanned for secrets (1 binary)`. */
function scope(r: ScanReport): string {
  const s = r.stats;
  const ms = `${Math.round(s.ms)} ms`;
  if (r.mode === 'staged') {
    const total = s.files + s.skipped;
    const parts = [`${s.files} scanned for secrets`];
    const sk = skippedWords(s);
    if (sk) parts.push(sk);
    if (s.checked === 0 && total > 0) parts.push('plaintext rules off (--no-policy)');
    else if (total > 0) parts.push(`${s.checked === total ? 'all' : s.checked} checked against the encryption rules`);
    if (s.allowed) parts.push(`${s.allowed} plaintext allowed by the baseline`);
    return `${plural(total, 'staged file')} in ${ms}: ${parts.join(', ')}`;
  }
  const sk = skippedWords(s);
  return `${plural(s.files, r.mode === 'since' ? 'file change' : 'file')} scanned in ${ms}${sk ? `, ${sk}` : ''}`;
}

/** One line for stderr after the findings. */
export function summaryLine(r: ScanReport): string {
  const s = r.stats;
  const accepted = s.baselined ? `, ${s.baselined} accepted by the baseline` : '';
  if (r.findings.length === 0) return `keyward: ${r.mode === 'staged' ? 'nothing refused' : 'no secrets found'} (${scope(r)}${accepted})`;
  const files = new Set(r.findings.map((f) => f.path)).size;
  const n = r.findings.length;
  const what = `${plural(n, 'finding')} in ${plural(files, 'file')}`;
  const hint =
    r.mode === 'staged'
      ? 'see the first line for what to do'
      : 'remove the secrets; accept a false positive with a keyward:allow comment or keyward scan --update-baseline';
  return `keyward: ${what} (${scope(r)}${accepted}): ${hint}`;
}

const MAX_NAMED = 3;

function names(paths: readonly string[]): string {
  const shown = paths.slice(0, MAX_NAMED).join(', ');
  return paths.length > MAX_NAMED ? `${shown} and ${paths.length - MAX_NAMED} more` : shown;
}

/**
 * --staged with findings: the first line of the hook's output, which says what to do. Git
 * prints a refused commit's hook output as it comes, and editors (VS Code's Source Control)
 * show only its first line. Null when nothing is refused.
 */
export function fixLine(r: ScanReport): string | null {
  if (r.findings.length === 0) return null;
  const plain = [...new Set(r.findings.filter((f) => PLAINTEXT_RULES.has(f.ruleId)).map((f) => f.path))];
  const sops = [...new Set(r.findings.filter((f) => f.detail !== undefined && !PLAINTEXT_RULES.has(f.ruleId)).map((f) => f.path))];
  const secrets = r.findings.filter((f) => f.detail === undefined);
  const parts: string[] = [];
  if (plain.length === 1) {
    const p = plain[0]!;
    const beside = r.findings.some((f) => f.path === p && f.ruleId === 'plaintext-beside-encrypted');
    parts.push(
      beside
        ? `${p} is the plaintext of ${p}.age: untrack it (git rm --cached ${p}) and commit ${p}.age instead, or allow it (keyward allow ${p} --reason "...")`
        : `${p} is plaintext that must be encrypted: encrypt it (keyward encrypt ${p} -k KEY, then git rm --cached ${p} and git add ${p}.age), untrack it (git rm --cached ${p}), or allow it (keyward allow ${p} --reason "...")`,
    );
  } else if (plain.length > 1) {
    parts.push(`${plain.length} plaintext files must be encrypted (${names(plain)}): encrypt each (keyward encrypt FILE -k KEY, then git rm --cached FILE and git add FILE.age), untrack it (git rm --cached FILE), or allow it (keyward allow FILE --reason "...")`);
  }
  if (sops.length) parts.push(`${plural(sops.length, 'sops file')} to encrypt or repair (${names(sops)}): sops -e -i FILE, then git add FILE`);
  if (secrets.length) {
    const files = [...new Set(secrets.map((f) => f.path))];
    parts.push(`${plural(secrets.length, 'secret')} in ${names(files)}: remove ${secrets.length === 1 ? 'it' : 'them'} and git add again (a false positive: keyward:allow on its line, or keyward scan --staged --update-baseline)`);
  }
  return `keyward: commit refused: ${parts.join('; ')}`;
}

function toJson(r: ScanReport): unknown {
  return {
    version: 1,
    tool: { name: 'keyward', version: VERSION },
    mode: r.mode,
    findings: r.findings.map((f) => ({
      ruleId: f.ruleId,
      description: f.description,
      severity: f.severity,
      path: f.path,
      line: f.line,
      column: f.column,
      endLine: f.endLine,
      endColumn: f.endColumn,
      ...(f.detail !== undefined ? { detail: f.detail } : { redacted: f.redacted }),
      ...(f.blob ? { blob: f.blob } : {}),
      fingerprint: f.fingerprint,
      ...(f.commit ? { commit: f.commit } : {}),
      ...(f.cell ? { cell: f.cell } : {}),
      ...(f.decoded ? { decoded: f.decoded } : {}),
    })),
    stats: { ...r.stats, ms: Math.round(r.stats.ms) },
  };
}

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { critical: 'error', high: 'error', medium: 'warning', low: 'note' };
/** GitHub code scanning reads `security-severity` (0-10) to rank security results. */
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0' };

/** A relative POSIX path as a URI reference (each segment percent-encoded). */
function uriOf(p: string): string {
  return p
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

function toSarif(r: ScanReport): unknown {
  const catalogue: RuleInfo[] = [...RULES, ...POLICY_RULES];
  // Every rule is listed (so dashboards know what was checked); results point at them by index.
  const rules = catalogue.map((x) => ({
    id: x.id,
    name: x.id
      .split('-')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join(''),
    shortDescription: { text: x.description },
    fullDescription: { text: `${x.description}. Reported by Keyward's ${x.id} rule.` },
    defaultConfiguration: { level: LEVEL[x.severity] },
    help: { text: 'Remove the secret from the file (and rotate it if it was ever pushed). Accept a false positive with a keyward:allow comment on its line, or record it with keyward scan --update-baseline.' },
    properties: { tags: ['security', 'secret', ...x.tags], 'security-severity': SECURITY_SEVERITY[x.severity], precision: x.id === 'generic-secret' ? 'medium' : 'high' },
  }));
  const index = new Map(catalogue.map((x, i) => [x.id, i]));
  const results = r.findings.map((f) => ({
    ruleId: f.ruleId,
    ruleIndex: index.get(f.ruleId) ?? -1,
    level: LEVEL[f.severity],
    message: { text: findingMessage(f) },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: uriOf(f.path), uriBaseId: '%SRCROOT%' },
          region: { startLine: f.line, startColumn: f.column, endLine: f.endLine, endColumn: f.endColumn },
        },
      },
    ],
    partialFingerprints: { 'keyward/v1': f.fingerprint },
    properties: { severity: f.severity, ...(f.commit ? { commit: f.commit } : {}), ...(f.cell ? { notebookCell: f.cell.index, notebookCellLine: f.cell.line, notebookOutput: f.cell.output } : {}), ...(f.decoded ? { decoded: f.decoded } : {}) },
  }));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'keyward', semanticVersion: VERSION, rules } },
        originalUriBaseIds: { '%SRCROOT%': { description: { text: 'The root of the scanned repository or directory.' } } },
        columnKind: 'utf16CodeUnits',
        results,
      },
    ],
  };
}
