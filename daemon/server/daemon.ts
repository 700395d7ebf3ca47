import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, promises as fsp, renameSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createMessageConnection, ResponseError, SocketMessageWriter, type Message, type MessageConnection } from 'vscode-jsonrpc/node';
import { ErrorCode, PROTOCOL_VERSION, methods, methodsByName, validateParams, type ErrorData, type MethodKey } from '../protocol';
import type { SecretBackend } from '../keystore/backend';
import type { CallContext } from '../rpc/context';
import { Service } from '../service';
import { writeFileAtomic } from '../util/atomic';
import { closeTempJournal, recordTemp, sweepTemps, useTempJournal } from '../util/temps';
import { KeywardError, errnoCode } from '../util/errors';
import { daemonPaths, ensurePrivateDir, type DaemonPaths } from '../util/paths';
import { BoundedMessageReader } from '../transport/framing';
import { encodeFrame } from '../transport/frames';
import { acquireLock, identityOf, type Lock } from './lock';
import { Refusals } from './refusals';
import { shutdownPool, withPluginSession } from '../age';
import { pluginSessionFor } from '../plugins/session';
import { VERSION } from '../version';
import { requests } from './requests';

export interface DaemonOptions {
  home: string;
  /** Tests pass an in-memory backend; the real daemon uses what the registry names. */
  backend?: SecretBackend;
  env?: NodeJS.ProcessEnv;
  /** Where method/duration/outcome lines go. Never parameters or values. */
  log?: (line: string) => void;
  /** How often the daemon checks that clients can still reach it (default 10 s). */
  reachableCheckMs?: number;
  /** How long a connection may take to authenticate (default 5 s). */
  authTimeoutMs?: number;
  /** Connections authenticating at once (default 32); more wait their turn, unread. */
  maxUnauthenticated?: number;
  /** Connections waiting for that turn (default 1024); more are closed as they come. */
  maxQueued?: number;
  /** Refused connections within this window are audited as one record (default 10 s). */
  refusalWindowMs?: number;
}

export interface RunningDaemon {
  paths: DaemonPaths;
  service: Service;
  /** Resolves when the daemon has stopped (socket and token removed, lock released). */
  closed: Promise<void>;
  stop(reason?: string): Promise<void>;
}

const AUTH_TIMEOUT_MS = 5_000;
const MAX_UNAUTHENTICATED = 32;
const MAX_QUEUED = 1024;
/** A collection follows this many connections that never authenticated, once none came for QUIET_MS. */
const GC_AFTER = 256;
const QUIET_MS = 1_000;
const REFUSAL_WINDOW_MS = 10_000;
const REACHABLE_CHECK_MS = 10_000;
/** Before authentication a message is an authenticate request: a few hundred bytes. */
export const PRE_AUTH_MAX_MESSAGE = 16 * 1024;
/**
 * After it, the largest request the protocol allows with room: a 64 MiB sops file sent as base64
 * to `sops/save` (about 86 MiB).
 */
export const MAX_MESSAGE = 128 * 1024 * 1024;

/**
 * Starts the daemon: takes the per-home instance lock, cleans up a stale socket, writes a
 * fresh token (0600), and serves JSON-RPC on a 0600 socket in a 0700 directory.
 */
