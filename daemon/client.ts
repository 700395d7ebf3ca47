// The CLI's client of the daemon (also used by the tests and benchmarks): one connection per
// command, on the transport both clients share (daemon/transport/client.ts), with the CLI's
// error type (KeywardError, whose code is the exit code) and its words for what to do.
import * as path from 'node:path';
import type { MethodKey, ParamsOf, ResultOf } from './protocol';
import { ErrorCode } from './protocol/errors';
import { connectDaemon, startDaemonProcess as startProcess, type ClientErrors, type DaemonWire } from './transport/client';
import { KeywardError } from './util/errors';
import { daemonPaths, ensurePrivateDir, type DaemonPaths } from './util/paths';

const CLI_ERRORS: ClientErrors<KeywardError> = {
  make: (code, message, hint) => new KeywardError(code as ErrorCode, message, hint),
  hints: {
    notRunning: 'start it with keyward daemon start (commands start it on demand), or run in-process with --no-daemon',
    token: 'restart the daemon: keyward daemon stop, then retry',
    lost: 'the daemon stopped; see its log (daemon.log in the keyward home), then run the command again: it starts a new daemon',
    timeout: 'check the daemon log',
    start: (log) => `see ${log}`,
  },
};

/** A connected, authenticated client of the daemon. */
export class DaemonClient {
  private constructor(private readonly wire: DaemonWire<KeywardError>) {}

  /** Connects to the daemon of `home`; rejects with DaemonUnavailable when none answers. */
  static async connect(home: string, client: string, env: NodeJS.ProcessEnv = process.env): Promise<DaemonClient> {
    return new DaemonClient(await connectDaemon(daemonPaths(home, env), client, CLI_ERRORS));
  }

  /** Connects, starting the daemon first when none runs. */
  static async connectOrStart(home: string, client: string, daemonScript: string, env: NodeJS.ProcessEnv = process.env): Promise<DaemonClient> {
    try {
      return await DaemonClient.connect(home, client, env);
    } catch (e) {
      if (!(e instanceof KeywardError) || e.code !== ErrorCode.DaemonUnavailable || e.message.startsWith('cannot read')) throw e;
    }
    await startDaemonProcess(home, daemonScript, env);
    return DaemonClient.connect(home, client, env);
  }

  /**
   * Calls a method; the daemon's errors come back as KeywardErrors with their hints. A
   * connection that drops before the answer arrives fails the call with DaemonUnavailable
   * (`connectionLost: true`), never leaves it pending.
   */
  call<K extends MethodKey>(key: K, params: ParamsOf<K>, timeoutMs = 0): Promise<ResultOf<K>> {
    return this.wire.call(key, params, { timeoutMs });
  }

  onNotification(method: string, handler: (params: unknown) => void): void {
    this.wire.onNotification(method, handler);
  }

  /** Answers requests the daemon sends this client (an age plugin's questions, see cli/plugin-prompt.ts). */
  onRequest(method: string, handler: (params: unknown) => Promise<unknown>): void {
    this.wire.onRequest(method, handler);
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
