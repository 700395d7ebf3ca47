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
export interface BatchJob {
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

/** seal: `len` sealed bytes now at the start of `buf`. open: `ok` chunks authenticated, their `len` plaintext bytes at the start. */
export interface BatchReply {
  buf: ArrayBuffer;
  len: number;
  ok: number;
  /** The worker frees its garbage after each batch (see the script); for tests. */
  collects?: boolean;
}

const WORKER_SOURCE = `'use strict';
const { parentPort } = require('node:worker_threads');
const { createCipheriv, createDecipheriv } = require('node:crypto');
const CHUNK = ${CHUNK}, SEALED = ${SEALED}, TAG = ${TAG_SIZE};

// Each chunk's update() returns a new 64 KiB buffer. V8 frees them only when the GC runs, which
// tiny JavaScript objects trigger rarely: left alone, garbage grows to about 32 MiB per thread.
// A minor GC after each batch frees them (they die young); now and then a full one frees any
// that a GC in the middle of a batch happened to promote. Full GCs wake V8's helper threads,
// which on a busy machine made one per batch cost more than the encryption. The --expose-gc
// flag is process-wide, so it is set just long enough to get the function, and workers
// starting at the same time can undo each other's flag: hence the retries.
const v8 = require('node:v8');
const vm = require('node:vm');
let collect = null;
for (let attempt = 0; attempt < 20 && collect === null; attempt++) {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc');
    let batches = 0;
    collect = () => gc(++batches % 64 === 0 ? undefined : { type: 'minor' });
  } catch {
    // another worker turned the flag off in between: try again
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}
const collects = collect !== null; // if not, memory is higher and results the same

function nonce(counter, last) {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}

// Backwards, so that each sealed chunk lands on plaintext that was already consumed.
function seal(key, counter, final, buf, n) {
  const chunks = Math.max(1, Math.ceil(n / CHUNK));
  for (let i = chunks - 1; i >= 0; i--) {
    const start = i * CHUNK;
    const end = Math.min(n, start + CHUNK);
    const c = createCipheriv('chacha20-poly1305', key, nonce(counter + i, final && i === chunks - 1), { authTagLength: TAG });
    const body = c.update(buf.subarray(start, end));
    c.final();
    body.copy(buf, i * SEALED);
    c.getAuthTag().copy(buf, i * SEALED + body.length);
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
    if (end - start < TAG) return { len: plain, ok: i };
    const d = createDecipheriv('chacha20-poly1305', key, nonce(counter + i, final && i === chunks - 1), { authTagLength: TAG });
    d.setAuthTag(buf.subarray(end - TAG, end));
    const body = d.update(buf.subarray(start, end - TAG));
    try {
      d.final();
    } catch {
      body.fill(0);
      return { len: plain, ok: i };
    }
    body.copy(buf, i * CHUNK);
    plain += body.length;
  }
  return { len: plain, ok: chunks };
}

parentPort.on('message', (m) => {
  const key = Buffer.from(m.key.buffer, m.key.byteOffset, m.key.byteLength);
  let reply;
  try {
    const buf = Buffer.from(m.buf);
    reply = m.op === 'seal' ? seal(key, m.counter, m.final, buf, m.len) : open(key, m.counter, m.final, buf, m.len);
  } catch (e) {
    reply = { error: String(e && e.message) };
  } finally {
    key.fill(0);
  }
  parentPort.postMessage({ buf: m.buf, collects, ...reply }, [m.buf]);
  if (collects) collect();
});
`;

interface Pending {
  job: BatchJob;
  resolve: (r: BatchReply) => void;
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
  run(job: BatchJob): Promise<BatchReply> {
    if (this.closed) return Promise.reject(cancelled());
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<BatchReply>((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends every worker; batches still queued or running reject with Cancelled. */
  async terminate(): Promise<void> {
    this.closed = true;
    for (const p of this.waiting.splice(0)) p.reject(cancelled());
    const slots = this.slots.splice(0);
    for (const s of slots) {
      s.current?.reject(cancelled());
      s.current = undefined;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
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
      slot.worker.postMessage(job, [job.buf]);
      job.key.fill(0); // the worker has its own copy now
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
    worker.on('message', (reply: BatchReply & { error?: string }) => {
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
    worker.on('error', (e) => lost(`failed: ${e.message}`));
    worker.on('exit', (code) => lost(`exited (${code})`));
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
