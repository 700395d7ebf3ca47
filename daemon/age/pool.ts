import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { cancelled, internal } from './errors';
import { TAG_SIZE } from './aead';

// Worker threads that seal and open batches of payload chunks, so that a large file uses every
// core. The worker is an inline script (`eval`) that needs only node:crypto: it runs the same
// from source under tsx and from the single-file esbuild bundles, with no file to ship or find.
//
// A batch is one ArrayBuffer, transferred (not copied) to the worker and back, and processed
// in place: see sealBatch/openBatch in batch.ts, which this script mirrors line for line and
// which the tests hold it to. The pool is created on first use, is shared by every file, keeps
// no process alive while idle (its workers are unref'd), and `shutdownPool()` ends it.

export const CHUNK = 64 * 1024;
export const SEALED = CHUNK + TAG_SIZE;

/** What the calling thread sends: the key and the batch's first counter, its bytes, its length. */
export interface BufferJob {
  op: 'seal' | 'open';
  /** The 32-byte payload key, wiped once posted; the worker wipes its copy after the batch. */
  key: Uint8Array;
  counter: number;
  /** The batch ends with the final chunk of the payload. */
  final: boolean;
  /** Transferred: detached here until the reply brings it back. */
  buf: ArrayBuffer;
  /** seal: plaintext bytes at the start of `buf`; open: sealed bytes. */
  len: number;
}

/**
 * A batch that the worker reads from one file and writes to another itself, at positions the
 * calling thread worked out (spread.ts): no bytes cross threads. The descriptors are the
 * calling thread's, which keeps them open until the reply (or the worker's exit) comes.
 */
export interface PlacedJob {
  /**
   * sealAt: plaintext in, sealed chunks out. openAt: sealed in, plaintext out. resealAt: sealed
   * in, each chunk opened with `key` and sealed again with `key2` (a re-encryption). digestAt:
   * sealed in, nothing out. The last three stop at the first chunk that does not authenticate;
   * the last two also return a SHA-256 of each chunk's plaintext.
   */
  op: 'sealAt' | 'openAt' | 'resealAt' | 'digestAt';
  key: Uint8Array;
  /** resealAt: the new payload key, wiped like `key`. */
  key2?: Uint8Array;
  counter: number;
  final: boolean;
  /** sealAt: plaintext bytes to read at `inPos`; openAt: sealed bytes. */
  len: number;
  inFd: number;
  inPos: number;
  outFd: number;
  outPos: number;
}

export type BatchJob = BufferJob | PlacedJob;

/** seal: `len` sealed bytes now at the start of `buf`. open: `ok` chunks authenticated, their `len` plaintext bytes at the start. */
export interface BatchReply {
  buf: ArrayBuffer;
  len: number;
  ok: number;
  /** The worker frees its garbage after each batch (see the script); for tests. */
  collects?: boolean;
}

/**
 * sealAt: `ok` chunks, `len` sealed bytes written. openAt: the first `ok` chunks
 * authenticated and their `len` plaintext bytes were written; a chunk that did not was not.
 */
export interface PlacedReply {
  len: number;
  ok: number;
  /** The input ended before `len` bytes: it changed since its size was taken. */
  short?: boolean;
  /** A read or write failed, with its errno code: nothing after it was done. */
  failed?: { action: 'read' | 'write'; code?: string; message: string };
  /** resealAt and digestAt: the SHA-256 of each of the `ok` chunks' plaintext, one after the other. */
  digests?: Uint8Array;
  collects?: boolean;
}

