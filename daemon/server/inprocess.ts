// `--no-daemon`: the daemon's handlers run in the calling process (the CLI's), without a socket.
// It takes the same per-home lock as the daemon, so the two never write the registry or the
// audit log at the same time. Params are validated as the server validates them.
import { withPluginSession, type PluginSession } from '../age';
import { ErrorCode, methods, validateParams, type MethodKey, type ParamsOf, type ResultOf } from '../protocol';
import type { CallContext } from '../rpc/context';
import { Service } from '../service';
import { KeywardError } from '../util/errors';
import { daemonPaths, ensurePrivateDir } from '../util/paths';
import { acquireLock } from './lock';

export class InProcess {
  private readonly listeners = new Map<string, (params: unknown) => void>();

  private constructor(
    private readonly service: Service,
    /** Where age plugins ask their questions and which environment they run in (the CLI's terminal). */
    private readonly plugins: PluginSession,
    private readonly release: () => Promise<void>,
  ) {}

  static async open(home: string, plugins: PluginSession): Promise<InProcess> {
    await ensurePrivateDir(home);
    const lock = await acquireLock(daemonPaths(home).lock, 'cli');
    try {
      const service = await Service.open({ home });
      return new InProcess(service, plugins, () => lock.release());
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
    return withPluginSession(this.plugins, () =>
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
