import type { MethodKey, ParamsOf, ResultOf } from '../protocol';
import { askOnTerminal, registerPluginHandlers, showWaiting } from './plugin-prompt';

/** What the CLI calls: the daemon over its socket, or the same handlers in-process. */
export interface Backend {
  call<K extends MethodKey>(key: K, params: ParamsOf<K>): Promise<ResultOf<K>>;
  onNotification(method: string, handler: (params: unknown) => void): void;
  close(): Promise<void>;
}

export async function connectBackend(opts: { home: string; daemon: boolean }): Promise<Backend> {
  if (opts.daemon) {
    // Loaded here, not at start: commands that reach no daemon (--version, help, scan) do
    // without it and its JSON-RPC library.
    const { DaemonClient, defaultDaemonScript } = await import('../client');
    const c = await DaemonClient.connectOrStart(opts.home, 'cli', defaultDaemonScript());
    registerPluginHandlers(c); // age plugins' questions come to this terminal
    return {
      call: (k, p) => c.call(k, p),
      onNotification: (m, h) => c.onNotification(m, h),
      close: () => Promise.resolve(c.close()),
    };
  }
  // The daemon's code, loaded only for --no-daemon (see server/index.ts). Age plugins ask on
  // this terminal and run in this process's environment.
  const { InProcess } = await import('../server/index');
  return InProcess.open(opts.home, { ask: askOnTerminal, waiting: (plugin, waiting) => showWaiting({ plugin, waiting }), env: () => Promise.resolve(process.env) });
}
