// Methods of the secret scanner (issue: hardcoded-key detection). Declared here, spread into
// `methods` in index.ts.
import { z } from 'zod';
import { AbsPath } from './shapes';

/** The largest buffer `scan/text` accepts, in UTF-16 code units (an editor document). */
export const MAX_SCAN_TEXT = 8 * 1024 * 1024;

export type ScanSeverity = 'critical' | 'high' | 'medium' | 'low';

/** A range in a document, 0-based, columns in UTF-16 code units (as VS Code's Range). */
export interface ScanRange {
  startLine: number;
  startCol: number;
  endLine: number;
  endCol: number;
}

export interface ScanTextFinding {
  /** The rule that found it: `github-pat`, `generic-secret`, ... (see `scan/rules`). */
  ruleId: string;
  severity: ScanSeverity;
  /** One line for the diagnostic, with the secret redacted. */
  message: string;
  /** Where the secret is (the secret itself, not the whole assignment). */
  range: ScanRange;
  /** A few leading characters and a mask; never the whole secret. */
  redacted: string;
  /** Stable across line moves; what `.keyward-baseline.json` records. */
  fingerprint: string;
}

export interface ScanRuleView {
  id: string;
  description: string;
  severity: ScanSeverity;
  tags: string[];
}

export interface ScanTextResult {
  findings: ScanTextFinding[];
}

export interface ScanRulesResult {
  rules: ScanRuleView[];
}

export const scanMethods = {
  /**
   * Sent by the extension for editor diagnostics: scans a document's text as it is in the
   * editor (never read from or written to disk). `path` is only a hint: it decides code vs
   * config rules and lets the daemon apply the repository's .keywardignore and baseline.
   */
  scanText: {
    name: 'scan/text',
    params: z.strictObject({
      text: z.string().max(MAX_SCAN_TEXT),
      languageId: z.string().min(1).max(64).regex(/^[A-Za-z0-9._+-]+$/, 'a VS Code language id').optional(),
      path: AbsPath.optional(),
    }),
    result: {} as ScanTextResult,
  },
  /** The detection and policy rules, for documentation and settings UIs. */
  scanRules: {
    name: 'scan/rules',
    params: z.strictObject({}),
    result: {} as ScanRulesResult,
  },
} as const;
