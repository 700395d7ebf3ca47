// `keyward scan`: what to scan (the work tree, the index, history since a revision, or
// standard input), the allowlists that need paths (.keywardignore, the baseline), the policy
// checks of staged files, the report and the exit status. Runs in-process, never through
// the daemon: it must work in a bare clone, with no daemon and no keys.

import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import { KeywardError, errnoCode, ioError } from '../util/errors';
import { Baseline, BASELINE_FILE } from './baseline';
import { binaryByContent, binaryByName, decode } from './content';
import { scanText } from './engine';
import { fingerprint } from './fingerprint';
import { addedSince, ignoredAwareFiles, readBlobs, repoRoot, runGit, stagedEntries, workTreeFiles, type Blob, type StagedEntry } from './git';
import { fileGlobMatcher, type PathMatcher } from './glob';
import { isLfsPointer, lfsOid, Policy, PLAINTEXT_RULES, type FileFacts, type PolicyIssue } from './encryption-checks';
import { sopsReader } from './lazy';
import { KEYWARD_CONFIG, SOPS_CONFIG } from './protected-globs';
import { fixLine, formatReport, summaryLine, type ReportFormat, type ScanReport, type ScanStats, type SkipReason } from './report';
import type { Finding } from './types';
import { isKeywardTemp } from '../util/temps';

export const IGNORE_FILE = '.keywardignore';

export interface ScanOptions {
  cwd: string;
  /** Files and directories to scan; empty: the current directory; `-`: standard input. */
  paths: readonly string[];
  staged?: boolean;
  since?: string;
  /** Standard input's bytes (for `-`), and the path to judge it by. */
  stdin?: () => Promise<Buffer>;
  stdinPath?: string;
  format: ReportFormat;
  /** Write the report here instead of standard output. */
  output?: string;
  /** A baseline file (default: .keyward-baseline.json at the root, if present). */
  baseline?: string;
  noBaseline?: boolean;
  updateBaseline?: boolean;
  /** Policy checks of staged files (default on). */
  policy?: boolean;
  maxFileBytes: number;
}

export interface ScanIo {
  out(s: string): void;
  err(s: string): void;
}

interface Collected {
  mode: ScanReport['mode'];
  root: string;
  found: Finding[];
  stats: ScanStats;
  /** --staged: the baseline as staged, when it is in the index. */
  stagedBaseline: string | null;
}

/** The scan's result: 0 clean, 1 findings. Errors are thrown (the caller exits 2). */
export async function runScan(o: ScanOptions, io: ScanIo): Promise<0 | 1> {
  const t0 = performance.now();
  const { mode, root, found, stats, stagedBaseline: stagedBaselineText } = await collect(o, io);
  let findings = found;
  const baselineFile = o.baseline !== undefined ? path.resolve(o.cwd, o.baseline) : path.join(root, BASELINE_FILE);
  const stagedBaseline = mode === 'staged' && o.baseline === undefined ? stagedBaselineText : null;
  if (o.updateBaseline) {
    // A plaintext file is accepted one at a time, with a reason (keyward allow), never in bulk.
    const plain = findings.filter((f) => PLAINTEXT_RULES.has(f.ruleId));
    const base = o.noBaseline ? new Baseline([]) : await Baseline.load(baselineFile, false);
    const merged = base.merge(findings.filter((f) => !PLAINTEXT_RULES.has(f.ruleId)));
    await merged.save(baselineFile);
    io.err(`keyward: ${merged.size - base.size} finding(s) added to ${path.relative(o.cwd, baselineFile) || baselineFile} (${merged.size} in all); commit it to share them\n`);
    if (plain.length) io.err(`keyward: ${plain.length} plaintext file(s) not added (${plain.map((f) => f.path).join(', ')}): encrypt them, or allow each with keyward allow FILE --reason "..."\n`);
    return 0;
  }
  if (!o.noBaseline) {
    // --staged: the baseline as staged, when it is in the index (an allow is reviewed with the commit).
    const base = stagedBaseline !== null ? Baseline.parse(stagedBaseline, BASELINE_FILE) : await Baseline.load(baselineFile, o.baseline !== undefined);
    if (base.size) {
      findings = findings.filter((f) => {
        if (!base.has(f.fingerprint)) return true;
        if (f.detail !== undefined && PLAINTEXT_RULES.has(f.ruleId)) stats.allowed = (stats.allowed ?? 0) + 1;
        else stats.baselined++;
        return false;
      });
    }
  }
  findings.sort((a, b) => (a.commit ?? '').localeCompare(b.commit ?? '') || a.path.localeCompare(b.path) || a.line - b.line || a.column - b.column);

  stats.ms = performance.now() - t0;
  const report: ScanReport = { mode, findings, stats };
  // The first line says what to do: git shows the hook's output as it comes, and editors show
  // only the first line of a refused commit.
  const head = mode === 'staged' ? fixLine(report) : null;
  if (head) io.err(head + '\n');
  const text = formatReport(report, o.format);
  if (o.output) {
    try {
      await fsp.writeFile(path.resolve(o.cwd, o.output), text, { mode: 0o644 });
    } catch (e) {
      throw ioError(e, 'write report', o.output);
    }
  } else if (text) io.out(text);
  io.err(summaryLine(report) + '\n');
  return findings.length ? 1 : 0;
}

