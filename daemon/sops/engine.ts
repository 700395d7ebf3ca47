// The sops engine: what the daemon and the CLI call. Pure functions over bytes (the daemon reads
// and writes files, atomically); a decrypted file lives in an OpenedFile, whose data key and
// ciphertexts stay private to this module.
//
// Where Keyward does better than sops, on purpose:
// - Diff-stable writes: an edit keeps the exact `ENC[...]` of every value whose key path and
//   plaintext did not change, and the metadata as it was but for `lastmodified` and `mac`.
//   Saving unchanged text writes nothing.
// - The MAC is always checked, and an unverified file (--ignore-mac) is not re-encrypted, which
//   would bless whatever changed it, unless the caller says so.
// - Every file written is read back (parsed, every value opened, MAC verified, compared with
//   what was meant) before it is returned. The cipher runs on ciphertexts that did not come back
//   exactly as written; values the writer just encrypted open to what it knows they hold.
import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';
import { normalizeGoTime, type Decrypted as OpenedValue, type StringEncoding } from './cipher';
import { checkMac, decryptTreeSliced, encryptMac, encryptTreeSliced, macError, macOpens, Rules, type MacState, type Stash } from './crypt';
import { rewrapGroups, unwrapDataKey, wrapDataKey } from './keygroups';
import type { KeyGroup, KeyGroupSpec, KeyServices } from './keys';
import {
  checkRules,
  effectiveRules,
  joinMetadata,
  metadataBranch,
  metadataOptions,
  METADATA_KEY,
  parseMetadata,
  patchMetadataBranch,
  SOPS_VERSION,
  splitMetadata,
  type SopsMetadata,
} from './metadata';
import { DEFAULT_UNENCRYPTED_SUFFIX, type EncryptRules } from './options';
import type { SopsFormat, Store } from './store';
import { storeFor } from './stores';
import { transitUri } from '../kms/vault';
import { Branch, Comment, Float, Int, Time, type Item, type Value } from './tree';

/** Larger inputs are refused (sops holds them whole in memory too). */
export const MAX_INPUT = 64 * 1024 * 1024;

/** The key of the binary store's one value. */
const BINARY_KEY = 'data';

/** The metadata of a file, for `sops/info`: no data key involved. */
export interface SopsInfo extends SopsMetadata {
  format: SopsFormat;
  /** The stored options by their sops names (unencrypted_suffix, mac_only_encrypted, ...). */
  options: Record<string, string | boolean>;
}

export interface SopsRevisionView {
  mac: string;
  lastModified: string;
}

/** What to encrypt a new file to, or re-key a file to. */
export interface EncryptSpec {
  keyGroups: KeyGroupSpec[];
  shamirThreshold?: number;
  rules?: EncryptRules;
}

interface Secret {
  dataKey: Buffer;
  stash: Stash;
  /** The `sops` branch as read (patched, never rebuilt, on edits). */
  metadataBranch: Branch;
  /** The encrypted data branches as read (for updatekeys: values untouched). */
  encrypted: Branch[];
  /** The file's bytes as read. */
  original: Buffer;
  rules: Rules;
  /** Values opened with dataKey (a write's read-back opens only the new ones). */
  opened: Map<string, OpenedValue>;
}

const secrets = new WeakMap<OpenedFile, Secret>();

/** A decrypted sops file. The data key is held by the engine, not by this object. */
export class OpenedFile {
  /** @internal Made by openFile and the writers only. */
  constructor(
    readonly format: SopsFormat,
    /** The plaintext documents (comments included). */
    readonly branches: readonly Branch[],
    readonly metadata: SopsMetadata,
    /** Whether the MAC was checked and matched (false only with ignoreMac). */
    readonly macVerified: boolean,
    /** Why the MAC did not verify (with ignoreMac). */
    readonly macProblem: Exclude<MacState, 'ok'> | undefined,
    /** Keystore refs (or KMS ARNs) that opened the data key. */
    readonly usedKeys: readonly string[],
    /** Things to tell the user (never a value). */
    readonly warnings: readonly string[],
  ) {}

