// Encrypting and decrypting whole files as jobs (artifacts/encrypt, artifacts/decrypt), so that
// the editor sees their progress in bytes and a cancel stops them: the work is written to a temp
// file beside the output (`jobTempPath`), which a cancel, a failure or the next start removes,
// and the output appears by one rename (a link, when nothing may be replaced) once it is whole.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { decryptFile, refuseExisting } from '../age';
import type { FileOp, StageContext } from '../jobs/manager';
import { jobTempPath } from '../jobs/manager';
import { exists } from '../util/atomic';
import { ioError } from '../util/errors';
import { jobTempDiscarder } from '../util/temps';
import { encryptArtifact } from './encrypt';
import type { ArtifactUnwrap } from './unwrap';

export interface EncryptJobParams {
  /** Input -> output, for outputs other than `FILE.age`. */
  outputs?: Record<string, string>;
  /** Resolved when the job starts (the journal holds public recipients only). */
  recipients: string[];
  /** Keystore refs among them, recorded in the file's metadata. */
  keys: string[];
  armor?: boolean;
  overwrite?: boolean;
}

export interface DecryptJobParams {
  /** Input -> output, for outputs other than the input without `.age`. */
  outputs?: Record<string, string>;
  overwrite?: boolean;
}

interface Staged {
  temp: string;
  output: string;
  overwrite: boolean;
  /** SHA-256 of the temp's first bytes: tells, after a crash, whether the rename already happened. */
  mark: string;
  key?: string;
}

export function encryptOutput(file: string, p: { outputs?: Record<string, string> }): string {
  return p.outputs?.[file] ?? `${file}.age`;
}

export function decryptOutput(file: string, p: { outputs?: Record<string, string> }): string {
  const out = p.outputs?.[file] ?? (file.endsWith('.age') ? file.slice(0, -4) : '');
  if (!out) throw ioError(Object.assign(new Error('no output name'), { code: 'EINVAL' }), 'name the output of', file);
  return out;
}

/** Encrypts each file to its output (the recipients recorded in the header, as every Keyward artifact). */
export function encryptOp(): FileOp<EncryptJobParams> {
  const discard = jobTempDiscarder();
  return {
    // A large file already keeps every core busy (spread.ts); two small ones overlap their I/O.
    concurrency: 2,
    async stage(file, p, ctx) {
      const output = encryptOutput(file, p);
      await refuseExisting(output, p.overwrite);
      const temp = jobTempPath(output, ctx.jobId);
      await encryptArtifact({
        input: file,
        output: temp,
        recipients: p.recipients,
        keys: p.keys,
        armor: p.armor ?? false,
        overwrite: true,
        mode: 0o644,
        ...progress(ctx),
      });
      return { data: { temp, output, overwrite: p.overwrite ?? false, mark: await mark(temp) } satisfies Staged };
    },
    commit: (_file, data) => place(data as Staged, (s) => `encrypted to ${path.basename(s.output)}`),
    discard: (file, ctx) => discard(encryptOutput(file, ctx.params), ctx),
  };
}

/** Decrypts each age file to its output; the plaintext appears only once every chunk authenticated. */
export function decryptOp(unwrap: ArtifactUnwrap): FileOp<DecryptJobParams> {
  const discard = jobTempDiscarder();
  return {
    concurrency: 2,
    async stage(file, p, ctx) {
      const output = decryptOutput(file, p);
      await refuseExisting(output, p.overwrite);
      const temp = jobTempPath(output, ctx.jobId);
      let key = '';
      await decryptFile({
        input: file,
        output: temp,
        overwrite: true,
        mode: 0o600,
        unwrap: async (h) => {
          const r = await unwrap(h.raw, file);
          key = r.ref;
          return r.fileKey;
        },
        ...progress(ctx),
      });
      return { data: { temp, output, overwrite: p.overwrite ?? false, mark: await mark(temp), key } satisfies Staged };
    },
    commit: (_file, data) => place(data as Staged, (s) => `decrypted to ${path.basename(s.output)}`),
    discard: (file, ctx) => discard(decryptOutput(file, ctx.params), ctx),
  };
}

function progress(ctx: StageContext): { signal: AbortSignal; onProgress: (done: number) => void } {
  let reported = 0;
  return {
    signal: ctx.signal,
    onProgress: (done) => {
      ctx.onBytes(done - reported);
      reported = done;
    },
  };
}

/** The first 64 KiB of a file, hashed: enough to tell two outputs of these jobs apart (a fresh nonce or header). */
async function mark(file: string): Promise<string> {
  const h = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await h.read(buf, 0, buf.length, 0);
    return createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex');
  } finally {
    await h.close();
  }
}

/**
 * Moves the staged temp into place: a rename, or a link then unlink where nothing may be
 * replaced (link fails if the output appeared meanwhile). Idempotent: redone after a crash with
 * the temp gone, it checks that the output is the staged one.
 */
async function place(s: Staged, detail: (s: Staged) => string): Promise<{ bytes: number; detail: string; key?: string }> {
  try {
    if (s.overwrite) await fsp.rename(s.temp, s.output);
    else {
      await fsp.link(s.temp, s.output);
      await fsp.unlink(s.temp);
    }
  } catch (e) {
    const already = !(await exists(s.temp)) && (await mark(s.output).catch(() => '')) === s.mark;
    if (!already) {
      await fsp.rm(s.temp, { force: true });
      throw ioError(e, 'write', s.output);
    }
  }
  const dir = await fsp.open(path.dirname(s.output), 'r');
  try {
    await dir.sync().catch(() => undefined);
  } finally {
    await dir.close();
  }
  return { bytes: (await fsp.stat(s.output)).size, detail: detail(s), ...(s.key ? { key: s.key } : {}) };
}
