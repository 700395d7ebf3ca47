// The extension's client of the daemon. Connecting, authenticating, calls with timeouts and
// cancellation, pending calls failed when the connection drops, error decoding and starting the
// daemon are the transport both clients share (daemon/transport/client.ts); what is the
// extension's own is here: it finds the running daemon or starts the bundled one, reconnects
// after a crash (with backoff), and reports its state to the status bar (it outlives daemons).
import type * as net from 'node:net';
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCode, methods, type MethodKey, type ParamsOf, type ResultOf } from '../../daemon/protocol';
import { authenticate, connectSocket, DaemonWire, startDaemonProcess, type ClientErrors } from '../../daemon/transport/client';
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

const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000, 10_000, 30_000];

type NotificationHandler = (params: unknown) => void;

/** The extension's errors and its words for what to do (the daemon's own errors carry their hints). */
const ERRORS: ClientErrors<DaemonError> = {
  make: (code, message, hint) => new DaemonError(code, message, hint),
  hints: {
    notRunning: 'run "Keyward: Restart Daemon", or start it yourself: keyward daemon start',
    token: 'restart the daemon (Keyward: Restart Daemon)',
    lost: 'Keyward reconnects by itself; run the command again',
    timeout: 'see its log (Keyward: Show Log); restart it if it hangs',
    start: (log) => `see its log, ${log}`,
  },
};

export class DaemonConnection implements vscode.Disposable {
  private conn: DaemonWire<DaemonError> | undefined;
  private connecting: Promise<DaemonWire<DaemonError>> | undefined;
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

  private connect(): Promise<DaemonWire<DaemonError>> {
    if (this.disposed) return Promise.reject(new DaemonError(ErrorCode.DaemonUnavailable, 'the extension is shutting down'));
    if (this.conn) return Promise.resolve(this.conn);
    this.connecting ??= this.doConnect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async doConnect(): Promise<DaemonWire<DaemonError>> {
    this.clearRetry();
    this.setState({ kind: 'connecting', attempt: this.failures + 1 });
    const paths = this.paths;
    try {
      let socket: net.Socket;
      try {
        socket = await connectSocket(paths.socket, ERRORS);
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
        socket = await connectSocket(paths.socket, ERRORS);
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

  private async authenticate(socket: net.Socket, paths: DaemonPaths): Promise<DaemonWire<DaemonError>> {
    const conn = DaemonWire.open(socket, ERRORS);
    conn.onAnyNotification((method: string, params: unknown) => {
      for (const h of this.handlers.get(method) ?? []) {
        try {
          h(params);
        } catch (e) {
          this.opts.log.error(`handler of ${method} failed: ${(e as Error).message}`);
        }
      }
    });
    conn.onAnyRequest((method: string, params: unknown) => {
      const h = this.requestHandlers.get(method);
      return h ? h(params) : new ResponseError(ErrorCode.MethodNotFound, `no handler for ${method}`);
    });
    conn.onClose(() => this.onClosed(conn));
    this.conn = conn;
    try {
      await authenticate(conn, paths, 'vscode', ERRORS, 10_000);
    } catch (e) {
      this.closeConnection();
      throw e;
    }
    return conn;
  }

  /** Spawns the daemon detached (it outlives this window) and waits for its socket and token. */
  private async startDaemon(paths: DaemonPaths): Promise<void> {
    // In VS Code, process.execPath is Electron: ELECTRON_RUN_AS_NODE makes it plain Node. In
    // code-server and remote hosts it is Node already, and the variable is ignored.
    const pid = await startDaemonProcess(paths, this.opts.daemonScript(), ERRORS, { env: { ...(this.opts.env ?? process.env), ELECTRON_RUN_AS_NODE: '1' } });
    this.opts.log.info(`started the daemon (pid ${pid ?? '?'})`);
  }

  private async waitForGone(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && this.conn) await new Promise((r) => setTimeout(r, 50));
  }

  // ---- calls ------------------------------------------------------------------------------

  private async send<K extends MethodKey>(conn: DaemonWire<DaemonError>, key: K, params: ParamsOf<K>, opts: CallOptions): Promise<ResultOf<K>> {
    const started = Date.now();
    let outcome = 'ok';
    try {
      return await conn.call(key, params, { timeoutMs: opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, ...(opts.token ? { token: opts.token } : {}) });
    } catch (e) {
      const err = e instanceof DaemonError ? e : ERRORS.make(ErrorCode.DaemonUnavailable, 'the connection to the daemon was lost', ERRORS.hints.lost);
      outcome = `error ${err.code}`;
      throw err;
    } finally {
      // Method, duration and outcome only: never parameters or values.
      this.opts.log.trace(`${methods[key].name} ${Date.now() - started}ms ${outcome}`);
    }
  }

  // ---- losing the connection --------------------------------------------------------------

  private onClosed(conn: DaemonWire<DaemonError>): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    if (this.disposed) return;
    this.opts.log.warn('the connection to the daemon was lost');
    this.scheduleRetry('the connection to the daemon was lost');
  }

  /** Closes the connection; its pending calls fail with DaemonUnavailable. */
  private closeConnection(): void {
    const conn = this.conn;
    this.conn = undefined;
    conn?.close();
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
