import { constants as fsc, promises as fsp } from 'node:fs';
import { ErrorCode } from '../protocol/errors';
import { ioError, KeywardError } from '../util/errors';
import { ArmorWriter } from './armor';
import { headerAuthFailed, internal, invalidInput, throwIfAborted } from './errors';
import { openAge } from './file';
import { encodeHeader, parseHeader, verifyHeaderMac, type ParsedHeader, type Stanza } from './header';
import { FileSink, WRITE_BEHIND, type Sink } from './io';
import { wrapFileKey } from './recipients';
import { encodeHeaderWithRoom, fitHeader, isPadding } from './room';
import { SCRYPT_TYPE } from './scrypt';

// Rewrap: the same file key for other recipients, so only the header changes. With room in the
// header (room.ts), the new header has the old one's exact length and is written over it in
// place: the payload is neither read nor moved, whatever the file size. Without room (a file
// age wrote, or too many new recipients) the file is copied once, payload bytes as they are,
// behind a new header that has room.

/**
 * A header for the same file key, wrapped to `recipients` (and nothing else: Keyward stanzas
 * of the old header are not carried over), exactly as long as `oldHeader`; null if it does
 * not fit (see rewrapByCopy). Throws DecryptFailed if `fileKey` is not the old header's key,
 * InvalidInput for bad recipients or an armored header.
 */
export async function rewrapHeader(fileKey: Uint8Array, oldHeader: ParsedHeader | Uint8Array, recipients: readonly string[]): Promise<Buffer | null> {
  const old = oldHeader instanceof Uint8Array ? parseHeader(oldHeader) : oldHeader;
  if ((old as { armored?: boolean }).armored === true) throw armoredInPlace();
  if (!verifyHeaderMac(old, fileKey)) throw headerAuthFailed();
  return fitHeader(await wrapFileKey(fileKey, recipients), fileKey, old.size);
}

/**
 * Overwrites the header at the start of `path` with `next` (as long as `expectedOld`), then
 * fsyncs. The file must start with `expectedOld`; if it already starts with `next` nothing is
 * written (resolves false), so a commit can be repeated after a crash. A crash during the
 * write itself can leave some 512-byte blocks old and others new: such a mix is accepted too,
 * and completed. Anything else means the file changed since its header was read: IllegalState.
 */
export async function writeHeaderInPlace(path: string, expectedOld: Uint8Array, next: Uint8Array): Promise<boolean> {
  if (expectedOld.length !== next.length) throw internal('a header rewritten in place must keep its length');
  if (parseHeader(next).size !== next.length) throw internal('the new header is not exactly one header');
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, fsc.O_RDWR | fsc.O_NOFOLLOW);
  } catch (e) {
    throw ioError(e, 'write', path);
  }
  try {
    const current = Buffer.alloc(next.length);
    let got = 0;
    while (got < current.length) {
      const { bytesRead } = await handle.read(current, got, current.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got === next.length && current.equals(next)) {
      await handle.sync();
      return false;
    }
    if (got < next.length || !blockwise(current, expectedOld, next)) throw changedSinceRead();
    let put = 0;
    while (put < next.length) put += (await handle.write(next, put, next.length - put, put)).bytesWritten;
    await handle.sync();
    return true;
  } catch (e) {
    if (e instanceof KeywardError) throw e;
    throw ioError(e, 'write', path);
  } finally {
    await handle.close();
  }
}

const BLOCK = 512;

/** Every 512-byte block of `current` is that of `a` or that of `b`. */
function blockwise(current: Buffer, a: Uint8Array, b: Uint8Array): boolean {
  for (let at = 0; at < current.length; at += BLOCK) {
    const end = Math.min(current.length, at + BLOCK);
    const block = current.subarray(at, end);
    if (!block.equals(a.subarray(at, end)) && !block.equals(b.subarray(at, end))) return false;
  }
  return true;
}