/** Reads what `o` says to scan, and finds (before any baseline). */
async function collect(o: ScanOptions, io: ScanIo): Promise<Collected> {
  const modes = [o.staged, o.since !== undefined, o.paths.includes('-')].filter(Boolean).length;
  if (modes > 1 || ((o.staged || o.since !== undefined) && o.paths.length > 0)) {
    throw new KeywardError(ErrorCode.InvalidInput, 'choose one of: paths, -, --staged, --since', 'run one scan per source');
  }
  const stats: ScanStats = { files: 0, bytes: 0, skipped: 0, skippedBy: {}, baselined: 0, ms: 0 };
  const found: Finding[] = [];
  let mode: ScanReport['mode'];
  let root: string;
  let stagedBaseline: string | null = null;

  if (o.paths.includes('-')) {
    mode = 'stdin';
    root = o.cwd;
    if (o.paths.length > 1) throw new KeywardError(ErrorCode.InvalidInput, '- (standard input) cannot be combined with paths');
    const data = o.stdin ? await o.stdin() : Buffer.alloc(0);
    const name = o.stdinPath ? toPosix(o.stdinPath) : '(stdin)';
    if (binaryByContent(data)) skip(stats, 'binary');
    else {
      stats.files = 1;
      stats.bytes = data.length;
      found.push(...scanText(decode(data), { path: name }));
    }
  } else if (o.staged) {
    mode = 'staged';
    const st = await scanStaged(o.cwd, o, stats, found, io);
    root = st.root;
    stagedBaseline = st.baseline;
  } else if (o.since !== undefined) {
    mode = 'since';
    root = await requireRepo(o.cwd, '--since');
    const ignored = await loadIgnore(root);
    await addedSince(root, o.since, (a) => {
      if (ignored(a.path)) {
        skip(stats, 'ignored');
        return;
      }
      stats.files++;
      stats.bytes += a.text.length;
      for (const f of scanText(a.text, { path: a.path, commit: a.commit })) {
        found.push({ ...f, line: a.lines[f.line - 1] ?? f.line, endLine: a.lines[f.endLine - 1] ?? f.endLine });
      }
    });
  } else {
    mode = 'workspace';
    root = (await repoRoot(o.cwd)) ?? o.cwd;
    await scanWorkspace(root, o, stats, found);
  }
  return { mode, root, found, stats, stagedBaseline };
}

async function requireRepo(cwd: string, what: string): Promise<string> {
  const root = await repoRoot(cwd);
  if (!root) throw new KeywardError(ErrorCode.InvalidInput, `${what} needs a git repository, and ${cwd} is not in one`, 'run it inside the repository');
  return root;
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw ioError(e, 'read', file);
  }
}

/** `.keywardignore`'s matcher; with `paths`, for those paths only (see fileGlobMatcher). */
function ignoreMatcher(text: string | null, paths?: readonly string[]): Promise<PathMatcher> {
  return text === null ? Promise.resolve(() => false) : fileGlobMatcher(text.split(/\r?\n/), paths);
}

