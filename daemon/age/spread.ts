import { createHash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCode } from '../protocol/errors';
import { ioError, KeywardError } from '../util/errors';
import { TAG_SIZE } from './aead';
import { fileSource, MAX_CHUNKS, settings, type PayloadOptions, type Settings } from './batch';
import { cancelled, internal, malformed, truncated } from './errors';
import type { FileSink } from './io';
import { CHUNK, cryptoPool, SEALED, type PlacedJob, type PlacedReply } from './pool';
import { explainFailure, PAYLOAD_NONCE_SIZE, payloadKey } from './stream';

// File to file on every core. The place of every chunk in both files follows from the input's
// size, so each worker reads its batch, seals or opens it, and writes it at its own place in
// the output (pool.ts, `sealAt` and `openAt`): no bytes cross threads, a batch stays in its
// core's cache from read to write, and this thread only hands out batch numbers. batch.ts,
// where the calling thread reads and writes every byte and each chunk is copied once more,
// took about a fifth longer for a 1 GiB file on two cores.
//
// A re-encryption (the rotate job) does both in one step: each chunk is opened with the old
// payload key and sealed with the new one by the worker that read it, and the plaintext's
// digest comes back for the check of the copy (`digestAt`, which writes nothing).
//
// Batches finish out of order, which a file allows: the output is a temp file that appears
// (AtomicFile) only once every batch was written, so nothing half-done is ever seen. A
// decryption writes only chunks that authenticated, and fails as decryptBatches does, with
// the first chunk in file order that is not right. The input must not change meanwhile: a
// batch that finds it shorter, or an input that grew, fails with a clear error.

/** An input file, open. */
export interface OpenFile {
  handle: FileHandle;
  path: string;
}

/** The output: a FileSink on a file at its end, and the file's path for messages. */
export interface SpreadOutput {
  sink: FileSink;
  path: string;
}

/**
 * Whether a payload goes file to file through spread.ts: `bytes` of plaintext to encrypt, or
 * (`sealed`) a whole payload, nonce included, to decrypt.
 */
export function spreads(opts: PayloadOptions, bytes: number, sealed: boolean): boolean {
  const s = settings(opts.tuning);
  if (!s.spread || s.threads === 'never') return false;
  // One batch is done faster on this thread (batch.ts) than handed to a worker.
  const batch = sealed ? PAYLOAD_NONCE_SIZE + s.batchChunks * SEALED : s.batchChunks * CHUNK;
  if (s.threads === 'auto' && bytes <= batch) return false;
  return cryptoPool().usable;
}

/**
 * Writes the payload nonce and the sealed chunks of the `size` bytes of `input` (from its
 * start) after what `out` holds. Returns `size`. Throws IoFailed if the input turns out
 * shorter or longer than `size`, and the errors of the reads and writes.
 */
export async function encryptSpread(input: OpenFile, size: number, out: SpreadOutput, fileKey: Uint8Array, opts: PayloadOptions = {}): Promise<number> {
  const s = settings(opts.tuning);
  const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
  const key = payloadKey(fileKey, nonce);
  try {
    await out.sink.write(nonce);
    await out.sink.settle();
    const base = out.sink.written;
    const chunks = Math.max(1, Math.ceil(size / CHUNK));
    if (chunks > MAX_CHUNKS) throw internal('file too large for one age payload');
    const batches = Math.ceil(chunks / s.batchChunks);
    function* jobs(): Generator<Job> {
      for (let b = 0; b < batches; b++) {
        const first = b * s.batchChunks;
        const n = Math.min(s.batchChunks, chunks - first);
        const len = Math.min(n * CHUNK, size - first * CHUNK);
        yield { op: 'sealAt', counter: first, final: b === batches - 1, len, inFd: input.handle.fd, inPos: first * CHUNK, outFd: out.sink.fd, outPos: base + first * SEALED, chunks: n };
      }
    }
    let done = 0;
    const failure = await runPlaced(jobs(), key, undefined, s, opts, input, out, (job, r) => {
      if (r.ok !== job.chunks || r.len !== job.len + job.chunks * TAG_SIZE) throw internal('a crypto worker sealed less than its batch');
      out.sink.wroteElsewhere(r.len);
      for (let i = 0; i < job.chunks; i++) {
        done += Math.min(CHUNK, job.len - i * CHUNK);
        opts.onProgress?.(done);
      }
      return undefined;
    });
    await refuseGrown(input, size);
    if (failure !== undefined) throw failure.error;
    return done;
  } finally {
    key.fill(0);
  }
}

