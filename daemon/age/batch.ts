import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { ioError } from '../util/errors';
import { TAG_SIZE } from './aead';
import { internal, malformed, throwIfAborted, truncated } from './errors';
import type { ByteReader, Sink } from './io';
import { CHUNK, cryptoPool, SEALED, type BatchReply } from './pool';
import { MAX_CHUNKS, openChunksInPlace, sealChunksInPlace } from './chunk';
import { explainFailure, PAYLOAD_NONCE_SIZE, payloadKey, type StreamOptions } from './stream';

// The payload of a whole file, in batches of chunks: the calling thread reads a batch with one
// large read, a worker seals or opens it in place (pool.ts), and the calling thread writes the
// results strictly in order with one large write. A bounded number of batches is in flight, so
// memory stays constant whatever the file size; reads, the crypto and writes overlap.
//
// The framing rules are those of encryptPayload/decryptPayload in stream.ts, which remain the
// reference (a chunk is final when nothing follows it; a truncated, extended or reordered
// payload fails at the first chunk that cannot be right, after the chunks before it).

export interface PayloadTuning {
  /** Chunks per batch (default 16: 1 MiB). Tests use small batches to get many of them. */
  batchChunks?: number;
  /** 'auto' (default): worker threads, unless the input fits in one batch; 'never': this thread only; 'always'. */
  threads?: 'auto' | 'never' | 'always';
  /** Batches handed to the workers and not yet written (default: twice the pool size). */
  inFlight?: number;
  /**
   * File to file, let each worker read its batches and write them in place (spread.ts;
   * default true). False: the calling thread reads and writes every batch, in order.
   */
  spread?: boolean;
}

export interface PayloadOptions extends StreamOptions {
  /** For tests and benchmarks; the defaults suit files of any size. */
  tuning?: PayloadTuning;
}

const DEFAULT_BATCH_CHUNKS = 16;
const MAX_BATCH_CHUNKS = 256;
export { MAX_CHUNKS } from './chunk';

/** Where batches come from: a file read at known positions, or any reader. */
export interface BatchSource {
  /** Fills `buf[0, n)` as far as the input goes: fewer than `n` bytes only at its end. */
  fill(buf: Buffer, n: number): Promise<number>;
}

/** Positional reads from `position`, at most `limit` bytes in all (default: to end of file). */
export function fileSource(handle: FileHandle, path: string, position: number, limit = Infinity): BatchSource & { readonly read: number } {
  let read = 0;
  return {
    get read() {
      return read;
    },
    async fill(buf, n) {
      let got = 0;
      const want = Math.min(n, limit - read);
      try {
        while (got < want) {
          const { bytesRead } = await handle.read(buf, got, want - got, position + read);
          if (bytesRead === 0) break;
          got += bytesRead;
          read += bytesRead;
        }
      } catch (e) {
        throw ioError(e, 'read', path);
      }
      return got;
    },
  };
}

/** Copies from a ByteReader (a stream, the armor decoder): one copy, which a file input avoids. */
export function readerSource(reader: ByteReader): BatchSource {
  return {
    async fill(buf, n) {
      let got = 0;
      while (got < n) {
        const piece = await reader.readSome(n - got);
        if (piece.length === 0) break;
        piece.copy(buf, got);
        got += piece.length;
      }
      return got;
    },
  };
}

// ---- the batch functions, on this thread ----------------------------------------------------
// The chunk functions of ./chunk.ts, which the workers run too, with the batch's buffer.

/** Seals the `n` plaintext bytes at the start of `buf` in place as chunks `counter`, ...; returns the sealed length. */
export function sealBatch(key: Uint8Array, counter: number, final: boolean, buf: Buffer, n: number): BatchReply {
  return { buf: buf.buffer as ArrayBuffer, ...sealChunksInPlace(key, counter, final, buf, n) };
}

/**
 * Opens the `len` sealed bytes at the start of `buf` in place, chunk by chunk, up to the first
 * that does not authenticate (whose sealed bytes stay where they were).
 */
