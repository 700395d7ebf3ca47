// The pre-commit hook's program (dist/scan.js): runs the scanner's bundle (dist/scan-main.js,
// main.ts), and the parts it loads beside it (scan-regex.js, scan-sops.js), through a V8 code cache. Without one, every commit has Node parse and compile the
// scanner and its rule tables again, then run it in the interpreter until V8 compiles what is
// hot: a tenth of the hook's time. The cache is made after a run (then it holds the functions
// that ran, not only the top level) and used by the next runs; V8 refuses a cache made by
// another Node version, for other flags or from another source, and the next run writes a new
// one. Node 22's module.enableCompileCache does the same for what `require` loads; this works
// on Node 20 too. Not the v8-compile-cache package: it keeps its caches in the shared temp
// directory and hooks every module loaded after it.
//
// The cache holds compiled code of this bundle only (no data the scan read). It lives in the
// user's cache directory (0700), one file per bundle build; any error in reading or writing it
// leaves the run as it would be without it.

import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { Script } from 'node:vm';

const MAIN = path.join(__dirname, 'scan-main.js');
/** The bundles beside this one that the scanner loads (`require('./scan-regex.js')`): cached as it is. */
const PART = /^\.\/scan-[a-z]+\.js$/;

/** Where the cache goes: `$XDG_CACHE_HOME/keyward/code-cache` (macOS ~/Library/Caches, Windows %LOCALAPPDATA%); null to run without one. */
function cacheDir(): string | null {
  const env = process.env;
  if (env.KEYWARD_CODE_CACHE === '0') return null;
  const base = process.platform === 'win32' ? env.LOCALAPPDATA : process.platform === 'darwin' ? path.join(os.homedir(), 'Library', 'Caches') : env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return base ? path.join(base, 'keyward', 'code-cache') : null;
}

/**
 * Whether `dir` is this user's own and no one else may write in it: compiled code from the
 * cache runs, so a cache another user could replace is neither used nor written.
 */
function ownDir(dir: string): boolean {
  if (process.platform === 'win32') return true;
  const st = statSync(dir);
  return st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
}

function tryRead(dir: string, file: string): Buffer | undefined {
  try {
    return ownDir(dir) ? readFileSync(file) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether process `pid` still runs (a process of another user counts as running). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes the cache beside its final name, then renames it: a concurrent run reads a whole file
 * or none. Older builds' caches of the bundle go, and so do the temp files of runs that died
 * before their rename (a concurrent run's temp file is left to it).
 */
function save(dir: string, file: string, prefix: string, data: () => Buffer): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!ownDir(dir)) return;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data(), { mode: 0o600 });
    renameSync(tmp, file);
    for (const n of readdirSync(dir)) {
      const dead = /\.(\d+)\.tmp$/.exec(n);
      if (dead ? !running(Number(dead[1])) : n.startsWith(prefix) && path.join(dir, n) !== file && !n.endsWith('.tmp')) unlinkSync(path.join(dir, n));
    }
  } catch {
    // no cache: the next run compiles as this one did
  }
}

const dir = cacheDir();
const loaded = new Map<string, unknown>();

/** Runs the CommonJS bundle `file` (once), through its cache; returns its exports. */
function load(file: string): unknown {
  if (loaded.has(file)) return loaded.get(file);
  const source = readFileSync(file, 'utf8');
  const prefix = `${path.basename(file, '.js')}-`;
  let cache: string | null = null;
  if (dir) {
    // The build (size and time), Node's version and the platform name the cache; V8 checks its source and flags too.
    const st = statSync(file);
    cache = path.join(dir, `${prefix}${st.size}-${Math.round(st.mtimeMs)}-${process.version}-${process.platform}-${process.arch}.bin`);
  }
  const cachedData = dir && cache ? tryRead(dir, cache) : undefined;
  // As Node runs a CommonJS module: the source in its function wrapper, with the module's require.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, ...(cachedData ? { cachedData } : {}) });
  if (dir && cache && (!cachedData || script.cachedDataRejected === true)) {
    const to = cache;
    process.once('exit', () => save(dir, to, prefix, () => script.createCachedData()));
  }
  const mod = { exports: {} as unknown, filename: file, id: file, loaded: false };
  loaded.set(file, mod.exports);
  (script.runInThisContext() as (...a: unknown[]) => void).call(mod.exports, mod.exports, requireFor(file), mod, file, path.dirname(file));
  mod.loaded = true;
  loaded.set(file, mod.exports);
  return mod.exports;
}

/** `require` for a bundle: the parts beside it through load, anything else as Node loads it. */
function requireFor(file: string): NodeJS.Require {
  const base = createRequire(file);
  return Object.assign((id: string): unknown => (PART.test(id) ? load(path.join(path.dirname(file), id.slice(2))) : base(id)), base);
}

load(MAIN);
