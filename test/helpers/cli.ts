import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './tools';

export const CLI = path.resolve(__dirname, '../../dist/cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A private KEYWARD_HOME and runtime dir, and a way to run the built `keyward` in them. */
export class CliSandbox {
  private constructor(
    readonly dir: string,
    readonly env: NodeJS.ProcessEnv,
    private readonly cleanupDir: () => Promise<void>,
  ) {}

  static async create(extraEnv: NodeJS.ProcessEnv = {}): Promise<CliSandbox> {
    try {
      await fsp.access(CLI);
    } catch {
      throw new Error('dist/cli.js is missing: run npm run build first (npm test does)');
    }
    const { dir, cleanup } = await tempDir('keyward-cli-');
    const run = path.join(dir, 'run');
    await fsp.mkdir(run, { mode: 0o700 });
    const env = { ...process.env, KEYWARD_HOME: path.join(dir, 'home'), XDG_RUNTIME_DIR: run, ...extraEnv };
    return new CliSandbox(dir, env, cleanup);
  }

  get home(): string {
    return this.env.KEYWARD_HOME!;
  }

  path(...p: string[]): string {
    return path.join(this.dir, ...p);
  }

  run(args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): CliResult {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      env: { ...this.env, ...opts.env },
      cwd: this.dir,
      input: opts.input,
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error) throw r.error;
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Runs with binary stdout (e.g. `decrypt -o -`). */
  runBuffer(args: string[]): { code: number; stdout: Buffer; stderr: string } {
    const r = spawnSync(process.execPath, [CLI, ...args], { env: this.env, cwd: this.dir, timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
    if (r.error) throw r.error;
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
  }

  /** Runs and asserts success; returns stdout. */
  ok(args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): string {
    const r = this.run(args, opts);
    if (r.code !== 0) throw new Error(`keyward ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  async dispose(): Promise<void> {
    this.run(['daemon', 'stop']);
    await this.cleanupDir();
  }
}