  /** The revision a later save is based on. */
  get revision(): SopsRevisionView {
    return { mac: this.metadata.mac, lastModified: this.metadata.lastModified };
  }
}

function secretOf(f: OpenedFile): Secret {
  const s = secrets.get(f);
  if (!s) throw new KeywardError(ErrorCode.IllegalState, 'not an opened sops file');
  return s;
}

function encodingOf(format: SopsFormat): StringEncoding {
  return format === 'binary' ? 'latin1' : 'utf8';
}

function checkSize(bytes: Uint8Array): void {
  if (bytes.length > MAX_INPUT) throw new KeywardError(ErrorCode.InvalidInput, 'the file is larger than 64 MiB', 'sops files hold secret configs; encrypt large files as age artifacts');
}

// ---- reading ---------------------------------------------------------------------------------

interface Parsed {
  store: Store;
  branches: Branch[];
  metadataBranch: Branch;
  metadata: SopsMetadata;
}

function parseEncrypted(bytes: Buffer, format: SopsFormat): Parsed {
  checkSize(bytes);
  const store = storeFor(format);
  const split = splitMetadata(store.loadEncrypted(bytes));
  return { store, branches: split.branches, metadataBranch: split.metadata, metadata: parseMetadata(split.metadata) };
}

/** The metadata of an encrypted file. Throws Malformed when it is not a sops file of `format`. */
export function readInfo(bytes: Buffer, format: SopsFormat): SopsInfo {
  const p = parseEncrypted(bytes, format);
  return { ...p.metadata, format, options: metadataOptions(p.metadata.rules) };
}

interface DecryptedFile {
  branches: Branch[];
  stash: Stash;
  warnings: string[];
  mac: MacState;
  rules: Rules;
}

/** `rules`: the file's, compiled and primed (see Rules.prime); compiled here when not given. */
async function decryptParsed(p: Parsed, dataKey: Buffer, format: SopsFormat, lenient: boolean, opened?: Map<string, OpenedValue>, rules = new Rules(effectiveRules(p.metadata.rules))): Promise<DecryptedFile> {
  const m = p.metadata;
  const macOpened = m.mac ? macOpens(m.mac, dataKey, m.lastModified) : undefined;
  const d = await decryptTreeSliced(p.branches, dataKey, rules, { encoding: encodingOf(format), lenientComments: lenient, ...(macOpened === undefined ? {} : { macOpened }), ...(opened ? { opened } : {}) });
  const mac = checkMac(m.mac, d.mac, dataKey, m.lastModified);
  return { branches: d.branches, stash: d.stash, warnings: d.warnings, mac, rules };
}

export interface OpenOptions {
  /** Decrypt even when the MAC is missing or wrong; the result says so (macVerified false). */
  ignoreMac?: boolean;
}

/**
 * Decrypts a file: the data key from the key groups (through `services`), every value, and the
 * MAC, which must match unless `ignoreMac`. Throws Malformed (not a sops file, bad metadata or
 * ENC value), DecryptFailed (no key opens it, a value or the MAC fails: tampered).
 */
export async function openFile(bytes: Buffer, format: SopsFormat, services: KeyServices, opts: OpenOptions = {}): Promise<OpenedFile> {
  const p = parseEncrypted(bytes, format);
  const rules = new Rules(effectiveRules(p.metadata.rules));
  const { dataKey, usedKeys, notes } = await unwrapDataKey(p.metadata.keyGroups, p.metadata.shamirThreshold, services);
  try {
    await rules.prime(p.branches);
    const opened = new Map<string, OpenedValue>();
    const d = await decryptParsed(p, dataKey, format, opts.ignoreMac === true, opened, rules);
    if (d.mac !== 'ok' && !opts.ignoreMac) throw macError(d.mac);
    const warnings = [...notes, ...d.warnings];
    if (d.mac !== 'ok') warnings.unshift(`the MAC is not verified (${d.mac}): the content may have been changed outside sops`);
    return remember(new OpenedFile(format, d.branches, p.metadata, d.mac === 'ok', d.mac === 'ok' ? undefined : d.mac, usedKeys, warnings), {
      dataKey,
      stash: d.stash,
      metadataBranch: p.metadataBranch,
      encrypted: p.branches,
      original: bytes,
      rules: d.rules,
      opened,
    });
  } catch (e) {
    dataKey.fill(0);
    throw e;
  }
}