const WORKER_SOURCE = `'use strict';
const { parentPort } = require('node:worker_threads');
const { createCipheriv, createDecipheriv, createHash } = require('node:crypto');
const fs = require('node:fs');
const CHUNK = ${CHUNK}, SEALED = ${SEALED}, TAG = ${TAG_SIZE};

// Each chunk's update() returns a new 64 KiB buffer. V8 frees them only when the GC runs, which
// tiny JavaScript objects trigger rarely: left alone, garbage grows to about 32 MiB per thread.
// A minor GC after each batch frees them (they die young). The few that a GC in the middle of
// a batch promotes are left to V8's own full GCs: forcing one now and then cost about 0.1 s a
// GiB (full GCs wake V8's helper threads) and peak RSS stays under 110 MiB without it. The
// --expose-gc flag is process-wide, so it is set just long enough to get the function, and
// workers starting at the same time can undo each other's flag: hence the retries.
const v8 = require('node:v8');
const vm = require('node:vm');
let collect = null;
let fullGc = null;
for (let attempt = 0; attempt < 20 && collect === null; attempt++) {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc');
    fullGc = gc;
    collect = () => gc({ type: 'minor' });
  } catch {
    // another worker turned the flag off in between: try again
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}
const collects = collect !== null; // if not, memory is higher and results the same

// glibc gives a thread's freed memory back to the kernel as soon as 128 KiB lie free at the
// top of its heap, and a batch frees 16 chunk outputs of 64 KiB at once: every batch would
// fault its megabyte in again, page by page (in a VM, as costly as the encryption). Freeing
// one large block that glibc had to map raises that threshold to twice its size for the
// process (its "dynamic mmap threshold"), so a batch's garbage is reused in place. Other
// allocators ignore this; it costs one 2 MiB allocation at start.
if (fullGc !== null) {
  let block = Buffer.allocUnsafeSlow(2 * 1024 * 1024);
  block[0] = 1;
  block = null;
  fullGc();
}

function nonce(counter, last) {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}

// One chunk: its ciphertext and its tag.
function sealOne(key, counter, last, plain) {
  const c = createCipheriv('chacha20-poly1305', key, nonce(counter, last), { authTagLength: TAG });
  const body = c.update(plain);
  c.final();
  return [body, c.getAuthTag()];
}

// One chunk's plaintext, or null (and nothing kept) if it does not authenticate.
function openOne(key, counter, last, sealed) {
  const d = createDecipheriv('chacha20-poly1305', key, nonce(counter, last), { authTagLength: TAG });
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  const body = d.update(sealed.subarray(0, sealed.length - TAG));
  try {
    d.final();
  } catch {
    body.fill(0);
    return null;
  }
  return body;
}

// Backwards, so that each sealed chunk lands on plaintext that was already consumed.
function seal(key, counter, final, buf, n) {
  const chunks = Math.max(1, Math.ceil(n / CHUNK));
  for (let i = chunks - 1; i >= 0; i--) {
    const [body, tag] = sealOne(key, counter + i, final && i === chunks - 1, buf.subarray(i * CHUNK, Math.min(n, (i + 1) * CHUNK)));
    body.copy(buf, i * SEALED);
    tag.copy(buf, i * SEALED + body.length);
  }
  return { len: n + chunks * TAG, ok: chunks };
}

// Forwards, so that each plaintext lands on sealed bytes that were already consumed. Stops at
// the first chunk that does not authenticate; its sealed bytes are left as they were.
function open(key, counter, final, buf, len) {
  const chunks = Math.ceil(len / SEALED);
  let plain = 0;
  for (let i = 0; i < chunks; i++) {
    const start = i * SEALED;
    const end = Math.min(len, start + SEALED);
    const body = end - start < TAG ? null : openOne(key, counter + i, final && i === chunks - 1, buf.subarray(start, end));
    if (body === null) return { len: plain, ok: i };
    body.copy(buf, i * CHUNK);
    plain += body.length;
  }
  return { len: plain, ok: chunks };
}

// Placed batches: read, seal or open, write, all on this thread, into a buffer kept between
// batches (allocUnsafeSlow: its own memory, not a slice of Node's shared pool). It holds
// plaintext after a seal, so it is wiped once the worker has been idle for a moment.
let room = Buffer.alloc(0);
let wipeTimer = null;
function roomFor(n) {
  if (room.length < n) room = Buffer.allocUnsafeSlow(n);
  return room;
}
function wipeRoom() {
  wipeTimer = null;
  room.fill(0);
}

function readFully(fd, buf, len, pos) {
  let got = 0;
  while (got < len) {
    const n = fs.readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function writeFully(fd, parts, pos) {
  while (parts.length > 0) {
    let n = fs.writevSync(fd, parts, pos);
    pos += n;
    let i = 0;
    while (i < parts.length && n >= parts[i].length) n -= parts[i++].length;
    parts = parts.slice(i);
    if (n > 0) parts[0] = parts[0].subarray(n);
  }
}

function failure(action, e) {
  return { len: 0, ok: 0, failed: { action, code: e && typeof e.code === 'string' ? e.code : undefined, message: String(e && e.message) } };
}

/** The batch's input bytes (in \`room\`), or the reply that says why there are none. */
function readInput(m) {
  const buf = roomFor(m.len);
  try {
    if (readFully(m.inFd, buf, m.len, m.inPos) < m.len) return { len: 0, ok: 0, short: true };
  } catch (e) {
    return failure('read', e);
  }
  return buf;
}

/** Writes \`parts\` at the batch's place; returns \`reply\`, or the failure. */
function writeOutput(m, parts, reply) {
  try {
    writeFully(m.outFd, parts, m.outPos);
  } catch (e) {
    return failure('write', e);
  }
  return reply;
}

function sealAt(key, m) {
  const buf = readInput(m);
  if (!Buffer.isBuffer(buf)) return buf;
  const chunks = Math.max(1, Math.ceil(m.len / CHUNK));
  const parts = [];
  for (let i = 0; i < chunks; i++) {
    parts.push(...sealOne(key, m.counter + i, m.final && i === chunks - 1, buf.subarray(i * CHUNK, Math.min(m.len, (i + 1) * CHUNK))));
  }
  return writeOutput(m, parts, { len: m.len + chunks * TAG, ok: chunks });
}

// openAt, resealAt, digestAt: only chunks that authenticated are used; the first that does
// not ends the batch.
function openAt(key, m) {
  const buf = readInput(m);
  if (!Buffer.isBuffer(buf)) return buf;
  const chunks = Math.ceil(m.len / SEALED);
  const parts = [];
  const digests = [];
  const key2 = m.key2 === undefined ? null : Buffer.from(m.key2.buffer, m.key2.byteOffset, m.key2.byteLength);
  try {
    let plain = 0;
    let ok = 0;
    for (; ok < chunks; ok++) {
      const start = ok * SEALED;
      const end = Math.min(m.len, start + SEALED);
      const last = m.final && ok === chunks - 1;
      const body = end - start < TAG ? null : openOne(key, m.counter + ok, last, buf.subarray(start, end));
      if (body === null) break;
      plain += body.length;
      if (m.op === 'openAt') {
        parts.push(body);
        continue;
      }
      digests.push(createHash('sha256').update(body).digest());
      if (m.op === 'resealAt') parts.push(...sealOne(key2, m.counter + ok, last, body));
      body.fill(0);
    }
    if (m.op === 'digestAt') return { len: plain, ok, digests: Buffer.concat(digests) };
    const reply = m.op === 'openAt' ? { len: plain, ok } : { len: plain, ok, digests: Buffer.concat(digests) };
    return writeOutput(m, parts, reply);
  } finally {
    if (key2 !== null) key2.fill(0);
  }
}

parentPort.on('message', (m) => {
  if (wipeTimer !== null) clearTimeout(wipeTimer);
  const key = Buffer.from(m.key.buffer, m.key.byteOffset, m.key.byteLength);
  let reply;
  try {
    if (m.op === 'sealAt') reply = sealAt(key, m);
    else if (m.op === 'openAt' || m.op === 'resealAt' || m.op === 'digestAt') reply = openAt(key, m);
    else {
      const buf = Buffer.from(m.buf);
      reply = m.op === 'seal' ? seal(key, m.counter, m.final, buf, m.len) : open(key, m.counter, m.final, buf, m.len);
    }
  } catch (e) {
    reply = { error: String(e && e.message) };
  } finally {
    key.fill(0);
  }
  if (m.buf !== undefined) parentPort.postMessage({ buf: m.buf, collects, ...reply }, [m.buf]);
  else {
    parentPort.postMessage({ collects, ...reply });
  }
  if (room.length > 0) {
    wipeTimer = setTimeout(wipeRoom, 20);
    wipeTimer.unref();
  }
  if (collects) collect();
});
`;

