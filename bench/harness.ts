// The benchmark harness: each `bench/*.bench.ts` measures one area against its reference tool
// in the same run and returns rows; run.ts prints them as a table and writes results.json.
import { spawn } from 'node:child_process';

export interface BenchRow {
  /** What is measured, e.g. "encrypt 1 GiB (MiB/s)". */
  metric: string;
  keyward: number;
  /** The reference tool's figure in the same run (age, sops, gitleaks), if there is one. */
  reference?: number;
  referenceTool?: string;
  /** keyward / reference, or reference / keyward for lower-is-better metrics. */
  ratio?: number;
  /** The goal, in words, e.g. ">= 2x age". */
  goal?: string;
  pass?: boolean;
  unit: string;
}

export interface BenchSection {
  name: string;
  rows: BenchRow[];
  notes?: string[];
}

export interface BenchContext {
  /** A scratch directory for this run (removed afterwards). */
  workDir: string;
  /** Quick mode (BENCH_QUICK=1): smaller sizes, for trying the harness. */
  quick: boolean;
  log: (line: string) => void;
}

export type Bench = (ctx: BenchContext) => Promise<BenchSection>;

export interface Measured {
  ms: number;
  /** Peak resident set size of the child, in bytes (from /usr/bin/time or /proc). */
  peakRss?: number;
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command and measures wall time and the child's peak RSS (via GNU time's %M when
 * available, else unmeasured). Input and output go to files given in the args, never pipes,
 * so the pipe does not throttle the tool.
 */
export function measure(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: 'ignore' | 'pipe'; input?: string } = {}): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const useTime = process.platform === 'linux';
    const argv = useTime ? ['-f', '__RSS_KB=%M', cmd, ...args] : args;
    const bin = useTime ? '/usr/bin/time' : cmd;
    const t0 = process.hrtime.bigint();
    const child = spawn(bin, argv, { env: opts.env ?? process.env, stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const m = /__RSS_KB=(\d+)/.exec(stderr);
      resolve({
        ms,
        code: code ?? -1,
        stdout,
        stderr: stderr.replace(/__RSS_KB=\d+\n?/, ''),
        ...(m ? { peakRss: Number(m[1]) * 1024 } : {}),
      });
    });
  });
}

/** The best (lowest) of n runs: the least disturbed by the rest of the machine. */
export async function bestOf(n: number, f: () => Promise<Measured>): Promise<Measured> {
  let best: Measured | undefined;
  for (let i = 0; i < n; i++) {
    const m = await f();
    if (m.code !== 0) throw new Error(`benchmark command failed (${m.code}): ${m.stderr.slice(0, 500)}`);
    if (!best || m.ms < best.ms) best = m;
  }
  return best!;
}

export const MiB = 1024 * 1024;

/** The median ms of `n` runs after one warm-up (whose caches the others find warm); a failed run throws. */
export async function median(n: number, f: () => Promise<Measured>): Promise<number> {
  const times: number[] = [];
  for (let i = -1; i < n; i++) {
    const m = await f();
    if (m.code !== 0) throw new Error(`benchmark command failed (${m.code}): ${m.stderr.slice(0, 400)}`);
    if (i >= 0) times.push(m.ms);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

/** Two decimals, for results.json. */
export function round(x: number): number {
  return Math.round(x * 100) / 100;
}
