import { spawn } from 'node:child_process';
import { promises as fsp, openSync, closeSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
  createMessageConnection,
  ResponseError,
  SocketMessageReader,
  SocketMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { MethodKey, ParamsOf, ResultOf } from './protocol';
import { PROTOCOL_VERSION, methodNames } from './protocol/constants';
import { ErrorCode, type ErrorData } from './protocol/errors';
import { isAlive, readHolder } from './server/lock';
import { KeywardError, errnoCode } from './util/errors';
import { daemonPaths, ensurePrivateDir, type DaemonPaths } from './util/paths';

const CONNECT_TIMEOUT_MS = 3_000;
const START_TIMEOUT_MS = 15_000;

/** A connected, authenticated client of the daemon. */
export class DaemonClient {
  private constructor(
    private readonly conn: MessageConnection,
    private readonly socket: net.Socket,
  ) {}

  /** Connects to the daemon of `home`; rejects with DaemonUnavailable when none answers. */
  static async connect(home: string, client: string, env: NodeJS.ProcessEnv = process.env): Promise<DaemonClient> {
    const paths = daemonPaths(home, env);
    const socket = await connectSocket(paths.socket);
    const conn = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
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

  /** Calls a method; the daemon's errors come back as KeywardErrors with their hints. */
  async call<K extends MethodKey>(key: K, params: ParamsOf<K>, timeoutMs = 0): Promise<ResultOf<K>> {
    const req = this.conn.sendRequest<ResultOf<K>>(methodNames[key], params);
    try {
      if (!timeoutMs) return await req;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new KeywardError(ErrorCode.DaemonUnavailable, `the daemon did not answer ${methodNames[key]} within ${timeoutMs} ms`, 'check the daemon log')), timeoutMs);
      });
      try {
        return await Promise.race([req, timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      throw fromWire(e);
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
}

function fromWire(e: unknown): unknown {
  if (e instanceof ResponseError) {
    const data = e.data as ErrorData | undefined;
    return new KeywardError(e.code as ErrorCode, e.message, data?.hint);
  }
  if (e instanceof Error && /connection (got disposed|is closed)|closed/i.test(e.message)) {
    return new KeywardError(ErrorCode.DaemonUnavailable, 'the connection to the daemon was lost', 'check the daemon log; it restarts on the next command');
  }
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
  const child = spawn(process.execPath, [daemonScript], {
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
