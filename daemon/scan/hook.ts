// `keyward hook install|uninstall`: a git pre-commit hook that runs `keyward scan --staged`.
// It goes where git looks for hooks (`git rev-parse --git-path hooks`, which follows
// core.hooksPath), keeps a hook that was there before (renamed, and run first), and
// installing or uninstalling twice changes nothing the second time.

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import { KeywardError, errnoCode, ioError } from '../util/errors';
import { repoRoot, runGit } from './git';

export const HOOK_MARKER = 'keyward-hook v2';
/** Any version of Keyward's hook (v1 hard-coded the path of the install that wrote it). */
const ANY_MARKER = /keyward-hook v\d+/;
export const PREVIOUS_SUFFIX = '.keyward-previous';

export interface HookResult {
  hook: string;
  action: 'installed' | 'updated' | 'unchanged' | 'removed' | 'not-installed';
  /** The hook that was there before and now runs first (install), or was put back (uninstall). */
  chained?: string;
}

export interface HookCommand {
  /** The node binary and keyward's script when the hook was installed (see hookScript for how it finds them later). */
  node: string;
  script: string;
}

/**
 * When `script` is inside an editor extension (`<extensions>/<publisher>.keyward-<version>/dist/`),
 * the extensions folder and the extension's id: its versioned folder changes at every update.
 */
export function extensionHome(script: string): { dir: string; id: string } | null {
  const dist = path.dirname(script);
  if (path.basename(dist) !== 'dist') return null;
  const ext = path.dirname(dist);
  const m = /^([a-z0-9][a-z0-9-]*\.keyward)-\d+\.\d+\.\d+/i.exec(path.basename(ext));
  return m ? { dir: path.dirname(ext), id: m[1]! } : null;
}

async function hooksDir(cwd: string): Promise<string> {
  if (!(await repoRoot(cwd))) throw new KeywardError(ErrorCode.InvalidInput, `${cwd} is not in a git work tree`, 'run it inside the repository');
  const r = await runGit(['rev-parse', '--git-path', 'hooks'], cwd);
  if (r.code !== 0) throw new KeywardError(ErrorCode.InvalidInput, 'cannot find the hooks directory', r.stderr.trim().split('\n')[0]);
  const dir = path.resolve(cwd, r.stdout.toString('utf8').trim());
  if (/(?:^|[\\/])\.husky(?:[\\/]_)?$/.test(dir)) {
    throw new KeywardError(
      ErrorCode.IllegalState,
      `hooks are managed by husky (core.hooksPath is ${dir})`,
      'add the line "keyward scan --staged" to .husky/pre-commit instead',
    );
  }
  return dir;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The hook: finds Keyward when it runs, not only where it was installed from, so that it
 * survives an update of the editor extension (which replaces the extension's versioned
 * folder) or of node. It looks, in order, for the newest folder of the same extension (not
 * one the editor marked obsolete), the script it was installed from, `keyward` on PATH, and
 * the repository's node_modules/.bin/keyward. Found nowhere, it refuses the commit and says
 * how to fix that: a check that cannot run never lets a commit through silently.
 */
export function hookScript(cmd: HookCommand): string {
  const ext = extensionHome(cmd.script);
  return `#!/bin/sh
# Keyward pre-commit hook (${HOOK_MARKER}): refuses a commit that would leak a hardcoded key,
# plaintext model weights or an unencrypted protected file. Installed by \`keyward hook install\`;
# remove it with \`keyward hook uninstall\`. A hook that was here before is kept as
# pre-commit${PREVIOUS_SUFFIX} and runs first. Skip once with git commit --no-verify.
previous="$(dirname "$0")/pre-commit${PREVIOUS_SUFFIX}"
if [ -x "$previous" ]; then
  "$previous" "$@" || exit $?
fi
# The scan opens no network connection: extra CA certificates would only slow node's start.
unset NODE_EXTRA_CA_CERTS
# Where Keyward was installed from. An editor extension moves at every update (its folder
# name holds its version): the newest folder of the same extension is looked for first.
node=${shellQuote(cmd.node)}
script=${shellQuote(cmd.script)}
extensions=${shellQuote(ext?.dir ?? '')}
extension=${shellQuote(ext?.id ?? '')}
found=
pick() {
  if [ -f "$1/scan.js" ]; then found="$1/scan.js"; elif [ -f "$1/cli.js" ]; then found="$1/cli.js"; else return 1; fi
}
# newer A B: version A is above version B (dot-separated numbers; a "-suffix" is ignored).
newer() {
  a=\${1%%-*} b=\${2%%-*}
  while [ -n "$a$b" ]; do
    x=\${a%%.*} y=\${b%%.*}
    case $x in ''|*[!0-9]*) x=0 ;; esac
    case $y in ''|*[!0-9]*) y=0 ;; esac
    [ "$x" -gt "$y" ] && return 0
    [ "$x" -lt "$y" ] && return 1
    case $a in *.*) a=\${a#*.} ;; *) a= ;; esac
    case $b in *.*) b=\${b#*.} ;; *) b= ;; esac
  done
  return 1
}
if [ -n "$extensions" ] && [ -d "$extensions" ]; then
  obsolete=$(cat "$extensions/.obsolete" 2>/dev/null)
  best= bestv=
  for d in "$extensions/$extension"-*; do
    [ -f "$d/dist/scan.js" ] || [ -f "$d/dist/cli.js" ] || continue
    name=\${d##*/}
    case $obsolete in *"\\"$name\\""*) continue ;; esac
    v=\${name#"$extension"-}
    if [ -z "$best" ] || newer "$v" "$bestv"; then best=$d bestv=$v; fi
  done
  [ -n "$best" ] && pick "$best/dist"
fi
[ -n "$found" ] || pick "$(dirname "$script")"
if [ -n "$found" ]; then
  [ -x "$node" ] || node=$(command -v node 2>/dev/null) || node=
  if [ -n "$node" ]; then
    # The editor's own binary may be the node that installed the hook (Electron): run it as node.
    ELECTRON_RUN_AS_NODE=1
    export ELECTRON_RUN_AS_NODE
    exec "$node" "$found" scan --staged
  fi
fi
if command -v keyward >/dev/null 2>&1; then
  exec keyward scan --staged
fi
if [ -x node_modules/.bin/keyward ]; then
  exec node_modules/.bin/keyward scan --staged
fi
echo "keyward: commit refused: cannot find Keyward to check it (installed from $script, gone now): reinstall the hook (keyward hook install, or Keyward: Install Pre-commit Hook in the editor), or commit once unchecked (git commit --no-verify)" >&2
exit 2
`;
}

async function readText(file: string): Promise<string | null> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw ioError(e, 'read hook', file);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.lstat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs the hook, or updates Keyward's hook of any version. With `onlyIfInstalled` (what an
 * editor runs at start to refresh a hook written by an older version), nothing is installed
 * where no Keyward hook is: the result is then 'not-installed'.
 */