export function openBatch(key: Uint8Array, counter: number, final: boolean, buf: Buffer, len: number): BatchReply {
  return { buf: buf.buffer as ArrayBuffer, ...openChunksInPlace(key, counter, final, buf, len) };
}

// ---- executing batches ---------------------------------------------------------------------

type Op = 'seal' | 'open';

interface Executor {
  run(op: Op, key: Buffer, counter: number, final: boolean, buf: Buffer, len: number): Promise<BatchReply>;
}

const inline: Executor = {
  run: (op, key, counter, final, buf, len) => {
    try {
      return Promise.resolve((op === 'seal' ? sealBatch : openBatch)(key, counter, final, buf, len));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : internal('batch failed'));
    }
  },
};

const threaded: Executor = {
  run: (op, key, counter, final, buf, len) => {
    if (buf.byteOffset !== 0 || buf.length !== buf.buffer.byteLength) throw internal('a batch must own its whole ArrayBuffer');
    // A copy of the key goes with each batch; the pool wipes it once posted, the worker its own.
    return cryptoPool().run({ op, key: Uint8Array.from(key), counter, final, buf: buf.buffer as ArrayBuffer, len });
  },
};

export interface Settings {
  batchChunks: number;
  threads: 'auto' | 'never' | 'always';
  inFlight: number;
  spread: boolean;
}

export function settings(t: PayloadTuning | undefined): Settings {
  const batchChunks = t?.batchChunks ?? DEFAULT_BATCH_CHUNKS;
  if (!Number.isInteger(batchChunks) || batchChunks < 1 || batchChunks > MAX_BATCH_CHUNKS) throw internal('batchChunks out of range');
  const inFlight = t?.inFlight ?? 2 * cryptoPool().size;
  if (!Number.isInteger(inFlight) || inFlight < 1) throw internal('inFlight out of range');
  return { batchChunks, threads: t?.threads ?? 'auto', inFlight, spread: t?.spread ?? true };
}

/**
 * Threads pay off from the second batch on; an input that fits in one stays on this thread,
 * and so does everything when worker threads cannot run here.
 */
function executor(s: Settings, fitsOneBatch: boolean): Executor {
  if (s.threads === 'never' || (s.threads === 'auto' && (fitsOneBatch || !cryptoPool().usable))) return inline;
  return threaded;
}

/**
 * Same-size batch buffers, each a whole ArrayBuffer (so that it can be transferred), reused
 * within a file and, through a few spares kept between files, across files: a daemon
 * encrypting one file after another does not leave a trail of megabytes for the GC.
 */
class Buffers {
  private readonly free: Buffer[] = [];
  constructor(private readonly size: number) {}
  take(): Buffer {
    return this.free.pop() ?? takeSpare(this.size) ?? Buffer.from(new ArrayBuffer(this.size));
  }
  give(b: Buffer): void {
    if (b.length === this.size) this.free.push(b);
  }
  /** At the end of a file: the buffers this file no longer uses become spares. */
  release(): void {
    for (const b of this.free.splice(0)) keepSpare(b);
  }
}

const MAX_SPARES = 8;
const spares: Buffer[] = [];

function takeSpare(size: number): Buffer | undefined {
  const i = spares.findIndex((b) => b.length === size);
  return i < 0 ? undefined : spares.splice(i, 1)[0];
}

function keepSpare(b: Buffer): void {
  if (spares.length >= MAX_SPARES) return;
  b.fill(0); // it held plaintext
  spares.push(b);
}

/** A promise that never rejects, so that one left behind after a failure is no unhandled rejection. */
type Settled<T> = Promise<{ ok: true; value: T } | { ok: false; error: unknown }>;

function settle<T>(p: Promise<T>): Settled<T> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

async function unwrapSettled<T>(s: Settled<T>): Promise<T> {
  const r = await s;
  if (!r.ok) throw r.error;
  return r.value;
}

/**
 * Writes batch results in order, one write at a time while the next batch is being read and
 * processed. Buffers go back to `buffers` once the sink has let go of them.
 */
class OrderedWriter {
  private last: Settled<void> = settle(Promise.resolve());

