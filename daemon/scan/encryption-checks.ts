// Policy checks that need no key, run on staged files: a file that must be encrypted and is
// not (a protected model file, or a file a `.sops.yaml` creation rule governs) is refused,
// and so is a sops file whose structure is broken or whose MAC is missing.

import { fileGlobMatcher, firstMatch, pathMatcher, trustedGlobCompile, type GlobCompile, type PathMatcher } from './glob';
import { goRegexEngine, sopsReader, tryCompile } from './lazy';
import { DEFAULT_PROTECTED_GLOBS, readProtectedGlobs, SOPS_CONFIG } from './protected-globs';
import { checkSopsFile } from './sops';
import type { RuleInfo, Severity } from './types';
import { hasWeightsExtension, modelWeights } from './weights';

export const POLICY_RULES: readonly RuleInfo[] = [
  { id: 'unencrypted-protected-file', description: 'Plaintext file where .keyward.yaml requires an age-encrypted one', severity: 'critical', tags: ['policy', 'age'] },
  { id: 'plaintext-beside-encrypted', description: 'Plaintext of a file encrypted beside it (FILE.age)', severity: 'critical', tags: ['policy', 'age'] },
  { id: 'plaintext-model-weights', description: 'Plaintext model weights', severity: 'critical', tags: ['policy', 'age', 'ml'] },
  { id: 'sops-file-not-encrypted', description: 'File governed by a .sops.yaml creation rule is not sops-encrypted', severity: 'critical', tags: ['policy', 'sops'] },
  { id: 'sops-mac-missing', description: 'sops file without a MAC', severity: 'high', tags: ['policy', 'sops'] },
  { id: 'sops-file-malformed', description: 'sops file whose structure is broken', severity: 'high', tags: ['policy', 'sops'] },
];

/** The rules whose fix is to encrypt, untrack or allow the file (see fixLine in report.ts). */
export const PLAINTEXT_RULES: ReadonlySet<string> = new Set(['unencrypted-protected-file', 'plaintext-beside-encrypted', 'plaintext-model-weights']);

/** What the caller knows of a staged file beyond its bytes. */
export interface FileFacts {
  /** The path of its encrypted copy (`x.pt.age` for `x.pt`), when one is staged or in the work tree. */
  encryptedSibling?: string;
  /** A Git LFS pointer's object, when the file is a pointer: its first bytes, or null when the object is not here. */
  lfsObjectHead?: Buffer | null;
}

export interface PolicyIssue {
  ruleId: string;
  description: string;
  severity: Severity;
  /** Says why, naming globs, regexes and key paths; never a value. */
  detail: string;
}

interface SopsScope {
  /** The directory of the `.sops.yaml`, relative to the root, '' for the root itself. */
  dir: string;
  regexes: { source: string; re: { test(s: string): boolean } }[];
}

export class Policy {
  private constructor(
    readonly protectedGlobs: readonly string[],
    private readonly isProtected: PathMatcher,
    /** JavaScript's engine for Keyward's own globs; null: the linear-time one (globs from the file). */
    private readonly ownCompile: GlobCompile | null,
    private readonly sops: readonly SopsScope[],
  ) {}

  /**
   * From the text of `.keyward.yaml` (null: none, the default globs) and of each
   * `.sops.yaml` by directory. Regexes that Go would refuse are returned in `unreadable` so
   * the caller can warn. The regex engine and the sops reader are loaded only when these
   * files need them (globs of their own, creation rules); with `paths`, the policy judges
   * those paths only, and globs of its own load the engine only when one of them could match
   * (see fileGlobMatcher).
   */
  static async from(keywardYaml: string | null, sopsConfigs: { dir: string; text: string }[], paths?: readonly string[]): Promise<{ policy: Policy; unreadable: string[] }> {
    const unreadable: string[] = [];
    let scopes: SopsScope[] = [];
    if (sopsConfigs.length) {
      const { sopsPathRegexes, compileGoRegexp } = await sopsReader();
      scopes = sopsConfigs.map(({ dir, text }) => ({
        dir,
        regexes: sopsPathRegexes(text, dir ? `${dir}/${SOPS_CONFIG}` : SOPS_CONFIG, unreadable).flatMap((source) => {
          const re = tryCompile(compileGoRegexp, source);
          if (!re) unreadable.push(source);
          return re ? [{ source, re }] : [];
        }),
      }));
      scopes.sort((a, b) => b.dir.length - a.dir.length); // the nearest .sops.yaml decides
    }
    const globs = readProtectedGlobs(keywardYaml);
    const own = globs.length === DEFAULT_PROTECTED_GLOBS.length && globs.every((g, i) => g === DEFAULT_PROTECTED_GLOBS[i]);
    const isProtected = own ? pathMatcher(globs, trustedGlobCompile) : await fileGlobMatcher(globs, paths);
    return { policy: new Policy(globs, isProtected, own ? trustedGlobCompile : null, scopes), unreadable };
  }

  /** The `.sops.yaml` paths whose creation rules could govern `paths` (every ancestor directory). */
  static sopsConfigCandidates(paths: readonly string[]): string[] {
    const dirs = new Set<string>(['']);
    for (const p of paths) {
      let d = p;
      for (let i = d.lastIndexOf('/'); i > 0; i = d.lastIndexOf('/')) {
        d = d.slice(0, i);
        dirs.add(d);
      }
    }
    return [...dirs].map((d) => (d ? `${d}/${SOPS_CONFIG}` : SOPS_CONFIG));
  }

