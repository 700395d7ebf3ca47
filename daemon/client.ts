// The CLI's client of the daemon (also used by the tests and benchmarks): one connection per
// command, on the transport both clients share (daemon/transport/client.ts), with the CLI's
// error type (KeywardError, whose code is the exit code) and its words for what to do.
import type { MethodKey, ParamsOf, ResultOf } from './protocol';
import { connectDaemon, type DaemonWire } from './transport/client';
import { KeywardError } from './util/errors';
import { daemonPaths } from './util/paths';
import { CLI_ERRORS, noDaemon, startDaemonProcess } from './light-client';

export { defaultDaemonScript, startDaemonProcess } from './light-client';

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
      if (!noDaemon(e)) throw e;
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
