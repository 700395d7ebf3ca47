// `keyward exec` on its lean path (dist/cli-exec.js, loaded by cli/entry.ts for the command
// lines cli/exec-argv.ts reads): the same run as through commander (cli/exec-run.ts), the same
// temp journal and sweep before it (cli/context.ts does them before every command), the same
// error lines and exit codes (cli/main.ts), without loading the rest of the CLI.
//
// A job waits for all of this at every start, so the daemon works while this process starts:
// the connection, its authentication and, for `--env` files, the `exec/open` request itself go
// out first; the run's own code (exec-run.ts, the temp journal) loads and the sweep runs while
// the daemon decrypts. The request is the one the run would send (runExec checks it is), and
// the run takes its answer: a locked keystore or a daemon not running yet are handled as usual.
import * as path from 'node:path';
import { LightClient, noDaemon } from '../light-client';
import type { OpenSecrets } from '../exec/run';
import { keywardHome } from '../util/paths';
import type { ExecArgv } from './exec-argv';
import type { Regular } from './exec-run';
import { reportFailure } from './failure';

type OpenParams = Parameters<OpenSecrets>[0];

export async function leanExec(a: ExecArgv): Promise<void> {
  let early: Promise<LightClient> | undefined;
  try {
    const home = a.home !== undefined ? path.resolve(a.home) : keywardHome();
    let sent: { params: OpenParams; answer: ReturnType<OpenSecrets> } | undefined;
    if (a.daemon && (a.env.length > 0 || a.files.length > 0)) {
      const { client, connected } = LightClient.begin(home, 'cli');
      early = connected.then(() => client);
      early.catch(() => undefined); // taken up by the run, which starts a daemon if none runs
      // Files need their private directory first (runExec makes it): only --env is asked now.
      const program = a.command[0];
      if (a.files.length === 0 && program) {
        const params: OpenParams = { program: path.basename(program), env: a.env.map((f) => ({ path: path.resolve(f) })), files: [] };
        const asked = client.call('execOpen', params);
        asked.catch(() => undefined); // a connection that failed fails it too: `connected` says why
        const answer = connected.then(() => asked);
        answer.catch(() => undefined); // taken up by the run, or by no one if it stops first
        sent = { params, answer };
      }
    }
    const [{ sweepTemps, useTempJournal }, { connectLight }, { execCommand }, { keystoreLocked }] = await Promise.all([import('../util/temps'), import('./connect-light'), import('./exec-run'), import('./backend')]);
    useTempJournal(home);
    await sweepTemps(home);
    const connect = (h: string) => connectLight(h, h === home ? early : undefined);
    const open = (params: OpenParams, regular: Regular): ReturnType<OpenSecrets> => {
      const early = sent;
      sent = undefined; // the early answer serves the first ask only
      if (!early || JSON.stringify(params) !== JSON.stringify(early.params)) return regular(params);
      return early.answer.catch((e: unknown) => {
        // What the usual way handles itself: no daemon yet (it starts one), a locked keystore
        // (it unlocks it, then asks: the daemon is not asked twice while locked).
        if (noDaemon(e)) return regular(params);
        if (keystoreLocked(e)) return regular(params, e as Error);
        throw e;
      });
    };
    await execCommand({ env: a.env, files: a.files, allowDisk: a.allowDisk, command: a.command }, { home, daemon: a.daemon, connect }, open);
  } catch (e) {
    reportFailure(e);
  } finally {
    // The connection ends with the run (the usual way closes it too; closing twice is harmless).
    early?.then((c) => c.close(), () => undefined);
  }
}
