import { constants as bufferConstants } from 'node:buffer';
import type { Writable } from 'node:stream';
import { AtomicFile } from '../util/atomic';
import { decryptBatches, fileSource, type PayloadOptions } from './batch';
import { internal, invalidInput, malformed, throwIfAborted, truncated } from './errors';
import { openAge, refuseExisting, unwrapVerified, type AgeInput, type FileUnwrap, type TransferResult } from './file';
import { FileSink, WritableSink, WRITE_BEHIND, type Sink } from './io';
import { CHUNK_SIZE, PAYLOAD_NONCE_SIZE, plaintextSize, SEALED_CHUNK_SIZE } from './stream';

// Random access: decrypt bytes [start, end) of a binary age file by reading only the chunks
// that hold them (for loading part of a checkpoint). Each chunk read is authenticated as
// usual, with its counter and, for the file's last chunk, the final flag, which the file size
// tells. Only the chunks read are authenticated: damage elsewhere in the file, or a cut at a
// chunk boundary past the range, goes unnoticed until those chunks are read.

export interface DecryptRangeOptions extends PayloadOptions {
  /** A binary age file (armor has no fixed chunk offsets). */
  input: string;
  /** First plaintext byte wanted. */
  start: number;
  /** One past the last byte wanted; clamped to the plaintext size. */
  end: number;
  unwrap: FileUnwrap;
}

export interface DecryptRangeResult extends TransferResult {
  /** The range served, `end` clamped to the plaintext size. */
  start: number;
  end: number;
  /** The whole file's plaintext size. */
  plaintextSize: number;
}

/** Into memory: exactly the bytes [start, min(end, size)). */
export function decryptRange(opts: DecryptRangeOptions & { output?: undefined }): Promise<Buffer>;
/** Into a new file (written atomically, mode 0o600 unless given), like decryptFile. */
export function decryptRange(opts: DecryptRangeOptions & { output: string; overwrite?: boolean; mode?: number }): Promise<DecryptRangeResult>;
/** Into a stream, a chunk at a time, each only after it authenticated; the stream is not ended. */
export function decryptRange(opts: DecryptRangeOptions & { output: Writable }): Promise<DecryptRangeResult>;
/**
 * Decrypts part of a file. Throws InvalidInput for a bad range, a start past the end (the
 * message gives the size) or an armored file; Malformed when the file size is not one an age
 * payload can have (truncated or extended); DecryptFailed for a chunk of the range that does
 * not authenticate (including the last chunk of a file cut at a chunk boundary); and what
 * `unwrap` and decryptFile throw.
 */
export async function decryptRange(
  opts: DecryptRangeOptions & { output?: string | Writable; overwrite?: boolean; mode?: number },
): Promise<Buffer | DecryptRangeResult> {
  const { output } = opts;
  if (output === undefined) {
    let buf: Buffer | undefined;
    await run(opts, (r) => {
      if (r.end - r.start > bufferConstants.MAX_LENGTH) throw invalidInput('range too large to return in memory', 'decrypt it into a file or a stream');
      buf = Buffer.alloc(r.end - r.start);
      return Promise.resolve({ sink: new BufferSink(buf), done: () => Promise.resolve(), fail: () => Promise.resolve() });
    });
    return buf ?? Buffer.alloc(0);
  }
  if (typeof output !== 'string') {
    const sink = new WritableSink(output);
    try {
      return await run(opts, () => Promise.resolve({ sink, done: () => Promise.resolve(), fail: () => Promise.resolve() }));
    } finally {
      sink.release();
    }
  }
  await refuseExisting(output, opts.overwrite);
  return run(opts, async () => {
    const out = await AtomicFile.open(output, { mode: opts.mode ?? 0o600, overwrite: opts.overwrite ?? false, plaintext: true });
    const sink = new FileSink(out.handle, output, WRITE_BEHIND);
    return {
      sink,
      done: async () => {
        await sink.end();
        throwIfAborted(opts.signal);
        await out.commit();
      },
      fail: () => out.abort(),
    };
  });
}

interface Target {
  sink: Sink;
  /** After the last byte: flush and commit. */
  done(): Promise<void>;
  /** On failure: remove whatever was started. */
  fail(): Promise<void>;
}

