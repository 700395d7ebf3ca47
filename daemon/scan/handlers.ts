import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ScanRuleView, ScanTextFinding } from '../protocol/scan';
import type { Handlers } from '../rpc/context';
import { Baseline, BASELINE_FILE } from './baseline';
import { scanText } from './engine';
import { fileGlobMatcher, type PathMatcher } from './glob';
import { POLICY_RULES } from './encryption-checks';
import { findingMessage } from './report';
import { RULES } from './rules';
import { IGNORE_FILE } from './run';
import type { Finding } from './types';

/** The scanner's RPC handlers: editor diagnostics (`scan/text`) and the rule list. */
export function scanHandlers(): Handlers {
  const repos = new RepoFiles();
  return {
    scanText: async (p) => {
      let rel = '';
      let repo: RepoState | null = null;
      if (p.path !== undefined) {
        repo = await repos.forFile(p.path);
        rel = repo ? path.relative(repo.root, p.path).split(path.sep).join('/') : path.basename(p.path);
        if (repo?.ignored(rel)) return { findings: [] };
      }
      const found = scanText(p.text, { path: rel, ...(p.languageId !== undefined ? { languageId: p.languageId } : {}) });
      const kept = repo ? found.filter((f) => !repo.baseline.has(f.fingerprint)) : found;
      return { findings: kept.map(toWire) };
    },
    scanRules: () => Promise.resolve({ rules: [...RULES, ...POLICY_RULES].map((r): ScanRuleView => ({ id: r.id, description: r.description, severity: r.severity, tags: [...r.tags] })) }),
  };
}

function toWire(f: Finding): ScanTextFinding {
  return {
    ruleId: f.ruleId,
    severity: f.severity,
    message: findingMessage(f),
    range: { startLine: f.line - 1, startCol: f.column - 1, endLine: f.endLine - 1, endCol: f.endColumn - 1 },
    redacted: f.redacted,
    fingerprint: f.fingerprint,
  };
}

interface RepoState {
  root: string;
  ignored: PathMatcher;
  baseline: Baseline;
}

/**
 * The repository a document belongs to (the nearest directory with `.git`), with its
 * .keywardignore and baseline, re-read when they change (by modification time).
 */
class RepoFiles {
  private readonly roots = new Map<string, string | null>();
  private readonly states = new Map<string, { key: string; state: RepoState }>();

  async forFile(file: string): Promise<RepoState | null> {
    const root = await this.rootOf(path.dirname(file));
    if (root === null) return null;
    const [ign, base] = await Promise.all([stamp(path.join(root, IGNORE_FILE)), stamp(path.join(root, BASELINE_FILE))]);
    const key = `${ign}|${base}`;
    const cached = this.states.get(root);
    if (cached && cached.key === key) return cached.state;
    let baseline = new Baseline([]);
    try {
      baseline = await Baseline.load(path.join(root, BASELINE_FILE), false);
    } catch {
      // a broken baseline hides nothing in the editor: every finding shows
    }
    let ignored: PathMatcher = () => false;
    try {
      ignored = await fileGlobMatcher((await fsp.readFile(path.join(root, IGNORE_FILE), 'utf8')).split(/\r?\n/));
    } catch {
      // no .keywardignore (or unreadable): nothing is ignored
    }
    const state = { root, ignored, baseline };
    this.states.set(root, { key, state });
    return state;
  }

  private async rootOf(dir: string): Promise<string | null> {
    const hit = this.roots.get(dir);
    if (hit !== undefined) return hit;
    let root: string | null = null;
    for (let d = dir, i = 0; i < 64; i++) {
      try {
        await fsp.lstat(path.join(d, '.git'));
        root = d;
        break;
      } catch {
        // not here: go up
      }
      const up = path.dirname(d);
      if (up === d) break;
      d = up;
    }
    if (this.roots.size > 1000) this.roots.clear();
    this.roots.set(dir, root);
    return root;
  }
}

async function stamp(file: string): Promise<string> {
  try {
    const st = await fsp.stat(file);
    return `${st.mtimeMs}:${st.size}`;
  } catch {
    return '-';
  }
}