export async function installHook(cwd: string, cmd: HookCommand, opts: { onlyIfInstalled?: boolean } = {}): Promise<HookResult> {
  const dir = await hooksDir(cwd);
  const hook = path.join(dir, 'pre-commit');
  const previous = hook + PREVIOUS_SUFFIX;
  const script = hookScript(cmd);
  const current = await readText(hook);
  let chained: string | undefined;
  let action: HookResult['action'] = 'installed';
  const ours = current !== null && ANY_MARKER.test(current);
  if (opts.onlyIfInstalled && !ours) return { hook, action: 'not-installed' };
  if (ours) {
    if (current === script) return { hook, action: 'unchanged', ...((await exists(previous)) ? { chained: previous } : {}) };
    action = 'updated';
  } else if (current !== null || (await exists(hook))) {
    if (await exists(previous)) {
      throw new KeywardError(ErrorCode.AlreadyExists, `both ${hook} and ${previous} exist`, `merge them by hand, or remove ${previous}, then install again`);
    }
    try {
      await fsp.rename(hook, previous);
    } catch (e) {
      throw ioError(e, 'keep the existing hook', hook);
    }
    chained = previous;
  }
  try {
    await fsp.mkdir(dir, { recursive: true });
    const tmp = `${hook}.keyward-tmp`;
    await fsp.writeFile(tmp, script, { mode: 0o755 });
    await fsp.chmod(tmp, 0o755);
    await fsp.rename(tmp, hook);
  } catch (e) {
    throw ioError(e, 'write hook', hook);
  }
  if (!chained && (await exists(previous))) chained = previous;
  return { hook, action, ...(chained ? { chained } : {}) };
}

export async function uninstallHook(cwd: string): Promise<HookResult> {
  const dir = await hooksDir(cwd);
  const hook = path.join(dir, 'pre-commit');
  const previous = hook + PREVIOUS_SUFFIX;
  const current = await readText(hook);
  if (current === null || !ANY_MARKER.test(current)) return { hook, action: 'not-installed' };
  try {
    if (await exists(previous)) {
      await fsp.rename(previous, hook);
      return { hook, action: 'removed', chained: hook };
    }
    await fsp.rm(hook, { force: true });
  } catch (e) {
    throw ioError(e, 'remove hook', hook);
  }
  return { hook, action: 'removed' };
}