interface Pending {
  job: BatchJob;
  resolve: (r: BatchReply & PlacedReply) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  current?: Pending;
  /** It has answered a batch: it started fine. */
  proven: boolean;
}

export class CryptoPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Pending[] = [];
  private closed = false;
  private failure: Error | undefined;

  /** `source` is for tests: a script that fails to start, say. */
  constructor(
    readonly size: number,
    private readonly source = WORKER_SOURCE,
  ) {}

  /**
   * False once a worker could not be created or died before its first batch (a runtime
   * without worker threads, say): callers then keep batches on their own thread.
   */
  get usable(): boolean {
    return this.failure === undefined && !this.closed;
  }

  /** Runs a batch on the first free worker; batches start in the order they were given. */
  run(job: BufferJob): Promise<BatchReply>;
  run(job: PlacedJob): Promise<PlacedReply>;
  run(job: BatchJob): Promise<BatchReply | PlacedReply> {
    if (this.closed) return Promise.reject(cancelled());
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<BatchReply & PlacedReply>((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Ends every worker; batches still queued or running reject with Cancelled, a running one
   * only once its worker has stopped: a placed batch uses its caller's file descriptors,
   * which the caller closes when the batch settles.
   */
  async terminate(): Promise<void> {
    this.closed = true;
    for (const p of this.waiting.splice(0)) p.reject(cancelled());
    const slots = this.slots.splice(0);
    await Promise.all(
      slots.map(async (s) => {
        await s.worker.terminate();
        s.current?.reject(cancelled());
        s.current = undefined;
      }),
    );
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      let slot = this.slots.find((s) => s.current === undefined);
      if (slot === undefined) {
        if (this.slots.length >= this.size) return;
        try {
          slot = this.spawn();
        } catch (e) {
          this.fail(`could not start: ${e instanceof Error ? e.message : String(e)}`);
          return;
        }
      }
      const next = this.waiting.shift()!;
      slot.current = next;
      slot.worker.ref(); // a batch in flight keeps the process alive, an idle pool does not
      const { job } = next;
      slot.worker.postMessage(job, 'buf' in job ? [job.buf] : []);
      job.key.fill(0); // the worker has its own copy now
      if ('key2' in job) job.key2?.fill(0);
    }
  }

  /** Marks the pool unusable and rejects everything waiting. */
  private fail(why: string): void {
    this.failure ??= internal(`crypto worker ${why}`, 'try again; later files are encrypted on the calling thread');
    for (const p of this.waiting.splice(0)) p.reject(this.failure);
  }

  private spawn(): Slot {
    // execArgv: [] keeps the parent's loader flags (tsx under tests) out of a worker that needs
    // none; a small young generation suits a thread whose objects all die within a chunk.
    const worker = new Worker(this.source, { eval: true, name: 'keyward-age', execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    const slot: Slot = { worker, proven: false };
    worker.unref();
    worker.on('message', (reply: BatchReply & PlacedReply & { error?: string }) => {
      const p = slot.current;
      slot.current = undefined;
      slot.proven = true;
      worker.unref();
      if (p !== undefined) {
        if (reply.error !== undefined) p.reject(internal(`crypto worker failed: ${reply.error}`));
        else p.resolve(reply);
      }
      this.dispatch();
    });
    const lost = (why: string) => {
      const i = this.slots.indexOf(slot);
      if (i < 0) return; // terminated on purpose, or already handled
      this.slots.splice(i, 1);
      slot.current?.reject(internal(`crypto worker ${why}`, 'try again; if it keeps failing, report it'));
      slot.current = undefined;
      if (!slot.proven) {
        // It never worked: another one would not either.
        this.fail(why);
        void worker.terminate();
        return;
      }
      this.dispatch(); // a new worker takes over what was waiting
    };
    // A batch fails at 'exit', not at 'error': only then has the thread surely stopped using
    // the batch's descriptors.
    let error: string | undefined;
    worker.on('error', (e) => {
      error ??= `failed: ${e.message}`;
    });
    worker.on('exit', (code) => lost(error ?? `exited (${code})`));
    this.slots.push(slot);
    return slot;
  }
}

let shared: CryptoPool | undefined;

/** The process-wide pool, one worker per core, created on first use. */
export function cryptoPool(): CryptoPool {
  shared ??= new CryptoPool(Math.max(1, availableParallelism()));
  return shared;
}

/**
 * Terminates the shared pool's workers (the daemon calls this when it stops). Batches still
 * running reject with Cancelled. A later encryption creates a new pool.
 */
export async function shutdownPool(): Promise<void> {
  const p = shared;
  shared = undefined;
  await p?.terminate();
}
