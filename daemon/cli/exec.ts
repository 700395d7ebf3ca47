// `keyward exec`: see daemon/exec/run.ts. Registered by main.ts; its usual command lines take
// a lean path that loads none of the rest of the CLI (cli/entry.ts, cli/exec-lean.ts).
import type { Command } from 'commander';
import { connectLight } from './connect-light';
import { collect, globals } from './context';
import { execCommand } from './exec-run';

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
      const g = globals();
      // No trust prompt: exec/open only decrypts, and never asks for consent to recipients.
      await execCommand({ env: o.env, files: o.file, allowDisk: o.allowDisk ?? false, command }, { home: g.homeDir, daemon: g.daemon, connect: connectLight });
    });
}
