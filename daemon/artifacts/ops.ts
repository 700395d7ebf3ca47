import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { ErrorCode } from '../protocol';
import {
  decryptToWritable,
  digestFile,
  encryptFile,
  fitHeader,
  parseRecipients,
  readHeader,
  reencryptFile,
  rewrapByCopy,
  wrapFileKey,
  writeHeaderInPlace,
  FILE_KEY_SIZE,
  type FileHeader,
  type FileKeyWrapper,
  type Stanza,
} from '../age';
import type { FileOp, StageContext } from '../jobs/manager';
import { jobTempPath } from '../jobs/manager';
import { jobTempDiscarder } from '../util/temps';
import type { Keystore } from '../keystore/keystore';
import { KeywardError } from '../util/errors';
import { META_TYPE, metaStanza, readMeta, type IdentityTarget } from './meta';
import { keptIdentities, recordedTargets, targetsOfKeys, wrapIdentities, type IdentityWrap } from './targets';

export interface RewrapParams {
  add?: string[];
  addKeys?: string[];
  remove?: string[];
  removeKeys?: string[];
  setRecipients?: string[];
  setKeys?: string[];
  onlyIfOpenedBy?: string[];
}

export interface RotateParams {
  recipients?: string[];
  keys?: string[];
}

type Staged = { mode: 'inplace'; old: string; next: string } | { mode: 'copy'; temp: string; header: string };

/** Resolves key refs to recipients; encryption targets must be active keys. */
function resolveKeys(ks: Keystore, refs: readonly string[] | undefined, forEncryption: boolean): { recipients: string[]; refs: string[] } {
  if (!refs?.length) return { recipients: [], refs: [] };
  if (forEncryption) {
    const r = ks.recipientsFor(refs);
    return { recipients: r.map((x) => x.recipient), refs: r.map((x) => x.ref) };
  }
  const recipients: string[] = [];
  const out: string[] = [];
  for (const ref of refs) {
    const versions = ks.versionsOf(ref);
    for (const v of versions) {
      recipients.push(v.recipient);
      out.push(v.ref);
    }
  }
  return { recipients, refs: out };
}

async function openFile(ks: Keystore, file: string): Promise<{ header: FileHeader; fileKey: Uint8Array; ref: string }> {
  const header = await readHeader(file);
  const { fileKey, ref } = await ks.unwrapFileKey(header.raw);
  return { header, fileKey, ref };
}

/**
 * The stanzas of a file only a plugin identity opens (no other key of the keystore does), for
 * the job's batched plugin session (FileOp.pluginStanzas); null when another key opens it.
 */
export async function pluginStanzasOf(ks: Keystore, file: string): Promise<Stanza[] | null> {
  const header = await readHeader(file);
  try {
    if ((await ks.openers(header.raw)).length) return null;
  } catch {
    // no key opens it without a plugin
  }
  return keyStanzas(header.stanzas);
}

/** The stanzas that carry the file key (not Keyward's own metadata or padding). */
function keyStanzas(stanzas: readonly Stanza[]): Stanza[] {
  return stanzas.filter((s) => !s.type.startsWith('keyward-'));
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}

/**
 * The stanzas to add when recipients are only added: the existing ones stay as they are (no
 * plugin of a recipient that stays is run again), and the new ones must be able to share the
 * file with them (label sets, c2sp.org/age-plugin): the kept ones take part in wrapFileKey's
 * check with their labels (native recipients' from their type, plugin identities' as recorded;
 * a plugin recipient's are known only when it wraps, so it cannot take part).
 */
async function wrapAdded(fileKey: Uint8Array, current: readonly string[], next: readonly string[], kept: readonly IdentityTarget[], wrappers: readonly FileKeyWrapper[]): Promise<Stanza[]> {
  const added = next.filter((r) => !current.includes(r));
  const all = [...current, ...added];
  // Refuses post-quantum and classic native recipients together, as a full rebuild would.
  const native = (all.length ? parseRecipients(all) : []).filter((r) => r.type !== 'plugin' && current.includes(r.recipient));
  const probes: FileKeyWrapper[] = [
    ...(native.length ? [() => Promise.resolve({ stanzas: [], labels: native[0]!.postQuantum ? ['postquantum'] : [] })] : []),
    ...kept.map((t): FileKeyWrapper => () => Promise.resolve({ stanzas: [], labels: t.labels })),
  ];
  if (!added.length && !wrappers.length) return [];
  return wrapFileKey(fileKey, added, [...wrappers, ...probes]);
}