/**
 * Whether `services` open the data key of bytes this engine wrote and verified (rotate,
 * updateKeys, a save): the key they unwrap must open the MAC, which only the key the file was
 * written with does. Cheaper than openFile, which decrypts every value again. Files without a
 * MAC are opened whole.
 */
export async function checkOpens(bytes: Buffer, format: SopsFormat, services: KeyServices): Promise<void> {
  const p = parseEncrypted(bytes, format);
  if (!p.metadata.mac) {
    closeFile(await openFile(bytes, format, services));
    return;
  }
  const { dataKey } = await unwrapDataKey(p.metadata.keyGroups, p.metadata.shamirThreshold, services);
  try {
    if (!macOpens(p.metadata.mac, dataKey, p.metadata.lastModified)) {
      throw new KeywardError(ErrorCode.IllegalState, `the ${format} file written does not open with the key its master keys give`, 'nothing was written; report this as a keyward bug with the format and the key types (not the values)');
    }
  } finally {
    dataKey.fill(0);
  }
}

function remember(f: OpenedFile, s: Secret): OpenedFile {
  secrets.set(f, s);
  return f;
}

// ---- plaintext views -----------------------------------------------------------------------

/** The plaintext in the file's own format, as `sops -d` prints it. */
export function renderPlain(f: OpenedFile): Buffer {
  if (f.format === 'binary') return Buffer.from(binaryData(f.branches), 'latin1');
  return storeFor(f.format).emitPlain([...f.branches]);
}

function binaryData(branches: readonly Branch[]): string {
  const it = branches.length === 1 ? branches[0]?.items.find((i) => i.key === BINARY_KEY) : undefined;
  if (!it || typeof it.value !== 'string') throw new KeywardError(ErrorCode.Malformed, 'not a binary sops file: no data value', 'give the file\'s real format');
  return it.value;
}

export type TreePath = readonly (string | number)[];

function describePath(p: TreePath): string {
  const s = p.map((c) => (typeof c === 'number' ? `[${c}]` : `["${c}"]`)).join('');
  return s.length > 300 ? `${s.slice(0, 300)}...` : s;
}

function elements(l: readonly Value[]): Value[] {
  return l.filter((e) => !(e instanceof Comment));
}

/** One value (sops --extract): a branch in the file's format, a string as its text. */
export function extract(f: OpenedFile, keyPath: TreePath): Buffer {
  let cur: Value = f.branches[0] ?? new Branch();
  for (const c of keyPath) {
    if (typeof c === 'string') {
      if (!(cur instanceof Branch)) throw notFound(keyPath);
      const it: Item | undefined = cur.items.find((i) => i.key === c);
      if (!it) throw notFound(keyPath);
      cur = it.value;
    } else {
      if (!Array.isArray(cur)) throw notFound(keyPath);
      const e: Value | undefined = elements(cur)[c];
      if (e === undefined) throw notFound(keyPath);
      cur = e;
    }
  }
  if (typeof cur === 'string') return Buffer.from(cur, encodingOf(f.format));
  const store = storeFor(f.format === 'binary' ? 'json' : f.format);
  if (cur instanceof Branch) return store.emitPlain([cur]);
  return store.emitValue(cur);
}

function notFound(p: TreePath): KeywardError {
  return new KeywardError(ErrorCode.NotFound, `no value at ${describePath(p)}`, 'check the path: keys in quotes, list indexes as numbers');
}

// ---- writing ---------------------------------------------------------------------------------

function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function loadPlain(format: SopsFormat, bytes: Buffer): Branch[] {
  checkSize(bytes);
  if (format === 'binary') return [new Branch([{ key: BINARY_KEY, value: bytes.toString('latin1') }])];
  return storeFor(format).loadPlain(bytes);
}

