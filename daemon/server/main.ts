// The daemon's entry (dist/daemon.js): runs the daemon in the foreground until SIGTERM/SIGINT or
// a `daemon/shutdown` request. `keyward daemon start` and the extension spawn it detached.
//
// The bundle is also the daemon's code for the CLI (`--no-daemon`, `keyward daemon run`), which
// loads it for ./index's exports: it runs the daemon only when it is the program Node started.
import { keywardHome } from '../util/paths';
import { startDaemon, type RunningDaemon } from './index';

export * from './index';

async function main(): Promise<void> {
  // Handlers first: a signal that arrives while the daemon is still starting (its socket may
  // already answer) must stop it cleanly too, not kill it and leave its socket behind.
  const started: { daemon?: RunningDaemon; requested?: string } = {};
  const stop = (sig: string) => {
    if (started.daemon) void started.daemon.stop(sig);
    else started.requested ??= sig;
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  const d = await startDaemon({ home: keywardHome() });
  started.daemon = d;
  if (started.requested) void d.stop(started.requested);
  await d.closed;
  process.exit(0);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    const hint = typeof e === 'object' && e !== null && 'hint' in e ? ` (${String(e.hint)})` : '';
    process.stderr.write(`keyward daemon: ${msg}${hint}\n`);
    process.exit(1);
  });
}
