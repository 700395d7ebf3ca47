import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { Writable } from 'node:stream';
import { AtomicFile, exists } from '../util/atomic';
import { ioError } from '../util/errors';
import { ArmorReader, ArmorWriter, detectArmor } from './armor';
import { decryptBatches, encryptBatches, fileSource, readerSource, type BatchSource, type PayloadOptions } from './batch';
import { headerAuthFailed, internal, invalidInput, throwIfAborted } from './errors';
import { encodeHeader, FILE_KEY_SIZE, MAX_HEADER_BYTES, scanHeader, verifyHeaderMac, type ParsedHeader, type Stanza } from './header';
import { ByteReader, FileSink, filePull, iterablePull, WritableSink, WRITE_BEHIND, type Sink } from './io';
import { parseRecipients, wrapFileKey, type FileKeyWrapper } from './recipients';
import { encodeHeaderWithRoom, headerRoom, isKeywardStanza } from './room';
import { SCRYPT_TYPE, unwrapWithPassphrase, wrapWithPassphrase } from './scrypt';
import { decryptSpread, digestSpread, encryptSpread, reencryptSpread, spreads, type OpenFile } from './spread';
import { plaintextSize } from './stream';

// Whole age files: encrypt, decrypt (to a file or a stream), re-encrypt, read the header,
// inspect. Outputs go through AtomicFile, so a file appears only once it is complete; a
// decrypted file appears only once every chunk, the final one included, has authenticated.
// The payload of a regular file to a file goes through spread.ts (each worker thread reads
// and writes its own batches); anything else through batch.ts (batches read and written in
// order by the calling thread, sealed or opened by the workers when there are several).

/** A file path, or bytes from a stream (stdin, a socket). */
export type Input = string | AsyncIterable<Uint8Array>;

export interface FileHeader extends ParsedHeader {
  /** The file is ASCII-armored; the header offsets are in the dearmored bytes. */
  readonly armored: boolean;
}

/** Finds the file key for a header; see `Unwrap` in header.ts. */
export type FileUnwrap = (header: FileHeader) => Promise<Uint8Array>;

export interface TransferResult {
  /** Bytes read from the input. */
  bytesIn: number;
  /** Bytes written to the output. */
  bytesOut: number;
}

export interface EncryptFileOptions extends PayloadOptions {
  input: Input;
  output: string;
  /** age1... / age1pq1... / plugin recipients; give these (or `wrappers`) or `passphrase`, not both. */
  recipients?: readonly string[];
  /** Plugin identities to encrypt to (as `age -e -i`/`-j`) and other wrappers beside `recipients`. */
  wrappers?: readonly FileKeyWrapper[];
  passphrase?: string;
  /** scrypt work factor for `passphrase` (default 18). */
  scryptLogN?: number;
  armor?: boolean;
  /**
   * End the header with a padding stanza (room.ts) so that a rewrap can rewrite the header in
   * place. Default: true for binary files to recipients, false for armored ones (they are
   * rewritten whole). Not possible with a passphrase: an scrypt stanza must be alone.
   */
  headerRoom?: boolean;
  /**
   * The file key to use instead of a fresh random one (16 bytes; copied, not kept), for a caller
   * that must derive something from it first, such as a metadata stanza. Never reuse one.
   */
  fileKey?: Uint8Array;
  /** Stanzas to put in the header after the recipients' (Keyward's own `keyward-*` types). */
  extraStanzas?: readonly Stanza[];
  /** Replace an existing output (default: refuse with AlreadyExists). */
  overwrite?: boolean;
  /** Mode of a new output file (default 0o644: it is ciphertext). */
  mode?: number;
}

export interface DecryptFileOptions extends PayloadOptions {
  input: Input;
  output: string;
  unwrap: FileUnwrap;
  overwrite?: boolean;
  /** Mode of a new output file (default 0o600: it is plaintext). */
  mode?: number;
}

export interface DecryptToWritableOptions extends PayloadOptions {
  input: Input;
  /** Receives each chunk once it authenticated. It is not ended. */
  output: Writable;
  unwrap: FileUnwrap;
}

export interface InspectResult {
  armored: boolean;
  /** Recipient stanzas without their bodies (not Keyward's own `keyward-*` stanzas). */
  stanzas: { type: string; args: string[] }[];
  headerSize: number;
  /** Bytes of padding in the header, which a rewrap in place can use (0: none). */
  headerRoom: number;
  /** Bytes after the header in the binary (dearmored) file: the nonce and the chunks. */
  payloadSize: number;
  /** null when no valid payload has `payloadSize` bytes (the file is truncated or padded). */
  plaintextSize: number | null;
}

