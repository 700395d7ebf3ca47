// The daemon's code: run inside the CLI's own process by `--no-daemon` (InProcess) and
// `keyward daemon run` (startDaemon), and by the daemon's own entry (dist/daemon.js). It is a
// bundle of its own (dist/cli-local.js, see esbuild.mjs), one copy for all three; the commands
// that talk to a running daemon start without it.
import { ErrorCode, methods, validateParams, type MethodKey, type ParamsOf, type ResultOf } from '../protocol';
import { withPluginSession } from '../age';
import { acquireLock } from '../server/lock';
import type { CallContext } from '../rpc/context';
import { Service } from '../service';
import { KeywardError } from '../util/errors';
import { daemonPaths, ensurePrivateDir } from '../util/paths';
import type { Backend } from './backend';
import { askOnTerminal, showWaiting } from './plugin-prompt';

export { startDaemon } from '../server/daemon';

/**
 * `--no-daemon`: the handlers run in this process. It takes the same per-home lock as the
 * daemon, so the two never write the registry or the audit log at the same time.
 */
export class InProcess implements Backend {
  private readonly listeners = new Map<string, (params: unknown) => void>();

  private constructor(
    private readonly service: Service,
    private readonly release: () => Promise<void>,
  ) {}

  static async open(home: string): Promise<InProcess> {
    await ensurePrivateDir(home);
    const lock = await acquireLock(daemonPaths(home).lock, 'cli');
    try {
      const service = await Service.open({ home });
      return new InProcess(service, () => lock.release());
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  async call<K extends MethodKey>(key: K, params: ParamsOf<K>): Promise<ResultOf<K>> {
    const v = validateParams(key, params);
    if (!v.ok) throw new KeywardError(ErrorCode.InvalidParams, `invalid params for ${methods[key].name}: ${v.reason}`);
    const h = this.service.handlers[key] as ((p: unknown, c: CallContext) => Promise<ResultOf<K>>) | undefined;
    if (!h) throw new KeywardError(ErrorCode.InvalidInput, `${methods[key].name} needs the daemon`, 'drop --no-daemon');
    // Age plugins ask on this terminal and run in this process's environment.
    const session = { ask: askOnTerminal, waiting: (plugin: string, waiting: boolean) => showWaiting({ plugin, waiting }), env: () => Promise.resolve(process.env) };
    return withPluginSession(session, () =>
      h(v.value, {
        client: 'cli-inprocess',
        requestId: '1',
        notify: (m, p) => {
          this.listeners.get(m)?.(p);
          return Promise.resolve();
        },
      }),
    );
  }

  onNotification(method: string, handler: (params: unknown) => void): void {
    this.listeners.set(method, handler);
  }

  async close(): Promise<void> {
    await this.service.dispose();
    await this.release();
  }
}
