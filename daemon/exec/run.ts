// `keyward exec`: runs a program with secrets from sops files in its environment and decrypted
// files in a private directory on a RAM file system, as `sops exec-env` and `sops exec-file`
// do, but with several files at once, files that never touch a disk, and cleanup that holds
// when Keyward is signalled or killed:
// - The program inherits stdin, stdout and stderr; signals sent to Keyward are passed on to
//   it; Keyward exits with its exit code, or dies of the signal that ended it.
// - The directory is removed when the program exits, at once when Keyward gets a terminating
//   signal (the program keeps the files it has open), on any error, and, if Keyward was
//   killed (kill -9), by the next `keyward exec`, which sweeps directories whose owner is gone.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isatty } from 'node:tty';
import type { ResultOf } from '../protocol';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';
import { makePrivateDir, removePrivateDir, sweepPrivateDirs } from '../util/ramdir';
import type { RecordedTemp } from '../util/temps';

export interface ExecRequest {
  /** sops files whose values become environment variables (later files win). */
  env: string[];
  /** `SRC` or `SRC=NAME`: age or sops files to decrypt into the private directory. */
  files: string[];
  allowDisk: boolean;
  /** The program and its arguments. */
  command: string[];
}

/** What runs the daemon's `exec/open` (through the daemon, or in-process) and lets go of it. */
export type OpenSecrets = (params: { program: string; env: { path: string }[]; files: { path: string; output: string }[]; allowDisk?: boolean }) => Promise<ResultOf<'execOpen'>>;

export interface FileSpec {
  src: string;
  name: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const FILE_VARIABLE_PREFIX = 'KEYWARD_FILE_';

/** `SRC` or `SRC=NAME`; NAME defaults to SRC's file name without `.age`, as an identifier. */
export function parseFileSpec(spec: string): FileSpec {
  const eq = spec.lastIndexOf('=');
  if (eq > 0 && NAME.test(spec.slice(eq + 1))) return { src: spec.slice(0, eq), name: spec.slice(eq + 1) };
  if (spec.endsWith('=')) {
    throw new KeywardError(ErrorCode.InvalidInput, `no name after "=" in --file ${spec}`, 'write --file SRC=NAME, NAME being letters, digits and "_"');
  }
  const base = outputName(spec);
  let name = base.replace(/[^A-Za-z0-9_]/g, '_').toUpperCase();
  if (!/^[A-Za-z_]/.test(name)) name = `_${name}`;
  return { src: spec, name };
}

/** The file's name in the private directory: its own, less `.age`. */
function outputName(src: string): string {
  const base = path.basename(src);
  return base.endsWith('.age') && base !== '.age' ? base.slice(0, -4) : base;
}

/** Replaces `{NAME}` in each argument with that file's path; other braces are left alone. */
export function substitute(args: readonly string[], paths: ReadonlyMap<string, string>): string[] {
  return args.map((a) => a.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, n: string) => paths.get(n) ?? whole));
}

/** Signals passed on to the program; the first four also end Keyward's wait. */
const TERMINATING = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;
const FORWARDED = [...TERMINATING, 'SIGUSR1', 'SIGUSR2'] as const;

export interface ExecOutcome {
  code: number;
  /** The signal the program died of; the caller dies of it too. */
  signal?: NodeJS.Signals;
}

/**
 * Runs the program and resolves when it has exited and the directory is gone. Throws a
 * KeywardError (the directory already removed) when it cannot start.
 */