/**
 * Rewrap: the same file key, wrapped to another set of recipients. The new header is built
 * to the old header's exact size (Keyward leaves room in the headers it writes), so only the
 * header bytes are rewritten in place; a header without room (a file age wrote) is rewritten
 * once by copying the payload bytes as they are (nothing is decrypted), and gets room.
 */
export function rewrapOp(ks: () => Keystore): FileOp<RewrapParams> {
  return {
    concurrency: 8,
    pluginStanzas: (file) => pluginStanzasOf(ks(), file),
    async stage(file, p, ctx) {
      const keystore = ks();
      let opened;
      try {
        opened = await openFile(keystore, file);
      } catch (e) {
        // Sweeping a tree for one key's files: a file none of our keys opens is not ours to touch.
        if (p.onlyIfOpenedBy?.length && e instanceof KeywardError && e.code === ErrorCode.DecryptFailed) return { skip: 'not opened by any of your keys' };
        throw e;
      }
      const { header, fileKey, ref } = opened;
      if (p.onlyIfOpenedBy?.length && !p.onlyIfOpenedBy.includes(ref)) return { skip: `not opened by ${p.onlyIfOpenedBy.join(', ')}` };
      if (header.armored) {
        throw new KeywardError(ErrorCode.InvalidInput, 'armored files cannot be rewrapped in place', 'rotate it instead (keyward rotate), or keep model files binary');
      }
      const meta = readMeta(fileKey, header.stanzas);
      const adding = await targetsOfKeys(keystore, p.addKeys ?? []);
      const setting = await targetsOfKeys(keystore, p.setKeys ?? []);
      const add = [...(p.add ?? []), ...adding.recipients.map((x) => x.recipient)];
      const removing = resolveKeys(keystore, p.removeKeys, false);
      const remove = [...(p.remove ?? []), ...removing.recipients];
      const set = [...(p.setRecipients ?? []), ...setting.recipients.map((x) => x.recipient)];
      const setAny = set.length + setting.identities.length > 0;
      let current = setAny ? null : (meta?.recipients ?? null);
      // Identities wrapped to directly (targets.ts): kept by their stanzas, added through the plugin.
      const recorded = meta?.identities ?? [];
      let keep = setAny ? [] : recorded.filter((t) => !removing.refs.includes(t.key));
      const fresh = (setAny ? setting.identities : adding.identities).filter((t) => !keep.some((k) => k.id === t.id));
      let next: string[];
      let stanzas: Stanza[];
      if (setAny) {
        next = [...new Set(set)];
        current = meta?.recipients ?? null;
      } else if (current) {
        next = [...new Set([...current, ...add])].filter((r) => !remove.includes(r));
      } else if (remove.length) {
        throw new KeywardError(
          ErrorCode.InvalidInput,
          'Keyward does not know who this file is encrypted to (age hides recipients, and no Keyward metadata is in it)',
          'give the full new set with --set / --set-key',
        );
      } else {
        next = [];
        keep = [];
      }
      const unchanged = current && same(current, next) && !fresh.length && same(recorded.map((t) => t.key), [...keep.map((t) => t.key)]);
      if (unchanged) return { skip: 'recipients already as asked' };
      if (setAny || current) {
        if (!next.length && !keep.length && !fresh.length) throw new KeywardError(ErrorCode.InvalidInput, 'this would leave the file with no recipient', 'keep at least one recipient');
        const kept = keptIdentities(keep, header.stanzas);
        const added = await wrapIdentities(fileKey, fresh);
        const identities = [...kept.records, ...added.records];
        const record = metaStanza(fileKey, { recipients: next, keys: [...keystore.refsForRecipients(next), ...identities.map((t) => t.key)], at: new Date().toISOString(), ...(identities.length ? { identities } : {}) });
        const additionsOnly = !setAny && current !== null && current.every((r) => next.includes(r)) && keep.length === recorded.length;
        stanzas = additionsOnly
          ? [...keyStanzas(header.stanzas), ...(await wrapAdded(fileKey, current!, next, keep, added.wrappers)), record]
          : [...(await wrapFileKey(fileKey, next, [...kept.wrappers, ...added.wrappers])), record];
      } else {
        // Unknown current set, additions only: keep the existing stanzas as they are.
        const added = await wrapIdentities(fileKey, fresh);
        stanzas = [...keyStanzas(header.stanzas), ...(await wrapFileKey(fileKey, add, added.wrappers))];
      }
      if (ctx.signal.aborted) throw new KeywardError(ErrorCode.Cancelled, 'cancelled');
      const fitted = fitHeader(stanzas, fileKey, header.size);
      if (fitted) {
        return { data: { mode: 'inplace', old: Buffer.from(header.raw).toString('base64'), next: fitted.toString('base64') } satisfies Staged };
      }
      const temp = jobTempPath(file, ctx.jobId);
      const h = await rewrapByCopy({ input: file, output: temp, header, fileKey, stanzas, signal: ctx.signal });
      return { data: { mode: 'copy', temp, header: sha256(h) } satisfies Staged };
    },
    async commit(file, data) {
      const d = data as Staged;
      if (d.mode === 'inplace') {
        await writeHeaderInPlace(file, Buffer.from(d.old, 'base64'), Buffer.from(d.next, 'base64'));
        return { bytes: Buffer.from(d.next, 'base64').length, detail: 'header rewritten in place' };
      }
      return commitCopy(file, d.temp, d.header, 'header rewritten (payload copied once, with room for the next rewrap)');
    },
    discard: jobTempDiscarder(),
  };
}