/** Refuses a plaintext that holds the metadata's key (sops: "File already encrypted"). */
function checkNoMetadataKey(format: SopsFormat, branches: readonly Branch[]): void {
  for (const b of branches) {
    for (const it of b.items) {
      if (typeof it.key !== 'string') continue;
      if (format === 'dotenv' ? it.key.startsWith(`${METADATA_KEY}_`) : it.key === METADATA_KEY) {
        throw new KeywardError(ErrorCode.InvalidInput, `the plaintext has a top-level key ${format === 'dotenv' ? 'starting with sops_' : 'named sops'}`, 'sops keeps its metadata there: rename the key (or, if the file is already encrypted, edit it instead)');
      }
    }
  }
}

export interface WriteOptions {
  /** Re-encrypt even though the MAC was not verified (opened with ignoreMac). */
  allowUnverified?: boolean;
}

function checkVerified(f: OpenedFile, o: WriteOptions): void {
  if (!f.macVerified && !o.allowUnverified) {
    throw new KeywardError(ErrorCode.IllegalState, 'the file\'s mac was not verified', 'saving would sign whatever changed it: restore the file, or pass allowUnverified to re-sign it deliberately');
  }
}

interface Written {
  bytes: Buffer;
  changed: number;
  unchanged: number;
  file: OpenedFile;
}

/** Encrypts new plaintext branches into the opened file, diff-stable. */
async function reencrypt(f: OpenedFile, plain: Branch[]): Promise<Written> {
  const s = secretOf(f);
  checkNoMetadataKey(f.format, plain);
  if (plain.length === 0) throw new KeywardError(ErrorCode.InvalidInput, 'the file has no document', 'a sops file holds at least one document');
  await s.rules.prime(plain);
  const enc = await encryptTreeSliced(plain, s.dataKey, s.rules, { reuse: s.stash.clone(), encoding: encodingOf(f.format), opened: s.opened });
  const lastModified = nowRfc3339();
  const mac = encryptMac(enc.mac, s.dataKey, lastModified);
  const metadata = { ...f.metadata, lastModified, mac };
  const metaBranch = patchMetadataBranch(s.metadataBranch, { lastModified, mac });
  const bytes = storeFor(f.format).emitEncrypted(joinMetadata(enc.branches, metaBranch));
  const file = await readBack(bytes, f, plain, metadata);
  return { bytes, changed: enc.changed, unchanged: enc.unchanged, file };
}

/**
 * Reads written bytes back with the data key: they must decrypt, verify their MAC, and hold
 * `plain`. Guards against a store that cannot reproduce what it is given.
 */
async function readBack(bytes: Buffer, f: OpenedFile, plain: readonly Branch[] | undefined, expect?: SopsMetadata): Promise<OpenedFile> {
  await nextTurn(); // the emit just before and this parse are two blocks, not one
  const s = secretOf(f);
  const p = parseEncrypted(bytes, f.format);
  const d = await decryptParsed(p, s.dataKey, f.format, false, s.opened, s.rules);
  if (d.mac !== 'ok' || (plain && !sameBranches(d.branches, plain)) || (expect && p.metadata.mac !== expect.mac)) {
    throw new KeywardError(ErrorCode.IllegalState, `the ${f.format} file written does not read back the same`, 'nothing was written; report this as a keyward bug with the format and the shape of the file (not its values)');
  }
  return remember(new OpenedFile(f.format, d.branches, p.metadata, true, undefined, f.usedKeys, []), {
    dataKey: Buffer.from(s.dataKey),
    stash: d.stash,
    metadataBranch: p.metadataBranch,
    encrypted: p.branches,
    original: bytes,
    rules: d.rules,
    opened: s.opened,
  });
}

export interface SaveResult {
  /** The new file; the file as read when the plaintext is unchanged (`noop`). */
  bytes: Buffer;
  /** Nothing changed: there is nothing to write. */
  noop: boolean;
  /** Values written anew, and values whose ciphertext was kept byte for byte. */
  changed: number;
  unchanged: number;
  /** The file as saved (the same one when nothing changed). */
  file: OpenedFile;
}

