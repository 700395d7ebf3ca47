// Processes the crash and fault tests start and stop: the built CLI run in the background (so a
// test can act while a request is in flight), and the daemon of a sandbox, killed by its pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { daemonPaths } from '../../daemon/util/paths';
import { isAlive } from '../../daemon/util/process';
import { CLI, type CliSandbox } from './cli';

export interface Running {
  child: ChildProcess;
  /** Bytes the CLI printed on stdout so far. */
  stdout: Buffer[];
  stderr(): string;
  /** Settles when it exited: its code (null when a signal ended it) and output. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }>;
}

/** Starts `keyward ARGS` in the sandbox without waiting for it; killed after `limitMs` at most. */
export function spawnCli(sb: CliSandbox, args: string[], opts: { env?: NodeJS.ProcessEnv; limitMs?: number; stdin?: 'ignore' | 'pipe' } = {}): Running {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...sb.env, ...opts.env }, cwd: sb.dir, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const limit = setTimeout(() => child.kill('SIGKILL'), opts.limitMs ?? 60_000);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }>((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
  });
  return { child, stdout: out, stderr: () => err, done };
}

/** The pid of the sandbox's daemon, from its lock file; undefined when none holds it. */
export async function daemonPid(sb: CliSandbox): Promise<number | undefined> {
  try {
    const v = JSON.parse(await fsp.readFile(daemonPaths(sb.home, sb.env).lock, 'utf8')) as { pid: number; owner: string };
    return v.owner === 'daemon' ? v.pid : undefined;
  } catch {
    return undefined;
  }
}

/** kill -9 of a process, and waits until it is gone. */
export async function killHard(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await until(() => !isAlive(pid), 10_000, `process ${pid} did not die`);
}

/** kill -9 of the sandbox's daemon (it must be running), and waits until it is gone. */
export async function killDaemon(sb: CliSandbox): Promise<number> {
  const pid = await daemonPid(sb);
  if (pid === undefined) throw new Error('no daemon runs in the sandbox');
  await killHard(pid);
  return pid;
}

/** Waits until `cond` holds (checked every 10 ms), or fails after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The keystore of a sandbox: the Secret Service where the tests run in a session with one (npm
 * test provides it: a daemon start then costs no scrypt), else the passphrase-file keystore.
 * Either way the suite runs, never skips. `first` goes before the first `keys generate`.
 */
export function sandboxKeystore(passphrase: string): { env: NodeJS.ProcessEnv; first: string[] } {
  if (process.env.DBUS_SESSION_BUS_ADDRESS) return { env: {}, first: [] };
  return { env: { KEYWARD_KEYSTORE_PASSPHRASE: passphrase }, first: ['--keystore', 'file'] };
}
