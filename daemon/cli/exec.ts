// `keyward exec`: see daemon/exec/run.ts. Registered by main.ts.
import type { Command } from 'commander';
import { isKeywardError } from '../util/errors';
import { runExec } from '../exec/run';
import { collect, withBackend } from './context';

export function registerExecCommands(program: Command): void {
  program
    .command('exec')
    .description('run a program with secrets: sops files as environment variables (--env), age or sops files decrypted into a private RAM directory (--file); nothing touches the disk')
    .usage('[--env FILE]... [--file SRC[=NAME]]... [--allow-disk] -- COMMAND [ARGS...]')
    .argument('<command...>', 'the program and its arguments, after --')
    .option('--env <file>', 'a sops file whose top-level values become environment variables, named as sops exec-env names them (repeatable; later files win)', collect, [])
    .option('--file <src[=name]>', 'an age or sops file decrypted into a private directory on a RAM file system; its path is in $KEYWARD_FILE_NAME and replaces {NAME} in ARGS (repeatable; NAME defaults to the file name without .age, upper-cased)', collect, [])
    .option('--allow-disk', 'where no RAM file system is usable, put the decrypted files in a private temp directory on disk (with a warning)')
    .action(async (command: string[], o: { env: string[]; file: string[]; allowDisk?: boolean }) => {
      const warn = (line: string) => process.stderr.write(`keyward: ${line}\n`);
      let outcome;
      try {
        outcome = await runExec(
          { env: o.env, files: o.file, allowDisk: o.allowDisk ?? false, command },
          (params) => withBackend((b) => b.call('execOpen', params)),
          warn,
        );
      } catch (e) {
        const signal = (e as { signal?: NodeJS.Signals }).signal;
        if (signal) process.kill(process.pid, signal);
        const exitCode = (e as { exitCode?: number }).exitCode;
        if (isKeywardError(e) && exitCode !== undefined) {
          warn(`${e.message}${e.hint ? ` (${e.hint})` : ''}`);
          process.exitCode = exitCode;
          return;
        }
        throw e;
      }
      // As a shell does: the program's status is ours; a program killed by a signal kills us with it.
      // (Not SIGUSR1: Node takes it to start its inspector, not to exit.)
      if (outcome.signal && outcome.signal !== 'SIGUSR1') process.kill(process.pid, outcome.signal);
      process.exitCode = outcome.code;
    });
}