/**
 * Re-encrypts edited plaintext (in the file's format) into the file. Every value whose key
 * path and plaintext did not change keeps its `ENC[...]`; `lastmodified` and `mac` are new.
 * Throws Malformed (the text does not parse), InvalidInput (it holds a `sops` key), IllegalState
 * (the file's MAC was not verified).
 */
export function saveText(f: OpenedFile, text: Buffer | string, opts: WriteOptions = {}): Promise<SaveResult> {
  return Promise.resolve().then(async () => {
    checkVerified(f, opts);
    const plain = loadPlain(f.format, typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
    await secretOf(f).rules.prime(plain);
    if (sameBranches(plain, f.branches)) {
      const s = secretOf(f);
      const r = await encryptTreeSliced(plain, s.dataKey, s.rules, { reuse: s.stash.clone(), encoding: encodingOf(f.format) });
      return { bytes: s.original, noop: true, changed: 0, unchanged: r.unchanged, file: f };
    }
    return { ...(await reencrypt(f, plain)), noop: false };
  });
}

export interface SetResult {
  bytes: Buffer;
  /** Whether the value differed from what was there. */
  changed: boolean;
  file: OpenedFile;
}

/**
 * Sets one value (sops set), diff-stable. `value` is a tree value, or what JSON.parse returns
 * (integers become ints, other numbers floats, objects mappings). Missing keys are added at the
 * end of their mapping; a list index past the end appends. Works on the first document.
 */
export function setValue(f: OpenedFile, keyPath: TreePath, value: unknown, opts: WriteOptions = {}): Promise<SetResult> {
  return Promise.resolve().then(async () => {
    checkVerified(f, opts);
    if (keyPath.length === 0) throw new KeywardError(ErrorCode.InvalidInput, 'the key path is empty');
    if (f.format === 'binary' && !(keyPath.length === 1 && keyPath[0] === BINARY_KEY)) {
      throw new KeywardError(ErrorCode.InvalidInput, 'a binary sops file has one value, ["data"]');
    }
    let v = toValue(value, 0);
    // The binary store's value is latin1 (one char per byte): a text set there is UTF-8.
    if (f.format === 'binary' && typeof v === 'string') v = Buffer.from(v, 'utf8').toString('latin1');
    const first = f.branches[0] ?? new Branch();
    const [next, changed] = setIn(first, keyPath, v, 0);
    const plain = [next as Branch, ...f.branches.slice(1)];
    if (!changed) return { bytes: secretOf(f).original, changed: false, file: f };
    const w = await reencrypt(f, plain);
    return { bytes: w.bytes, changed: true, file: w.file };
  });
}

/** Removes one value (sops unset), diff-stable. Throws NotFound when nothing is there. */
export function unsetValue(f: OpenedFile, keyPath: TreePath, opts: WriteOptions = {}): Promise<SetResult> {
  return Promise.resolve().then(async () => {
    checkVerified(f, opts);
    if (keyPath.length === 0) throw new KeywardError(ErrorCode.InvalidInput, 'the key path is empty');
    const first = f.branches[0] ?? new Branch();
    const next = unsetIn(first, keyPath, 0, keyPath) as Branch;
    const w = await reencrypt(f, [next, ...f.branches.slice(1)]);
    return { bytes: w.bytes, changed: true, file: w.file };
  });
}

function setIn(cur: Value, p: TreePath, v: Value, i: number): [Value, boolean] {
  if (i === p.length) return [v, !sameValue(cur, v)];
  const c = p[i] as string | number;
  if (cur instanceof Branch) {
    if (typeof c !== 'string') throw new KeywardError(ErrorCode.InvalidInput, `${describePath(p.slice(0, i + 1))} indexes a mapping with a number`);
    const at = cur.items.findIndex((it) => it.key === c);
    if (at < 0) return [new Branch([...cur.items, { key: c, value: build(p, v, i + 1) }]), true];
    const [nv, changed] = setIn((cur.items[at] as { value: Value }).value, p, v, i + 1);
    const items = [...cur.items];
    items[at] = { key: c, value: nv };
    return [new Branch(items), changed];
  }
  if (Array.isArray(cur)) {
    if (typeof c !== 'number') throw new KeywardError(ErrorCode.InvalidInput, `${describePath(p.slice(0, i + 1))} names a key in a list`);
    const positions = cur.flatMap((e, k) => (e instanceof Comment ? [] : [k]));
    const at = positions[c];
    if (at === undefined) return [[...cur, build(p, v, i + 1)], true];
    const [nv, changed] = setIn(cur[at] as Value, p, v, i + 1);
    const out = [...cur];
    out[at] = nv;
    return [out, changed];
  }
  // A scalar (or nothing) in the way is replaced, as sops does.
  return [build(p, v, i), true];
}

function build(p: TreePath, v: Value, i: number): Value {
  if (i === p.length) return v;
  const c = p[i] as string | number;
  return typeof c === 'number' ? [build(p, v, i + 1)] : new Branch([{ key: c, value: build(p, v, i + 1) }]);
}

function unsetIn(cur: Value, p: TreePath, i: number, whole: TreePath): Value {
  const c = p[i] as string | number;
  const last = i === p.length - 1;
  if (cur instanceof Branch && typeof c === 'string') {
    const at = cur.items.findIndex((it) => it.key === c);
    if (at < 0) throw notFound(whole);
    const items = [...cur.items];
    if (last) items.splice(at, 1);
    else items[at] = { key: c, value: unsetIn((cur.items[at] as { value: Value }).value, p, i + 1, whole) };
    return new Branch(items);
  }
  if (Array.isArray(cur) && typeof c === 'number') {
    const at = cur.flatMap((e, k) => (e instanceof Comment ? [] : [k]))[c];
    if (at === undefined) throw notFound(whole);
    const out = [...cur];
    if (last) out.splice(at, 1);
    else out[at] = unsetIn(cur[at] as Value, p, i + 1, whole);
    return out;
  }
  throw notFound(whole);
}

/** A value from JSON.parse (or already a tree value) as a tree value. */
function toValue(v: unknown, depth: number): Value {
  if (depth > 256) throw new KeywardError(ErrorCode.InvalidInput, 'the value is nested too deeply');
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Branch || v instanceof Int || v instanceof Float || v instanceof Time || v instanceof Comment) return v;
  if (typeof v === 'bigint') return new Int(v);
  if (typeof v === 'number') return Number.isSafeInteger(v) ? new Int(BigInt(v)) : new Float(v);
  if (Array.isArray(v)) return v.map((e) => toValue(e, depth + 1));
  if (typeof v === 'object') return new Branch(Object.entries(v as Record<string, unknown>).map(([key, value]) => ({ key, value: toValue(value, depth + 1) })));
  throw new KeywardError(ErrorCode.InvalidInput, `a ${typeof v} cannot be stored in a sops file`);
}

