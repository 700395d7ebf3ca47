// A light client of the daemon, for `keyward exec`'s start (cli/exec-lean.ts): one connection,
// a few calls, the daemon's requests answered (an age plugin's questions), on Node's socket and
// the wire's framing (frames.ts), without vscode-jsonrpc (~4 ms to load, at every run). What it
// shares with the full client (client.ts) is in socket.ts: connecting, the token, the errors.
// Unlike the full client, it sends the authentication and does not wait for it (one round trip
// less at every exec): the calls go out behind it, resolve only after it, and fail with its
// error when it is refused; a connection that drops fails every pending and later call with
// DaemonUnavailable (`connectionLost`), so a daemon that dies between the connect and the
// answer makes exec fail with exit 7 rather than start a new daemon, as the full client does.
import * as net from 'node:net';
import { methodNames, PROTOCOL_VERSION } from '../protocol/constants';
import { ErrorCode } from '../protocol/errors';
import type { DaemonPaths } from '../protocol/paths';
import type { MethodKey, ParamsOf, ResultOf } from '../protocol';
import { encodeFrame, FrameDecoder } from './frames';
import { connectionLostError, errorFromWire, MAX_ANSWER, readToken, whenConnected, type ClientErrors } from './socket';

interface Incoming {
  id?: number | string | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export class LightWire<E extends Error = Error> {
  private nextId = 0;
  private lost = false;
  private readonly pending = new Map<number, { method: string; settle: (m: Incoming | undefined) => void }>();
  private readonly requests = new Map<string, (params: unknown) => Promise<unknown>>();
  private readonly notifications = new Map<string, (params: unknown) => void>();
  private authentication: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly socket: net.Socket,
    private readonly errors: ClientErrors<E>,
  ) {
    const decoder = new FrameDecoder(() => MAX_ANSWER);
    socket.on('data', (b: Buffer) => {
      const broken = decoder.push(b, (m) => {
        this.receive(m);
        return !this.lost;
      });
      if (broken !== undefined) socket.destroy(); // a broken stream: every call fails as lost
    });
    socket.once('close', () => this.connectionLost());
    socket.on('error', () => undefined); // the close follows
  }

  /** Connects to the daemon of `paths` and sends the authentication (not waited for: see above). */
  static async connect<E extends Error>(paths: DaemonPaths, client: string, errors: ClientErrors<E>): Promise<LightWire<E>> {
    const { wire, connected } = LightWire.begin(paths, client, errors);
    await connected;
    return wire;
  }

  /**
   * Starts connecting to the daemon of `paths` and returns the wire at once: the authentication,
   * and the calls made before the connection is up, wait in the socket until it is (the daemon
   * gets them as soon as it accepts; `keyward exec` loads the rest of its code meanwhile).
   * `connected` rejects with DaemonUnavailable when nothing listens ("no daemon", whether or not
   * the token could be read), or with the token's error; the wire is closed then, and its calls
   * fail.
   */
  static begin<E extends Error>(paths: DaemonPaths, client: string, errors: ClientErrors<E>): { wire: LightWire<E>; connected: Promise<void> } {
    const w = new LightWire(net.connect(paths.socket), errors);
    let unreadable: Error | undefined;
    try {
      const auth = w.send(methodNames.authenticate, { token: readToken(paths, errors), client, protocolVersion: PROTOCOL_VERSION });
      auth.catch(() => undefined); // awaited by the calls, or by no one
      w.authentication = auth;
    } catch (e) {
      unreadable = e instanceof Error ? e : new Error(String(e));
      w.connectionLost(); // no call goes out unauthenticated: each fails, and `connected` says why
    }
    const connected = whenConnected(w.socket, errors).then(
      () => {
        if (unreadable === undefined) return;
        w.close();
        throw unreadable;
      },
      (e: unknown) => {
        w.close();
        throw e;
      },
    );
    return { wire: w, connected };
  }

  /** Calls a method; the daemon's errors come back as the client's errors with their hints. */
  async call<K extends MethodKey>(key: K, params: ParamsOf<K>): Promise<ResultOf<K>> {
    const auth = this.authentication;
    try {
      const r = (await this.send(methodNames[key], params)) as ResultOf<K>;
      await auth;
      return r;
    } catch (e) {
      await auth; // a refused authentication is the reason the call failed
      throw e;
    }
  }

  /** Answers requests the daemon sends this client (an age plugin's questions); others get MethodNotFound. */
  onRequest(method: string, handler: (params: unknown) => Promise<unknown>): void {
    this.requests.set(method, handler);
  }

  onNotification(method: string, handler: (params: unknown) => void): void {
    this.notifications.set(method, handler);
  }

  close(): void {
    this.connectionLost();
    this.socket.destroy();
  }

  private send(method: string, params: unknown): Promise<unknown> {
    if (this.lost) return Promise.reject(connectionLostError(this.errors, method));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        method,
        settle: (m) => {
          if (m === undefined) reject(connectionLostError(this.errors, method));
          else if (m.error) reject(errorFromWire(this.errors, m.error));
          else resolve(m.result);
        },
      });
      this.socket.write(encodeFrame({ jsonrpc: '2.0', id, method, params }));
    });
  }

  private receive(m: Incoming): void {
    if (typeof m.method !== 'string') {
      const p = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
      if (!p) return;
      this.pending.delete(m.id as number);
      p.settle(m);
      return;
    }
    if (m.id === undefined || m.id === null) {
      this.notifications.get(m.method)?.(m.params);
      return;
    }
    const id = m.id;
    const handler = this.requests.get(m.method);
    const answer = (msg: object) => {
      if (!this.lost) this.socket.write(encodeFrame({ jsonrpc: '2.0', id, ...msg }));
    };
    if (!handler) return answer({ error: { code: ErrorCode.MethodNotFound, message: `Unhandled method ${m.method}` } });
    handler(m.params).then(
      (result) => answer({ result: result ?? null }),
      (e: unknown) => answer({ error: { code: ErrorCode.InternalError, message: e instanceof Error ? e.message : String(e) } }),
    );
  }

  private connectionLost(): void {
    if (this.lost) return;
    this.lost = true;
    for (const p of this.pending.values()) p.settle(undefined);
    this.pending.clear();
  }
}