  constructor(
    private readonly sink: Sink,
    private readonly buffers: Buffers,
  ) {}

  /** Waits for the previous write (throwing its error), then starts this one. */
  async write(bytes: Buffer, owner: Buffer): Promise<void> {
    await unwrapSettled(this.last);
    this.last = settle(this.put(bytes, owner));
  }

  async finish(): Promise<void> {
    await unwrapSettled(this.last);
  }

  /** After a failure: lets the write in progress end, so that nothing is written after we return. */
  async quiesce(): Promise<void> {
    await this.last;
  }

  private async put(bytes: Buffer, owner: Buffer): Promise<void> {
    const { sink } = this;
    if (sink.settle === undefined) {
      // A stream keeps what it is given, for as long as its reader likes: it gets copies, a
      // chunk each as stream.ts writes them, so that the batch buffer can be reused (a fresh
      // megabyte per batch costs more in page faults than the copy does).
      for (let i = 0; i < bytes.length; i += CHUNK) await sink.write(Buffer.from(bytes.subarray(i, i + CHUNK)));
    } else {
      if (bytes.length > 0) await sink.write(bytes);
      await sink.settle();
    }
    this.buffers.give(owner);
  }
}

interface InFlight<R> {
  reply: Settled<BatchReply>;
  /** What the batch was, to check and report its result. */
  meta: R;
}

/**
 * Encrypts everything `source` holds into `sink`: the payload nonce, then the chunks. Returns
 * the plaintext size. A chunk is final when the source has nothing after it.
 */
export async function encryptBatches(source: BatchSource, sink: Sink, fileKey: Uint8Array, opts: PayloadOptions = {}): Promise<number> {
  const s = settings(opts.tuning);
  const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
  const key = payloadKey(fileKey, nonce);
  const batchBytes = s.batchChunks * CHUNK;
  const buffers = new Buffers(s.batchChunks * SEALED);
  const writer = new OrderedWriter(sink, buffers);
  const queue: InFlight<{ n: number }>[] = [];
  let done = 0;

  const drainOne = async () => {
    const { reply, meta } = queue.shift()!;
    const r = await unwrapSettled(reply);
    const buf = Buffer.from(r.buf);
    await writer.write(buf.subarray(0, r.len), buf);
    for (let at = 0; at < meta.n || at === 0; at += CHUNK) {
      done += Math.min(CHUNK, meta.n - at);
      opts.onProgress?.(done);
    }
  };

  try {
    await writer.write(nonce, nonce);
    let cur = buffers.take();
    let n = await source.fill(cur, batchBytes);
    const exec = executor(s, n < batchBytes);
    for (let counter = 0; ; ) {
      throwIfAborted(opts.signal);
      // Whether this batch holds the final chunk is known only once the next read comes back empty.
      let next: Buffer | undefined;
      let nextN = 0;
      if (n === batchBytes) {
        next = buffers.take();
        nextN = await source.fill(next, batchBytes);
      }
      const final = nextN === 0;
      const chunks = Math.max(1, Math.ceil(n / CHUNK));
      if (counter + chunks > MAX_CHUNKS) throw internal('file too large for one age payload');
      queue.push({ reply: settle(exec.run('seal', key, counter, final, cur, n)), meta: { n } });
      counter += chunks;
      while (queue.length >= s.inFlight || (final && queue.length > 0)) await drainOne();
      if (final) {
        if (next !== undefined) buffers.give(next);
        break;
      }
      cur = next!;
      n = nextN;
    }
    await writer.finish();
    return done;
  } catch (e) {
    await writer.quiesce();
    throw e;
  } finally {
    key.fill(0);
    buffers.release();
  }
}

export interface DecryptBatchesOptions extends PayloadOptions {
  /** The payload nonce, when `source` starts at a chunk rather than at the nonce (random access). */
  nonce?: Uint8Array;
  /** The counter of the first chunk `source` holds (default 0). */
  firstCounter?: number;
  /** The source ends where the payload ends (default true); false when it stops after a chunk in the middle. */
  endIsFinal?: boolean;
}

