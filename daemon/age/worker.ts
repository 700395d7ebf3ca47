// A crypto worker thread of the pool (./pool.ts): it seals and opens batches of payload chunks
// with the chunk functions of ./chunk.ts, the same ones the calling thread runs. Its own bundle
// (dist/age-worker.js, esbuild.mjs); under tsx (tests, benchmarks) this file itself.
//
// A buffer batch arrives as a transferred ArrayBuffer and goes back processed in place. A placed
// batch is read from one file descriptor and written to another at positions the calling thread
// worked out (./spread.ts): no bytes cross threads.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { TAG_SIZE } from './aead';
import { CHUNK_SIZE, openChunk, openChunksInPlace, SEALED_CHUNK_SIZE, sealChunkParts, sealChunksInPlace, type BatchResult } from './chunk';
import type { BatchJob, BatchReply, PlacedJob, PlacedReply } from './pool';

const port = parentPort;
if (port === null) throw new Error('daemon/age/worker.ts runs as a worker thread of the crypto pool');

// Each chunk's update() returns a new 64 KiB buffer. V8 frees them only when the GC runs, which
// tiny JavaScript objects trigger rarely: left alone, garbage grows to about 32 MiB per thread.
// A minor GC after each batch frees them (they die young). The few that a GC in the middle of
// a batch promotes are left to V8's own full GCs: forcing one now and then cost about 0.1 s a
// GiB (full GCs wake V8's helper threads) and peak RSS stays under 110 MiB without it. The
// --expose-gc flag is process-wide, so it is set just long enough to get the function, and
// workers starting at the same time can undo each other's flag: hence the retries.
type Gc = (opts?: { type: 'minor' | 'major' }) => void;
let fullGc: Gc | null = null;
for (let attempt = 0; attempt < 20 && fullGc === null; attempt++) {
  try {
    v8.setFlagsFromString('--expose-gc');
    fullGc = vm.runInNewContext('gc') as Gc;
  } catch {
    // another worker turned the flag off in between: try again
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}
/** Whether this worker frees its garbage after each batch; if not, memory is higher and results the same. */
const collects = fullGc !== null;

// glibc gives a thread's freed memory back to the kernel as soon as 128 KiB lie free at the
// top of its heap, and a batch frees 16 chunk outputs of 64 KiB at once: every batch would
// fault its megabyte in again, page by page (in a VM, as costly as the encryption). Freeing
// one large block that glibc had to map raises that threshold to twice its size for the
// process (its "dynamic mmap threshold"), so a batch's garbage is reused in place. Other
// allocators ignore this; it costs one 2 MiB allocation at start.
if (fullGc !== null) {
  let block: Buffer | null = Buffer.allocUnsafeSlow(2 * 1024 * 1024);
  block[0] = 1;
  block = null;
  fullGc();
}

// Placed batches: read, seal or open, write, all on this thread, into a buffer kept between
// batches (allocUnsafeSlow: its own memory, not a slice of Node's shared pool). It holds
// plaintext after a seal, so it is wiped once the worker has been idle for a moment.
let room = Buffer.alloc(0);
let wipeTimer: NodeJS.Timeout | null = null;

function roomFor(n: number): Buffer {
  if (room.length < n) room = Buffer.allocUnsafeSlow(n);
  return room;
}

function wipeRoom(): void {
  wipeTimer = null;
  room.fill(0);
}

function readFully(fd: number, buf: Buffer, len: number, pos: number): number {
  let got = 0;
  while (got < len) {
    const n = fs.readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function writeFully(fd: number, parts: Buffer[], pos: number): void {
  while (parts.length > 0) {
    let n = fs.writevSync(fd, parts, pos);
    pos += n;
    let i = 0;
    while (i < parts.length && n >= parts[i]!.length) n -= parts[i++]!.length;
    parts = parts.slice(i);
    if (n > 0) parts[0] = parts[0]!.subarray(n);
  }
}

function failure(action: 'read' | 'write', e: unknown): PlacedReply {
  const err = e as NodeJS.ErrnoException | null;
  return { len: 0, ok: 0, failed: { action, ...(typeof err?.code === 'string' ? { code: err.code } : {}), message: String(err?.message) } };
}

/** The batch's input bytes (in `room`), or the reply that says why there are none. */
function readInput(m: PlacedJob): Buffer | PlacedReply {
  const buf = roomFor(m.len);
  try {
    if (readFully(m.inFd, buf, m.len, m.inPos) < m.len) return { len: 0, ok: 0, short: true };
  } catch (e) {
    return failure('read', e);
  }
  return buf;
}

/** Writes `parts` at the batch's place; returns `reply`, or the failure. */
function writeOutput(m: PlacedJob, parts: Buffer[], reply: PlacedReply): PlacedReply {
  try {
    writeFully(m.outFd, parts, m.outPos);
  } catch (e) {
    return failure('write', e);
  }
  return reply;
}

function sealAt(key: Buffer, m: PlacedJob): PlacedReply {
  const buf = readInput(m);
  if (!Buffer.isBuffer(buf)) return buf;
  const chunks = Math.max(1, Math.ceil(m.len / CHUNK_SIZE));
  const parts: Buffer[] = [];
  for (let i = 0; i < chunks; i++) {
    parts.push(...sealChunkParts(key, m.counter + i, m.final && i === chunks - 1, buf.subarray(i * CHUNK_SIZE, Math.min(m.len, (i + 1) * CHUNK_SIZE))));
  }
  return writeOutput(m, parts, { len: m.len + chunks * TAG_SIZE, ok: chunks });
}

// openAt, resealAt, digestAt: only chunks that authenticated are used; the first that does
// not ends the batch.
function openAt(key: Buffer, m: PlacedJob): PlacedReply {
  const buf = readInput(m);
  if (!Buffer.isBuffer(buf)) return buf;
  const chunks = Math.ceil(m.len / SEALED_CHUNK_SIZE);
  const parts: Buffer[] = [];
  const digests: Buffer[] = [];
  const key2 = m.key2 === undefined ? null : Buffer.from(m.key2.buffer, m.key2.byteOffset, m.key2.byteLength);
  try {
    let plain = 0;
    let ok = 0;
    for (; ok < chunks; ok++) {
      const start = ok * SEALED_CHUNK_SIZE;
      const end = Math.min(m.len, start + SEALED_CHUNK_SIZE);
      const last = m.final && ok === chunks - 1;
      const body = openChunk(key, m.counter + ok, last, buf.subarray(start, end));
      if (body === null) break;
      plain += body.length;
      if (m.op === 'openAt') {
        parts.push(body);
        continue;
      }
      digests.push(createHash('sha256').update(body).digest());
      if (m.op === 'resealAt') parts.push(...sealChunkParts(key2!, m.counter + ok, last, body));
      body.fill(0);
    }
    if (m.op === 'digestAt') return { len: plain, ok, digests: Buffer.concat(digests) };
    const reply: PlacedReply = m.op === 'openAt' ? { len: plain, ok } : { len: plain, ok, digests: Buffer.concat(digests) };
    return writeOutput(m, parts, reply);
  } finally {
    if (key2 !== null) key2.fill(0);
  }
}

port.on('message', (m: BatchJob) => {
  if (wipeTimer !== null) clearTimeout(wipeTimer);
  const key = Buffer.from(m.key.buffer, m.key.byteOffset, m.key.byteLength);
  let reply: BatchResult | PlacedReply | { error: string };
  try {
    if (!('buf' in m)) reply = m.op === 'sealAt' ? sealAt(key, m) : openAt(key, m);
    else reply = (m.op === 'seal' ? sealChunksInPlace : openChunksInPlace)(key, m.counter, m.final, Buffer.from(m.buf), m.len);
  } catch (e) {
    reply = { error: String((e as Error | null)?.message) };
  } finally {
    key.fill(0);
  }
  if ('buf' in m) {
    const r: Partial<BatchReply> = { buf: m.buf, collects, ...reply };
    port.postMessage(r, [m.buf]);
  } else {
    port.postMessage({ collects, ...reply });
  }
  if (room.length > 0) {
    wipeTimer = setTimeout(wipeRoom, 20);
    wipeTimer.unref();
  }
  if (fullGc !== null) fullGc({ type: 'minor' });
});
