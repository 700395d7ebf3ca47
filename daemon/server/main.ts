// Entry point of dist/daemon.js: runs the daemon in the foreground until SIGTERM/SIGINT or a
// `daemon/shutdown` request. `keyward daemon start` spawns this detached.
import { keywardHome } from '../util/paths';
import { startDaemon } from './daemon';

async function main(): Promise<void> {
  const d = await startDaemon({ home: keywardHome() });
  const stop = (sig: string) => void d.stop(sig);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  await d.closed;
  process.exit(0);
}

main().catch((e: unknown) => {
  const msg = e instanceof Error ? e.message : String(e);
  const hint = typeof e === 'object' && e !== null && 'hint' in e ? ` (${String(e.hint)})` : '';
  process.stderr.write(`keyward daemon: ${msg}${hint}\n`);
  process.exit(1);
});