/**
 * Decrypts the payload `source` holds into `sink`, writing each chunk only after it
 * authenticated, and returns the plaintext size. Throws (after writing the chunks before the
 * failure) as decryptPayload does: DecryptFailed for a chunk that does not authenticate,
 * Malformed for a truncated payload, trailing data, or an empty final chunk after a full one.
 */
export async function decryptBatches(source: BatchSource, sink: Sink, fileKey: Uint8Array, opts: DecryptBatchesOptions = {}): Promise<number> {
  const s = settings(opts.tuning);
  let nonce = opts.nonce;
  if (nonce === undefined) {
    const b = Buffer.alloc(PAYLOAD_NONCE_SIZE);
    if ((await source.fill(b, PAYLOAD_NONCE_SIZE)) < PAYLOAD_NONCE_SIZE) throw truncated();
    nonce = b;
  }
  const key = payloadKey(fileKey, nonce);
  const endIsFinal = opts.endIsFinal ?? true;
  const batchBytes = s.batchChunks * SEALED;
  const buffers = new Buffers(batchBytes);
  const writer = new OrderedWriter(sink, buffers);
  const queue: InFlight<{ counter: number; chunks: number; final: boolean; len: number; cutShort: boolean }>[] = [];
  let done = 0;

  const drainOne = async () => {
    const { reply, meta } = queue.shift()!;
    const r = await unwrapSettled(reply);
    const buf = Buffer.from(r.buf);
    // Said now, from the failed chunk's sealed bytes, before the buffer can be reused.
    const at = r.ok * SEALED;
    const failure = r.ok < meta.chunks ? explainFailure(key, meta.counter + r.ok, meta.final && r.ok === meta.chunks - 1, buf.subarray(at, Math.min(meta.len, at + SEALED))) : undefined;
    await writer.write(buf.subarray(0, r.len), buf);
    for (let i = 0; i < r.ok; i++) {
      done += Math.min(CHUNK, r.len - i * CHUNK);
      opts.onProgress?.(done);
    }
    if (failure !== undefined) {
      await writer.finish(); // the chunks that did authenticate are out before the error
      throw failure;
    }
    if (meta.final && meta.len % SEALED === TAG_SIZE && meta.counter + meta.chunks > 1) {
      await writer.finish();
      throw malformed('invalid payload: empty final chunk', 'the file was not written by a conforming age implementation');
    }
    if (meta.cutShort) {
      await writer.finish();
      throw truncated(); // the payload ends inside a tag
    }
  };

  try {
    let cur = buffers.take();
    let n = await source.fill(cur, batchBytes);
    if (n === 0) throw truncated(); // no final chunk
    const exec = executor(s, n < batchBytes);
    for (let counter = opts.firstCounter ?? 0; ; ) {
      throwIfAborted(opts.signal);
      let next: Buffer | undefined;
      let nextN = 0;
      if (n === batchBytes) {
        next = buffers.take();
        nextN = await source.fill(next, batchBytes);
      }
      const atEnd = nextN === 0;
      // At the end, what follows the last whole chunk is the final chunk, unless it is too
      // short to hold even a tag: then the whole chunks before it are all non-final ones.
      const rest = n % SEALED;
      const cutShort = atEnd && rest > 0 && rest < TAG_SIZE;
      const len = cutShort ? n - rest : n;
      const chunks = Math.ceil(len / SEALED);
      const final = atEnd && !cutShort && endIsFinal;
      if (counter + chunks > MAX_CHUNKS) throw internal('file too large for one age payload');
      queue.push({ reply: settle(exec.run('open', key, counter, final, cur, len)), meta: { counter, chunks, final, len, cutShort } });
      counter += chunks;
      while (queue.length >= s.inFlight || (atEnd && queue.length > 0)) await drainOne();
      if (atEnd) {
        if (next !== undefined) buffers.give(next);
        break;
      }
      cur = next!;
      n = nextN;
    }
    await writer.finish();
    return done;
  } catch (e) {
    await writer.quiesce();
    throw e;
  } finally {
    key.fill(0);
    buffers.release();
  }
}
