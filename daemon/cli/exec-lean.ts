// `keyward exec` on its lean path (dist/cli-exec.js, loaded by cli/entry.ts for the command
// lines cli/exec-argv.ts reads): the same run as through commander (cli/exec-run.ts), the same
// temp journal and sweep before it (cli/context.ts does them before every command), the same
// error lines and exit codes (cli/main.ts), without loading the rest of the CLI.
import * as path from 'node:path';
import { keywardHome } from '../util/paths';
import { sweepTemps, useTempJournal } from '../util/temps';
import { connectLight } from './connect-light';
import type { ExecArgv } from './exec-argv';
import { execCommand } from './exec-run';
import { reportFailure } from './failure';

export async function leanExec(a: ExecArgv): Promise<void> {
  try {
    const home = a.home !== undefined ? path.resolve(a.home) : keywardHome();
    useTempJournal(home);
    await sweepTemps(home);
    await execCommand({ env: a.env, files: a.files, allowDisk: a.allowDisk, command: a.command }, { home, daemon: a.daemon, connect: connectLight });
  } catch (e) {
    reportFailure(e);
  }
}
