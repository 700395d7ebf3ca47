import { exitCodeFor, ExitCode } from '../protocol/errors';
import { isKeywardError } from '../util/errors';

/** How a command that failed ends: one line on stderr that says what to do, and its exit code. */
export function reportFailure(e: unknown): void {
  if (isKeywardError(e)) {
    process.stderr.write(`keyward: ${e.message}${e.hint ? ` (${e.hint})` : ''}\n`);
    process.exitCode = exitCodeFor(e.code);
    return;
  }
  process.stderr.write(`keyward: internal error: ${e instanceof Error ? e.message : String(e)} (please report it)\n`);
  process.exitCode = ExitCode.Failed;
}
