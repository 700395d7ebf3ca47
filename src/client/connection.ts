// The extension's client of the daemon: JSON-RPC (vscode-jsonrpc framing) over the daemon's
// Unix socket, authenticated with the token file. It finds the running daemon or starts the
// bundled one, reconnects after a crash (with backoff), and rejects every pending call when
// the connection drops. Written for the extension rather than shared with the CLI: the
// extension may import only the wire contract (DESIGN.md), and its lifecycle differs (it
// outlives daemons, and reports state to the status bar).
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as vscode from 'vscode';
import {
  CancellationTokenSource,
  createMessageConnection,
  ResponseError,
  SocketMessageReader,
  SocketMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { ErrorCode, PROTOCOL_VERSION, methods, type ErrorData, type MethodKey, type ParamsOf, type ResultOf } from '../../daemon/protocol';
import { DaemonError } from './errors';
import { daemonPaths, type DaemonPaths } from './paths';

export type DaemonStatus = ResultOf<'status'>;

export type ConnectionState =
  /** Not connected and not trying: not yet needed, or starting is not allowed (restricted mode). */
  | { kind: 'idle'; reason?: string }
  | { kind: 'connecting'; attempt: number }
  | { kind: 'connected'; daemonVersion: string; status: DaemonStatus }
  /** The connection dropped or could not be made; a retry is scheduled when `retryInMs` is set. */
  | { kind: 'disconnected'; reason: string; retryInMs?: number };

export interface ConnectionOptions {
  /** The Keyward home (KEYWARD_HOME); read at each connect, so a settings change applies. */
  home(): string;
  /** The daemon script to start (`dist/daemon.js` of this extension, or a configured one). */
  daemonScript(): string;
  /** Whether this window may start a daemon (workspace trust and the setting). */
  mayStart(): boolean;
  log: vscode.LogOutputChannel;
  env?: NodeJS.ProcessEnv;
}

export interface CallOptions {
  /** Milliseconds before the call fails; 0: none (jobs/wait). Default 30 s. */
  timeoutMs?: number;
  token?: vscode.CancellationToken;
}

const CONNECT_TIMEOUT_MS = 3_000;
const START_TIMEOUT_MS = 20_000;
const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000, 10_000, 30_000];

type NotificationHandler = (params: unknown) => void;

export class DaemonConnection implements vscode.Disposable {
  private conn: MessageConnection | undefined;
  private socket: net.Socket | undefined;
  private connecting: Promise<MessageConnection> | undefined;
  private readonly pending = new Set<(e: DaemonError) => void>();
  private readonly handlers = new Map<string, Set<NotificationHandler>>();
  private readonly requestHandlers = new Map<string, (params: unknown) => Promise<unknown>>();
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private disposed = false;
  private lastWarning = '';
  private current: ConnectionState = { kind: 'idle' };

  private readonly stateEmitter = new vscode.EventEmitter<ConnectionState>();
  /** Fires on every state change. */
  readonly onDidChangeState = this.stateEmitter.event;
  private readonly connectEmitter = new vscode.EventEmitter<void>();
  /** Fires after each successful (re)connect: re-register what the daemon keeps per connection. */
  readonly onDidConnect = this.connectEmitter.event;

  constructor(private readonly opts: ConnectionOptions) {}

  get state(): ConnectionState {
    return this.current;
  }

  get paths(): DaemonPaths {
    return daemonPaths(this.opts.home(), this.opts.env);
  }

  /** Connects now (in the background) if not connected; errors show in the state. */
  start(): void {
    this.connect().catch(() => undefined);
  }

  /**
   * Calls a daemon method, connecting (and starting the daemon) first if needed. Rejects with
   * a DaemonError: the daemon's, or DaemonUnavailable when the connection fails or drops.
   */
  async call<K extends MethodKey>(key: K, params: ParamsOf<K>, opts: CallOptions = {}): Promise<ResultOf<K>> {
    const conn = await this.connect();
    return this.send(conn, key, params, opts);
  }

  /** Handles a notification from the daemon on this and every later connection. */
  onNotification(method: string, handler: NotificationHandler): vscode.Disposable {
    let set = this.handlers.get(method);
    if (!set) this.handlers.set(method, (set = new Set()));
    set.add(handler);
    return new vscode.Disposable(() => set.delete(handler));
  }

  /** Answers a request from the daemon (an age plugin's question) on this and every later connection. */
  onRequest(method: string, handler: (params: unknown) => Promise<unknown>): vscode.Disposable {
    this.requestHandlers.set(method, handler);
    return new vscode.Disposable(() => this.requestHandlers.delete(method));
  }

  /** Stops the daemon (it is asked to shut down) and connects to a freshly started one. */
  async restart(): Promise<void> {
    const conn = this.conn;
    if (conn) {
      await this.send(conn, 'shutdown', {}, { timeoutMs: 5_000 }).catch(() => undefined);
      await this.waitForGone(5_000);
    }
    this.failures = 0;
    await this.connect();
  }