async function loadIgnore(root: string): Promise<PathMatcher> {
  return ignoreMatcher(await readOptional(path.join(root, IGNORE_FILE)));
}

// ---- the work tree -------------------------------------------------------------------------

async function scanWorkspace(root: string, o: ScanOptions, stats: ScanStats, found: Finding[]): Promise<void> {
  const ignored = await loadIgnore(root);
  const targets = o.paths.length ? o.paths : ['.'];
  const files = new Set<string>(); // relative to root (POSIX), or absolute outside it
  const explicit = new Set<string>();
  for (const t of targets) {
    const abs = path.resolve(o.cwd, t);
    let st;
    try {
      st = await fsp.stat(abs);
    } catch (e) {
      throw ioError(e, 'scan', t);
    }
    if (!st.isDirectory()) {
      const rel = relOrAbs(root, abs);
      files.add(rel);
      explicit.add(rel);
      continue;
    }
    // The directory's own repository decides what is ignored (it may not be the cwd's).
    const dirRoot = await repoRoot(abs);
    if (dirRoot !== null) {
      for (const p of await workTreeFiles(abs, ['.'])) files.add(relOrAbs(root, path.join(dirRoot, p)));
      continue;
    }
    const scratch = await fsp.mkdtemp(path.join(os.tmpdir(), 'keyward-scan-'));
    try {
      const listed = (await ignoredAwareFiles(abs, scratch)) ?? (await walk(abs));
      for (const p of listed) files.add(relOrAbs(root, path.join(abs, p)));
    } finally {
      await fsp.rm(scratch, { recursive: true, force: true });
    }
  }
  const todo: string[] = [];
  for (const rel of [...files].sort()) {
    if (!explicit.has(rel)) {
      // Keyward's own temps (util/temps.ts) are skipped as ignored: half-written files about to be
      // renamed or removed, and what is in the private RAM directories of exec and edit.
      const why = ignored(rel) || rel.startsWith('.git/') || rel.includes('/.git/') || rel.split('/').some(isKeywardTemp) ? 'ignored' : binaryByName(rel) ? 'binary' : null;
      if (why) {
        skip(stats, why);
        continue;
      }
    }
    todo.push(rel);
  }
  await readMany(
    todo.map((rel) => path.resolve(root, rel)),
    o.maxFileBytes,
    (i, data) => {
      const rel = todo[i]!;
      if (data === 'too-large' || data === null || binaryByContent(data)) {
        skip(stats, data === 'too-large' ? 'too-large' : data === null ? 'unreadable' : 'binary');
        return;
      }
      stats.files++;
      stats.bytes += data.length;
      found.push(...scanText(decode(data), { path: rel }));
    },
  );
}

function relOrAbs(root: string, abs: string): string {
  const rel = path.relative(root, abs);
  return rel.startsWith('..') || path.isAbsolute(rel) ? toPosix(abs) : toPosix(rel);
}

/** Every regular file under `dir` except .git and node_modules (when git is not there to read .gitignore). */
async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (e.name !== '.git' && e.name !== 'node_modules') out.push(...(await walk(dir, rel)));
    } else if (e.isFile()) out.push(rel);
  }
  return out;
}

/**
 * Reads files with a few reads in flight (overlapping disk and scanning), calling `visit`
 * in order. Not a regular file or gone: null; larger than `max`: 'too-large'.
 */
async function readMany(files: readonly string[], max: number, visit: (i: number, data: Buffer | null | 'too-large') => void): Promise<void> {
  const IN_FLIGHT = 8;
  // Never rejects: a failure waits in the result until its turn (no unhandled rejection).
  const read = async (f: string): Promise<Buffer | null | 'too-large' | KeywardError> => {
    try {
      const st = await fsp.lstat(f);
      if (!st.isFile()) return null;
      if (st.size > max) return 'too-large';
      return await fsp.readFile(f);
    } catch (e) {
      const c = errnoCode(e);
      if (c === 'ENOENT' || c === 'EISDIR' || c === 'ENOTDIR' || c === 'ELOOP') return null;
      return ioError(e, 'read', f);
    }
  };
  const pending = new Map<number, Promise<Buffer | null | 'too-large' | KeywardError>>();
  let next = 0;
  for (; next < Math.min(IN_FLIGHT, files.length); next++) pending.set(next, read(files[next]!));
  for (let i = 0; i < files.length; i++) {
    const data = await pending.get(i)!;
    pending.delete(i);
    if (data instanceof KeywardError) throw data;
    if (next < files.length) {
      pending.set(next, read(files[next]!));
      next++;
    }
    visit(i, data);
  }
}

