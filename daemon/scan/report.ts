// Reports of a scan: text for people, JSON for scripts, SARIF 2.1.0 for code-scanning
// dashboards. None of them ever holds a secret: findings carry a redacted form and a
// fingerprint only.

import { VERSION } from '../version';
import { POLICY_RULES } from './policy';
import { RULES } from './rules';
import type { Finding, RuleInfo, Severity } from './types';

export type ReportFormat = 'text' | 'json' | 'sarif';

export interface ScanStats {
  /** Files (or staged blobs, or commit/file pairs) scanned. */
  files: number;
  bytes: number;
  /** Binary, too large, or ignored by .keywardignore. */
  skipped: number;
  /** Findings left out because the baseline accepts them. */
  baselined: number;
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
  return f.detail !== undefined ? `${c}${f.path}` : `${c}${f.path}:${f.line}:${f.column}`;
}

function toText(r: ScanReport): string {
  const lines = r.findings.map((f) => {
    const what = f.detail !== undefined ? `${f.description}: ${f.detail}` : `${f.description}: ${f.redacted}`;
    return `${where(f)}: ${f.severity} ${f.ruleId}: ${what}`;
  });
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** One line for stderr after the findings. */
export function summaryLine(r: ScanReport): string {
  const s = r.stats;
  const scanned = `${s.files} ${r.mode === 'since' ? 'file change' : 'file'}${s.files === 1 ? '' : 's'} scanned in ${Math.round(s.ms)} ms`;
  const accepted = s.baselined ? `, ${s.baselined} accepted by the baseline` : '';
  if (r.findings.length === 0) return `keyward: no secrets found (${scanned}${accepted})`;
  const files = new Set(r.findings.map((f) => f.path)).size;
  const n = r.findings.length;
  const what = `${n} finding${n === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}`;
  const hint =
    r.mode === 'staged'
      ? 'remove the secrets (or encrypt the files) and stage again; accept a false positive with a keyward:allow comment or keyward scan --update-baseline'
      : 'remove the secrets; accept a false positive with a keyward:allow comment or keyward scan --update-baseline';
  return `keyward: ${what} (${scanned}${accepted}): ${hint}`;
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
      fingerprint: f.fingerprint,
      ...(f.commit ? { commit: f.commit } : {}),
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
    message: { text: f.detail !== undefined ? `${f.description}: ${f.detail}` : `${f.description}: ${f.redacted}` },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: uriOf(f.path), uriBaseId: '%SRCROOT%' },
          region: { startLine: f.line, startColumn: f.column, endLine: f.endLine, endColumn: f.endColumn },
        },
      },
    ],
    partialFingerprints: { 'keyward/v1': f.fingerprint },
    properties: { severity: f.severity, ...(f.commit ? { commit: f.commit } : {}) },
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
