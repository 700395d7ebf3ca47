import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

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

/** A fresh private temp directory, removed by the returned cleanup. */
export async function tempDir(prefix = 'keyward-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  await fsp.chmod(dir, 0o700);
  return { dir, cleanup: () => fsp.rm(dir, { recursive: true, force: true }) };
}