/**
 * Encrypts `input` to `output` as an age v1 file, for recipients or with a passphrase.
 * Throws InvalidInput for bad options or recipients, AlreadyExists if the output exists
 * (unless `overwrite`), IoFailed/NotFound for file errors, Cancelled on `signal`; on any
 * failure the output is left as it was.
 */
export async function encryptFile(opts: EncryptFileOptions): Promise<TransferResult> {
  const hasRecipients = (opts.recipients?.length ?? 0) + (opts.wrappers?.length ?? 0) > 0;
  if (hasRecipients === (opts.passphrase !== undefined)) {
    throw invalidInput('give either recipients or a passphrase', 'a passphrase cannot be combined with recipients');
  }
  if (opts.passphrase !== undefined && (opts.headerRoom === true || (opts.extraStanzas?.length ?? 0) > 0)) {
    throw invalidInput('a passphrase-encrypted file cannot have other stanzas', 'an scrypt stanza must be the only one in the header');
  }
  if (opts.fileKey !== undefined && opts.fileKey.length !== FILE_KEY_SIZE) throw internal('file key must be 16 bytes');
  if (opts.extraStanzas?.some((s) => !isKeywardStanza(s))) throw internal('extra stanzas must be of keyward-* types');
  if (opts.recipients?.length) parseRecipients(opts.recipients); // fail before any work
  await refuseExisting(opts.output, opts.overwrite);
  throwIfAborted(opts.signal);

  const input = await openRaw(opts.input);
  const fileKey = opts.fileKey !== undefined ? Buffer.from(opts.fileKey) : randomBytes(FILE_KEY_SIZE);
  try {
    const header = await headerFor(opts, fileKey);
    throwIfAborted(opts.signal);
    return await writeAtomically(opts.output, { mode: opts.mode ?? 0o644, overwrite: opts.overwrite, signal: opts.signal }, async (file) => {
      const sink: Sink = opts.armor === true ? new ArmorWriter(file) : file;
      await sink.write(header);
      const size = opts.armor !== true ? (input.file?.size ?? null) : null;
      const bytesIn =
        size !== null && spreads(opts, size, false)
          ? await encryptSpread(input.file!, size, { sink: file, path: opts.output }, fileKey, opts)
          : await encryptBatches(input.source, sink, fileKey, opts);
      await sink.end();
      return { bytesIn, bytesOut: file.written };
    });
  } finally {
    fileKey.fill(0);
    await input.close();
  }
}

/** The header encryptFile writes: to the recipients (with room, unless armored) or the passphrase. */
async function headerFor(opts: Omit<EncryptFileOptions, 'input' | 'output'>, fileKey: Uint8Array): Promise<Buffer> {
  if (opts.passphrase !== undefined) return encodeHeader([await wrapWithPassphrase(fileKey, opts.passphrase, opts.scryptLogN)], fileKey);
  const wrapped = await wrapFileKey(fileKey, opts.recipients ?? [], opts.wrappers);
  // A plugin may wrap to a passphrase (age-plugin-batchpass): an scrypt stanza must be alone.
  if (wrapped.some((s) => s.type === SCRYPT_TYPE)) return encodeHeader(wrapped, fileKey);
  const stanzas = [...wrapped, ...(opts.extraStanzas ?? [])];
  return (opts.headerRoom ?? opts.armor !== true) ? encodeHeaderWithRoom(stanzas, fileKey) : encodeHeader(stanzas, fileKey);
}

export interface ReencryptFileOptions extends PayloadOptions {
  /** A binary age file, and its file key (checked against the header MAC). */
  input: string;
  fileKey: Uint8Array;
  output: string;
  /** The new file key (16 bytes; copied, not kept), wrapped to `recipients` and `wrappers`. */
  newFileKey: Uint8Array;
  recipients: readonly string[];
  /** Plugin identities to wrap it to besides (as in encryptFile). */
  wrappers?: readonly FileKeyWrapper[];
  /** Keyward's own stanzas, after the recipients' (as in encryptFile). */
  extraStanzas?: readonly Stanza[];
  overwrite?: boolean;
  /** Mode of a new output file (default 0o644). */
  mode?: number;
}

/** What a re-encryption or a digest read and wrote, and the digest of the plaintext (see `Digested` in spread.ts). */
export interface ReencryptResult extends TransferResult {
  digest: Buffer;
}