/**
 * Rotate: a new file key, the payload decrypted and re-encrypted into a temp file beside the
 * original (chunk by chunk on every core for a binary file), verified by authenticating the
 * copy again and comparing plaintext digests both ways, then renamed over the original.
 * Recipients as given, else the ones Keyward recorded in the file.
 */
export function rotateOp(ks: () => Keystore): FileOp<RotateParams> {
  return {
    concurrency: 2,
    pluginStanzas: (file) => pluginStanzasOf(ks(), file),
    async stage(file, p, ctx) {
      const keystore = ks();
      const { header, fileKey } = await openFile(keystore, file);
      const byKeys = await targetsOfKeys(keystore, p.keys ?? []);
      const given = [...(p.recipients ?? []), ...byKeys.recipients.map((x) => x.recipient)];
      const meta = given.length || byKeys.identities.length ? null : readMeta(fileKey, header.stanzas);
      const recipients = meta ? meta.recipients : [...new Set(given)];
      let ids: IdentityWrap[];
      try {
        ids = meta ? await recordedTargets(keystore, meta.identities ?? []) : byKeys.identities;
      } catch (e) {
        fileKey.fill(0);
        throw e;
      }
      if (!recipients.length && !ids.length) {
        fileKey.fill(0);
        throw new KeywardError(
          ErrorCode.InvalidInput,
          'Keyward does not know who this file is encrypted to (age hides recipients, and no Keyward metadata is in it)',
          'give the recipients with -r / -k',
        );
      }
      const temp = jobTempPath(file, ctx.jobId);
      const newKey = randomBytes(FILE_KEY_SIZE);
      try {
        const wrapped = await wrapIdentities(newKey, ids);
        const record = { recipients, keys: [...keystore.refsForRecipients(recipients), ...wrapped.records.map((t) => t.key)], at: new Date().toISOString(), ...(wrapped.records.length ? { identities: wrapped.records } : {}) };
        const to: NewTargets = { recipients, wrappers: wrapped.wrappers, meta: metaStanza(newKey, record) };
        const verified = (await reencryptPlaced(file, temp, fileKey, newKey, to, ctx)) ?? (await reencryptThroughPipe(file, temp, fileKey, newKey, to, header, ctx));
        if (!verified) {
          throw new KeywardError(ErrorCode.IoFailed, 'the re-encrypted copy did not verify', 'the original is untouched; check the disk and try again');
        }
        const h = await readHeader(temp);
        return { data: { mode: 'copy', temp, header: sha256(h.raw) } satisfies Staged };
      } finally {
        newKey.fill(0);
        fileKey.fill(0);
      }
    },
    commit: (file, data) => commitCopy(file, (data as Staged & { mode: 'copy' }).temp, (data as Staged & { mode: 'copy' }).header, 'new file key'),
    discard: jobTempDiscarder(),
  };
}

