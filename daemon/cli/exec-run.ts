// What `keyward exec` does once its command line is read, by commander (cli/exec.ts) or on the
// lean path (cli/exec-lean.ts): run the program (daemon/exec/run.ts) with the daemon, or
// in-process, and end as the program ended.
import { isKeywardError } from '../util/errors';
import { runExec, type ExecRequest, type OpenSecrets } from '../exec/run';
import { useBackend, type BackendOptions } from './backend';

/** Asks the daemon for the secrets; `locked`: the locked-keystore error an earlier ask of the same request got. */
export type Regular = (params: Parameters<OpenSecrets>[0], locked?: Error) => ReturnType<OpenSecrets>;

/**
 * `open`: what asks the daemon for the secrets, given the usual way (`regular`); the lean path
 * answers with the request it sent at its start (cli/exec-lean.ts).
 */
export async function execCommand(req: ExecRequest, backend: BackendOptions, open?: (params: Parameters<OpenSecrets>[0], regular: Regular) => ReturnType<OpenSecrets>): Promise<void> {
  const warn = (line: string) => process.stderr.write(`keyward: ${line}\n`);
  const regular: Regular = (params, locked) => {
    let asked = locked === undefined;
    // An answer already said the keystore is locked: useBackend unlocks it first, then asks.
    return useBackend(backend, async (b) => {
      if (asked) return b.call('execOpen', params);
      asked = true;
      throw locked as Error;
    });
  };
  let outcome;
  try {
    outcome = await runExec(req, open ? (params) => open(params, regular) : regular, warn);
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
}