/**
 * Decrypts the payload of `input` (`length` bytes from `start`: the nonce and the chunks)
 * into `out`. Returns the plaintext size. Fails as decryptBatches does (DecryptFailed,
 * Malformed), and with IoFailed if the input changes meanwhile.
 */
export async function decryptSpread(input: OpenFile, start: number, length: number, out: SpreadOutput, fileKey: Uint8Array, opts: PayloadOptions = {}): Promise<number> {
  return (await openSpread('openAt', input, start, length, out, fileKey, undefined, opts)).plain;
}

/** The plaintext's size and digest: SHA-256 over the SHA-256 of each chunk's plaintext, in order. */
export interface Digested {
  plain: number;
  digest: Buffer;
}

/**
 * Re-encrypts the payload of `input` (as for decryptSpread) under `newFileKey`: writes a new
 * payload nonce and every chunk opened and sealed again after what `out` holds, never
 * holding more than a batch of plaintext, in memory only. Fails as decryptSpread does.
 */
export function reencryptSpread(input: OpenFile, start: number, length: number, out: SpreadOutput, fileKey: Uint8Array, newFileKey: Uint8Array, opts: PayloadOptions = {}): Promise<Digested> {
  return openSpread('resealAt', input, start, length, out, fileKey, newFileKey, opts) as Promise<Digested>;
}

/** Authenticates every chunk of the payload and digests its plaintext, writing nothing. */
export function digestSpread(input: OpenFile, start: number, length: number, fileKey: Uint8Array, opts: PayloadOptions = {}): Promise<Digested> {
  return openSpread('digestAt', input, start, length, undefined, fileKey, undefined, opts) as Promise<Digested>;
}

async function openSpread(
  op: 'openAt' | 'resealAt' | 'digestAt',
  input: OpenFile,
  start: number,
  length: number,
  out: SpreadOutput | undefined,
  fileKey: Uint8Array,
  newFileKey: Uint8Array | undefined,
  opts: PayloadOptions,
): Promise<{ plain: number; digest?: Buffer }> {
  const s = settings(opts.tuning);
  if (length < PAYLOAD_NONCE_SIZE) throw truncated();
  const nonce = await readAt(input, start, PAYLOAD_NONCE_SIZE);
  const key = payloadKey(fileKey, nonce);
  let newKey: Buffer | undefined;
  try {
    const sealed = length - PAYLOAD_NONCE_SIZE;
    if (sealed === 0) throw truncated(); // no final chunk
    // What follows the last whole chunk is the final chunk, unless it is too short to hold
    // even a tag: then the whole chunks before it are all non-final ones, and the file is cut.
    const rest = sealed % SEALED;
    const cutShort = rest > 0 && rest < TAG_SIZE;
    const usable = sealed - (cutShort ? rest : 0);
    const chunks = Math.ceil(usable / SEALED);
    if (chunks > MAX_CHUNKS) throw internal('file too large for one age payload');
    if (op === 'resealAt') {
      const nonce2 = randomBytes(PAYLOAD_NONCE_SIZE);
      newKey = payloadKey(newFileKey!, nonce2);
      await out!.sink.write(nonce2);
      await out!.sink.settle();
    }
    const batches = Math.ceil(chunks / s.batchChunks);
    const first = start + PAYLOAD_NONCE_SIZE;
    const base = out?.sink.written ?? 0;
    const outFd = out?.sink.fd ?? -1;
    const isFinal = (chunk: number) => !cutShort && chunk === chunks - 1;
    function* jobs(): Generator<Job> {
      for (let b = 0; b < batches; b++) {
        const c = b * s.batchChunks;
        const n = Math.min(s.batchChunks, chunks - c);
        const len = Math.min(n * SEALED, usable - c * SEALED);
        yield { op, counter: c, final: isFinal(c + n - 1), len, inFd: input.handle.fd, inPos: first + c * SEALED, outFd, outPos: base + c * (op === 'openAt' ? CHUNK : SEALED), chunks: n };
      }
    }
    // Chunk digests come per batch, in any order; they are folded in file order.
    const digest = op === 'openAt' ? undefined : createHash('sha256');
    const pending = new Map<number, Buffer>();
    let nextBatch = 0;
    let done = 0;
    const failure = await runPlaced(jobs(), key, newKey, s, opts, input, out, (job, r) => {
      const written = op === 'openAt' ? r.len : op === 'resealAt' ? r.len + r.ok * TAG_SIZE : 0;
      if (written > 0) out!.sink.wroteElsewhere(written);
      for (let i = 0; i < r.ok; i++) {
        done += Math.min(CHUNK, r.len - i * CHUNK);
        opts.onProgress?.(done);
      }
      if (digest !== undefined) {
        if (r.digests?.length !== 32 * r.ok) throw internal('a crypto worker returned no digests');
        pending.set(job.counter, Buffer.from(r.digests));
        for (let d = pending.get(nextBatch); d !== undefined; d = pending.get(nextBatch)) {
          digest.update(d);
          pending.delete(nextBatch);
          nextBatch += s.batchChunks;
        }
      }
      return r.ok < job.chunks ? job.counter + r.ok : undefined;
    });
    // A file that grew meanwhile explains any failure better than its chunks do.
    await refuseGrown(input, start + length);
    if (failure?.chunk !== undefined) {
      // Said from the failed chunk's own bytes: damaged, or intact but in the wrong place.
      const at = failure.chunk;
      const bytes = await readAt(input, first + at * SEALED, Math.min(SEALED, usable - at * SEALED));
      throw explainFailure(key, at, isFinal(at), bytes);
    }
    if (failure !== undefined) throw failure.error;
    if (!cutShort && usable % SEALED === TAG_SIZE && chunks > 1) {
      throw malformed('invalid payload: empty final chunk', 'the file was not written by a conforming age implementation');
    }
    if (cutShort) throw truncated(); // the payload ends inside a tag
    return digest === undefined ? { plain: done } : { plain: done, digest: digest.digest() };
  } finally {
    key.fill(0);
    newKey?.fill(0);
  }
}

