// The CLI's light client of the daemon, for `keyward exec`'s start (cli/exec-lean.ts): the light
// wire (transport/light.ts, no JSON-RPC library) with the CLI's error type (KeywardError, whose
// code is the exit code) and its words for what to do, shared with the full client (client.ts);
// and starting the daemon, which both do.
import * as path from 'node:path';
import type { MethodKey, ParamsOf, ResultOf } from './protocol';
import { ErrorCode } from './protocol/errors';
import { LightWire } from './transport/light';
import { startDaemonProcess as startProcess, type ClientErrors } from './transport/socket';
import { KeywardError } from './util/errors';
import { daemonPaths, ensurePrivateDir, type DaemonPaths } from './util/paths';

export const CLI_ERRORS: ClientErrors<KeywardError> = {
  make: (code, message, hint) => new KeywardError(code as ErrorCode, message, hint),
  hints: {
    notRunning: 'start it with keyward daemon start (commands start it on demand), or run in-process with --no-daemon',
    token: 'restart the daemon: keyward daemon stop, then retry',
    lost: 'the daemon stopped; see its log (daemon.log in the keyward home), then run the command again: it starts a new daemon',
    timeout: 'check the daemon log',
    start: (log) => `see ${log}`,
  },
};

/** Whether a failed connection means that no daemon runs (connectOrStart then starts one), not that one refused. */
export function noDaemon(e: unknown): boolean {
  return e instanceof KeywardError && e.code === ErrorCode.DaemonUnavailable && !e.message.startsWith('cannot read');
}

/** A connected client on the light wire; connectOrStart starts the daemon when none runs, as DaemonClient's does. */
export class LightClient {
  private constructor(private readonly wire: LightWire<KeywardError>) {}

  static async connectOrStart(home: string, client: string, daemonScript: string, env: NodeJS.ProcessEnv = process.env, early?: Promise<LightClient>): Promise<LightClient> {
    try {
      return await (early ?? LightClient.connect(home, client, env));
    } catch (e) {
      if (!noDaemon(e)) throw e;
    }
    const paths = await startDaemonProcess(home, daemonScript, env);
    return new LightClient(await LightWire.connect(paths, client, CLI_ERRORS));
  }

  /** Connects to the daemon of `home` if one runs (DaemonUnavailable if none: see noDaemon); starts none. */
  static async connect(home: string, client: string, env: NodeJS.ProcessEnv = process.env): Promise<LightClient> {
    return new LightClient(await LightWire.connect(daemonPaths(home, env), client, CLI_ERRORS));
  }

  /** As connect, but returns the client at once: calls made before `connected` resolves wait in the socket (LightWire.begin). */
  static begin(home: string, client: string, env: NodeJS.ProcessEnv = process.env): { client: LightClient; connected: Promise<void> } {
    const { wire, connected } = LightWire.begin(daemonPaths(home, env), client, CLI_ERRORS);
    return { client: new LightClient(wire), connected };
  }

  call<K extends MethodKey>(key: K, params: ParamsOf<K>): Promise<ResultOf<K>> {
    return this.wire.call(key, params);
  }

  onRequest(method: string, handler: (params: unknown) => Promise<unknown>): void {
    this.wire.onRequest(method, handler);
  }

  onNotification(method: string, handler: (params: unknown) => void): void {
    this.wire.onNotification(method, handler);
  }

  close(): void {
    this.wire.close();
  }
}

/**
 * Spawns the daemon detached, logging to its log file, and waits until its socket accepts a
 * connection (its readiness signal), or it exits (then its log's last line says why).
 */
export async function startDaemonProcess(home: string, daemonScript: string, env: NodeJS.ProcessEnv = process.env): Promise<DaemonPaths> {
  const paths = daemonPaths(home, env);
  await ensurePrivateDir(paths.home);
  // --expose-gc: the daemon collects what a flood of refused connections left (server/daemon.ts, Admission).
  await startProcess(paths, daemonScript, CLI_ERRORS, { env, execArgv: ['--expose-gc'] });
  return paths;
}

export function defaultDaemonScript(): string {
  return path.join(__dirname, 'daemon.js');
}