/**
 * Re-encrypts a binary age file under a new file key, on every core: a new header (with room),
 * then each chunk opened and sealed again where it belongs (spread.ts). The plaintext is only
 * ever in memory, a batch at a time. Returns the plaintext's digest, for `digestFile` of the
 * output to confirm; the output appears only once complete, as in encryptFile.
 *
 * Returns null, having written nothing, when the input is armored, not a regular file, or
 * holds a single batch: the caller then decrypts into encryptFile, which suits those.
 */
export async function reencryptFile(opts: ReencryptFileOptions): Promise<ReencryptResult | null> {
  if (opts.newFileKey.length !== FILE_KEY_SIZE) throw internal('file key must be 16 bytes');
  if (opts.extraStanzas?.some((s) => !isKeywardStanza(s))) throw internal('extra stanzas must be of keyward-* types');
  if (opts.recipients.length || !opts.wrappers?.length) parseRecipients(opts.recipients); // fail before any work
  throwIfAborted(opts.signal);
  const opened = await openSpreadable(opts.input, opts.fileKey, opts);
  if (opened === null) return null;
  const { input, spread } = opened;
  try {
    await refuseExisting(opts.output, opts.overwrite);
    const newKey = Buffer.from(opts.newFileKey);
    try {
      const header = await headerFor({ recipients: opts.recipients, ...(opts.wrappers ? { wrappers: opts.wrappers } : {}), ...(opts.extraStanzas ? { extraStanzas: opts.extraStanzas } : {}) }, newKey);
      throwIfAborted(opts.signal);
      return await writeAtomically(opts.output, { mode: opts.mode ?? 0o644, overwrite: opts.overwrite, signal: opts.signal }, async (sink) => {
        await sink.write(header);
        const { digest } = await reencryptSpread(spread.file, input.header.size, spread.payload, { sink, path: opts.output }, opts.fileKey, newKey, opts);
        return { bytesIn: spread.size, bytesOut: sink.written, digest };
      });
    } finally {
      newKey.fill(0);
    }
  } finally {
    await input.close();
  }
}

/**
 * Authenticates every chunk of a binary age file and digests its plaintext, writing nothing:
 * the check of a reencryptFile output. Null, having read nothing, where reencryptFile would be.
 */
export async function digestFile(opts: PayloadOptions & { input: string; fileKey: Uint8Array }): Promise<ReencryptResult | null> {
  throwIfAborted(opts.signal);
  const opened = await openSpreadable(opts.input, opts.fileKey, opts);
  if (opened === null) return null;
  const { input, spread } = opened;
  try {
    const { digest } = await digestSpread(spread.file, input.header.size, spread.payload, opts.fileKey, opts);
    return { bytesIn: spread.size, bytesOut: 0, digest };
  } finally {
    await input.close();
  }
}

/**
 * Decrypts `input` into `output`. The output appears only after the last chunk verified;
 * on any failure there is no output file (and no temp file). Throws what `unwrap` throws,
 * DecryptFailed for a wrong header MAC or a damaged payload, Malformed for a file that is
 * not age, truncated, or has trailing data, and the file errors of encryptFile.
 */
export async function decryptFile(opts: DecryptFileOptions): Promise<TransferResult> {
  throwIfAborted(opts.signal);
  await refuseExisting(opts.output, opts.overwrite);
  const input = await openAge(opts.input);
  try {
    const fileKey = await unwrapVerified(input, opts.unwrap);
    try {
      throwIfAborted(opts.signal);
      const spread = spreadPayload(input, opts);
      const r = await writeAtomically(opts.output, { mode: opts.mode ?? 0o600, overwrite: opts.overwrite, signal: opts.signal, plaintext: true }, async (sink) => {
        if (spread !== undefined) await decryptSpread(spread.file, input.header.size, spread.payload, { sink, path: opts.output }, fileKey, opts);
        else await decryptBatches(input.payload, sink, fileKey, opts);
        return { bytesIn: spread?.size ?? input.bytesIn(), bytesOut: sink.written };
      });
      // The plaintext is as old as the ciphertext it came from (as `cp -p` keeps times): a fresh
      // copy is not "plaintext newer than ciphertext" in status; an edit after it is.
      if (typeof opts.input === 'string') {
        const st = await fsp.stat(opts.input).catch(() => null);
        if (st?.isFile()) await fsp.utimes(opts.output, new Date(), st.mtime).catch(() => undefined);
      }
      return r;
    } finally {
      fileKey.fill(0);
    }
  } finally {
    await input.close();
  }
}

