// The parts of the daemon's client side that need no JSON-RPC library: connecting to the socket,
// reading the token, starting the daemon, and the errors a client reports (the transport's
// mapping of the daemon's errors and of a lost connection, in one place). Used by the full
// client (client.ts, on vscode-jsonrpc) and the light one of `keyward exec` (light.ts).
import { closeSync, openSync, promises as fsp, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { ErrorCode, type ErrorData } from '../protocol/errors';
import type { DaemonPaths } from '../protocol/paths';
import { isAlive, readHolder } from '../util/process';

export const CONNECT_TIMEOUT_MS = 3_000;
/** How long a started daemon has to accept connections (a cold start on a loaded machine included). */
export const START_TIMEOUT_MS = 20_000;
/** The largest message taken from the daemon (a decrypted 64 MiB sops file as base64, a long audit log). */
export const MAX_ANSWER = 512 * 1024 * 1024;

/** How a client reports failures: its error type, and what it tells its user to do when the transport fails. */
export interface ClientErrors<E extends Error = Error> {
  /** The client's error for a code of the protocol (daemon/protocol/errors.ts). */
  make(code: number, message: string, hint?: string): E;
  hints: {
    /** No daemon answers on the socket. */
    notRunning: string;
    /** The token file cannot be read. */
    token: string;
    /** The connection dropped before the answer came. */
    lost: string;
    /** A call got no answer in time. */
    timeout: string;
    /** The daemon did not start; `log` is its log file. */
    start(log: string): string;
  };
}

/**
 * The error of a request whose connection dropped before its answer: the daemon stopped (a
 * crash, a kill) or closed it. Whether the request took effect is unknown, so it is never
 * reported as done; `connectionLost: true` lets a client say more (an output is incomplete,
 * a job resumes).
 */
export function connectionLostError<E extends Error>(errors: ClientErrors<E>, method: string): E {
  return Object.assign(errors.make(ErrorCode.DaemonUnavailable, `the connection to the daemon was lost before it answered (${method})`, errors.hints.lost), {
    connectionLost: true,
  });
}

/** The client's error for an error answer of the daemon (`{ code, message, data: { hint } }`). */
export function errorFromWire<E extends Error>(errors: ClientErrors<E>, e: { code: number; message: string; data?: unknown }): E {
  const data = e.data as ErrorData | undefined;
  return errors.make(e.code, e.message, data?.hint);
}

/** The daemon's token; throws DaemonUnavailable at once when it cannot be read. */
export function readToken<E extends Error>(paths: DaemonPaths, errors: ClientErrors<E>): string {
  try {
    // A few bytes, read at once: a trip through libuv's thread pool (four of them for a
    // readFile) waits for a free core each time, milliseconds on a busy machine.
    return readFileSync(paths.token, 'utf8').trim();
  } catch {
    throw errors.make(ErrorCode.DaemonUnavailable, `cannot read the daemon token ${paths.token}`, errors.hints.token);
  }
}

/** Connects to the daemon's socket; rejects with DaemonUnavailable when nothing answers in time. */
export function connectSocket<E extends Error>(socketPath: string, errors: ClientErrors<E>): Promise<net.Socket> {
  return whenConnected(net.connect(socketPath), errors);
}

/**
 * Resolves when `s` (just made by net.connect) is connected; rejects with DaemonUnavailable when
 * nothing answers in time (the socket destroyed). What is written to it meanwhile waits for it.
 */
export function whenConnected<E extends Error>(s: net.Socket, errors: ClientErrors<E>): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.destroy();
      reject(errors.make(ErrorCode.DaemonUnavailable, 'the daemon did not accept the connection in time', errors.hints.notRunning));
    }, CONNECT_TIMEOUT_MS);
    const failed = (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = e.code;
      reject(
        errors.make(
          ErrorCode.DaemonUnavailable,
          code === 'ENOENT' || code === 'ECONNREFUSED' ? 'no keyward daemon is running' : `cannot reach the daemon (${code ?? 'error'})`,
          errors.hints.notRunning,
        ),
      );
    };
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeListener('error', failed);
      s.on('error', () => undefined); // the connection reports it as a close
      resolve(s);
    });
    s.once('error', failed);
  });
}

export interface StartOptions {
  /** The daemon's environment (default: this process's); KEYWARD_HOME is set to the paths' home. */
  env?: NodeJS.ProcessEnv;
  /** Node options before the script (`--expose-gc`). */
  execArgv?: string[];
}

/**
 * Spawns the daemon (`script`, dist/daemon.js) detached, logging to its log file, and waits
 * until it accepts connections and its token is written (its readiness signal). When it exits
 * first, it failed, unless another daemon won the race to start for this home (it holds the
 * lock): then that one is waited for. Returns the pid of the process it started.
 */
export async function startDaemonProcess<E extends Error>(paths: DaemonPaths, script: string, errors: ClientErrors<E>, opts: StartOptions = {}): Promise<number | undefined> {
  await fsp.mkdir(paths.home, { recursive: true, mode: 0o700 });
  // Loaded here: a client that finds its daemon running (every `keyward exec` but the first) need not.
  const { spawn } = await import('node:child_process');
  const out = openSync(paths.log, 'a', 0o600);
  let child;
  try {
    child = spawn(process.execPath, [...(opts.execArgv ?? []), script], {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...(opts.env ?? process.env), KEYWARD_HOME: paths.home },
    });
  } finally {
    closeSync(out);
  }
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await ready(paths)) return child.pid;
    if (exited && !(await anotherDaemonStarting(paths.lock, child.pid))) {
      if (await ready(paths)) return child.pid; // one that won a race just got ready
      throw errors.make(ErrorCode.DaemonUnavailable, `the daemon exited at start: ${await lastLogLine(paths.log)}`, errors.hints.start(paths.log));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw errors.make(ErrorCode.DaemonUnavailable, `the daemon did not start within ${START_TIMEOUT_MS / 1000} s`, errors.hints.start(paths.log));
}

/** Whether a daemon accepts connections on the socket and has written its token. */
async function ready(paths: DaemonPaths): Promise<boolean> {
  const connected = await new Promise<boolean>((resolve) => {
    const s = net.connect(paths.socket);
    const timer = setTimeout(() => done(false), CONNECT_TIMEOUT_MS);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
  if (!connected) return false;
  return fsp.access(paths.token).then(
    () => true,
    () => false,
  );
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
