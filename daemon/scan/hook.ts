// `keyward hook install|uninstall`: a git pre-commit hook that runs `keyward scan --staged`.
// It goes where git looks for hooks (`git rev-parse --git-path hooks`, which follows
// core.hooksPath), keeps a hook that was there before (renamed, and run first), and
// installing or uninstalling twice changes nothing the second time.

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import { KeywardError, errnoCode, ioError } from '../util/errors';
import { repoRoot, runGit } from './git';

export const HOOK_MARKER = 'keyward-hook v1';
export const PREVIOUS_SUFFIX = '.keyward-previous';

export interface HookResult {
  hook: string;
  action: 'installed' | 'updated' | 'unchanged' | 'removed' | 'not-installed';
  /** The hook that was there before and now runs first (install), or was put back (uninstall). */
  chained?: string;
}

export interface HookCommand {
  /** The node binary and keyward's script, baked in so the hook works without PATH changes. */
  node: string;
  script: string;
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

export function hookScript(cmd: HookCommand): string {
  return `#!/bin/sh
# Keyward pre-commit hook (${HOOK_MARKER}): refuses a commit that would leak a hardcoded key
# or an unencrypted protected file. Installed by \`keyward hook install\`; remove it with
# \`keyward hook uninstall\`. A hook that was here before is kept as pre-commit${PREVIOUS_SUFFIX}
# and runs first. Skip once with git commit --no-verify.
previous="$(dirname "$0")/pre-commit${PREVIOUS_SUFFIX}"
if [ -x "$previous" ]; then
  "$previous" "$@" || exit $?
fi
# The scan opens no network connection: extra CA certificates would only slow node's start.
unset NODE_EXTRA_CA_CERTS
node=${shellQuote(cmd.node)}
script=${shellQuote(cmd.script)}
fast="$(dirname "$script")/scan.js"
if [ -x "$node" ] && [ -f "$fast" ]; then
  exec "$node" "$fast" scan --staged
elif [ -x "$node" ] && [ -f "$script" ]; then
  exec "$node" "$script" scan --staged
elif command -v keyward >/dev/null 2>&1; then
  exec keyward scan --staged
fi
echo "keyward: cannot find keyward to scan this commit; install it, or remove the hook with keyward hook uninstall" >&2
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

export async function installHook(cwd: string, cmd: HookCommand): Promise<HookResult> {
  const dir = await hooksDir(cwd);
  const hook = path.join(dir, 'pre-commit');
  const previous = hook + PREVIOUS_SUFFIX;
  const script = hookScript(cmd);
  const current = await readText(hook);
  let chained: string | undefined;
  let action: HookResult['action'] = 'installed';
  if (current !== null && current.includes(HOOK_MARKER)) {
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
  if (current === null || !current.includes(HOOK_MARKER)) return { hook, action: 'not-installed' };
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
