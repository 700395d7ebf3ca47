// What the watcher knows of a file without keeping its content: a stat signature (to tell
// "unchanged" cheaply) and a SHA-256 of the plaintext (to tell "same content" for sure).
import { createHash } from 'node:crypto';
import { promises as fsp, type BigIntStats } from 'node:fs';
import { Writable } from 'node:stream';
import { decryptToWritable } from '../age';
import type { Keystore } from '../keystore/keystore';
import { ErrorCode } from '../protocol';
import { KeywardError, errnoCode, ioError } from '../util/errors';

/** Size, modification time (ns) and inode: changes on any write, truncation or replacement. */
export interface FileSig {
  size: number;
  mtimeNs: string;
  ino: string;
}

export function sigFromStats(st: BigIntStats): FileSig {
  return { size: Number(st.size), mtimeNs: st.mtimeNs.toString(), ino: st.ino.toString() };
}

export function sameSig(a: FileSig | null | undefined, b: FileSig | null | undefined): boolean {
  return !!a && !!b && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino;
}

/** mtime of a signature in ms (for "newer than" comparisons). */
export function mtimeMs(s: FileSig): number {
  return Number(BigInt(s.mtimeNs) / 1_000_000n);
}

/** The signature of a regular file; null when it is gone or not a regular file (symlinks are not followed). */
export async function regularFileSig(p: string): Promise<FileSig | null> {
  try {
    const st = await fsp.lstat(p, { bigint: true });
    return st.isFile() ? sigFromStats(st) : null;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw ioError(e, 'read', p);
  }
}

export const READ_CHUNK = 1 << 20;

/**
 * Reads a file as a stream of chunks, hashing them, and checks at the end that the file still
 * has the signature it had at the start; `onChanged` is called when it does not (the caller
 * then aborts what it made of the chunks). Opening fails with the file errors of ioError.
 */
export async function* readHashed(p: string, expected: FileSig, hash: ReturnType<typeof createHash>, onChanged: () => void): AsyncGenerator<Uint8Array> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(p, 'r');
  } catch (e) {
    throw ioError(e, 'read', p);
  }
  try {
    if (!sameSig(sigFromStats(await fh.stat({ bigint: true })), expected)) onChanged();
    for (;;) {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, READ_CHUNK, null));
      } catch (e) {
        throw ioError(e, 'read', p);
      }
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      hash.update(chunk);
      yield chunk;
    }
    // By path, not by handle: a file replaced by rename has another inode now.
    if (!sameSig(await regularFileSig(p), expected)) onChanged();
  } finally {
    await fh.close();
  }
}

/** SHA-256 (hex) of a file's content, or null when the file changed while it was read. */
export async function hashFile(p: string, expected: FileSig): Promise<string | null> {
  const h = createHash('sha256');
  let changed = false;
  for await (const _ of readHashed(p, expected, h, () => (changed = true))) {
    // hashing happens in readHashed
  }
  return changed ? null : h.digest('hex');
}

/**
 * Decrypts an age file with the keystore into a hash, never to disk: the SHA-256 of its
 * plaintext and the key version that opened it. Throws what unwrapFileKey and the age
 * engine throw (DecryptFailed when none of the keys opens it, Malformed, file errors).
 */
export async function hashAgeContent(agePath: string, keystore: Keystore): Promise<{ sha256: string; ref: string; size: number }> {
  const h = createHash('sha256');
  let ref = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      cb();
    },
  });
  const r = await decryptToWritable({
    input: agePath,
    output: sink,
    unwrap: async (header) => {
      const u = await keystore.unwrapFileKey(header.raw);
      ref = u.ref;
      return u.fileKey;
    },
  });
  if (!ref) throw new KeywardError(ErrorCode.InternalError, 'no key reported for a decrypted file');
  return { sha256: h.digest('hex'), ref, size: r.bytesOut };
}