export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const paths = daemonPaths(opts.home, env);
  await ensurePrivateDir(paths.home);
  await ensurePrivateDir(paths.runDir);

  const lock = await acquireLock(paths.lock, 'daemon');
  let server: net.Server | undefined;
  let opened: Service | undefined;
  try {
    // What crashed processes of this home left (a partial decryption first), before anything
    // else: jobs resume below, and must not find an earlier attempt's temps.
    useTempJournal(paths.home);
    const swept = await sweepTemps(paths.home);
    if (swept.length) log(`daemon: removed ${swept.length} temp file(s) left by a crash`);
    if (process.platform !== 'win32') await fsp.rm(paths.socket, { force: true }); // stale: we hold the lock
    const token = randomBytes(32).toString('hex');
    await writeFileAtomic(paths.token, token + '\n', 0o600);
    const tokenId = await identityOf(paths.token);
    let socketId: string | null = null;
    let reachable: NodeJS.Timeout | undefined = undefined;
    const service = await Service.open({ home: paths.home, socket: paths.socket, ...(opts.backend ? { backend: opts.backend } : {}) });
    opened = service;
    // Jobs a crash or a stop left unfinished pick up where their journals say. Started before
    // the socket listens, so that no request (jobs/get, jobs/wait) can see them as merely
    // interrupted: those methods wait for the resumption.
    service.jobs.resumeAll().then(
      (ids) => ids.length && log(`daemon: resumed job(s) ${ids.join(', ')}`),
      (e: unknown) => log(`daemon: could not resume jobs: ${e instanceof Error ? e.message : 'error'}`),
    );
    const sockets = new Set<net.Socket>();
    const refusals = new Refusals((e) => service.record(e), log, opts.refusalWindowMs ?? REFUSAL_WINDOW_MS);
    const gate: Gate = {
      token: Buffer.from(token),
      refusals,
      authTimeoutMs: opts.authTimeoutMs ?? AUTH_TIMEOUT_MS,
    };
    const admission = new Admission(opts.maxUnauthenticated ?? MAX_UNAUTHENTICATED, opts.maxQueued ?? MAX_QUEUED, gate.authTimeoutMs, (why) => void refusals.note(why));
    server = net.createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => undefined); // a peer that went away; 'close' follows
      admission.admit(socket, (authenticated) => serveConnection(socket, service, gate, authenticated, log, () => void running.stop('shutdown requested')));
    });
    await service.record({ event: 'daemon.start', outcome: 'ok', detail: `pid ${process.pid}` });

    // Ready to stop before the socket listens: a client may connect, and ask for a shutdown,
    // as soon as it does.
    let stopping: Promise<void> | undefined;
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const srv = server;
    const running: RunningDaemon = {
      paths,
      service,
      closed,
      stop(reason = 'stop') {
        stopping ??= (async () => {
          log(`daemon: stopping (${reason})`);
          clearInterval(reachable);
          await new Promise<void>((r) => {
            srv.close(() => r());
            // end(): whatever is already queued (a last response) is flushed first; a client
            // that does not close its side within a second is cut off.
            for (const s of sockets) s.end();
            setTimeout(() => {
              for (const s of sockets) s.destroy();
            }, 1000).unref();
          });
          await refusals.flush();
          await service.dispose();
          await shutdownPool();
          // Only its own: a daemon that took over the home (see below) keeps its files.
          await removeIfSame(paths.token, tokenId);
          if (process.platform !== 'win32') await removeIfSame(paths.socket, socketId);
          await service.record({ event: 'daemon.stop', outcome: 'ok', detail: reason }).catch(() => undefined);
          await closeTempJournal(paths.home);
          await lock.release();
          resolveClosed();
        })();
        return stopping;
      },
    };
    socketId = await listenPrivately(server, paths.socket);
    log(`daemon: ready on ${paths.socket} (pid ${process.pid}, keystore ${service.keystore.backendKind})`);
    // A daemon no client can reach any more stops, as gpg-agent does: its socket was removed
    // (its runtime directory went at logout, or a test's temp dir was deleted), or another
    // daemon judged this one gone and took over the home. Otherwise it would run forever.
    reachable = setInterval(() => {
      void unreachableBecause(paths, socketId, lock).then((why) => {
        if (why !== undefined) void running.stop(`${why}: no client can reach this daemon`);
      });
    }, opts.reachableCheckMs ?? REACHABLE_CHECK_MS);
    reachable.unref();
    // Workspaces registered before are watched again (only the daemon watches).
    service.watch.resume().catch((e: unknown) => log(`daemon: could not resume workspaces: ${e instanceof Error ? e.message : 'error'}`));
    return running;
  } catch (e) {
    server?.close();
    await opened?.dispose(); // resumed jobs stop at a safe point; they resume at the next start
    await closeTempJournal(paths.home);
    await lock.release();
    throw e;
  }
}

/** Why clients can no longer reach this daemon, or undefined while they can. */
async function unreachableBecause(paths: DaemonPaths, socketId: string | null, lock: Lock): Promise<string | undefined> {
  if (socketId !== null && (await identityOf(paths.socket)) !== socketId) return `its socket ${paths.socket} was removed or replaced`;
  if (!(await lock.held())) return `its lock ${paths.lock} was removed or taken over`;
  return undefined;
}

