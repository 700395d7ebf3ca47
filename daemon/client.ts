import { spawn } from 'node:child_process';
import { promises as fsp, openSync, closeSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
  createMessageConnection,
  ErrorCodes,
  ResponseError,
  SocketMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { MethodKey, ParamsOf, ResultOf } from './protocol';
import { PROTOCOL_VERSION, methodNames } from './protocol/constants';
import { ErrorCode, type ErrorData } from './protocol/errors';
import { BoundedMessageReader } from './server/framing';
import { isAlive, readHolder } from './server/lock';
import { KeywardError, errnoCode } from './util/errors';
import { daemonPaths, ensurePrivateDir, type DaemonPaths } from './util/paths';

const CONNECT_TIMEOUT_MS = 3_000;
/** The largest message taken from the daemon (a decrypted 64 MiB sops file as base64, a long audit log). */
const MAX_ANSWER = 512 * 1024 * 1024;
const START_TIMEOUT_MS = 15_000;

/** A connected, authenticated client of the daemon. */
export class DaemonClient {
  /** Set once the connection is gone: every call pending then, and every later one, fails. */
  private lost = false;
  private readonly pending = new Set<() => void>();

  private constructor(
    private readonly conn: MessageConnection,
    private readonly socket: net.Socket,
  ) {
    // vscode-jsonrpc leaves the requests pending when the other side goes away (it rejects them
    // only on our own dispose()): without this, a daemon killed mid-request left the CLI with a
    // promise that never settled, and Node exited 0 with no output.
    const gone = () => this.connectionLost();
    conn.onClose(gone);
    socket.once('close', gone);
    // A write to a dead daemon (EPIPE, ECONNRESET) fails its request; the close follows.
    socket.on('error', () => undefined);
    conn.onError(() => undefined);
  }

  /** Connects to the daemon of `home`; rejects with DaemonUnavailable when none answers. */
  static async connect(home: string, client: string, env: NodeJS.ProcessEnv = process.env): Promise<DaemonClient> {
    const paths = daemonPaths(home, env);
    const socket = await connectSocket(paths.socket);
    const conn = createMessageConnection(new BoundedMessageReader(socket, () => MAX_ANSWER), new SocketMessageWriter(socket));
    conn.listen();
    const c = new DaemonClient(conn, socket);
    let token: string;
    try {
      token = (await fsp.readFile(paths.token, 'utf8')).trim();
    } catch {
      c.close();
      throw new KeywardError(ErrorCode.DaemonUnavailable, `cannot read the daemon token ${paths.token}`, 'restart the daemon: keyward daemon stop, then retry');
    }
    await c.call('authenticate', { token, client, protocolVersion: PROTOCOL_VERSION }).catch((e: unknown) => {
      c.close();
      throw e;
    });
    return c;
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
   * (see connectionLost), never leaves it pending.
   */
  async call<K extends MethodKey>(key: K, params: ParamsOf<K>, timeoutMs = 0): Promise<ResultOf<K>> {
    const method = methodNames[key];
    if (this.lost) throw connectionLost(method);
    let timer: NodeJS.Timeout | undefined;
    let onLost!: () => void;
    const lost = new Promise<never>((_, reject) => (onLost = () => reject(connectionLost(method))));
    this.pending.add(onLost);
    try {
      const racers: Promise<ResultOf<K>>[] = [this.conn.sendRequest<ResultOf<K>>(method, params), lost];
      if (timeoutMs) {
        racers.push(
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new KeywardError(ErrorCode.DaemonUnavailable, `the daemon did not answer ${method} within ${timeoutMs} ms`, 'check the daemon log')), timeoutMs);
          }),
        );
      }
      return await Promise.race(racers);
    } catch (e) {
      // The request failed because the connection went (a write to a closed socket, say).
      if (!(e instanceof ResponseError) && (this.lost || isConnectionFailure(e))) throw connectionLost(method);
      throw fromWire(e, method);
    } finally {
      this.pending.delete(onLost);
      clearTimeout(timer);
    }
  }

  onNotification(method: string, handler: (params: unknown) => void): void {
    this.conn.onNotification(method, handler);
  }

  /** Answers requests the daemon sends this client (an age plugin's questions, see cli/plugin-prompt.ts). */
  onRequest(method: string, handler: (params: unknown) => Promise<unknown>): void {
    this.conn.onRequest(method, handler);
  }

  close(): void {
    this.conn.dispose();
    this.socket.destroy();
  }

  private connectionLost(): void {
    if (this.lost) return;
    this.lost = true;
    for (const reject of this.pending) reject();
    this.pending.clear();
  }
}