export interface RewrapByCopyOptions {
  /** The age file to rewrap (binary or armored; the copy is the same kind). */
  input: string;
  /** Where to write the new file, beside the input; replaced if it exists. The caller commits it (rename). */
  output: string;
  /** The file key, already unwrapped. */
  fileKey: Uint8Array;
  /** The header as read before: the input must still start with it. */
  header?: ParsedHeader;
  /**
   * The new header's stanzas (recipients', Keyward's own, or one scrypt stanza); or give
   * `recipients`. Padding is recomputed (none for armor or a passphrase).
   */
  stanzas?: readonly Stanza[];
  recipients?: readonly string[];
  signal?: AbortSignal;
  /** Mode of the output (default: the input's). */
  mode?: number;
}

/**
 * Writes `output`: a new header for the same file key (with room when binary), then the
 * input's payload bytes, copied without decrypting them; fsynced. Returns the new header (the
 * dearmored bytes for an armored file). On failure the output is removed. Throws IllegalState
 * if the input's header is no longer `header`, DecryptFailed if `fileKey` is not its key,
 * Cancelled on `signal`, and file errors.
 */
export async function rewrapByCopy(opts: RewrapByCopyOptions): Promise<Buffer> {
  if ((opts.stanzas === undefined) === (opts.recipients === undefined)) throw internal('give stanzas or recipients');
  const input = await openAge(opts.input);
  try {
    const { header } = input;
    if (opts.header !== undefined && !Buffer.from(opts.header.raw).equals(header.raw)) throw changedSinceRead();
    if (!verifyHeaderMac(header, opts.fileKey)) throw headerAuthFailed();
    const stanzas = (opts.stanzas ?? (await wrapFileKey(opts.fileKey, opts.recipients ?? []))).filter((s) => !isPadding(s));
    // A passphrase file gets no room: its scrypt stanza must be alone.
    const passphrase = stanzas.some((s) => s.type === SCRYPT_TYPE);
    if (passphrase && stanzas.length !== 1) throw invalidInput('an scrypt stanza must be the only one in the header');
    const next = header.armored || passphrase ? encodeHeader(stanzas, opts.fileKey) : encodeHeaderWithRoom(stanzas, opts.fileKey);
    throwIfAborted(opts.signal);

    let mode = opts.mode;
    if (mode === undefined) mode = (await input.file!.handle.stat()).mode & 0o777;
    let out: fsp.FileHandle;
    try {
      out = await fsp.open(opts.output, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, mode);
    } catch (e) {
      throw ioError(e, 'write', opts.output);
    }
    let ok = false;
    try {
      const file = new FileSink(out, opts.output, WRITE_BEHIND);
      const sink: Sink = header.armored ? new ArmorWriter(file) : file;
      await sink.write(next);
      await copyPayload(input.payload, sink, opts.signal);
      await sink.end();
      try {
        await out.sync();
      } catch (e) {
        throw ioError(e, 'write', opts.output);
      }
      ok = true;
      return next;
    } finally {
      await out.close().catch(() => undefined);
      if (!ok) await fsp.rm(opts.output, { force: true }).catch(() => undefined);
    }
  } finally {
    await input.close();
  }
}

const COPY_BLOCK = 4 * 1024 * 1024;

/** Copies with two buffers, reading the next block while the last one is written. */
async function copyPayload(source: { fill(buf: Buffer, n: number): Promise<number> }, sink: Sink, signal: AbortSignal | undefined): Promise<void> {
  let cur = Buffer.allocUnsafe(COPY_BLOCK);
  let spare = Buffer.allocUnsafe(COPY_BLOCK);
  let n = await source.fill(cur, COPY_BLOCK);
  while (n > 0) {
    throwIfAborted(signal);
    const writing = sink.write(cur.subarray(0, n)).then(() => sink.settle?.());
    void writing.catch(() => undefined); // awaited below; this only stops it counting as unhandled meanwhile
    let m: number;
    try {
      m = await source.fill(spare, COPY_BLOCK);
    } finally {
      await writing;
    }
    [cur, spare] = [spare, cur];
    n = m;
  }
}

function changedSinceRead(): KeywardError {
  return new KeywardError(ErrorCode.IllegalState, 'the file changed since its header was read', 'read it again and retry');
}

function armoredInPlace(): KeywardError {
  return invalidInput('an armored file cannot be rewrapped in place', 'rewrap it by copy, or keep model files binary');
}