/** Removes `file` if it is still the file `id` names (or if that is unknown). */
async function removeIfSame(file: string, id: string | null): Promise<void> {
  if (id === null || (await identityOf(file)) === id) await fsp.rm(file, { force: true });
}

/**
 * Binds the socket with a umask that keeps it 0600 from its first instant, and returns which
 * file it is (null on Windows, whose pipes are not files).
 *
 * It is bound under a temporary name beside its path, then renamed into place: libuv unlinks
 * the name a server was bound to when that server closes, and by the time this daemon stops,
 * the path may belong to a newer daemon.
 */
async function listenPrivately(server: net.Server, socket: string): Promise<string | null> {
  if (process.platform === 'win32') {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return null;
  }
  const bound = path.join(path.dirname(socket), `.${randomBytes(4).toString('hex')}`);
  const recorded = await recordTemp(bound);
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bound, () => {
        server.off('error', reject);
        // Synchronously, before any connection is handled (the umask already made it 0600).
        try {
          chmodSync(bound, 0o600);
          renameSync(bound, socket);
          resolve();
        } catch (e) {
          server.close();
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
  } finally {
    process.umask(old);
    recorded.done();
  }
  return identityOf(socket);
}

/**
 * How many connections may be authenticating at once. A new connection is served at once while
 * fewer than `max` are (a client authenticates within milliseconds of connecting, so a burst of
 * fifty is fine); beyond that it waits its turn, unread (what it sends stays in the kernel's
 * socket buffer), and is closed if its turn has not come within the authentication deadline,
 * or if `maxQueued` already wait. A slot is freed when its connection authenticates or closes.
 */
class Admission {
  private active = 0;
  private readonly queue: { socket: net.Socket; start: () => void; timer: NodeJS.Timeout }[] = [];
  /** Connections closed without authenticating since the last collection, and the quiet timer. */
  private unauthenticatedClosed = 0;
  private quiet: NodeJS.Timeout | undefined;

  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
    private readonly deadlineMs: number,
    private readonly refused: (why: string) => void,
  ) {}

  /** Serves `socket` now or later; `serve` gets the function that frees its slot. */
  admit(socket: net.Socket, serve: (authenticated: () => void) => void): void {
    this.afterBurst();
    const start = () => {
      this.active++;
      let counted = true;
      const free = () => {
        if (!counted) return;
        counted = false;
        this.active--;
        this.next();
      };
      socket.once('close', () => {
        if (counted) this.unauthenticatedClosed++;
        free();
      });
      serve(free);
      socket.resume();
    };
    if (this.active < this.max) return start();
    if (this.queue.length >= this.maxQueued) {
      this.refused('too many connections waiting to authenticate');
      socket.destroy();
      return;
    }
    socket.pause();
    const entry = {
      socket,
      start,
      timer: setTimeout(() => {
        this.drop(entry);
        this.refused('no authentication in time');
        socket.destroy();
      }, this.deadlineMs),
    };
    entry.timer.unref();
    this.queue.push(entry);
    socket.once('close', () => this.drop(entry));
  }

  /**
   * Once connections stop coming after a burst of ones that never authenticated (a flood),
   * collects the garbage they left (a few KiB each) if the daemon may (`--expose-gc`, as
   * `keyward` starts it): an idle process is not collected otherwise, and would keep that
   * memory for good. No-op without it.
   */
  private afterBurst(): void {
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (this.unauthenticatedClosed < GC_AFTER || !gc) return;
      this.unauthenticatedClosed = 0;
      gc();
      // A second collection once the first one's sweeping is done: it compacts, and V8 then
      // gives the emptied pages back.
      setTimeout(() => gc(), QUIET_MS).unref();
    }, QUIET_MS);
    this.quiet.unref();
  }

  private drop(entry: { timer: NodeJS.Timeout }): void {
    clearTimeout(entry.timer);
    const i = this.queue.indexOf(entry as never);
    if (i >= 0) this.queue.splice(i, 1);
  }

  private next(): void {
    while (this.active < this.max && this.queue.length) {
      const e = this.queue.shift()!;
      clearTimeout(e.timer);
      if (!e.socket.destroyed) e.start();
    }
  }
}

