import { spawnSync } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlive } from '../../daemon/util/process';

/**
 * Finds an external tool on PATH. When it is missing, the suite is skipped on a developer's
 * machine but fails under CI=true: with CI, nothing may be skipped.
 */
export function requireTool(ctx: Mocha.Context, name: string): string {
  const found = which(name);
  if (found) return found;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    throw new Error(`${name} is not installed, and CI=true forbids skipping: run npm test, which installs it`);
  }
  ctx.skip();
}

export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    const r = spawnSync('test', ['-x', p]);
    if (r.status === 0) return p;
  }
  return undefined;
}

/**
 * A fresh private temp directory, removed by the returned cleanup. Before it is removed, any
 * process still living in it (a daemon whose KEYWARD_HOME is inside) is stopped: a daemon that
 * lost a race to start may only get going after its test ended, and would otherwise re-create
 * its home and run on.
 */
export async function tempDir(prefix = 'keyward-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  await fsp.chmod(dir, 0o700);
  return {
    dir,
    cleanup: async () => {
      await stopProcessesIn(dir);
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Processes (other than this one) whose KEYWARD_HOME is `dir` or inside it; Linux only (/proc). */
export async function processesIn(dir: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await fsp.readdir('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    let environ: string;
    try {
      environ = await fsp.readFile(`/proc/${e}/environ`, 'latin1');
    } catch {
      continue; // gone, or not ours
    }
    const home = environ.split('\0').find((v) => v.startsWith('KEYWARD_HOME='))?.slice('KEYWARD_HOME='.length);
    if (home !== undefined && (home === dir || home.startsWith(dir + path.sep))) found.push(Number(e));
  }
  return found;
}

/** Stops every process living in `dir` (SIGTERM, then SIGKILL after 5 s) and waits until they are gone. */
export async function stopProcessesIn(dir: string): Promise<void> {
  const pids = await processesIn(dir);
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal('SIGTERM');
  for (let i = 0; i < 100 && pids.some(isAlive); i++) await new Promise((r) => setTimeout(r, 50));
  if (!pids.some(isAlive)) return;
  signal('SIGKILL');
  for (let i = 0; i < 100 && pids.some(isAlive); i++) await new Promise((r) => setTimeout(r, 50));
}

/**
 * The version of a reference tool that `scripts/install-deps.sh` installs (its `NAME_VERSION=`
 * line: one place says which version the interop suites run against).
 */
export function pinnedVersion(name: 'AGE' | 'SOPS'): string {
  const script = readFileSync(path.resolve(__dirname, '../../scripts/install-deps.sh'), 'utf8');
  const m = new RegExp(`^${name}_VERSION=v?(\\S+)$`, 'm').exec(script);
  if (!m?.[1]) throw new Error(`scripts/install-deps.sh pins no ${name}_VERSION`);
  return m[1];
}

/**
 * Fails (under CI=true; else skips) unless `tool --version` names the pinned version: interop
 * results against another version of the reference tool say nothing about this one.
 */
export function requireVersion(ctx: Mocha.Context, tool: string, name: 'AGE' | 'SOPS', args = ['--version']): void {
  const bin = requireTool(ctx, tool);
  const want = pinnedVersion(name);
  const out = spawnSync(bin, args, { encoding: 'utf8', timeout: 30_000 });
  const got = /v?(\d+\.\d+\.\d+)/.exec(`${out.stdout ?? ''} ${out.stderr ?? ''}`)?.[1];
  if (got === want) return;
  const msg = `${tool} on PATH is ${got ?? 'of an unknown version'} (${bin}); the interop suites run against ${want}: run npm test, which installs it`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(msg);
  ctx.skip();
}
