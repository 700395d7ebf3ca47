// What the scanner asks of git: the repository root, the staged blobs (read from the index
// in one `git cat-file --batch` process, never from the working tree), the files of a work
// tree that .gitignore does not exclude, and the lines added by commits since a revision.

import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import { KeywardError, errnoCode } from '../util/errors';

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs git; rejects only when git cannot be started. */
export function runGit(args: string[], cwd: string, input?: string | Buffer): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: gitEnv() });
    const out: Buffer[] = [];
    let err = '';
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', (e) => reject(gitMissing(e)));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err }));
    if (input !== undefined) child.stdin?.end(input);
  });
}

function gitEnv(): NodeJS.ProcessEnv {
  // Plain, stable output whatever the user's configuration; never a pager or a prompt.
  return { ...process.env, GIT_PAGER: 'cat', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
}

function gitMissing(e: unknown): KeywardError {
  if (errnoCode(e) === 'ENOENT') return new KeywardError(ErrorCode.InvalidInput, 'git is not installed', 'install git, or scan files by path without --staged or --since');
  return new KeywardError(ErrorCode.IoFailed, `cannot run git (${errnoCode(e) ?? 'error'})`);
}

function failed(what: string, r: GitResult): KeywardError {
  const first = r.stderr.trim().split('\n')[0] ?? '';
  return new KeywardError(ErrorCode.InvalidInput, `${what}: ${first || `git exited ${r.code}`}`);
}

/**
 * The work tree's root, or null outside a git work tree. Found by looking for `.git` upwards
 * (a directory, or the file of a worktree or submodule), which costs no process: the hook's
 * time matters. With GIT_DIR or GIT_WORK_TREE set, git itself is asked.
 */
export async function repoRoot(cwd: string): Promise<string | null> {
  if (!process.env.GIT_DIR && !process.env.GIT_WORK_TREE) {
    for (let dir = path.resolve(cwd); ; ) {
      try {
        await fsp.lstat(path.join(dir, '.git'));
        return dir;
      } catch {
        // not here: go up
      }
      const up = path.dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  }
  let r: GitResult;
  try {
    r = await runGit(['rev-parse', '--show-toplevel'], cwd);
  } catch {
    return null; // no git: not a repository as far as the scanner is concerned
  }
  if (r.code !== 0) return null;
  return r.stdout.toString('utf8').trim() || null;
}

export interface StagedEntry {
  path: string;
  mode: string;
  oid: string;
}

/**
 * Files added, copied or modified in the index (renames count as additions), with the
 * object id of their staged content. Submodules and symbolic links are left out.
 */
export async function stagedEntries(root: string): Promise<StagedEntry[]> {
  const r = await runGit(['diff', '--cached', '--raw', '-z', '--no-renames', '--no-abbrev', '--no-ext-diff', '--diff-filter=ACM', '--no-color'], root);
  if (r.code !== 0) throw failed('cannot list staged files', r);
  const parts = r.stdout.toString('utf8').split('\0');
  const out: StagedEntry[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const meta = parts[i]!;
    const path = parts[i + 1]!;
    // :<old mode> <new mode> <old oid> <new oid> <status>
    const f = meta.replace(/^:/, '').split(' ');
    const mode = f[1] ?? '';
    const oid = f[3] ?? '';
    if (mode === '160000' || mode === '120000' || !/^[0-9a-f]{40,64}$/.test(oid)) continue;
    out.push({ path, mode, oid });
  }
  return out;
}

export interface Blob {
  /** The name it was asked for: an object id or `:path`. */
  name: string;
  oid: string;
  size: number;
  /** The whole content, or only the first `headBytes` when the blob is larger than `maxBytes`. */
  data: Buffer;
  truncated: boolean;
}

/**
 * Many blobs (by object id, or `:path` for the staged version of a path) from one
 * `git cat-file --batch` process, each handed to `visit` in the order asked as soon as it is
 * complete. A blob larger than `maxBytes` is not held: only its first `headBytes` arrive.
 * Names that are missing or not blobs are skipped. `names` may come later than the call
 * (a promise): git starts at once, and reads them when they are known.
 */
export function readBlobs(root: string, names: readonly string[] | Promise<readonly string[]>, opts: { maxBytes: number; headBytes: number }, visit: (b: Blob) => void): Promise<void> {
  if (Array.isArray(names) && names.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['cat-file', '--batch'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: gitEnv() });
    let list: readonly string[] = [];
    let err = '';
    let buf: Buffer = Buffer.alloc(0);
    let next = 0; // index into names of the next header
    let want: { name: string; oid: string; size: number; type: string; got: number; parts: Buffer[]; keep: number } | null = null;
    let failure: Error | null = null;
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      try {
        for (;;) {
          if (!want) {
            const nl = buf.indexOf(10);
            if (nl < 0) break;
            const header = buf.toString('utf8', 0, nl);
            buf = buf.subarray(nl + 1);
            const name = list[next++] ?? '';
            const m = /^([0-9a-f]{40,64}) (\w+) (\d+)$/.exec(header);
            if (!m) continue; // "<name> missing" (or ambiguous): nothing follows
            const size = Number(m[3]);
            want = { name, oid: m[1]!, size, type: m[2]!, got: 0, parts: [], keep: size > opts.maxBytes ? opts.headBytes : size };
          }
          // Body plus its trailing newline; keep what is wanted, drop the rest as it streams by.
          const need = want.size + 1 - want.got;
          const take = Math.min(need, buf.length);
          const keepNow = Math.max(0, Math.min(take, want.keep - want.got));
          if (keepNow > 0) want.parts.push(Buffer.from(buf.subarray(0, keepNow)));
          want.got += take;
          buf = buf.subarray(take);
          if (want.got < want.size + 1) break;
          if (want.type === 'blob') {
            const data = want.parts.length === 1 ? want.parts[0]! : Buffer.concat(want.parts);
            visit({ name: want.name, oid: want.oid, size: want.size, data: data.subarray(0, Math.min(data.length, want.size)), truncated: want.size > opts.maxBytes });
          }
          want = null;
        }
      } catch (e) {
        failure = e instanceof Error ? e : new Error('cannot parse git output');
        child.kill();
      }
    });
    child.once('error', (e) => reject(gitMissing(e)));
    child.once('close', (code) => {
      if (failure) reject(failure);
      else if (code !== 0) reject(new KeywardError(ErrorCode.IoFailed, `cannot read staged files: ${err.trim().split('\n')[0] ?? ''}`));
      else resolve();
    });
    Promise.resolve(names).then(
      (l) => {
        list = l;
        child.stdin.end(l.length ? l.join('\n') + '\n' : '');
      },
      (e: unknown) => {
        failure = e instanceof Error ? e : new Error('no names to read');
        child.stdin.end();
      },
    );
  });
}