  /** Drops the connection without reconnecting (e.g. the workspace became restricted). */
  disconnect(reason: string): void {
    this.clearRetry();
    this.closeConnection();
    this.setState({ kind: 'idle', reason });
  }

  dispose(): void {
    this.disposed = true;
    this.clearRetry();
    this.closeConnection();
    this.stateEmitter.dispose();
    this.connectEmitter.dispose();
  }

  // ---- connecting -------------------------------------------------------------------------

  private connect(): Promise<MessageConnection> {
    if (this.disposed) return Promise.reject(new DaemonError(ErrorCode.DaemonUnavailable, 'the extension is shutting down'));
    if (this.conn) return Promise.resolve(this.conn);
    this.connecting ??= this.doConnect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async doConnect(): Promise<MessageConnection> {
    this.clearRetry();
    this.setState({ kind: 'connecting', attempt: this.failures + 1 });
    const paths = this.paths;
    try {
      let socket: net.Socket;
      try {
        socket = await connectSocket(paths.socket);
      } catch (e) {
        if (!this.opts.mayStart()) {
          throw new DaemonError(
            ErrorCode.DaemonUnavailable,
            'no Keyward daemon is running, and this window does not start one (restricted mode or the keyward.daemon.autoStart setting)',
            'trust the workspace, or start the daemon yourself: keyward daemon start',
          );
        }
        this.opts.log.info(`no daemon answers on ${paths.socket} (${(e as Error).message}); starting ${this.opts.daemonScript()}`);
        await this.startDaemon(paths);
        socket = await connectSocket(paths.socket);
      }
      const conn = await this.authenticate(socket, paths);
      const status = await this.send(conn, 'status', {}, { timeoutMs: 10_000 });
      this.failures = 0;
      this.lastWarning = '';
      this.setState({ kind: 'connected', daemonVersion: status.version, status });
      this.opts.log.info(`connected to the daemon ${status.version} (pid ${status.pid}, keystore ${status.keystore.backend}${status.keystore.available ? '' : ', unavailable'})`);
      this.connectEmitter.fire();
      return conn;
    } catch (e) {
      const err = e instanceof DaemonError ? e : new DaemonError(ErrorCode.DaemonUnavailable, (e as Error).message);
      this.failures++;
      if (err.message !== this.lastWarning) this.opts.log.warn(`cannot connect to the daemon: ${err.message}`);
      this.lastWarning = err.message;
      this.scheduleRetry(err.message);
      throw err;
    }
  }

  private async authenticate(socket: net.Socket, paths: DaemonPaths): Promise<MessageConnection> {
    const conn = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
    conn.onNotification((method: string, params: unknown) => {
      for (const h of this.handlers.get(method) ?? []) {
        try {
          h(params);
        } catch (e) {
          this.opts.log.error(`handler of ${method} failed: ${(e as Error).message}`);
        }
      }
    });
    conn.onRequest((method: string, params: unknown) => {
      const h = this.requestHandlers.get(method);
      return h ? h(params) : new ResponseError(ErrorCode.MethodNotFound, `no handler for ${method}`);
    });
    conn.onError(() => undefined);
    conn.onClose(() => this.onClosed(conn));
    conn.listen();
    this.conn = conn;
    this.socket = socket;
    let token: string;
    try {
      token = (await fsp.readFile(paths.token, 'utf8')).trim();
    } catch {
      this.closeConnection();
      throw new DaemonError(ErrorCode.DaemonUnavailable, `cannot read the daemon token ${paths.token}`, 'restart the daemon (Keyward: Restart Daemon)');
    }
    try {
      await this.send(conn, 'authenticate', { token, client: 'vscode', protocolVersion: PROTOCOL_VERSION }, { timeoutMs: 10_000 });
    } catch (e) {
      this.closeConnection();
      throw e;
    }
    return conn;
  }

  /** Spawns the daemon detached (it outlives this window) and waits for its socket and token. */
  private async startDaemon(paths: DaemonPaths): Promise<void> {
    mkdirSync(paths.home, { recursive: true, mode: 0o700 });
    const out = openSync(paths.log, 'a', 0o600);
    // In VS Code, process.execPath is Electron: ELECTRON_RUN_AS_NODE makes it plain Node. In
    // code-server and remote hosts it is Node already, and the variable is ignored.
    const child = spawn(process.execPath, [this.opts.daemonScript()], {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...(this.opts.env ?? process.env), ELECTRON_RUN_AS_NODE: '1', KEYWARD_HOME: paths.home },
    });
    closeSync(out);
    let exited: number | null = null;
    child.once('exit', (code) => (exited = code ?? 1));
    child.once('error', () => (exited = 1));
    child.unref();
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (await ready(paths)) {
        this.opts.log.info(`started the daemon (pid ${child.pid ?? '?'})`);
        return;
      }
      if (exited !== null) {
        // Another window may have won the race to start it.
        if (await ready(paths)) return;
        throw new DaemonError(ErrorCode.DaemonUnavailable, `the daemon exited at start: ${await lastLine(paths.log)}`, `see its log, ${paths.log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new DaemonError(ErrorCode.DaemonUnavailable, `the daemon did not start within ${START_TIMEOUT_MS / 1000} s`, `see its log, ${paths.log}`);
  }

  private async waitForGone(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && this.conn) await new Promise((r) => setTimeout(r, 50));
  }

  // ---- calls ------------------------------------------------------------------------------

  private async send<K extends MethodKey>(conn: MessageConnection, key: K, params: ParamsOf<K>, opts: CallOptions): Promise<ResultOf<K>> {
    const method = methods[key] as { name: string } | undefined;
    if (!method) throw new DaemonError(ErrorCode.MethodNotFound, `this build does not know the daemon method ${String(key)}`);
    const name = method.name;
    if (opts.token?.isCancellationRequested) throw new DaemonError(ErrorCode.Cancelled, 'cancelled');
    const started = Date.now();
    const cts = new CancellationTokenSource();
    let reject!: (e: DaemonError) => void;
    const failed = new Promise<never>((_, r) => (reject = r));
    this.pending.add(reject);
    const sub = opts.token?.onCancellationRequested(() => {
      cts.cancel();
      reject(new DaemonError(ErrorCode.Cancelled, 'cancelled'));
    });
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    const timer = timeoutMs
      ? setTimeout(() => {
          cts.cancel();
          reject(new DaemonError(ErrorCode.DaemonUnavailable, `the daemon did not answer ${name} within ${Math.round(timeoutMs / 1000)} s`, 'see its log (Keyward: Show Log); restart it if it hangs'));
        }, timeoutMs)
      : undefined;
    let outcome = 'ok';
    try {
      const req = conn.sendRequest<ResultOf<K>>(name, params, cts.token);
      return await Promise.race([req, failed]);
    } catch (e) {
      const err = fromWire(e);
      outcome = `error ${err.code}`;
      throw err;
    } finally {
      clearTimeout(timer);
      sub?.dispose();
      cts.dispose();
      this.pending.delete(reject);
      // Method, duration and outcome only: never parameters or values.
      this.opts.log.trace(`${name} ${Date.now() - started}ms ${outcome}`);
    }
  }

  // ---- losing the connection --------------------------------------------------------------

  private onClosed(conn: MessageConnection): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.socket?.destroy();
    this.socket = undefined;
    this.rejectPending();
    if (this.disposed) return;
    this.opts.log.warn('the connection to the daemon was lost');
    this.scheduleRetry('the connection to the daemon was lost');
  }

  private closeConnection(): void {
    const conn = this.conn;
    this.conn = undefined;
    this.rejectPending();
    conn?.dispose();
    this.socket?.destroy();
    this.socket = undefined;
  }

  private rejectPending(): void {
    const err = new DaemonError(ErrorCode.DaemonUnavailable, 'the connection to the daemon was lost', 'Keyward reconnects by itself; run the command again');
    for (const r of [...this.pending]) r(err);
    this.pending.clear();
  }

  private scheduleRetry(reason: string): void {
    this.clearRetry();
    if (this.disposed) return;
    if (!this.opts.mayStart() && this.failures > 0 && !this.conn) {
      // Not allowed to start one (restricted mode, or the setting): not an error. Look now
      // and then for a daemon started elsewhere (the CLI, a trusted window).
      this.setState({ kind: 'idle', reason });
      this.retryTimer = setTimeout(() => this.start(), 30_000);
      return;
    }
    if (this.failures >= BACKOFF_MS.length) {
      // Give up until something asks again (a command, a refresh, the status bar menu).
      this.setState({ kind: 'disconnected', reason });
      return;
    }
    const delay = BACKOFF_MS[this.failures]!;
    this.setState({ kind: 'disconnected', reason, retryInMs: delay });
    this.retryTimer = setTimeout(() => this.start(), delay);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private setState(s: ConnectionState): void {
    this.current = s;
    if (!this.disposed) this.stateEmitter.fire(s);
  }
}

function fromWire(e: unknown): DaemonError {
  if (e instanceof DaemonError) return e;
  if (e instanceof ResponseError) {
    const data = e.data as ErrorData | undefined;
    return new DaemonError(e.code, e.message, data?.hint);
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (/cancel/i.test(msg)) return new DaemonError(ErrorCode.Cancelled, 'cancelled');
  return new DaemonError(ErrorCode.DaemonUnavailable, 'the connection to the daemon was lost', 'Keyward reconnects by itself; run the command again');
}

function connectSocket(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('the daemon did not accept the connection in time'));
    }, CONNECT_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      s.on('error', () => undefined); // the reader reports it as a close
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no daemon is listening' : `cannot reach the daemon (${e.code ?? 'error'})`));
    });
  });
}

async function ready(paths: DaemonPaths): Promise<boolean> {
  try {
    const s = await connectSocket(paths.socket);
    s.destroy();
    await fsp.access(paths.token);
    return true;
  } catch {
    return false;
  }
}

async function lastLine(file: string): Promise<string> {
  try {
    const lines = (await fsp.readFile(file, 'utf8')).trim().split('\n');
    return lines[lines.length - 1] ?? '(empty log)';
  } catch {
    return '(no log)';
  }
}
