import type { FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { ioError } from '../util/errors';
import { internal } from './errors';

// Byte plumbing for the streaming engine: a reader that hands out exact-length slices from
// any pull-based source (a file, an async iterable, the armor decoder), and sinks that write
// with back-pressure. Memory stays bounded by the largest single read.

/** Returns the next bytes of a source (about `size`, never empty), or null at its end. */
export type Pull = (size: number) => Promise<Buffer | null>;

const DEFAULT_PULL_SIZE = 256 * 1024;
const EMPTY = Buffer.alloc(0);

export class ByteReader {
  private buf: Buffer = EMPTY;
  private off = 0;
  private ended = false;
  private pulledBytes = 0;

  constructor(
    private readonly pull: Pull,
    private readonly pullSize = DEFAULT_PULL_SIZE,
  ) {}

  /** Bytes taken from the source so far (read ahead included). */
  get pulled(): number {
    return this.pulledBytes;
  }

  /** The next `n` bytes, or fewer only at the end of the source (empty once it is over). */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const end = Math.min(this.off + n, this.buf.length);
    const out = this.buf.subarray(this.off, end);
    this.off = end;
    return out;
  }

  /**
   * Up to `max` bytes, as few as the source hands out at once (empty at its end): no
   * concatenation, for a caller that copies them anyway.
   */
  async readSome(max: number): Promise<Buffer> {
    if (this.off >= this.buf.length) await this.fill(1);
    const end = Math.min(this.off + max, this.buf.length);
    const out = this.buf.subarray(this.off, end);
    this.off = end;
    return out;
  }

  /** Like `read`, without consuming. */
  async peek(n: number): Promise<Buffer> {
    await this.fill(n);
    return this.buf.subarray(this.off, Math.min(this.off + n, this.buf.length));
  }

  /** Consumes `n` bytes already seen through `peek`. */
  skip(n: number): void {
    if (this.off + n > this.buf.length) throw internal('skip past the peeked bytes');
    this.off += n;
  }

  async atEnd(): Promise<boolean> {
    return (await this.peek(1)).length === 0;
  }

  private async fill(n: number): Promise<void> {
    while (!this.ended && this.buf.length - this.off < n) {
      const have = this.buf.length - this.off;
      const more = await this.pull(Math.max(this.pullSize, n - have));
      if (more === null) {
        this.ended = true;
        break;
      }
      this.pulledBytes += more.length;
      // Slices handed out earlier keep pointing into the old buffer, which is never reused.
      this.buf = have === 0 ? more : Buffer.concat([this.buf.subarray(this.off), more]);
      this.off = 0;
    }
  }
}

/** Reads a file from its current position; fs errors become KeywardErrors naming `path`. */
export function filePull(handle: FileHandle, path: string): Pull {
  return async (size) => {
    const b = Buffer.allocUnsafe(size);
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(b, 0, size, null));
    } catch (e) {
      throw ioError(e, 'read', path);
    }
    return bytesRead === 0 ? null : b.subarray(0, bytesRead);
  };
}

/** Pulls from an async iterable of bytes (a Readable, stdin); `close` stops it early. */
export function iterablePull(source: AsyncIterable<Uint8Array>): { pull: Pull; close: () => Promise<void> } {
  const it = source[Symbol.asyncIterator]();
  let done = false;
  return {
    pull: async () => {
      while (!done) {
        const r = await it.next();
        if (r.done === true) {
          done = true;
          break;
        }
        const v: unknown = r.value;
        if (!(v instanceof Uint8Array)) throw internal('input stream must yield bytes, not strings');
        if (v.length > 0) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      }
      return null;
    },
    close: async () => {
      if (done) return;
      done = true;
      await it.return?.();
    },
  };
}

