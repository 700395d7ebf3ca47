import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CHUNK_SIZE, SEALED_CHUNK_SIZE } from './chunk';
import { cancelled, internal } from './errors';

// Worker threads that seal and open batches of payload chunks, so that a large file uses every
// core. The worker's program is ./worker.ts, a module of its own (dist/age-worker.js beside
// the bundles), which runs the chunk functions of ./chunk.ts as the calling thread does.
//
// A batch is one ArrayBuffer, transferred (not copied) to the worker and back, and processed
// in place. The pool is created on first use, is shared by every file, keeps no process alive
// while idle (its workers are unref'd), and `shutdownPool()` ends it.

export const CHUNK = CHUNK_SIZE;
export const SEALED = SEALED_CHUNK_SIZE;

/**
 * How to start the worker's program: dist/age-worker.js beside the bundle this code is in. Run
 * from source under tsx (tests, benchmarks), worker.ts itself, loaded through tsx's CommonJS
 * API (Node 20 does not apply a parent's --import hooks to a worker's entry).
 */
function workerProgram(): { source: string; eval: boolean } {
  if (!__filename.endsWith('.ts')) return { source: path.join(__dirname, 'age-worker.js'), eval: false };
  const tsx = require.resolve('tsx/cjs/api');
  return { source: `require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(path.join(__dirname, 'worker.ts'))});`, eval: true };
}

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
  /** The worker frees its garbage after each batch (see worker.ts); for tests. */
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

  /** `script` is for tests: the source of a worker that fails to start, say (run with eval). */
  constructor(
    readonly size: number,
    private readonly script?: string,
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
    // A small young generation suits a thread whose objects all die within a chunk.
    // execArgv: [] keeps the parent's flags (tsx's loader under tests) out of the worker.
    const program = this.script !== undefined ? { source: this.script, eval: true } : workerProgram();
    const worker = new Worker(program.source, { eval: program.eval, name: 'keyward-age', execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: 4 } });
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