// ---- running placed batches ------------------------------------------------------------------

type Job = Omit<PlacedJob, 'key'> & { chunks: number };

interface Failure {
  /** The chunk where it happened: the failure first in file order is the one reported. */
  at: number;
  error: unknown;
  /** Set for a chunk that did not authenticate (explained by the caller). */
  chunk?: number;
}

/**
 * Hands `jobs` to the pool in order, at most `s.inFlight` at a time, and passes each reply to
 * `onReply`, which returns the chunk that failed to authenticate, if any. Stops handing out
 * batches at the first failure or cancellation, and always waits for every batch handed out
 * before it returns: the workers use the caller's descriptors, which stay open until then.
 * Returns the failure first in file order.
 */
async function runPlaced(
  jobs: Iterable<Job>,
  key: Buffer,
  key2: Buffer | undefined,
  s: Settings,
  opts: PayloadOptions,
  input: OpenFile,
  out: SpreadOutput | undefined,
  onReply: (job: Job, reply: PlacedReply) => number | undefined,
): Promise<Failure | undefined> {
  const pool = cryptoPool();
  const running = new Set<Promise<void>>();
  let failure: Failure | undefined;
  const fail = (f: Failure) => {
    if (failure === undefined || f.at < failure.at) failure = f;
  };
  for (const job of jobs) {
    while (running.size >= s.inFlight && failure === undefined) await Promise.race(running);
    if (failure !== undefined) break;
    if (opts.signal?.aborted === true) {
      fail({ at: job.counter, error: cancelled() });
      break;
    }
    const { chunks: _, ...placed } = job;
    const p = pool.run({ ...placed, key: Uint8Array.from(key), ...(key2 !== undefined ? { key2: Uint8Array.from(key2) } : {}) }).then(
      (r) => {
        if (r.failed !== undefined) {
          const e = Object.assign(new Error(r.failed.message), { code: r.failed.code });
          fail({ at: job.counter, error: ioError(e, r.failed.action, r.failed.action === 'read' || out === undefined ? input.path : out.path) });
        } else if (r.short === true) {
          fail({ at: job.counter, error: changed(input.path) });
        } else {
          const bad = onReply(job, r);
          if (bad !== undefined) fail({ at: bad, error: undefined, chunk: bad });
        }
      },
      (e: unknown) => fail({ at: job.counter, error: e }),
    );
    const tracked: Promise<void> = p
      .catch((e: unknown) => fail({ at: job.counter, error: e }))
      .finally(() => {
        running.delete(tracked);
      });
    running.add(tracked);
  }
  await Promise.all(running);
  if (failure === undefined && opts.signal?.aborted === true) return { at: 0, error: cancelled() };
  return failure;
}

async function readAt(input: OpenFile, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  if ((await fileSource(input.handle, input.path, position).fill(buf, length)) < length) throw changed(input.path);
  return buf;
}

/** Throws if the input holds bytes past `end`, where it ended when its size was taken. */
async function refuseGrown(input: OpenFile, end: number): Promise<void> {
  if ((await fileSource(input.handle, input.path, end).fill(Buffer.alloc(1), 1)) > 0) throw changed(input.path);
}

function changed(path: string): KeywardError {
  return new KeywardError(ErrorCode.IoFailed, `read: the file changed while it was being read: ${path}`, 'try again once nothing writes to it; nothing was replaced');
}