// ---- new files, keys, rotation -----------------------------------------------------------------

/** The rules a new file gets: as sops' getEncryptConfig decides them. */
function newFileRules(format: SopsFormat, given: EncryptRules | undefined): EncryptRules {
  // The binary store has one value that is always encrypted: sops drops every selector.
  if (format === 'binary') return {};
  const r: EncryptRules = {};
  for (const [k, v] of Object.entries(given ?? {}) as [keyof EncryptRules, unknown][]) {
    if (v === undefined || v === '' || v === false) continue;
    (r as Record<string, unknown>)[k] = v;
  }
  checkRules(r);
  const selectors = ['unencryptedSuffix', 'encryptedSuffix', 'unencryptedRegex', 'encryptedRegex', 'unencryptedCommentRegex', 'encryptedCommentRegex'] as const;
  if (!selectors.some((k) => r[k])) r.unencryptedSuffix = DEFAULT_UNENCRYPTED_SUFFIX;
  new Rules(r); // compiles the regexes: refuse what cannot be honoured before any key is wrapped
  return r;
}

/**
 * The threshold written for `groups` key groups: sops' default (all groups) when several and
 * none is given. `clamp` caps it at the group count, as sops updatekeys does; otherwise a
 * threshold that does not fit is left for wrapDataKey to refuse.
 */