/**
 * Decrypts `input` into a stream (stdout, a socket). Each chunk is written only after it
 * authenticated, but a stream cannot be taken back: the promise rejects at the end if the
 * file turns out truncated or damaged, and the consumer must then discard what it got.
 */
export async function decryptToWritable(opts: DecryptToWritableOptions): Promise<TransferResult> {
  throwIfAborted(opts.signal);
  const input = await openAge(opts.input);
  const sink = new WritableSink(opts.output);
  try {
    const fileKey = await unwrapVerified(input, opts.unwrap);
    try {
      await decryptBatches(input.payload, sink, fileKey, opts);
      return { bytesIn: input.bytesIn(), bytesOut: sink.written };
    } finally {
      fileKey.fill(0);
    }
  } finally {
    sink.release();
    await input.close();
  }
}

/** decryptFile for a passphrase-encrypted file; see unwrapWithPassphrase for its errors. */
export function decryptWithPassphrase(
  opts: Omit<DecryptFileOptions, 'unwrap'> & { passphrase: string; maxScryptLogN?: number },
): Promise<TransferResult> {
  const { passphrase, maxScryptLogN, ...rest } = opts;
  return decryptFile({ ...rest, unwrap: unwrapWithPassphrase(passphrase, { maxLogN: maxScryptLogN }) });
}

/**
 * Reads and parses the header (of a binary or armored file) without touching the payload.
 * Throws Malformed if it is not an age v1 header, and file errors.
 */
export async function readHeader(input: Input): Promise<FileHeader> {
  const opened = await openAge(input, HEADER_PULL_SIZE);
  try {
    return opened.header;
  } finally {
    await opened.close();
  }
}

/** What a file is encrypted to and how big it is, without any key. Throws like readHeader. */
export async function inspect(input: Input): Promise<InspectResult> {
  const opened = await openAge(input);
  try {
    const { header } = opened;
    let payload: number;
    if (opened.file !== undefined && opened.file.size !== null && !header.armored) {
      payload = opened.file.size - header.size;
    } else {
      payload = 0;
      for (let b = await opened.reader.read(1 << 20); b.length > 0; b = await opened.reader.read(1 << 20)) payload += b.length;
    }
    return {
      armored: header.armored,
      stanzas: header.stanzas.filter((s) => !isKeywardStanza(s)).map((s) => ({ type: s.type, args: [...s.args] })),
      headerSize: header.size,
      headerRoom: headerRoom(header),
      payloadSize: payload,
      plaintextSize: plaintextSize(payload),
    };
  } finally {
    await opened.close();
  }
}

const HEADER_PULL_SIZE = 16 * 1024;

/**
 * Says "already exists" before the slow part (scrypt, a keystore prompt) rather than after.
 * AtomicFile checks again when it commits, so this is only about when the error comes.
 */
export async function refuseExisting(output: string, overwrite: boolean | undefined): Promise<void> {
  if (overwrite !== true && (await exists(output))) {
    throw ioError(Object.assign(new Error(), { code: 'EEXIST' }), 'write', output);
  }
}

/**
 * The open file of a path input, and its size when it was opened: null for a pipe or a
 * device, which has no positions and is read in order.
 */
export type InputFile = OpenFile & { size: number | null };

interface RawInput {
  reader: ByteReader;
  /** The same bytes for the payload pipeline: positional reads for a regular file. */
  source: BatchSource;
  /** The open file, for a path. */
  file?: InputFile;
  close(): Promise<void>;
}

/** An age file opened and its header read. */
export interface AgeInput {
  /** The input's bytes as read. */
  raw: ByteReader;
  /** The binary age file: `raw`, or `raw` dearmored; positioned after the header. */
  reader: ByteReader;
  header: FileHeader;
  /** The payload (nonce and chunks), for decryptBatches. */
  payload: BatchSource;
  /** The open file, for a path. */
  file?: InputFile;
  /** Bytes read from the input so far. */
  bytesIn(): number;
  close(): Promise<void>;
}

async function openRaw(input: Input, pullSize?: number): Promise<RawInput> {
  if (typeof input !== 'string') {
    const { pull, close } = iterablePull(input);
    const reader = new ByteReader(pull, pullSize);
    return { reader, source: readerSource(reader), close };
  }
  let handle: fsp.FileHandle;
  let size: number | null;
  try {
    handle = await fsp.open(input, 'r');
  } catch (e) {
    throw ioError(e, 'read', input);
  }
  try {
    const st = await handle.stat();
    size = st.isFile() ? st.size : null;
  } catch (e) {
    await handle.close();
    throw ioError(e, 'read', input);
  }
  const reader = new ByteReader(filePull(handle, input), pullSize);
  return {
    reader,
    // A pipe or a device (a path such as /dev/stdin) has no positions: it is read in order.
    source: size !== null ? fileSource(handle, input, 0) : readerSource(reader),
    file: { handle, path: input, size },
    close: () => handle.close(),
  };
}

