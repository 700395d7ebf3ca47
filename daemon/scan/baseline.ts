// The baseline: findings a team has looked at and accepted, by fingerprint (see
// fingerprint.ts), so they no longer fail a scan. It never holds a secret: rule, path and
// line are there for people reading the file; only the fingerprint is matched.
//
//     {
//       "version": 1,
//       "findings": [
//         { "fingerprint": "3f2a...", "rule": "generic-secret", "path": "tests/conftest.py", "line": 12 },
//         { "fingerprint": "9c01...", "rule": "plaintext-model-weights", "path": "tests/tiny.onnx",
//           "blob": "e69d...", "reason": "a 2 KiB test model, public" }
//       ]
//     }
//
// Plaintext files are accepted one content at a time (`keyward allow FILE --reason ...`): the
// fingerprint holds the staged blob's id, so a changed file is refused again, and the entry
// names the blob and the reason for the reviewer of the commit that adds it.

import { promises as fsp } from 'node:fs';
import { ErrorCode } from '../protocol/errors';
import { KeywardError, errnoCode, ioError } from '../util/errors';
import type { Finding } from './types';

export const BASELINE_FILE = '.keyward-baseline.json';
const MAX_BASELINE_BYTES = 16 * 1024 * 1024;

export interface BaselineEntry {
  fingerprint: string;
  rule: string;
  path: string;
  line?: number;
  /** Plaintext files: the git blob id of the accepted content (for people; the fingerprint holds it too). */
  blob?: string;
  /** Why it was accepted, as given to keyward allow. */
  reason?: string;
}

export class Baseline {
  private readonly set: Set<string>;

  constructor(readonly entries: readonly BaselineEntry[]) {
    this.set = new Set(entries.map((e) => e.fingerprint));
  }

  has(fingerprint: string): boolean {
    return this.set.has(fingerprint);
  }

  get size(): number {
    return this.set.size;
  }

  /** Parses a baseline file's text; throws InvalidInput naming what is wrong. */
  static parse(text: string, where: string): Baseline {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new KeywardError(ErrorCode.InvalidInput, `${where}: not valid JSON`, 'fix it, or write a new one with keyward scan --update-baseline');
    }
    const findings = (doc as { findings?: unknown } | null)?.findings;
    if (!Array.isArray(findings)) throw new KeywardError(ErrorCode.InvalidInput, `${where}: no findings list`, 'write one with keyward scan --update-baseline');
    const entries: BaselineEntry[] = [];
    for (const f of findings as unknown[]) {
      const fp = (f as { fingerprint?: unknown } | null)?.fingerprint;
      if (typeof fp !== 'string' || !/^[0-9a-f]{32,64}$/.test(fp)) throw new KeywardError(ErrorCode.InvalidInput, `${where}: finding ${entries.length + 1} has no valid fingerprint`);
      const e = f as Partial<BaselineEntry>;
      entries.push({
        fingerprint: fp,
        rule: String(e.rule ?? ''),
        path: String(e.path ?? ''),
        ...(typeof e.line === 'number' ? { line: e.line } : {}),
        ...(typeof e.blob === 'string' ? { blob: e.blob } : {}),
        ...(typeof e.reason === 'string' ? { reason: e.reason } : {}),
      });
    }
    return new Baseline(entries);
  }

  /** Reads `file`; a missing file is an empty baseline unless `required`. */
  static async load(file: string, required: boolean): Promise<Baseline> {
    let text: string;
    try {
      const st = await fsp.stat(file);
      if (st.size > MAX_BASELINE_BYTES) throw new KeywardError(ErrorCode.InvalidInput, `baseline too large: ${file}`);
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if (e instanceof KeywardError) throw e;
      if (!required && errnoCode(e) === 'ENOENT') return new Baseline([]);
      throw ioError(e, 'read baseline', file);
    }
    return Baseline.parse(text, file);
  }

  /** This baseline plus `findings` (kept entries first; duplicates dropped), sorted by path. */
  merge(findings: readonly Finding[], reason?: string): Baseline {
    const byFp = new Map(this.entries.map((e) => [e.fingerprint, e]));
    for (const f of findings) {
      if (byFp.has(f.fingerprint)) continue;
      const where = f.detail !== undefined ? (f.blob ? { blob: f.blob } : {}) : { line: f.line };
      byFp.set(f.fingerprint, { fingerprint: f.fingerprint, rule: f.ruleId, path: f.path, ...where, ...(reason ? { reason } : {}) });
    }
    return new Baseline([...byFp.values()].sort((a, b) => a.path.localeCompare(b.path) || (a.line ?? 0) - (b.line ?? 0) || a.fingerprint.localeCompare(b.fingerprint)));
  }

  async save(file: string): Promise<void> {
    const doc = { version: 1, findings: this.entries };
    const { writeFileAtomic } = await import('../util/atomic'); // not loaded by scans that write no baseline
    await writeFileAtomic(file, JSON.stringify(doc, null, 2) + '\n', 0o644);
  }
}