/** What a connection needs to let a client in. */
interface Gate {
  token: Buffer;
  refusals: Refusals;
  authTimeoutMs: number;
}

/**
 * One client's connection. Until it authenticates, it may send one thing, a `session/authenticate`
 * request of at most PRE_AUTH_MAX_MESSAGE bytes, within `authTimeoutMs`; anything else (another
 * method, a notification, a bigger or malformed frame, silence) closes it, and is counted in
 * the audit log (see Refusals). The gate answers authenticate itself, and the JSON-RPC
 * connection (vscode-jsonrpc's, a few KiB of objects) is made only once the client is in: an
 * unauthenticated peer never reaches a handler, and a flood of them leaves little to collect.
 */
function serveConnection(
  socket: net.Socket,
  service: Service,
  gate: Gate,
  onAuthenticated: () => void,
  log: (line: string) => void,
  requestShutdown: () => void,
): void {
  const state = { client: null as string | null, closing: false, conn: undefined as MessageConnection | undefined };
  /** Answers `id` with an error once `audited` is written, then closes the connection. */
  const refuseAndClose = (id: unknown, err: ResponseError<ErrorData>, audited: Promise<void> = Promise.resolve()) => {
    if (state.closing) return;
    state.closing = true;
    void audited
      .then(() => {
        if (typeof id === 'number' || typeof id === 'string') writeFrame(socket, { jsonrpc: '2.0', id, error: err.toJson() });
      })
      .catch(() => undefined)
      .finally(() => socket.end());
    // A peer that does not close its side in time is cut off.
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  const admit = (m: Message): boolean => {
    if (state.closing) return false;
    if (state.client !== null) return true;
    const req = m as { id?: unknown; method?: unknown; params?: unknown };
    if (req.method !== methods.authenticate.name) {
      const why = typeof req.method === 'string' ? `unauthenticated call to ${req.method.slice(0, 64)}` : 'unauthenticated message';
      refuseAndClose(req.id, refusal('not authenticated'), gate.refusals.note(why));
      return false;
    }
    const v = validateParams('authenticate', req.params);
    if (!v.ok || (typeof req.id !== 'number' && typeof req.id !== 'string')) {
      const err = new ResponseError<ErrorData>(ErrorCode.InvalidParams, `invalid params for ${methods.authenticate.name}: ${v.ok ? 'no request id' : v.reason}`);
      refuseAndClose(req.id, err, gate.refusals.note('malformed authentication'));
      return false;
    }
    const p = v.value;
    const given = Buffer.from(p.token);
    if (given.length !== gate.token.length || !timingSafeEqual(given, gate.token)) {
      refuseAndClose(req.id, refusal('wrong daemon token'), gate.refusals.note('wrong token', p.client));
      return false;
    }
    if (p.protocolVersion !== PROTOCOL_VERSION) {
      refuseAndClose(
        req.id,
        new ResponseError<ErrorData>(ErrorCode.InvalidInput, `protocol version ${p.protocolVersion} is not supported (daemon speaks ${PROTOCOL_VERSION})`, {
          hint: 'restart the daemon so that client and daemon are the same version: keyward daemon stop',
        }),
      );
      return false;
    }
    state.client = p.client;
    clearTimeout(authTimer);
    onAuthenticated();
    // The answer goes out before anything the connection sends.
    writeFrame(socket, { jsonrpc: '2.0', id: req.id, result: { daemonVersion: VERSION, protocolVersion: PROTOCOL_VERSION } });
    state.conn = serveAuthenticated(socket, reader, service, p.client, () => state.closing, log, requestShutdown);
    return false;
  };
  const reader = new BoundedMessageReader(socket, () => (state.client === null ? PRE_AUTH_MAX_MESSAGE : MAX_MESSAGE), admit);
  // A connection that does not authenticate in time is closed.
  const authTimer = setTimeout(() => {
    if (state.client !== null) return;
    void gate.refusals.note('no authentication in time');
    state.closing = true;
    socket.destroy();
  }, gate.authTimeoutMs);
  authTimer.unref();
  // Everything goes with the socket: the connection's maps and handlers, the reader's buffer,
  // the timer. (A broken frame destroys the socket too: see BoundedMessageReader.) One that
  // closes before authenticating is not refused: a client probing that the daemon is up does that.
  socket.once('close', () => {
    clearTimeout(authTimer);
    state.closing = true;
    state.conn?.dispose();
  });
  reader.onError(() => {
    if (state.client === null && !state.closing) void gate.refusals.note('malformed message');
    state.closing = true;
  });
  reader.listen(() => undefined); // until authenticated, admit() sees every message
}

/** Writes one message in the wire's framing, straight to the socket (before or without a connection). */
function writeFrame(socket: net.Socket, msg: object): void {
  socket.write(encodeFrame(msg));
}

/** The JSON-RPC connection of an authenticated client: its requests go to the service's handlers. */
function serveAuthenticated(
  socket: net.Socket,
  reader: BoundedMessageReader,
  service: Service,
  client: string,
  closing: () => boolean,
  log: (line: string) => void,
  requestShutdown: () => void,
): MessageConnection {
  const conn = createMessageConnection(reader, new SocketMessageWriter(socket));
  conn.onError(() => undefined);
  // The client's requests stop with its connection (CallContext.signal): a CLI killed while its
  // request was on the way, or mid-way, gets no output written after it died.
  const gone = new AbortController();
  socket.once('end', () => gone.abort());
  socket.once('close', () => gone.abort());
  let count = 0;
  conn.onRequest(async (method: string, params: unknown) => {
    const started = Date.now();
    const id = String(++count);
    let outcome = 'ok';
    requests.started();
    try {
      const key = methodsByName.get(method);
      if (key === undefined) throw new ResponseError(ErrorCode.MethodNotFound, `unknown method: ${method.slice(0, 64)}`);
      if (key === 'authenticate') throw new ResponseError(ErrorCode.InvalidInput, 'this connection is already authenticated');
      const v = validateParams(key, params);
      if (!v.ok) throw new ResponseError(ErrorCode.InvalidParams, `invalid params for ${method}: ${v.reason}`);
      if (key === 'shutdown') {
        // Answer first; the stop ends every socket gracefully, so this reply is flushed.
        setTimeout(requestShutdown, 20);
        return {};
      }
      const call: CallContext = {
        client,
        requestId: id,
        // Never throws where it is called: to a client that went away (vscode-jsonrpc throws at
        // once on a closed connection), it rejects. A job followed by a client killed mid-way
        // died of that throw in its progress listener.
        notify: async (m, p) => {
          if (closing()) throw new Error('the client went away');
          await conn.sendNotification(m, p);
        },
        request: (m, p) => conn.sendRequest(m, p),
        signal: gone.signal,
      };
      return await dispatch(service, key, v.value, call);
    } catch (e) {
      const err = toResponseError(e);
      outcome = `error ${err.code}`;
      throw err;
    } finally {
      requests.ended();
      log(`${method.slice(0, 64)} ${Date.now() - started}ms ${outcome}`);
    }
  });
  conn.listen();
  return conn;
}

function dispatch(service: Service, key: MethodKey, params: unknown, call: CallContext): Promise<unknown> {
  const h = service.handlers[key] as ((p: unknown, c: CallContext) => Promise<unknown>) | undefined;
  if (!h) return Promise.reject(new ResponseError(ErrorCode.MethodNotFound, `method not available: ${methods[key].name}`));
  // Age plugins started by this request ask their questions of this client.
  return withPluginSession(pluginSessionFor(call), () => h(params, call));
}

function refusal(why: string): ResponseError<ErrorData> {
  return new ResponseError(ErrorCode.Unauthorized, `refused: ${why}`, {
    hint: 'clients must read the token file the daemon wrote in its runtime directory; if the daemon was restarted, reconnect',
  });
}

/** The one place where failures become wire errors. Unknown errors are not described. */
export function toResponseError(e: unknown): ResponseError<ErrorData> {
  if (e instanceof ResponseError) return e as ResponseError<ErrorData>;
  if (e instanceof KeywardError) return new ResponseError(e.code, e.message, e.hint ? { hint: e.hint } : {});
  const code = errnoCode(e);
  if (code) return new ResponseError(ErrorCode.IoFailed, `i/o failure (${code})`, { hint: 'see the daemon log for details' });
  return new ResponseError(ErrorCode.InternalError, 'internal error in the daemon', { hint: 'see the daemon log; please report it' });
}