  /** Needs the whole content (sops check), or the first bytes are enough? */
  governedBySops(path: string): boolean {
    return this.sopsRule(path) !== undefined;
  }

  /**
   * Checks one file. `head` is at least the first 1 KiB; `content` is the whole file, or
   * null when it was too large to read (then sops files are judged by their head).
   */
  async check(path: string, size: number, head: Buffer, content: Buffer | null, facts: FileFacts = {}): Promise<PolicyIssue | null> {
    if (exempt(path)) return null;
    if (path.endsWith('.age')) {
      if (size > 0 && !isAgeFile(head)) return issue('unencrypted-protected-file', 'it is named .age but is not an age file');
      return null;
    }
    const plain = size > 0 && !isAgeFile(head);
    const lfs = plain && isLfsPointer(head);
    if (plain && this.isProtected(path)) {
      const glob = firstMatch(this.protectedGlobs, path, this.ownCompile ?? (await goRegexEngine())) ?? '';
      const how = lfs ? 'it is a Git LFS pointer to a plaintext file (the LFS server would receive the plaintext)' : 'it is not encrypted';
      return issue('unencrypted-protected-file', `it matches the protected glob ${JSON.stringify(glob)} but ${how}`);
    }
    if (plain && facts.encryptedSibling !== undefined) {
      return issue('plaintext-beside-encrypted', `${facts.encryptedSibling} is its encrypted copy${lfs ? ' (and this is a Git LFS pointer: the LFS server would receive the plaintext)' : ''}`);
    }
    if (plain) {
      const weightsHead = lfs ? facts.lfsObjectHead : head;
      if (lfs && weightsHead === null) {
        if (hasWeightsExtension(path)) return issue('plaintext-model-weights', 'it is a Git LFS pointer to a model weights file (its content is not here to check; the LFS server would receive the plaintext)');
      } else if (weightsHead) {
        const w = modelWeights(path, weightsHead);
        if (w) return issue('plaintext-model-weights', `${w.format} content, not encrypted${lfs ? ' (through a Git LFS pointer: the LFS server would receive it)' : ''}`);
      }
    }
    const rule = this.sopsRule(path);
    if (rule === undefined || isSopsConfig(path)) return null;
    const v = content === null ? (head.includes('sops') ? { ok: true as const } : { ok: false as const, rule: 'sops-file-not-encrypted' as const, detail: 'it has no sops metadata' }) : await checkSopsFile(path, content);
    if (v.ok) return null;
    const hint = v.rule === 'sops-file-not-encrypted' ? `: encrypt it with sops (sops -e -i ${path})` : ': restore it from a good copy or re-encrypt it with sops';
    return issue(v.rule, `it matches the .sops.yaml path_regex ${JSON.stringify(rule)} but ${v.detail}${hint}`);
  }

  private sopsRule(path: string): string | undefined {
    for (const s of this.sops) {
      if (s.dir && !path.startsWith(s.dir + '/')) continue;
      if (s.regexes.length === 0) continue;
      const rel = s.dir ? path.slice(s.dir.length + 1) : path;
      const hit = s.regexes.find((r) => r.re.test(rel));
      return hit?.source; // the nearest .sops.yaml with rules decides, as sops does
    }
    return undefined;
  }
}

function issue(id: string, detail: string): PolicyIssue {
  const r = POLICY_RULES.find((x) => x.id === id)!;
  return { ruleId: r.id, description: r.description, severity: r.severity, detail };
}

/** A Git LFS pointer file (the content lives on the LFS server). */
export function isLfsPointer(head: Buffer): boolean {
  return head.toString('latin1', 0, 64).startsWith('version https://git-lfs.github.com/spec/');
}

/** The sha256 object id of a Git LFS pointer, or null. */
export function lfsOid(head: Buffer): string | null {
  const m = /^oid sha256:([0-9a-f]{64})$/m.exec(head.toString('latin1', 0, Math.min(head.length, 512)));
  return m ? m[1]! : null;
}

/** age v1, binary or armored. */
export function isAgeFile(head: Buffer): boolean {
  const s = head.toString('latin1', 0, Math.min(head.length, 128)).trimStart();
  return s.startsWith('age-encryption.org/v1\n') || s.startsWith('-----BEGIN AGE ENCRYPTED FILE-----');
}

const EXEMPT_NAMES = new Set(['.keyward.yaml', '.gitignore', '.gitattributes', SOPS_CONFIG, '.keywardignore', '.keyward-baseline.json']);

/** Never protected, whatever the globs say (as in daemon/policy). */
function exempt(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return EXEMPT_NAMES.has(name) || name.endsWith('.keyward-tmp') || /(?:^|\/)(?:\.git|node_modules)\//.test(path);
}

/** sops' configuration file; a `.sops.yml` is an ordinary file to sops (it reads only `.sops.yaml`), and so here. */
function isSopsConfig(path: string): boolean {
  return path.slice(path.lastIndexOf('/') + 1) === SOPS_CONFIG;
}
