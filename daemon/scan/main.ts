// A small entry point for the pre-commit hook: `node dist/scan.js scan --staged`. It holds
// only the scanner (no daemon client, no protocol validators, no age engine), so that a
// commit waits for the scan and not for node to load the whole CLI. Same commands, options
// and exit codes as `keyward scan` and `keyward hook`.

import { Command, CommanderError } from 'commander';
import { isKeywardError } from '../util/errors';
import { VERSION } from '../version';
import { registerScanCommands, SCAN_EXIT } from './commands';

const program = new Command();
program
  .name('keyward')
  .description('Keyward secret scanner (the pre-commit subset of the keyward CLI).')
  .version(VERSION)
  .option('--json', 'print results as JSON')
  .showHelpAfterError()
  .exitOverride();

registerScanCommands(program, { json: () => program.opts<{ json?: boolean }>().json === true });

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : SCAN_EXIT.error;
      return;
    }
    const msg = isKeywardError(e) ? `${e.message}${e.hint ? ` (${e.hint})` : ''}` : `internal error: ${e instanceof Error ? e.message : String(e)} (please report it)`;
    process.stderr.write(`keyward: ${msg}\n`);
    process.exitCode = SCAN_EXIT.error;
  }
}

void main();
