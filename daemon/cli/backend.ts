import type { MethodKey, ParamsOf, ResultOf } from '../protocol';
import { ErrorCode } from '../protocol/errors';
import { isKeywardError } from '../util/errors';
import { askOnTerminal, registerPluginHandlers, showWaiting, type PluginChannel } from './plugin-prompt';

/** What the CLI calls: the daemon over its socket, or the same handlers in-process. */
export interface Backend {
  call<K extends MethodKey>(key: K, params: ParamsOf<K>): Promise<ResultOf<K>>;
  onNotification(method: string, handler: (params: unknown) => void): void;
  close(): Promise<void>;
}

/**
 * How a command reaches the daemon of `home`, starting it when none runs, with age plugins'
 * questions answered on this terminal (registerPluginHandlers): the full client
 * (cli/connect-full.ts) or the light one (cli/connect-light.ts, `keyward exec`: no JSON-RPC
 * library to load). Each is a module of its own, so that a bundle holds only the one it uses.
 */
export type ConnectDaemon = (home: string) => Promise<Backend>;

/** A client of the daemon as commands use it, age plugins' questions answered on this terminal. */
export function overDaemon(c: PluginChannel & { call: Backend['call']; close(): void }): Backend {
  registerPluginHandlers(c);
  return {
    call: (k, p) => c.call(k, p),
    onNotification: (m, h) => c.onNotification(m, h),
    close: () => Promise.resolve(c.close()),
  };
}

export async function connectBackend(opts: { home: string; daemon: boolean; connect: ConnectDaemon }): Promise<Backend> {
  if (opts.daemon) return opts.connect(opts.home);
  // The daemon's code, loaded only for --no-daemon (see server/index.ts). Age plugins ask on
  // this terminal and run in this process's environment.
  const { InProcess } = await import('../server/index');
  return InProcess.open(opts.home, { ask: askOnTerminal, waiting: (plugin, waiting) => showWaiting({ plugin, waiting }), env: () => Promise.resolve(process.env) });
}

export interface BackendOptions {
  home: string;
  daemon: boolean;
  /** The client of the daemon (see ConnectDaemon). */
  connect: ConnectDaemon;
  /** `--keystore`: chosen before a call that makes keys (`keys: true`). */
  keystore?: 'keychain' | 'file';
  keys?: boolean;
  /** Wraps the backend (the trust prompt, cli/trust.ts). */
  wrap?: (b: Backend) => Backend;
  /** Says that keys are kept in a passphrase file, once it is chosen. */
  warnFileKeystore?: () => void;
}

/** A locked file keystore, which useBackend unlocks (asking for the passphrase) before it calls again. */
export function keystoreLocked(e: unknown): boolean {
  return isKeywardError(e) && e.code === ErrorCode.KeystoreLocked && /locked/.test(e.message);
}

/**
 * Runs `fn` against the daemon or in-process, handling a locked file keystore once: the
 * passphrase is asked for (or read from KEYWARD_KEYSTORE_PASSPHRASE) and the call made again.
 * Used by every command (cli/context.ts, withBackend) and by the lean `keyward exec` (cli/exec-lean.ts).
 */
export async function useBackend<T>(opts: BackendOptions, fn: (b: Backend) => Promise<T>): Promise<T> {
  const connected = await connectBackend({ home: opts.home, daemon: opts.daemon, connect: opts.connect });
  const b = opts.wrap ? opts.wrap(connected) : connected;
  try {
    if (opts.keys && opts.keystore) {
      const r = await b.call('keystoreUse', { backend: opts.keystore });
      if (r.keystore.backend === 'file') opts.warnFileKeystore?.();
    }
    try {
      return await fn(b);
    } catch (e) {
      if (!keystoreLocked(e)) throw e;
      let pass: string;
      try {
        // Loaded here: only a locked keystore asks (readline, a terminal).
        const { readPassphrase } = await import('./prompt');
        pass = await readPassphrase('File keystore passphrase: ', 'KEYWARD_KEYSTORE_PASSPHRASE');
      } catch {
        throw e; // no way to ask: the locked error says what to do
      }
      await b.call('keystoreUnlock', { passphrase: pass });
      return await fn(b);
    }
  } finally {
    await b.close();
  }
}