// ---- the index -----------------------------------------------------------------------------

const HEAD_BYTES = 1024;

interface StagedResult {
  root: string;
  /** The baseline as staged, when it is in the index. */
  baseline: string | null;
}

/**
 * What the next commit holds: every staged file is checked against the plaintext rules
 * (protected globs, an encrypted copy beside it, model weights by extension and content, and
 * the sops rules), whatever its size or kind; text files are also scanned for secrets.
 */
async function scanStaged(cwd: string, o: ScanOptions, stats: ScanStats, found: Finding[], io: ScanIo): Promise<StagedResult> {
  // Root, staged list and the root's config files on disk, at the same time.
  const rootConfigs = [KEYWARD_CONFIG, IGNORE_FILE, SOPS_CONFIG];
  const rootP = requireRepo(cwd, '--staged');
  // git cat-file starts beside git diff (the hook's time is mostly processes starting): it is
  // given the names to read once the staged list is known, and its blobs go to onBlob.
  let giveNames: (names: readonly string[]) => void = () => {};
  const namesP = new Promise<readonly string[]>((r) => (giveNames = r));
  let onBlob: (b: Blob) => void = () => {};
  const blobsP = rootP.then((root) => readBlobs(root, namesP, { maxBytes: o.maxFileBytes, headBytes: HEAD_BYTES }, (b) => onBlob(b)));
  void blobsP.catch(() => {}); // awaited below; an error before then is not unhandled
  try {
    const [root, entries] = await Promise.all([rootP, rootP.then(() => stagedEntries(cwd))]);
    if (entries.length === 0) {
      giveNames([]);
      await blobsP;
      return { root, baseline: null };
    }
    const policyOn = o.policy !== false;
    const [onDisk, siblings] = await Promise.all([
      Promise.all(rootConfigs.map((n) => readOptional(path.join(root, n)))),
      policyOn ? encryptedSiblings(root, entries) : new Map<string, string>(),
    ]);
    const sopsNames = policyOn ? Policy.sopsConfigCandidates(entries.map((e) => e.path)).filter((p) => !p.includes('\n')) : [];
    const configNames = [KEYWARD_CONFIG, IGNORE_FILE, BASELINE_FILE, ...sopsNames];
    const byOid = new Map<string, StagedEntry[]>();
    for (const e of entries) byOid.set(e.oid, [...(byOid.get(e.oid) ?? []), e]);
    const strayYml = policyOn ? entries.filter((e) => e.path === '.sops.yml' || e.path.endsWith('/.sops.yml')).map((e) => e.path) : [];
    for (const p of strayYml) io.err(`keyward: warning: sops does not read ${p} (its configuration file must be called ${SOPS_CONFIG}), so its rules are not checked: rename it\n`);

    // Configuration as staged (the root's files from the work tree when not in the index).
    const configText = new Map<string, string>();
    let ignored: PathMatcher = () => false;
    let policy: Policy | null = null;
    const configure = async () => {
      rootConfigs.forEach((name, i) => {
        const t = onDisk[i];
        if (!configText.has(name) && t !== null && t !== undefined) configText.set(name, t);
      });
      const sops = policyOn ? [...configText].filter(([n]) => n === SOPS_CONFIG || n.endsWith(`/${SOPS_CONFIG}`)).map(([n, text]) => ({ dir: n.includes('/') ? n.slice(0, n.lastIndexOf('/')) : '', text })) : [];
      if (sops.length) await sopsReader(); // first: its regex engine serves the globs too (one copy of re2js)
      const paths = entries.map((e) => e.path);
      ignored = await ignoreMatcher(configText.get(IGNORE_FILE) ?? null, paths);
      if (!policyOn) return;
      const built = await Policy.from(configText.get(KEYWARD_CONFIG) ?? null, sops, paths);
      policy = built.policy;
      for (const r of built.unreadable) io.err(`keyward: warning: cannot read the .sops.yaml path_regex ${JSON.stringify(r)}; files it governs are not checked\n`);
    };

    // One git process reads the config files, then every staged file, in that order. Files are
    // scanned as they arrive, once the configuration is ready (it may load the regex engine or the
    // sops reader: the few files that arrive meanwhile wait); policy checks (async: sops files are
    // parsed) run after.
    const checks: { entry: StagedEntry; size: number; head: Buffer; content: Buffer | null }[] = [];
    const visit = (b: Blob) => {
      for (const e of byOid.get(b.oid) ?? []) {
        if (policy) checks.push({ entry: e, size: b.size, head: Buffer.from(b.data.subarray(0, HEAD_BYTES)), content: !b.truncated && policy.governedBySops(e.path) ? b.data : null });
        const why = b.truncated ? 'too-large' : ignored(e.path) ? 'ignored' : binaryByName(e.path) || binaryByContent(b.data) ? 'binary' : null;
        if (why) {
          skip(stats, why);
          continue;
        }
        stats.files++;
        stats.bytes += b.size;
        found.push(...scanText(decode(b.data), { path: e.path }));
      }
    };
    let configured: Promise<void> | null = null;
    let failure: { error: unknown } | null = null;
    let ready = false;
    const waiting: Blob[] = [];
    onBlob = (b) => {
      if (b.name.startsWith(':')) {
        if (!b.truncated) configText.set(b.name.slice(1), b.data.toString('utf8'));
        return;
      }
      if (ready) return visit(b);
      waiting.push(b);
      configured ??= configure().then(
        () => {
          ready = true;
          for (const w of waiting.splice(0)) visit(w);
        },
        (e: unknown) => void (failure = { error: e }),
      );
    };
    giveNames([...configNames.map((n) => `:${n}`), ...byOid.keys()]);
    await blobsP;
    await (configured ?? configure());
    if (failure) throw (failure as { error: unknown }).error;
    const p = policy as Policy | null;
    if (p) {
      stats.checked = checks.length;
      for (const c of checks) {
        const facts: FileFacts = {};
        const sibling = siblings.get(c.entry.path);
        if (sibling !== undefined) facts.encryptedSibling = sibling;
        if (isLfsPointer(c.head)) facts.lfsObjectHead = await lfsObjectHead(root, c.head);
        const issue = await p.check(c.entry.path, c.size, c.head, c.content, facts);
        if (issue) found.push(policyFinding(c.entry.path, c.entry.oid, issue));
      }
    } else stats.checked = 0;
    return { root, baseline: configText.get(BASELINE_FILE) ?? null };
  } finally {
    giveNames([]); // after any error before the names were given: git cat-file must not wait for them
  }
}

