import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, promises as fsp, renameSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createMessageConnection, ResponseError, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { ErrorCode, PROTOCOL_VERSION, methods, methodsByName, validateParams, type ErrorData, type MethodKey } from '../protocol';
import type { SecretBackend } from '../keystore/backend';
import { Service, type CallContext } from '../service';
import { writeFileAtomic } from '../util/atomic';
import { KeywardError, errnoCode } from '../util/errors';
import { daemonPaths, ensurePrivateDir, type DaemonPaths } from '../util/paths';
import { acquireLock, identityOf, type Lock } from './lock';
import { shutdownPool, withPluginSession } from '../age';
import { pluginSessionFor } from '../plugins/session';
import { resumeWorkspaces } from '../watch/handlers';
import { VERSION } from '../version';

export interface DaemonOptions {
  home: string;
  /** Tests pass an in-memory backend; the real daemon uses what the registry names. */
  backend?: SecretBackend;
  env?: NodeJS.ProcessEnv;
  /** Where method/duration/outcome lines go. Never parameters or values. */
  log?: (line: string) => void;
  /** How often the daemon checks that clients can still reach it (default 10 s). */
  reachableCheckMs?: number;
}

export interface RunningDaemon {
  paths: DaemonPaths;
  service: Service;
  /** Resolves when the daemon has stopped (socket and token removed, lock released). */
  closed: Promise<void>;
  stop(reason?: string): Promise<void>;
}

const AUTH_TIMEOUT_MS = 10_000;
const REACHABLE_CHECK_MS = 10_000;

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
    server = net.createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      serveConnection(socket, service, Buffer.from(token), log, () => void running.stop('shutdown requested'));
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
          await service.dispose();
          await shutdownPool();
          // Only its own: a daemon that took over the home (see below) keeps its files.
          await removeIfSame(paths.token, tokenId);
          if (process.platform !== 'win32') await removeIfSame(paths.socket, socketId);
          await service.record({ event: 'daemon.stop', outcome: 'ok', detail: reason }).catch(() => undefined);
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
    resumeWorkspaces(service).catch((e: unknown) => log(`daemon: could not resume workspaces: ${e instanceof Error ? e.message : 'error'}`));
    return running;
  } catch (e) {
    server?.close();
    await opened?.dispose(); // resumed jobs stop at a safe point; they resume at the next start
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
  }
  return identityOf(socket);
}

function serveConnection(
  socket: net.Socket,
  service: Service,
  token: Buffer,
  log: (line: string) => void,
  requestShutdown: () => void,
): void {
  const conn = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
  let client: string | null = null;
  // A connection that never authenticates does not hold a slot forever.
  const authTimer = setTimeout(() => {
    if (client === null) conn.dispose();
  }, AUTH_TIMEOUT_MS);
  conn.onClose(() => {
    clearTimeout(authTimer);
    socket.destroy();
  });
  conn.onError(() => undefined);
  let requests = 0;

  conn.onRequest(async (method: string, params: unknown) => {
    const started = Date.now();
    const id = String(++requests);
    let outcome = 'ok';
    try {
      const key = methodsByName.get(method);
      if (key === undefined) throw new ResponseError(ErrorCode.MethodNotFound, `unknown method: ${method.slice(0, 64)}`);
      const v = validateParams(key, params);
      if (key === 'authenticate') {
        if (!v.ok) throw new ResponseError(ErrorCode.InvalidParams, `invalid params for ${method}: ${v.reason}`);
        const p = v.value as { token: string; client: string; protocolVersion: number };
        const given = Buffer.from(p.token);
        if (given.length !== token.length || !timingSafeEqual(given, token)) {
          await service.record({ event: 'auth', outcome: 'refused', client: p.client, detail: 'wrong token' });
          setTimeout(() => conn.dispose(), 50);
          throw refusal('wrong daemon token');
        }
        if (p.protocolVersion !== PROTOCOL_VERSION) {
          throw new ResponseError(ErrorCode.InvalidInput, `protocol version ${p.protocolVersion} is not supported (daemon speaks ${PROTOCOL_VERSION})`, {
            hint: 'restart the daemon so that client and daemon are the same version: keyward daemon stop',
          } satisfies ErrorData);
        }
        client = p.client;
        return { daemonVersion: VERSION, protocolVersion: PROTOCOL_VERSION };
      }
      if (client === null) {
        await service.record({ event: 'auth', outcome: 'refused', detail: `unauthenticated call to ${method.slice(0, 64)}` });
        setTimeout(() => conn.dispose(), 50);
        throw refusal('not authenticated');
      }
      if (!v.ok) throw new ResponseError(ErrorCode.InvalidParams, `invalid params for ${method}: ${v.reason}`);
      if (key === 'shutdown') {
        // Answer first; the stop ends every socket gracefully, so this reply is flushed.
        setTimeout(requestShutdown, 20);
        return {};
      }
      const call: CallContext = {
        client,
        requestId: id,
        notify: (m, p) => conn.sendNotification(m, p),
        request: (m, p) => conn.sendRequest(m, p),
      };
      return await dispatch(service, key, v.value, call);
    } catch (e) {
      const err = toResponseError(e);
      outcome = `error ${err.code}`;
      throw err;
    } finally {
      log(`${method.slice(0, 64)} ${Date.now() - started}ms ${outcome}`);
    }
  });
  conn.listen();
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

