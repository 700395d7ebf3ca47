// What every command of the `keyward` CLI shares: the program, its global options, output,
// and the way to reach the daemon (or run in-process). Command areas register themselves on
// `program` from their own files; main.ts wires them.
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { ErrorCode } from '../protocol/errors';
import { KeywardError, isKeywardError } from '../util/errors';
import { keywardHome } from '../util/paths';
import { sweepTemps, useTempJournal } from '../util/temps';
import { VERSION } from '../version';
import { useBackend, type Backend } from './backend';
import { connectFull } from './connect-full';

interface GlobalOpts {
  home?: string;
  daemon: boolean;
  json?: boolean;
  keystore?: 'keychain' | 'file';
  trustRecipients?: boolean;
}

export const program = new Command();
program
  .name('keyward')
  .description('Keep ML model files and secret configs encrypted, with keys in the OS keychain.')
  .version(VERSION)
  .option('--home <dir>', 'state directory (default: $KEYWARD_HOME or the platform data dir)')
  .option('--no-daemon', 'run in-process instead of through the daemon')
  .option('--json', 'print results as JSON')
  .addOption(new Option('--keystore <backend>', 'where keys live (chosen before the first key)').choices(['keychain', 'file']))
  .option('--trust-recipients', "agree, without asking, to the recipients a repository's .keyward.yaml or .sops.yaml names (check them first: keyward trust show)")
  .showHelpAfterError()
  .exitOverride();

// Before every command: this process's temps are journaled in the home, and what crashed
// keyward processes of the home left is removed (see util/temps.ts). Cheap when there is
// nothing: one directory listing.
program.hook('preAction', async () => {
  const { homeDir } = globals();
  useTempJournal(homeDir);
  await sweepTemps(homeDir);
});

export function globals(): GlobalOpts & { homeDir: string } {
  const o = program.opts<GlobalOpts>();
  return { ...o, homeDir: o.home ? path.resolve(o.home) : keywardHome() };
}

export function print(human: string, json: unknown): void {
  if (globals().json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  else if (human) process.stdout.write(human + '\n');
}

/** Runs `fn` against the daemon or in-process, handling a locked file keystore once (backend.ts, useBackend). */
export async function withBackend<T>(fn: (b: Backend) => Promise<T>, opts: { keys?: boolean } = {}): Promise<T> {
  const g = globals();
  const { trusting } = await import('./trust');
  return useBackend({ home: g.homeDir, daemon: g.daemon, connect: connectFull, ...(g.keystore ? { keystore: g.keystore } : {}), ...(opts.keys ? { keys: true } : {}), wrap: trusting, warnFileKeystore }, fn);
}

/** Whether `e` says the connection to the daemon dropped before its answer (see client.ts). */
export function isConnectionLost(e: unknown): e is KeywardError {
  return isKeywardError(e) && e.code === ErrorCode.DaemonUnavailable && (e as { connectionLost?: unknown }).connectionLost === true;
}

/**
 * Runs a request that streams plaintext to stdout: if the daemon goes away meanwhile, what was
 * written is a prefix, and the error says so (exit 7, never 0).
 */
export async function streamingToStdout<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!isConnectionLost(e)) throw e;
    throw Object.assign(new KeywardError(e.code, `${e.message}: the output written to stdout is incomplete`, 'discard it, and decrypt again'), { connectionLost: true });
  }
}

export function warnFileKeystore(): void {
  process.stderr.write('keyward: warning: keys are kept in a passphrase-encrypted file, not the OS keychain; keep the passphrase safe and the file private\n');
}

export function collect(v: string, acc: string[]): string[] {
  return [...acc, v];
}

export function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new KeywardError(ErrorCode.InvalidInput, `not a positive whole number: ${v}`);
  return n;
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