/**
 * Files of the work tree under `pathspecs` that git would consider: tracked, or untracked
 * and not ignored (.gitignore, .git/info/exclude, core.excludesFile). Paths are relative to
 * the repository root.
 */
export async function workTreeFiles(cwd: string, pathspecs: readonly string[]): Promise<string[]> {
  const r = await runGit(['-c', 'core.quotePath=false', 'ls-files', '-z', '--cached', '--others', '--exclude-standard', '--full-name', '--', ...pathspecs], cwd);
  if (r.code !== 0) throw failed('cannot list files', r);
  const seen = new Set<string>();
  for (const p of r.stdout.toString('utf8').split('\0')) if (p) seen.add(p);
  return [...seen];
}

/**
 * Outside a repository, .gitignore files still say what is not worth scanning: an empty
 * scratch repository pointed at the directory lets git apply them with its own rules.
 * Returns paths relative to `dir`, or null when git is not available.
 */
export async function ignoredAwareFiles(dir: string, scratch: string): Promise<string[] | null> {
  try {
    const init = await runGit(['init', '-q', '--bare', scratch], dir);
    if (init.code !== 0) return null;
    const r = await runGit(['--git-dir', scratch, '--work-tree', dir, '-c', 'core.quotePath=false', 'ls-files', '-z', '--others', '--exclude-standard'], dir);
    if (r.code !== 0) return null;
    return r.stdout.toString('utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

export interface AddedText {
  commit: string;
  path: string;
  /** The added lines of one file in one commit, hunks separated by an empty line. */
  text: string;
  /** The line number in the file of each line of `text` (0 for a separator). */
  lines: number[];
}

/**
 * Lines added by each commit in `range` (`REV..HEAD` when given a single revision), one
 * AddedText per commit and file, streamed so that long histories use little memory.
 */
export function addedSince(root: string, since: string, visit: (a: AddedText) => void): Promise<void> {
  const range = since.includes('..') ? since : `${since}..HEAD`;
  const args = ['-c', 'core.quotePath=false', 'log', '--format=%x00%H', '-p', '-U0', '--no-color', '--no-ext-diff', '--no-renames', '--diff-filter=ACM', range, '--'];
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: gitEnv() });
    let err = '';
    let rest: Buffer = Buffer.alloc(0);
    let commit = '';
    let cur: { path: string; texts: string[]; lines: number[] } | null = null;
    let nextLine = 0;
    let failure: Error | null = null;
    const flush = () => {
      if (cur && cur.texts.length) visit({ commit, path: cur.path, text: cur.texts.join('\n'), lines: cur.lines });
      cur = null;
    };
    const onLine = (line: string) => {
      if (line.startsWith('\0')) {
        flush();
        commit = line.slice(1).trim();
      } else if (line.startsWith('diff --git ')) {
        flush();
      } else if (line.startsWith('+++ ')) {
        flush();
        const p = line.slice(4);
        if (p !== '/dev/null') cur = { path: unquoteGitPath(p).replace(/^b\//, ''), texts: [], lines: [] };
      } else if (line.startsWith('@@ ')) {
        const m = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
        nextLine = m ? Number(m[1]) : 0;
        // A secret cannot span two hunks: an empty line between them.
        if (cur && cur.texts.length) {
          cur.texts.push('');
          cur.lines.push(0);
        }
      } else if (cur && line.startsWith('+')) {
        cur.texts.push(line.slice(1));
        cur.lines.push(nextLine++);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      try {
        let buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
        for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10)) {
          onLine(buf.toString('utf8', 0, nl));
          buf = buf.subarray(nl + 1);
        }
        rest = Buffer.from(buf);
      } catch (e) {
        failure = e instanceof Error ? e : new Error('cannot parse git output');
        child.kill();
      }
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', (e) => reject(gitMissing(e)));
    child.once('close', (code) => {
      if (rest.length) onLine(rest.toString('utf8'));
      flush();
      if (failure) reject(failure);
      else if (code !== 0) reject(new KeywardError(ErrorCode.InvalidInput, `cannot read history since ${since}: ${err.trim().split('\n')[0] ?? ''}`, 'give a revision that exists, e.g. origin/main or a commit id'));
      else resolve();
    });
  });
}

/** git writes unusual paths C-quoted: `"b/na\303\257ve.txt"`. */
export function unquoteGitPath(p: string): string {
  if (!p.startsWith('"') || !p.endsWith('"')) return p;
  const body = p.slice(1, -1);
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const n = body[++i] ?? '';
    if (/[0-7]/.test(n)) {
      bytes.push(parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else bytes.push(({ n: 10, t: 9, r: 13, '"': 34, '\\': 92, a: 7, b: 8, f: 12, v: 11 } as Record<string, number>)[n] ?? n.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}
