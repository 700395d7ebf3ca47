// Entry point of dist/daemon.js: runs the daemon in the foreground until SIGTERM/SIGINT or a
// `daemon/shutdown` request. `keyward daemon start` spawns this detached.
import { keywardHome } from '../util/paths';
import type { RunningDaemon } from './daemon';

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
  // The daemon's code is dist/cli-local.js, which `--no-daemon` runs too: one copy of it, not
  // two (esbuild.mjs bundles this entry with a require of it).
  const { startDaemon } = await import('../cli/local');
  const d = await startDaemon({ home: keywardHome() });
  started.daemon = d;
  if (started.requested) void d.stop(started.requested);
  await d.closed;
  process.exit(0);
}

main().catch((e: unknown) => {
  const msg = e instanceof Error ? e.message : String(e);
  const hint = typeof e === 'object' && e !== null && 'hint' in e ? ` (${String(e.hint)})` : '';
  process.stderr.write(`keyward daemon: ${msg}${hint}\n`);
  process.exit(1);
});