/**
 * The error of a request whose connection dropped before its answer: the daemon stopped (a
 * crash, a kill) or closed it. Whether the request took effect is unknown, so it is never
 * reported as done; `connectionLost: true` lets a command say more (its output is incomplete,
 * its job resumes).
 */
function connectionLost(method: string): KeywardError {
  return Object.assign(
    new KeywardError(
      ErrorCode.DaemonUnavailable,
      `the connection to the daemon was lost before it answered (${method})`,
      'the daemon stopped; see its log (daemon.log in the keyward home), then run the command again: it starts a new daemon',
    ),
    { connectionLost: true },
  );
}

function isConnectionFailure(e: unknown): boolean {
  const code = errnoCode(e);
  if (code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END') return true;
  return e instanceof Error && /connection (got disposed|is closed)|closed/i.test(e.message);
}

function fromWire(e: unknown, method: string): unknown {
  if (e instanceof ResponseError) {
    // Our own close() while the request was pending.
    if (e.code === ErrorCodes.PendingResponseRejected) return connectionLost(method);
    const data = e.data as ErrorData | undefined;
    return new KeywardError(e.code as ErrorCode, e.message, data?.hint);
  }
  if (isConnectionFailure(e)) return connectionLost(method);
  return e;
}

function connectSocket(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new KeywardError(ErrorCode.DaemonUnavailable, 'the daemon did not accept the connection in time', 'check the daemon log, or restart it'));
    }, CONNECT_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      const code = errnoCode(e);
      reject(
        new KeywardError(
          ErrorCode.DaemonUnavailable,
          code === 'ENOENT' || code === 'ECONNREFUSED' ? 'no keyward daemon is running' : `cannot reach the daemon (${code ?? 'error'})`,
          'start it with keyward daemon start (commands start it on demand), or run in-process with --no-daemon',
        ),
      );
    });
  });
}

/**
 * Spawns the daemon detached, logging to its log file, and waits until its socket accepts a
 * connection (its readiness signal), or it exits (then its log's last line says why).
 */
export async function startDaemonProcess(home: string, daemonScript: string, env: NodeJS.ProcessEnv = process.env): Promise<DaemonPaths> {
  const paths = daemonPaths(home, env);
  await ensurePrivateDir(paths.home);
  const out = openSync(paths.log, 'a', 0o600);
  // --expose-gc: the daemon collects what a flood of refused connections left (daemon.ts, Admission).
  const child = spawn(process.execPath, ['--expose-gc', daemonScript], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...env, KEYWARD_HOME: home },
  });
  closeSync(out);
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? 1));
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== null && !(await anotherDaemonStarting(paths.lock, child.pid))) {
      // It exited, and no other daemon holds the home: unless one already answers, it failed.
      try {
        const s = await connectSocket(paths.socket);
        s.destroy();
        return paths;
      } catch {
        throw new KeywardError(ErrorCode.DaemonUnavailable, `the daemon exited at start: ${await lastLogLine(paths.log)}`, `see ${paths.log}`);
      }
    }
    // Still starting, or another process won the race to start it: wait for its socket.
    try {
      const s = await connectSocket(paths.socket);
      s.destroy();
      if (await fileExists(paths.token)) return paths;
    } catch {
      // not ready yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new KeywardError(ErrorCode.DaemonUnavailable, `the daemon did not start within ${START_TIMEOUT_MS / 1000} s`, `see ${paths.log}`);
}

/** Whether a live daemon other than `pid` holds the home's lock (it won a race to start). */
async function anotherDaemonStarting(lock: string, pid: number | undefined): Promise<boolean> {
  const holder = await readHolder(lock);
  return holder !== null && holder.owner === 'daemon' && holder.pid !== pid && isAlive(holder.pid);
}

async function lastLogLine(file: string): Promise<string> {
  try {
    const lines = (await fsp.readFile(file, 'utf8')).trim().split('\n');
    return lines[lines.length - 1] ?? '(empty log)';
  } catch {
    return '(no log)';
  }
}

async function fileExists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

export function defaultDaemonScript(): string {
  return path.join(__dirname, 'daemon.js');
}