export interface Sink {
  /** The sink may hold on to `chunk` until `end()`: do not change it afterwards. */
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes whatever the sink holds back (the armor's last line and footer). */
  end(): Promise<void>;
  /** Bytes that reached the underlying file or stream. */
  readonly written: number;
  /**
   * Present when the sink can let go of every chunk written so far: once it resolves, their
   * memory may be reused. A sink without it (a Writable) may keep chunks indefinitely.
   */
  settle?(): Promise<void>;
}

/**
 * Writes to a file handle, gathering small pieces into one writev of about WRITE_BATCH
 * bytes: one system call per 64 KiB chunk costs more than the encryption does.
 *
 * With `writeBehind`, it also starts an fdatasync every that many bytes, in the background:
 * the disk then writes while we compute, and the fsync at commit finds little left to do.
 * Such a sync's failure is kept and thrown by the next write or `end()`, never dropped (Linux
 * reports a writeback error to one fsync only).
 */
export class FileSink implements Sink {
  written = 0;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private syncing: Promise<void> | undefined;
  private syncFailure: unknown;
  private nextSyncAt: number;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    private readonly writeBehind = 0,
  ) {
    this.nextSyncAt = writeBehind;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued >= WRITE_BATCH) await this.flush();
  }

  async end(): Promise<void> {
    await this.flush();
    await this.syncing;
    this.throwSyncFailure();
  }

  settle(): Promise<void> {
    return this.flush();
  }

  /** The file's descriptor, for writes at positions of one's own (see `wroteElsewhere`). */
  get fd(): number {
    return this.handle.fd;
  }

  /**
   * Counts `n` bytes that others wrote to the file at positions of their own (worker threads,
   * spread.ts), after everything this sink wrote; starts a write-behind sync when one is due.
   * Call `settle()` first: the queue must be empty.
   */
  wroteElsewhere(n: number): void {
    if (this.queued > 0) throw internal('wroteElsewhere with writes still queued');
    this.throwSyncFailure();
    this.written += n;
    this.startWriteBehind();
  }

  private async flush(): Promise<void> {
    this.throwSyncFailure();
    let pending = this.queue;
    this.queue = [];
    this.queued = 0;
    try {
      while (pending.length > 0) {
        const { bytesWritten } = await this.handle.writev(pending);
        this.written += bytesWritten;
        pending = dropWritten(pending, bytesWritten);
      }
    } catch (e) {
      throw ioError(e, 'write', this.path);
    }
    this.startWriteBehind();
  }

  /** Starts an fdatasync in the background once `writeBehind` more bytes were written. */
  private startWriteBehind(): void {
    if (this.writeBehind > 0 && this.written >= this.nextSyncAt && this.syncing === undefined) {
      this.nextSyncAt = this.written + this.writeBehind;
      this.syncing = this.handle.datasync().then(
        () => {
          this.syncing = undefined;
        },
        (e: unknown) => {
          this.syncFailure ??= e;
          this.syncing = undefined;
        },
      );
    }
  }

  private throwSyncFailure(): void {
    if (this.syncFailure !== undefined) throw ioError(this.syncFailure, 'write', this.path);
  }
}

/** How often a file we will fsync anyway starts writing back (FileSink's writeBehind). */
export const WRITE_BEHIND = 32 * 1024 * 1024;

const WRITE_BATCH = 1024 * 1024;

/** What is left of `buffers` after the first `n` bytes went out (a short write). */
function dropWritten(buffers: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < buffers.length && n >= buffers[i]!.length) n -= buffers[i++]!.length;
  const rest = buffers.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

/**
 * Writes to a Node Writable, waiting for 'drain' when it is full. Does not end it; call
 * `release()` when done to drop the error listener this sink adds.
 */
export class WritableSink implements Sink {
  written = 0;
  private failure: unknown;
  private readonly onError = (e: unknown) => {
    this.failure = e;
  };

  constructor(
    private readonly out: Writable,
    private readonly name = 'output stream',
  ) {
    // Without a listener, an 'error' (EPIPE on a closed pipe) would crash the daemon.
    out.on('error', this.onError);
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.failure !== undefined) throw ioError(this.failure, 'write', this.name);
    if (this.out.destroyed || this.out.writableEnded) throw ioError(Object.assign(new Error(), { code: 'EPIPE' }), 'write', this.name);
    const ok = this.out.write(chunk);
    this.written += chunk.length;
    if (!ok) {
      try {
        await once(this.out, 'drain');
      } catch (e) {
        throw ioError(e, 'write', this.name);
      }
    }
  }

  async end(): Promise<void> {}

  release(): void {
    this.out.off('error', this.onError);
  }
}