/** What a rotated file's new key is wrapped to, and its record. */
interface NewTargets {
  recipients: readonly string[];
  wrappers: readonly FileKeyWrapper[];
  meta: Stanza;
}

/**
 * A binary file of more than one batch: each chunk opened and sealed again by the workers,
 * every core at work; then the copy authenticated and its plaintext digest compared.
 * Whether it verified; null if the file is not one for this (reencryptFile said so).
 */
async function reencryptPlaced(file: string, temp: string, fileKey: Uint8Array, newKey: Uint8Array, to: NewTargets, ctx: StageContext): Promise<boolean | null> {
  let reported = 0;
  const onProgress = (done: number) => {
    ctx.onBytes(done - reported);
    reported = done;
  };
  const r = await reencryptFile({ input: file, output: temp, fileKey, newFileKey: newKey, recipients: to.recipients, wrappers: to.wrappers, extraStanzas: [to.meta], overwrite: true, signal: ctx.signal, onProgress });
  if (r === null) return null;
  const check = await digestFile({ input: temp, fileKey: newKey, signal: ctx.signal });
  return check !== null && check.digest.equals(r.digest);
}

/**
 * Any other file (armored, or small): decrypted into a pipe that encrypts, the plaintext only
 * ever in memory, a chunk at a time; then the copy decrypted again and hashed both ways.
 */
async function reencryptThroughPipe(
  file: string,
  temp: string,
  fileKey: Uint8Array,
  newKey: Uint8Array,
  to: NewTargets,
  header: FileHeader,
  ctx: StageContext,
): Promise<boolean> {
  const pipe = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  // A failed (or cancelled) read destroys the pipe with its error, possibly before the
  // encryption has attached its own listener: without this one, that 'error' event
  // would be an uncaught exception. The encryption still sees the error when it reads.
  pipe.on('error', () => undefined);
  const before = createHash('sha256');
  const counting = new Writable({
    write(chunk: Buffer, _e, cb) {
      before.update(chunk);
      ctx.onBytes(chunk.length);
      if (pipe.write(chunk)) cb();
      else pipe.once('drain', () => cb());
    },
  });
  const reading = decryptToWritable({ input: file, output: counting, unwrap: () => Promise.resolve(fileKey), signal: ctx.signal }).then(
    () => pipe.end(),
    (e: unknown) => {
      pipe.destroy(e instanceof Error ? e : new Error('decrypt failed'));
      throw e;
    },
  );
  await Promise.all([
    reading,
    encryptFile({ input: pipe, output: temp, recipients: to.recipients, wrappers: to.wrappers, fileKey: newKey, extraStanzas: [to.meta], overwrite: true, armor: header.armored, signal: ctx.signal }),
  ]);
  const after = createHash('sha256');
  const verify = new Writable({
    write(chunk: Buffer, _e, cb) {
      after.update(chunk);
      cb();
    },
  });
  await decryptToWritable({ input: temp, output: verify, unwrap: () => Promise.resolve(newKey), signal: ctx.signal });
  return before.digest().equals(after.digest());
}

/**
 * Renames the verified temp over the original. Idempotent: if the temp is gone, the rename
 * happened before a crash, which the file's header (the one staged) confirms.
 */
async function commitCopy(file: string, temp: string, headerHash: string, detail: string): Promise<{ bytes: number; detail: string }> {
  try {
    await fsp.rename(temp, file);
  } catch (e) {
    const h = await readHeader(file).catch(() => null);
    if (!h || sha256(h.raw) !== headerHash) throw e;
  }
  const dir = await fsp.open(path.dirname(file), 'r');
  try {
    await dir.sync().catch(() => undefined);
  } finally {
    await dir.close();
  }
  return { bytes: (await fsp.stat(file)).size, detail };
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export { META_TYPE };