function thresholdFor(groups: number, t: number | undefined, clamp = false): number | undefined {
  if (groups > 1) return t ? (clamp ? Math.min(t, groups) : t) : groups;
  return t || undefined;
}

/** `compiled`: `rules` compiled and primed for `plain` (see Rules.prime). */
async function emitNew(format: SopsFormat, plain: Branch[], dataKey: Buffer, keyGroups: KeyGroup[], shamirThreshold: number | undefined, rules: EncryptRules, compiled: Rules, version: string, opened: Map<string, OpenedValue>): Promise<Buffer> {
  const enc = await encryptTreeSliced(plain, dataKey, compiled, { encoding: encodingOf(format), opened });
  const lastModified = nowRfc3339();
  const metadata: SopsMetadata = { keyGroups, lastModified, mac: encryptMac(enc.mac, dataKey, lastModified), version, rules };
  if (shamirThreshold) metadata.shamirThreshold = shamirThreshold;
  return storeFor(format).emitEncrypted(joinMetadata(enc.branches, metadataBranch(metadata)));
}

async function fromBytesCheck(bytes: Buffer, format: SopsFormat, dataKey: Buffer, plain: readonly Branch[], opened: Map<string, OpenedValue>, rules: Rules): Promise<void> {
  await nextTurn(); // the emit just before and this parse are two blocks, not one
  const p = parseEncrypted(bytes, format);
  const d = await decryptParsed(p, dataKey, format, false, opened, rules);
  if (d.mac !== 'ok' || !sameBranches(d.branches, plain)) {
    throw new KeywardError(ErrorCode.IllegalState, `the ${format} file written does not read back the same`, 'nothing was written; report this as a keyward bug with the format and the shape of the file (not its values)');
  }
}

/**
 * Encrypts a plaintext file (sops encrypt): a new data key wrapped to `spec.keyGroups`, the
 * rules in the metadata. An empty input gives a file with one empty document.
 */