/**
 * For each staged file, its encrypted copy (`PATH.age`) when one is staged too or is in the
 * work tree: then the staged file is the plaintext that copy protects.
 */
async function encryptedSiblings(root: string, entries: readonly StagedEntry[]): Promise<Map<string, string>> {
  const staged = new Set(entries.map((e) => e.path));
  const out = new Map<string, string>();
  await Promise.all(
    entries.map(async (e) => {
      if (e.path.endsWith('.age')) return;
      const sib = `${e.path}.age`;
      if (staged.has(sib)) {
        out.set(e.path, sib);
        return;
      }
      try {
        const st = await fsp.lstat(path.join(root, sib));
        if (st.isFile()) out.set(e.path, sib);
      } catch {
        // no encrypted copy in the work tree
      }
    }),
  );
  return out;
}

/** The first bytes of a Git LFS pointer's object from the local LFS store, or null when it is not there. */
async function lfsObjectHead(root: string, pointer: Buffer): Promise<Buffer | null> {
  const oid = lfsOid(pointer);
  if (!oid) return null;
  const r = await runGit(['rev-parse', '--git-common-dir'], root).catch(() => null);
  const common = r && r.code === 0 ? path.resolve(root, r.stdout.toString('utf8').trim()) : path.join(root, '.git');
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(path.join(common, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid), 'r');
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } catch {
    return null;
  } finally {
    await fh?.close();
  }
}