async function run(opts: DecryptRangeOptions, target: (r: { start: number; end: number }) => Promise<Target>): Promise<DecryptRangeResult> {
  const { start } = opts;
  if (typeof opts.input !== 'string') throw invalidInput('random access needs a file path');
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(opts.end) || opts.end < start) {
    throw invalidInput('invalid range: expected 0 <= start <= end, whole numbers', 'give START:END with END past START (END is exclusive)');
  }
  throwIfAborted(opts.signal);
  const input = await openAge(opts.input, HEADER_PULL_SIZE);
  try {
    const { header, file } = input;
    if (header.armored) throw invalidInput('random access needs a binary age file; decrypt it whole or re-encrypt without -a');
    if (file === undefined || file.size === null) throw invalidInput('random access needs a regular file, not a pipe or a device', 'decrypt it whole instead');
    const { size } = file;
    const plain = plaintextSize(size - header.size);
    if (plain === null) {
      throw malformed('invalid payload size: the file is truncated or has data appended', 'copy the file again from its source');
    }
    if (start > plain) throw invalidInput(`range starts past the end of the plaintext (${plain} bytes)`, `give a start of at most ${plain}`);
    const end = Math.min(opts.end, plain);

    const fileKey = await unwrapVerified(input, opts.unwrap);
    try {
      const t = await target({ start, end });
      try {
        let read = 0;
        if (end > start) read = await decryptChunks(input, fileKey, start, end, plain, t.sink, opts);
        await t.done();
        return { start, end, plaintextSize: plain, bytesIn: header.size + read, bytesOut: end - start };
      } catch (e) {
        await t.fail();
        throw e;
      }
    } finally {
      fileKey.fill(0);
    }
  } finally {
    await input.close();
  }
}

/** Reads and opens the chunks holding [start, end) and writes just those bytes; returns the bytes read. */
async function decryptChunks(input: AgeInput, fileKey: Uint8Array, start: number, end: number, plain: number, sink: Sink, opts: DecryptRangeOptions): Promise<number> {
  const { header, file } = input;
  const { handle, path } = file!;
  const nonce = Buffer.alloc(PAYLOAD_NONCE_SIZE);
  if ((await fileSource(handle, path, header.size).fill(nonce, PAYLOAD_NONCE_SIZE)) < PAYLOAD_NONCE_SIZE) throw truncated();
  const first = Math.floor(start / CHUNK_SIZE);
  const last = Math.floor((end - 1) / CHUNK_SIZE);
  const chunks = Math.max(1, Math.ceil(plain / CHUNK_SIZE));
  const source = fileSource(handle, path, header.size + PAYLOAD_NONCE_SIZE + first * SEALED_CHUNK_SIZE, (last - first + 1) * SEALED_CHUNK_SIZE);
  const window = new WindowSink(sink, start - first * CHUNK_SIZE, end - start);
  await decryptBatches(source, window, fileKey, { ...opts, nonce, firstCounter: first, endIsFinal: last === chunks - 1 });
  if (window.remaining !== 0) throw truncated(); // the file shrank while we read it
  return PAYLOAD_NONCE_SIZE + source.read;
}

const HEADER_PULL_SIZE = 16 * 1024;

/** Passes on only the bytes [skip, skip + count) of what is written to it. */
class WindowSink implements Sink {
  private offset = 0;
  readonly settle?: () => Promise<void>;

  constructor(
    private readonly inner: Sink,
    private readonly skip: number,
    private readonly count: number,
  ) {
    if (inner.settle !== undefined) this.settle = () => inner.settle!();
  }

  get written(): number {
    return this.inner.written;
  }

  get remaining(): number {
    return Math.max(0, this.skip + this.count - this.offset);
  }

  async write(chunk: Uint8Array): Promise<void> {
    const from = Math.max(0, this.skip - this.offset);
    const to = Math.min(chunk.length, this.skip + this.count - this.offset);
    this.offset += chunk.length;
    if (to > from) await this.inner.write(chunk.subarray(from, to));
  }

  async end(): Promise<void> {
    await this.inner.end();
  }
}

/** Copies into a buffer of the range's size. */
class BufferSink implements Sink {
  written = 0;
  constructor(private readonly buf: Buffer) {}
  write(chunk: Uint8Array): Promise<void> {
    if (this.written + chunk.length > this.buf.length) return Promise.reject(internal('range sink overflow'));
    this.buf.set(chunk, this.written);
    this.written += chunk.length;
    return Promise.resolve();
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
  settle(): Promise<void> {
    return Promise.resolve();
  }
}
