// The client side of the daemon's socket, shared by both clients: the CLI (daemon/client.ts)
// and the VS Code extension (src/client/connection.ts). Connect, authenticate, call with a
// timeout or a cancellation, fail every pending call when the connection drops, decode the
// daemon's errors, and start the daemon and wait until it answers. What differs between the
// clients is theirs: the CLI holds one connection per command; the extension reconnects with
// backoff and shows the connection's state. Each gives its own error type and the words it
// uses to say what to do (ClientErrors).
//
// What needs no vscode-jsonrpc (the socket, the token, starting the daemon, the errors) is in
// socket.ts, shared with the light client of `keyward exec` (light.ts).
//
// This folder imports only the wire contract (daemon/protocol/), vscode-jsonrpc, Node and
// daemon/util/process.ts (a leaf): that is what lets the extension import it (README, Design notes).
import type * as net from 'node:net';
import {
  CancellationTokenSource,
  createMessageConnection,
  ErrorCodes,
  ResponseError,
  SocketMessageWriter,
  type CancellationToken,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { AuthenticateResult, MethodKey, ParamsOf, ResultOf } from '../protocol';
import { methodNames, PROTOCOL_VERSION } from '../protocol/constants';
import { ErrorCode } from '../protocol/errors';
import type { DaemonPaths } from '../protocol/paths';
import { BoundedMessageReader } from './framing';
import { connectionLostError, connectSocket, errorFromWire, MAX_ANSWER, readToken, type ClientErrors } from './socket';

export { CONNECT_TIMEOUT_MS, connectSocket, MAX_ANSWER, START_TIMEOUT_MS, startDaemonProcess, type ClientErrors, type StartOptions } from './socket';

export interface CallOptions {
  /** Milliseconds before the call fails with DaemonUnavailable; 0 or absent: none. */
  timeoutMs?: number;
  /** Cancels the call (it fails with Cancelled; the daemon is told). */
  token?: CancellationToken;
}

/**
 * An open JSON-RPC connection to the daemon. When it drops, every pending call fails with
 * DaemonUnavailable (`connectionLost: true`) and so does every later one: vscode-jsonrpc itself
 * leaves requests pending when the other side goes away (it rejects them only on our own
 * dispose()), and a promise that never settles would hang the caller.
 */
export class DaemonWire<E extends Error = Error> {
  private lost = false;
  private readonly pending = new Set<() => void>();
  private readonly closeListeners: (() => void)[] = [];

  private constructor(
    private readonly conn: MessageConnection,
    private readonly socket: net.Socket,
    private readonly errors: ClientErrors<E>,
  ) {
    const gone = () => this.connectionLost();
    conn.onClose(gone);
    socket.once('close', gone);
    // A write to a dead daemon (EPIPE, ECONNRESET) fails its request; the close follows.
    socket.on('error', () => undefined);
    conn.onError(() => undefined);
  }

  /** A connection over a connected socket (see connectSocket); not yet authenticated. */
  static open<E extends Error>(socket: net.Socket, errors: ClientErrors<E>): DaemonWire<E> {
    const conn = createMessageConnection(new BoundedMessageReader(socket, () => MAX_ANSWER), new SocketMessageWriter(socket));
    const w = new DaemonWire(conn, socket, errors);
    conn.listen();
    return w;
  }

  /** Whether the connection is gone (dropped, or closed by us). */
  get closed(): boolean {
    return this.lost;
  }

  /**
   * Calls a method; the daemon's errors come back as the client's errors with their hints. A
   * connection that drops before the answer fails the call with DaemonUnavailable.
   */
  async call<K extends MethodKey>(key: K, params: ParamsOf<K>, opts: CallOptions = {}): Promise<ResultOf<K>> {
    const method = methodNames[key];
    if (this.lost) throw this.connectionLostError(method);
    if (opts.token?.isCancellationRequested) throw this.errors.make(ErrorCode.Cancelled, 'cancelled');
    const cts = new CancellationTokenSource();
    let mine: E | undefined;
    let reject!: (e: E) => void;
    const failed = new Promise<never>((_, r) => (reject = r));
    const fail = (e: E) => {
      mine ??= e;
      reject(e);
    };
    const onLost = () => fail(this.connectionLostError(method));
    this.pending.add(onLost);
    const sub = opts.token?.onCancellationRequested(() => {
      cts.cancel();
      fail(this.errors.make(ErrorCode.Cancelled, 'cancelled'));
    });
    const ms = opts.timeoutMs ?? 0;
    const timer = ms
      ? setTimeout(() => {
          cts.cancel();
          fail(this.errors.make(ErrorCode.DaemonUnavailable, `the daemon did not answer ${method} within ${ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`}`, this.errors.hints.timeout));
        }, ms)
      : undefined;
    try {
      return await Promise.race([this.conn.sendRequest<ResultOf<K>>(method, params, cts.token), failed]);
    } catch (e) {
      if (e === mine) throw e; // a timeout, a cancel, the connection lost
      throw this.fromWire(e, method);
    } finally {
      clearTimeout(timer);
      sub?.dispose();
      cts.dispose();
      this.pending.delete(onLost);
    }
  }

  onNotification(method: string, handler: (params: unknown) => void): void {
    this.conn.onNotification(method, handler);
  }

  /** Every notification, whatever its method (the extension dispatches them itself). */
  onAnyNotification(handler: (method: string, params: unknown) => void): void {
    this.conn.onNotification(handler);
  }

  /** Answers requests the daemon sends this client (an age plugin's questions). */
  onRequest(method: string, handler: (params: unknown) => Promise<unknown>): void {
    this.conn.onRequest(method, handler);
  }

  /** Every request from the daemon, whatever its method; answer MethodNotFound for those not handled. */
  onAnyRequest(handler: (method: string, params: unknown) => Promise<unknown> | ResponseError<void>): void {
    this.conn.onRequest(handler);
  }

  /** Runs once the connection is gone, whoever closed it. */
  onClose(listener: () => void): void {
    if (this.lost) listener();
    else this.closeListeners.push(listener);
  }

  close(): void {
    this.connectionLost();
    this.conn.dispose();
    this.socket.destroy();
  }

  private connectionLost(): void {
    if (this.lost) return;
    this.lost = true;
    for (const reject of this.pending) reject();
    this.pending.clear();
    for (const l of this.closeListeners.splice(0)) l();
  }

  /**
   * The error of a request whose connection dropped before its answer: the daemon stopped (a
   * crash, a kill) or closed it. Whether the request took effect is unknown, so it is never
   * reported as done; `connectionLost: true` lets a client say more (an output is incomplete,
   * a job resumes).
   */
  private connectionLostError(method: string): E {
    return connectionLostError(this.errors, method);
  }

  private fromWire(e: unknown, method: string): unknown {
    if (e instanceof ResponseError) {
      // Our own close() while the request was pending.
      if (e.code === ErrorCodes.PendingResponseRejected) return this.connectionLostError(method);
      return errorFromWire(this.errors, e);
    }
    // The request failed because the connection went (a write to a closed socket, say).
    if (this.lost || isConnectionFailure(e)) return this.connectionLostError(method);
    return e;
  }
}

function isConnectionFailure(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END') return true;
  return e instanceof Error && /connection (got disposed|is closed)|closed/i.test(e.message);
}

/** Sends `session/authenticate` with the token the daemon wrote beside its socket. */
export async function authenticate<E extends Error>(wire: DaemonWire<E>, paths: DaemonPaths, client: string, errors: ClientErrors<E>, timeoutMs = 0): Promise<AuthenticateResult> {
  const token = readToken(paths, errors);
  return wire.call('authenticate', { token, client, protocolVersion: PROTOCOL_VERSION }, { timeoutMs });
}

/**
 * Connects to the daemon of `paths` and authenticates; rejects with DaemonUnavailable when none
 * answers. The authentication is waited for: a daemon that dies or stops between the connect
 * and its answer fails here, where connectOrStart starts a new one, and not in a call that a
 * command has already made. (The lean `keyward exec` client sends its call behind the
 * authentication: transport/light.ts.)
 */
export async function connectDaemon<E extends Error>(paths: DaemonPaths, client: string, errors: ClientErrors<E>): Promise<DaemonWire<E>> {
  const wire = DaemonWire.open(await connectSocket(paths.socket, errors), errors);
  try {
    await authenticate(wire, paths, client, errors);
  } catch (e) {
    wire.close();
    throw e;
  }
  return wire;
}