function skip(stats: ScanStats, why: SkipReason): void {
  stats.skipped++;
  stats.skippedBy[why] = (stats.skippedBy[why] ?? 0) + 1;
}

function policyFinding(p: string, oid: string, issue: PolicyIssue): Finding {
  return {
    ruleId: issue.ruleId,
    description: issue.description,
    severity: issue.severity,
    path: p,
    line: 1,
    column: 1,
    endLine: 1,
    endColumn: 1,
    start: 0,
    end: 0,
    redacted: '',
    // The staged content's id: accepting it once does not accept a later, different file.
    fingerprint: fingerprint(issue.ruleId, p, `blob:${oid}`),
    detail: issue.detail,
    blob: oid,
  };
}

// ---- keyward allow -------------------------------------------------------------------------

export interface AllowResult {
  /** The baseline file written (absolute). */
  baseline: string;
  /** Whether it was staged (git add), so that the allow is part of the commit and its review. */
  staged: boolean;
  allowed: { path: string; rule: string; blob: string }[];
}

const MAX_REASON = 500;

/**
 * Accepts staged plaintext files that the pre-commit check refuses (model weights, protected
 * files, a plaintext beside its .age): one baseline entry per file and content, with the
 * reason, and the baseline staged so that the commit's reviewer sees it. A file that changes
 * afterwards is refused again.
 */
export async function allowPlaintext(cwd: string, paths: readonly string[], reason: string, opts: { baseline?: string; maxFileBytes: number }): Promise<AllowResult> {
  const why = reason.trim();
  if (!why || /[\r\n]/.test(why) || why.length > MAX_REASON) {
    throw new KeywardError(ErrorCode.InvalidInput, `--reason must be one line of 1 to ${MAX_REASON} characters`, 'say why this plaintext may be committed, for the reviewer');
  }
  if (paths.length === 0) throw new KeywardError(ErrorCode.InvalidInput, 'no file given', 'keyward allow FILE --reason "..."');
  const root = await requireRepo(cwd, 'keyward allow');
  const quiet: ScanIo = { out: () => {}, err: () => {} };
  const [{ found }, staged] = await Promise.all([collect({ cwd, paths: [], staged: true, format: 'json', policy: true, maxFileBytes: opts.maxFileBytes }, quiet), stagedEntries(root)]);
  const stagedPaths = new Set(staged.map((e) => e.path));
  const picked: Finding[] = [];
  for (const p of paths) {
    const rel = toPosix(path.relative(root, path.resolve(cwd, p)));
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new KeywardError(ErrorCode.InvalidInput, `${p} is outside the repository`);
    if (!stagedPaths.has(rel)) throw new KeywardError(ErrorCode.InvalidInput, `${rel} is not staged`, `stage it first (git add ${rel}), then allow it`);
    const hits = found.filter((f) => f.path === rel && PLAINTEXT_RULES.has(f.ruleId));
    if (hits.length === 0) throw new KeywardError(ErrorCode.InvalidInput, `${rel} is not refused as plaintext: nothing to allow`, 'keyward allow is for plaintext files the pre-commit check refuses; for a secret, see keyward:allow or --update-baseline');
    picked.push(...hits);
  }
  const file = opts.baseline !== undefined ? path.resolve(cwd, opts.baseline) : path.join(root, BASELINE_FILE);
  const base = await Baseline.load(file, false);
  await base.merge(picked, why).save(file);
  const inRepo = toPosix(path.relative(root, file));
  let added = false;
  if (!inRepo.startsWith('..') && !path.isAbsolute(inRepo)) {
    const r = await runGit(['add', '--', inRepo], root);
    added = r.code === 0;
  }
  return { baseline: file, staged: added, allowed: picked.map((f) => ({ path: f.path, rule: f.ruleId, blob: f.blob ?? '' })) };
}