export async function encryptNew(plain: Buffer, format: SopsFormat, spec: EncryptSpec, services: KeyServices): Promise<Buffer> {
  let branches = loadPlain(format, plain);
  if (branches.length === 0) branches = [new Branch()];
  checkNoMetadataKey(format, branches);
  const rules = newFileRules(format, spec.rules);
  const compiled = new Rules(effectiveRules(rules));
  await compiled.prime(branches);
  const dataKey = randomBytes(32);
  try {
    const threshold = thresholdFor(spec.keyGroups.length, spec.shamirThreshold);
    const groups = await wrapDataKey(dataKey, spec.keyGroups, threshold, services);
    const opened = new Map<string, OpenedValue>();
    const bytes = await emitNew(format, branches, dataKey, groups, threshold, rules, compiled, SOPS_VERSION, opened);
    await fromBytesCheck(bytes, format, dataKey, branches, opened, compiled);
    return bytes;
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Re-keys a file (sops updatekeys): the master keys become `spec.keyGroups`, the data key stays,
 * and every value, the MAC and `lastmodified` stay byte for byte. Keys that stay keep their
 * `enc` when the group layout allows (see keygroups.rewrapGroups).
 */
export async function updateKeys(f: OpenedFile, spec: EncryptSpec, services: KeyServices, opts: WriteOptions = {}): Promise<Buffer> {
  checkVerified(f, opts);
  const s = secretOf(f);
  const threshold = thresholdFor(spec.keyGroups.length, spec.shamirThreshold ?? f.metadata.shamirThreshold, true);
  const r = await rewrapGroups(s.dataKey, f.metadata.keyGroups, spec.keyGroups, threshold, services, f.metadata.shamirThreshold ? { currentThreshold: f.metadata.shamirThreshold } : {});
  const metadata: SopsMetadata = { ...f.metadata, keyGroups: r.groups };
  delete metadata.shamirThreshold;
  if (threshold) metadata.shamirThreshold = threshold;
  const bytes = storeFor(f.format).emitEncrypted(joinMetadata(s.encrypted, metadataBranch(metadata)));
  await readBack(bytes, f, f.branches, f.metadata);
  return bytes;
}

/** The current groups as specs (to wrap a new data key to the same keys). */
function specsOf(groups: readonly KeyGroup[]): KeyGroupSpec[] {
  return groups.map((g) => {
    const other = g.keys.filter((k) => k.type !== 'age' && k.type !== 'kms' && k.type !== 'hc_vault');
    if (other.length) {
      throw new KeywardError(ErrorCode.IllegalState, `cannot rotate: the file has ${other[0]?.type} keys keyward cannot wrap a new data key to`, 'rotate it with sops, or drop those keys with updatekeys first');
    }
    return {
      age: g.keys.flatMap((k) => (k.type === 'age' ? [k.recipient] : [])),
      kms: g.keys.flatMap((k) => (k.type === 'kms' ? [{ arn: k.arn, ...(k.role ? { role: k.role } : {}), ...(k.context ? { context: k.context } : {}), ...(k.awsProfile ? { awsProfile: k.awsProfile } : {}) }] : [])),
      vault: g.keys.flatMap((k) => (k.type === 'hc_vault' ? [transitUri(k)] : [])),
    };
  });
}

/**
 * A new data key (sops rotate), wrapped to `spec` or the file's current keys; every value is
 * encrypted again, with a new MAC. Rules and version stay.
 */
export async function rotate(f: OpenedFile, services: KeyServices, spec?: Omit<EncryptSpec, 'rules'>, opts: WriteOptions = {}): Promise<Buffer> {
  checkVerified(f, opts);
  // A new data key cannot be wrapped to pgp & co.: dropping them would lock their holders out.
  const current = specsOf(f.metadata.keyGroups);
  const target = spec?.keyGroups ?? current;
  const threshold = thresholdFor(target.length, spec ? spec.shamirThreshold : f.metadata.shamirThreshold);
  const dataKey = randomBytes(32);
  try {
    const groups = await wrapDataKey(dataKey, target, threshold, services);
    const plain = f.branches as Branch[];
    const opened = new Map<string, OpenedValue>();
    const rules = secretOf(f).rules;
    const bytes = await emitNew(f.format, plain, dataKey, groups, threshold, f.metadata.rules, rules, f.metadata.version || SOPS_VERSION, opened);
    await fromBytesCheck(bytes, f.format, dataKey, plain, opened, rules);
    return bytes;
  } finally {
    dataKey.fill(0);
  }
}

/** Forgets the data key of an opened file (it is unusable afterwards). */
export function closeFile(f: OpenedFile): void {
  const s = secrets.get(f);
  if (!s) return;
  s.dataKey.fill(0);
  secrets.delete(f);
}

// ---- equality ----------------------------------------------------------------------------------

function sameBranches(a: readonly Branch[], b: readonly Branch[]): boolean {
  return a.length === b.length && a.every((x, i) => sameValue(x, b[i] as Branch));
}

/** Structural equality of tree values: types, comments (and whether inline) included. */
export function sameValue(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a instanceof Branch) {
    if (!(b instanceof Branch) || a.items.length !== b.items.length) return false;
    return a.items.every((x, i) => {
      const y = b.items[i] as { key: string | Comment; value: Value };
      const keys = typeof x.key === 'string' ? x.key === y.key : y.key instanceof Comment && x.key.value === y.key.value && x.key.inline === y.key.inline;
      return keys && sameValue(x.value, y.value);
    });
  }
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i] as Value));
  if (a instanceof Comment) return b instanceof Comment && a.value === b.value && a.inline === b.inline;
  if (a instanceof Int) return b instanceof Int && a.value === b.value;
  if (a instanceof Float) return b instanceof Float && Object.is(a.value, b.value);
  if (a instanceof Time) return b instanceof Time && (normalizeGoTime(a.text) ?? a.text) === (normalizeGoTime(b.text) ?? b.text);
  return false;
}