export async function runExec(req: ExecRequest, open: OpenSecrets, warn: (line: string) => void): Promise<ExecOutcome> {
  const [program, ...args] = req.command;
  if (program === undefined || program === '') throw new KeywardError(ErrorCode.InvalidInput, 'no program to run', 'give it after --: keyward exec --env secrets.enc.yaml -- ./serve.sh');
  const specs = req.files.map(parseFileSpec);
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) throw new KeywardError(ErrorCode.InvalidInput, `two --file options are named ${s.name}`, 'name them apart: --file SRC=NAME');
    seen.add(s.name);
  }

  // Directories a killed run left behind are removed first, whatever else happens.
  sweepPrivateDirs();

  let dir: string | undefined;
  let recorded: RecordedTemp | undefined;
  const cleanup = () => {
    if (dir !== undefined) removePrivateDir(dir);
    recorded?.done();
    dir = undefined;
    recorded = undefined;
  };
  let child: ReturnType<typeof spawn> | undefined;
  let signalled: NodeJS.Signals | undefined;
  let interrupt: (sig: NodeJS.Signals) => void = () => undefined;
  /** Rejects when a terminating signal comes before the program runs: Keyward stops at once. */
  const interrupted = new Promise<never>((_, reject) => {
    interrupt = (sig) => reject(Object.assign(new KeywardError(ErrorCode.Cancelled, `stopped by ${sig} before the program started`), { signal: sig }));
  });
  interrupted.catch(() => undefined); // handled where it is awaited
  const listeners = new Map<NodeJS.Signals, () => void>();
  for (const sig of FORWARDED) {
    const terminating = (TERMINATING as readonly string[]).includes(sig);
    // Ctrl-C and Ctrl-\ on a terminal reach the whole foreground process group: the program,
    // which shares Keyward's group and terminal, got them already. Passed on, it would get each
    // twice (a second Ctrl-C ends many programs at once). Other signals, and these from a kill
    // when no terminal is attached, are only Keyward's: they are passed on.
    // (isatty, not process.stdin: that would make a stream of the fd the program inherits.)
    const fromTerminal = (sig === 'SIGINT' || sig === 'SIGQUIT') && isatty(0);
    const l = () => {
      if (!fromTerminal && child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          child.kill(sig);
        } catch {
          // it exited meanwhile
        }
      }
      if (!terminating) return;
      cleanup();
      // Before the program runs, Keyward itself stops, as it would without a handler.
      if (child === undefined) {
        signalled ??= sig;
        interrupt(sig);
      }
    };
    listeners.set(sig, l);
    process.on(sig, l);
  }
  process.on('exit', cleanup);
  const stopListening = () => {
    for (const [sig, l] of listeners) process.removeListener(sig, l);
    process.removeListener('exit', cleanup);
  };
  const stopIfSignalled = () => {
    if (signalled !== undefined) interrupt(signalled);
    return signalled !== undefined ? interrupted : Promise.resolve();
  };

  try {
    const outputs = new Map<string, string>();
    if (specs.length) {
      const made = await makePrivateDir({ allowDisk: req.allowDisk, kind: 'exec' });
      dir = made.dir;
      recorded = made.recorded;
      if (made.onDisk) warn(`warning: no RAM file system found; the decrypted files are on disk in ${made.dir} (0700) while the program runs`);
      for (const s of specs) {
        mkdirSync(path.join(made.dir, s.name), { mode: 0o700 });
        outputs.set(s.name, path.join(made.dir, s.name, outputName(s.src)));
      }
    }
    await stopIfSignalled();
    // Nothing to decrypt: no daemon to reach (or start).
    const opened =
      req.env.length || specs.length
        ? await Promise.race([
            open({
              program: path.basename(program),
              env: req.env.map((f) => ({ path: path.resolve(f) })),
              files: specs.map((s) => ({ path: path.resolve(s.src), output: outputs.get(s.name)! })),
              ...(req.allowDisk ? { allowDisk: true } : {}),
            }),
            interrupted,
          ])
        : { env: [], files: [], warnings: [] };
    await stopIfSignalled();
    for (const w of opened.warnings) warn(`warning: ${w}`);

    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const v of opened.env) env[v.name] = v.value;
    for (const [name, file] of outputs) env[`${FILE_VARIABLE_PREFIX}${name}`] = file;

    return await new Promise<ExecOutcome>((resolve, reject) => {
      const c = spawn(program, substitute(args, outputs), { stdio: 'inherit', env });
      child = c;
      c.once('error', (e: NodeJS.ErrnoException) => {
        const notFound = e.code === 'ENOENT';
        reject(
          Object.assign(
            new KeywardError(ErrorCode.InvalidInput, `cannot run ${program}: ${notFound ? 'command not found' : (e.code ?? 'error')}`, notFound ? 'check the program name and PATH' : 'check that it is executable'),
            { exitCode: notFound ? 127 : 126 },
          ),
        );
      });
      c.once('exit', (code, signal) => resolve(signal ? { code: 128 + (os.constants.signals[signal] ?? 0), signal } : { code: code ?? 1 }));
    });
  } finally {
    cleanup();
    stopListening();
  }
}