/** Opens an age file, binary or armored, and reads its header. */
export async function openAge(input: Input, pullSize?: number): Promise<AgeInput> {
  const raw = await openRaw(input, pullSize);
  try {
    const armored = (await detectArmor(raw.reader)) === 'armored';
    const reader = armored ? new ByteReader(new ArmorReader(raw.reader).pull, pullSize) : raw.reader;
    const header = { ...(await readHeaderFrom(reader)), armored };
    if (raw.file !== undefined && raw.file.size !== null && !armored) {
      // A binary file: the payload is read where it is, past whatever the reader read ahead.
      const { handle, path } = raw.file;
      const source = fileSource(handle, path, header.size);
      return { raw: raw.reader, reader, header, payload: source, file: raw.file, bytesIn: () => header.size + source.read, close: () => raw.close() };
    }
    return { raw: raw.reader, reader, header, payload: readerSource(reader), ...(raw.file ? { file: raw.file } : {}), bytesIn: () => raw.reader.pulled, close: () => raw.close() };
  } catch (e) {
    await raw.close();
    throw e;
  }
}

async function readHeaderFrom(reader: ByteReader): Promise<ParsedHeader> {
  for (let want = 4096; ; want = Math.min(want * 4, MAX_HEADER_BYTES)) {
    const bytes = await reader.peek(want);
    const header = scanHeader(bytes, bytes.length < want);
    if (header !== null) {
      reader.skip(header.size);
      return header;
    }
    // scanHeader throws "header too large" once it has seen MAX_HEADER_BYTES without an end.
  }
}

/**
 * Writes `output` through a FileSink (with write-behind): it appears, fsynced and renamed into
 * place, only once `write` succeeded; on any failure there is no output and no temp file.
 */
async function writeAtomically<T>(output: string, opts: { mode: number; overwrite?: boolean; signal?: AbortSignal; plaintext?: boolean }, write: (sink: FileSink) => Promise<T>): Promise<T> {
  const out = await AtomicFile.open(output, { mode: opts.mode, overwrite: opts.overwrite ?? false, plaintext: opts.plaintext ?? false });
  try {
    const sink = new FileSink(out.handle, output, WRITE_BEHIND);
    const result = await write(sink);
    await sink.end();
    throwIfAborted(opts.signal);
    await out.commit();
    return result;
  } catch (e) {
    await out.abort();
    throw e;
  }
}

/** Opens an age file with its header MAC checked, for spread.ts; null (closed again) if it does not suit (see spreadPayload). */
async function openSpreadable(path: string, fileKey: Uint8Array, opts: PayloadOptions): Promise<{ input: AgeInput; spread: SpreadPayload } | null> {
  const input = await openAge(path);
  try {
    const spread = spreadPayload(input, opts);
    if (spread === undefined) {
      await input.close();
      return null;
    }
    if (!verifyHeaderMac(input.header, fileKey)) throw headerAuthFailed();
    return { input, spread };
  } catch (e) {
    await input.close();
    throw e;
  }
}

interface SpreadPayload {
  file: InputFile;
  /** The whole file's size, and the payload's (after the header). */
  size: number;
  payload: number;
}

/** The payload of a binary regular file, when it is large enough for spread.ts (see `spreads`). */
function spreadPayload(input: AgeInput, opts: PayloadOptions): SpreadPayload | undefined {
  if (input.file === undefined || input.file.size === null || input.header.armored) return undefined;
  const { size } = input.file;
  const payload = size - input.header.size;
  return spreads(opts, payload, true) ? { file: input.file, size, payload } : undefined;
}

/** Calls the caller's unwrap, then checks the header MAC itself: unwrappers are not trusted with it. */
export async function unwrapVerified(input: { header: FileHeader }, unwrap: FileUnwrap): Promise<Buffer> {
  const key: unknown = await unwrap(input.header);
  if (!(key instanceof Uint8Array) || key.length !== FILE_KEY_SIZE) throw internal('unwrap returned something other than a 16-byte file key');
  const fileKey = Buffer.from(key); // ours to wipe; the caller's copy is the caller's
  if (!verifyHeaderMac(input.header, fileKey)) {
    fileKey.fill(0);
    throw headerAuthFailed();
  }
  return fileKey;
}
