// Service identities: age identities whose private key lives in the repo wrapped by a team KMS
// key, so that model artifacts stay standard age files (encrypted to the identity's age1...
// recipient) and any holder of kms:Decrypt on that key opens them with one KMS call per process.
//
// ## The file: `.keyward/identities/NAME.kms.json` (committed; public and useless without KMS)
//
//     {
//       "format": "keyward.dev/service-identity/v1",
//       "name": "serving",
//       "lastVersion": 1,
//       "versions": [{
//         "version": 1, "state": "active", "kind": "x25519", "recipient": "age1...",
//         "kms": { "keyId": "arn:aws:kms:...:alias/serving", "keyArn": "arn:aws:kms:...:key/..." },
//         (or, wrapped by Vault / OpenBao transit: both the key's URI https://vault:8200/v1/transit/keys/NAME)
//         "context": { "keyward:purpose": "age-identity", "keyward:identity": "serving@v1" },
//         "ciphertext": "<base64 KMS blob, or vault:vN:...>", "createdAt": "..."
//       }]
//     }
//
// Decisions:
// - The secret is a KMS data key: GenerateDataKey (32 bytes) is the X25519 scalar, or the seed of
//   a hybrid post-quantum identity. One call both makes it and wraps it; the plaintext is used
//   once to derive the recipient, then wiped. Creating needs kms:GenerateDataKey only.
// - The encryption context binds the wrapped key to this identity and version: KMS refuses it
//   under any other name, and CloudTrail logs which identity was opened. After Decrypt, the
//   identity must give the file's recipient, or the file was tampered with.
// - Unwrapped once per process (per identity version) and cached in memory; failures are
//   remembered for a minute, so a batch of files never repeats a refused or unreachable call.
//   The daemon keeps an opened identity until it stops: revoking kms:Decrypt takes effect for
//   new processes (restart the daemon to apply it at once).
// - Several versions live in one file during a rotation: the newest active one is the one to
//   encrypt to; every version not retired still decrypts (see ./rotation.ts).
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { identityToRecipient } from 'age-encryption';
import { parseHeader, parseRecipient, unwrapWithIdentities, type ParsedHeader } from '../age';
import type { FileKeyFallback } from '../artifacts/unwrap';
import type { AuditEvent } from '../audit/log';
import { isTransitUri, kekFor, KMS_ARN, KmsProvider, parseTransitUri, providerKind, sharedKms, sharedVault, type KekProvider, type KekProviders } from '../kms';
import { ErrorCode } from '../protocol';
import { writeFileAtomic } from '../util/atomic';
import { errnoCode, ioError, isKeywardError, KeywardError } from '../util/errors';
import { identityFromBytes } from '../age/bech32';

export const IDENTITIES_DIR = path.join('.keyward', 'identities');
export const IDENTITY_SUFFIX = '.kms.json';
export const IDENTITY_FORMAT = 'keyward.dev/service-identity/v1';
export const IDENTITY_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MAX_FILE_BYTES = 256 * 1024;
const MAX_VERSIONS = 16;
const NEGATIVE_TTL_MS = 60_000;

export type IdentityKind = 'x25519' | 'mlkem768x25519';
/** `active`: encrypt to it; `retiring`: still granted and decrypting during a rotation; `retired`: decrypts only, no longer granted. */
export type IdentityState = 'active' | 'retiring' | 'retired';

export interface IdentityVersion {
  version: number;
  state: IdentityState;
  kind: IdentityKind;
  recipient: string;
  kms: { keyId: string; keyArn: string };
  context: Record<string, string>;
  ciphertext: string;
  createdAt: string;
}

export interface IdentityFile {
  format: typeof IDENTITY_FORMAT;
  name: string;
  versions: IdentityVersion[];
  /** The highest version ever made, so numbers are never reused after a rollback or a prune. */
  lastVersion?: number;
}

export type Auditor = (e: AuditEvent) => Promise<void>;

/**
 * Where service identities' KEKs are reached: an AWS KMS provider (Vault then from the process's
 * environment), or every provider explicitly.
 */
export type Keks = KmsProvider | KekProviders;

export function providerFor(keks: Keks, keyId: string): KekProvider {
  return kekFor(keyId, keks instanceof KmsProvider ? { aws: () => keks, vault: sharedVault } : keks);
}

/** How an identity version's key was reached, for audit records: key and version, never material. */
export function kekUse(v: IdentityVersion): string {
  const m = /^vault:v(\d+):/.exec(v.ciphertext);
  return m ? `vault transit decrypt with ${v.kms.keyArn} (key version ${m[1]})` : `kms Decrypt with ${v.kms.keyArn}`;
}

function validTransit(uri: string): boolean {
  try {
    parseTransitUri(uri);
    return true;
  } catch {
    return false;
  }
}

/** The encryption context of one identity version. */
export function identityContext(name: string, version: number): Record<string, string> {
  return { 'keyward:purpose': 'age-identity', 'keyward:identity': `${name}@v${version}` };
}

export function identityPath(root: string, name: string): string {
  return path.join(root, IDENTITIES_DIR, `${name}${IDENTITY_SUFFIX}`);
}

/** A reference for audit records and results: `kms:NAME@vN`. */
export function identityRef(name: string, version: number): string {
  return `kms:${name}@v${version}`;
}

function checkName(name: string): void {
  if (!IDENTITY_NAME.test(name)) {
    throw new KeywardError(ErrorCode.InvalidInput, `invalid service identity name: ${name.slice(0, 64)}`, 'use lowercase letters, digits, ".", "-" or "_", starting with a letter or digit');
  }
}

// ---- reading and writing ---------------------------------------------------------------------

/** Parses and checks an identity file; throws InvalidInput naming the file and field. */
export function parseIdentityFile(text: string, file: string): IdentityFile {
  const bad = (what: string) => new KeywardError(ErrorCode.InvalidInput, `${file}: ${what}`, 'restore the file from git; recreate it with keyward team identity create if needed');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('not valid JSON');
  }
  const o = v as Partial<IdentityFile> & Record<string, unknown>;
  if (typeof o !== 'object' || o === null || o.format !== IDENTITY_FORMAT) throw bad(`not a service identity file (format must be ${IDENTITY_FORMAT})`);
  const allowedTop = ['format', 'name', 'versions', 'lastVersion'];
  const extra = Object.keys(o).filter((k) => !allowedTop.includes(k));
  if (extra.length) throw bad(`unknown field(s): ${extra.join(', ').slice(0, 100)}`);
  if (typeof o.name !== 'string' || !IDENTITY_NAME.test(o.name)) throw bad('name: must be a lowercase identity name');
  if (path.basename(file) !== `${o.name}${IDENTITY_SUFFIX}`) throw bad(`name: "${o.name}" does not match the file name`);
  if (!Array.isArray(o.versions) || o.versions.length === 0 || o.versions.length > MAX_VERSIONS) throw bad(`versions: must list 1 to ${MAX_VERSIONS} versions`);
  const seen = new Set<number>();
  const versions: IdentityVersion[] = o.versions.map((x: unknown, i) => {
    const f = `versions[${i}]`;
    const r = x as Partial<IdentityVersion> & Record<string, unknown>;
    if (typeof r !== 'object' || r === null) throw bad(`${f}: must be an object`);
    const allowed = ['version', 'state', 'kind', 'recipient', 'kms', 'context', 'ciphertext', 'createdAt'];
    const unknown = Object.keys(r).filter((k) => !allowed.includes(k));
    if (unknown.length) throw bad(`${f}: unknown field(s): ${unknown.join(', ').slice(0, 100)}`);
    if (typeof r.version !== 'number' || !Number.isInteger(r.version) || r.version < 1 || r.version > 999999) throw bad(`${f}.version: must be a whole number from 1`);
    if (seen.has(r.version)) throw bad(`${f}.version: v${r.version} is listed twice`);
    seen.add(r.version);
    if (r.state !== 'active' && r.state !== 'retiring' && r.state !== 'retired') throw bad(`${f}.state: must be active, retiring or retired`);
    if (r.kind !== 'x25519' && r.kind !== 'mlkem768x25519') throw bad(`${f}.kind: must be x25519 or mlkem768x25519`);
    if (typeof r.recipient !== 'string') throw bad(`${f}.recipient: must be an age recipient`);
    try {
      const p = parseRecipient(r.recipient);
      if ((p.type === 'X25519') !== (r.kind === 'x25519') || (p.type !== 'X25519' && p.type !== 'mlkem768x25519')) throw new Error('kind');
    } catch {
      throw bad(`${f}.recipient: not a valid ${r.kind} age recipient`);
    }
    const kms = r.kms as { keyId?: unknown; keyArn?: unknown } | undefined;
    const vault = typeof kms?.keyArn === 'string' && isTransitUri(kms.keyArn);
    const ref = (x: unknown) => typeof x === 'string' && (vault ? isTransitUri(x) && validTransit(x) : KMS_ARN.test(x));
    if (typeof kms !== 'object' || kms === null || !ref(kms.keyId) || !ref(kms.keyArn)) {
      throw bad(`${f}.kms: must hold keyId and keyArn, KMS ARNs or both a Vault transit key URI`);
    }
    const expected = identityContext(o.name!, r.version);
    if (JSON.stringify(r.context) !== JSON.stringify(expected)) throw bad(`${f}.context: does not bind the key to ${o.name}@v${r.version}`);
    if (typeof r.ciphertext !== 'string' || r.ciphertext.length > 8192 || (vault ? !/^vault:v[1-9][0-9]*:[A-Za-z0-9+/]+={0,2}$/.test(r.ciphertext) : !/^[A-Za-z0-9+/]+={0,2}$/.test(r.ciphertext) || r.ciphertext.length % 4 !== 0)) {
      throw bad(`${f}.ciphertext: must be ${vault ? 'a Vault transit ciphertext (vault:vN:...)' : 'base64'}`);
    }
    if (typeof r.createdAt !== 'string') throw bad(`${f}.createdAt: must be a date`);
    return {
      version: r.version,
      state: r.state,
      kind: r.kind,
      recipient: r.recipient,
      kms: { keyId: kms.keyId as string, keyArn: kms.keyArn as string },
      context: expected,
      ciphertext: r.ciphertext,
      createdAt: r.createdAt,
    };
  });
  versions.sort((a, b) => b.version - a.version);
  if (!versions.some((x) => x.state === 'active')) throw bad('no active version');
  const top = versions[0]!.version;
  if (o.lastVersion !== undefined && (typeof o.lastVersion !== 'number' || !Number.isInteger(o.lastVersion) || o.lastVersion < top)) throw bad('lastVersion: must be a whole number, at least the newest version');
  return { format: IDENTITY_FORMAT, name: o.name, versions, lastVersion: o.lastVersion ?? top };
}

export async function readIdentityFile(file: string): Promise<IdentityFile> {
  let text: string;
  try {
    const st = await fsp.stat(file);
    if (st.size > MAX_FILE_BYTES) throw new KeywardError(ErrorCode.InvalidInput, `${file}: too large for a service identity file`);
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if (isKeywardError(e)) throw e;
    throw ioError(e, 'read service identity', file);
  }
  return parseIdentityFile(text, file);
}

export async function writeIdentityFile(file: string, id: IdentityFile): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const lastVersion = Math.max(id.lastVersion ?? 0, ...id.versions.map((v) => v.version));
  const ordered = { format: id.format, name: id.name, lastVersion, versions: [...id.versions].sort((a, b) => a.version - b.version) };
  // Committed to the repo and readable by the team: it holds no secret a KMS key does not guard.
  await writeFileAtomic(file, JSON.stringify(ordered, null, 2) + '\n', 0o644);
}

/** Every identity file of a repo root, by name (an empty map when there is none). */
export async function listIdentities(root: string): Promise<Map<string, { file: string; identity: IdentityFile }>> {
  const dir = path.join(root, IDENTITIES_DIR);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return new Map();
    throw ioError(e, 'list service identities', dir);
  }
  const out = new Map<string, { file: string; identity: IdentityFile }>();
  for (const n of names.filter((x) => x.endsWith(IDENTITY_SUFFIX)).sort()) {
    const file = path.join(dir, n);
    const identity = await readIdentityFile(file);
    out.set(identity.name, { file, identity });
  }
  return out;
}

/** The newest active version: the one artifacts are encrypted to. */
export function currentVersion(id: IdentityFile): IdentityVersion {
  return id.versions.filter((v) => v.state === 'active').reduce((a, b) => (a.version > b.version ? a : b));
}

// ---- creating ----------------------------------------------------------------------------------

/**
 * A new identity version wrapped by `keyId` (GenerateDataKey). Returns the version; the caller
 * writes the file. Needs only kms:GenerateDataKey on the key.
 */
export async function makeVersion(kms: Keks, name: string, version: number, keyId: string, pq: boolean): Promise<IdentityVersion> {
  checkName(name);
  providerKind(keyId); // an ARN or a transit URI, else InvalidInput naming both forms
  const context = identityContext(name, version);
  const g = await providerFor(kms, keyId).generateDataKey(keyId, context, 32);
  let recipient: string;
  try {
    recipient = await identityToRecipient(identityFromBytes(g.plaintext, pq));
  } finally {
    g.plaintext.fill(0);
  }
  return {
    version,
    state: 'active',
    kind: pq ? 'mlkem768x25519' : 'x25519',
    recipient,
    kms: { keyId: isTransitUri(keyId) ? g.keyId : keyId, keyArn: g.keyId },
    context,
    ciphertext: g.ciphertext,
    createdAt: new Date().toISOString(),
  };
}

/** Creates `.keyward/identities/NAME.kms.json` under `root`; refuses to replace one. */
export async function createIdentity(
  kms: Keks,
  root: string,
  name: string,
  keyId: string,
  opts: { pq?: boolean } = {},
): Promise<{ file: string; identity: IdentityFile; version: IdentityVersion }> {
  checkName(name);
  const file = identityPath(root, name);
  try {
    await fsp.access(file);
    throw new KeywardError(ErrorCode.AlreadyExists, `service identity ${name} already exists: ${file}`, `rotate it with keyward team identity rotate ${name}, or choose another name`);
  } catch (e) {
    if (isKeywardError(e)) throw e;
  }
  const version = await makeVersion(kms, name, 1, keyId, opts.pq ?? false);
  const identity: IdentityFile = { format: IDENTITY_FORMAT, name, versions: [version] };
  await writeIdentityFile(file, identity);
  return { file, identity, version };
}

/**
 * Moves every version of an identity to another KMS key with ReEncrypt (the private key never
 * leaves KMS): for a new team KEK, or a key being retired. Needs kms:ReEncryptFrom on the old
 * key and kms:ReEncryptTo on the new one.
 */
export async function moveIdentity(kms: Keks, file: string, keyId: string): Promise<{ identity: IdentityFile; moved: number }> {
  const to = providerKind(keyId);
  const id = await readIdentityFile(file);
  const versions: IdentityVersion[] = [];
  let moved = 0;
  // All first, then one write: a failure half-way changes nothing.
  for (const v of id.versions) {
    const from = providerFor(kms, v.kms.keyArn);
    let r: { ciphertext: string; keyId: string };
    if (providerKind(v.kms.keyArn) === to) {
      r = await from.reEncrypt({ keyId: v.kms.keyArn, context: v.context }, { keyId, context: v.context }, v.ciphertext);
    } else {
      // Between providers (AWS KMS <-> Vault) nothing re-encrypts inside one service: the key
      // passes through this process's memory once, checked against the recipient, never to disk.
      const plain = await from.decrypt(v.kms.keyArn, v.ciphertext, v.context);
      try {
        if (plain.length !== 32 || (await identityToRecipient(identityFromBytes(plain, v.kind === 'mlkem768x25519'))) !== v.recipient) throw tampered(id.name, v);
        r = await providerFor(kms, keyId).encrypt(keyId, plain, v.context);
      } finally {
        plain.fill(0);
      }
    }
    versions.push({ ...v, kms: { keyId: isTransitUri(keyId) ? r.keyId : keyId, keyArn: r.keyId }, ciphertext: r.ciphertext });
    moved++;
  }
  const next = { ...id, versions };
  await writeIdentityFile(file, next);
  return { identity: next, moved };
}

// ---- opening -------------------------------------------------------------------------------------

type Opened = { ok: true; open: (h: ParsedHeader) => Promise<Uint8Array> } | { ok: false; error: KeywardError; until: number };

/**
 * Opened identities of this process, keyed by their wrapped form (the same ciphertext is the
 * same secret, wherever the file lives). Holds the age identity only inside the unwrap
 * closures; nothing here returns it.
 */
export class IdentityCache {
  private readonly entries = new Map<string, Promise<Opened>>();

  constructor(
    private readonly kms: () => Keks,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The unwrap function of one identity version: at most one KMS Decrypt per version and
   * process (and none while a failure is remembered). Throws the KMS failure, as a
   * KeywardError; `onOpened` runs once, when KMS was actually called and succeeded.
   */
  async opener(name: string, v: IdentityVersion, onOpened?: () => Promise<void>): Promise<(h: ParsedHeader) => Promise<Uint8Array>> {
    const key = createHash('sha256').update(`${v.kms.keyArn}\n${v.ciphertext}`).digest('hex');
    let p = this.entries.get(key);
    if (p) {
      const r = await p;
      if (!r.ok && r.until <= this.now()) {
        this.entries.delete(key);
        p = undefined;
      }
    }
    if (!p) {
      p = this.open(name, v, onOpened);
      this.entries.set(key, p);
    }
    const r = await p;
    if (!r.ok) throw r.error;
    return r.open;
  }

  /** Forgets every opened identity (tests; a daemon told to drop its KMS-held keys). */
  clear(): void {
    this.entries.clear();
  }

  private async open(name: string, v: IdentityVersion, onOpened?: () => Promise<void>): Promise<Opened> {
    try {
      const plaintext = await providerFor(this.kms(), v.kms.keyArn).decrypt(v.kms.keyArn, v.ciphertext, v.context);
      let open: (h: ParsedHeader) => Promise<Uint8Array>;
      try {
        if (plaintext.length !== 32) throw tampered(name, v);
        const identity = identityFromBytes(plaintext, v.kind === 'mlkem768x25519');
        if ((await identityToRecipient(identity)) !== v.recipient) throw tampered(name, v);
        open = unwrapWithIdentities([identity]);
      } finally {
        plaintext.fill(0);
      }
      await onOpened?.();
      return { ok: true, open };
    } catch (e) {
      const error = isKeywardError(e) ? e : new KeywardError(ErrorCode.IoFailed, `could not open service identity ${name}@v${v.version}`);
      return { ok: false, error, until: this.now() + NEGATIVE_TTL_MS };
    }
  }
}

function tampered(name: string, v: IdentityVersion): KeywardError {
  return new KeywardError(ErrorCode.DecryptFailed, `service identity ${name}@v${v.version}: the key KMS returned does not match the file's recipient`, 'the identity file was edited: restore it from git');
}

/** The process's cache (the daemon's, or a CLI run's). */
let processCache: IdentityCache | undefined;
export function processIdentityCache(kms: () => Keks): IdentityCache {
  return (processCache ??= new IdentityCache(kms));
}

const STANZA_OF: Record<IdentityKind, string> = { x25519: 'X25519', mlkem768x25519: 'mlkem768x25519' };

/**
 * Opens an age header with service identities: each version not yet excluded by the header's
 * stanza types is unwrapped (once per process) and tried, newest first. Returns null when none
 * matches (the file is not for them); throws the first KMS failure only if nothing matched and
 * some identity could not be opened, since then the caller cannot tell "not mine" from "no access".
 */
export async function unwrapWithServiceIdentities(
  cache: IdentityCache,
  identities: readonly IdentityFile[],
  header: ParsedHeader | Uint8Array,
  audit?: Auditor,
): Promise<{ fileKey: Uint8Array; ref: string } | { fileKey?: undefined; failure?: KeywardError }> {
  const h = header instanceof Uint8Array ? parseHeader(header) : header;
  const types = new Set(h.stanzas.map((s) => s.type));
  let failure: KeywardError | undefined;
  for (const id of identities) {
    for (const v of id.versions) {
      if (!types.has(STANZA_OF[v.kind])) continue;
      const ref = identityRef(id.name, v.version);
      let open: (h: ParsedHeader) => Promise<Uint8Array>;
      try {
        open = await cache.opener(id.name, v, audit ? () => audit({ event: 'team.identity.open', outcome: 'ok', key: ref, detail: kekUse(v) }) : undefined);
      } catch (e) {
        if (!isKeywardError(e)) throw e;
        failure ??= e;
        continue;
      }
      try {
        return { fileKey: await open(h), ref };
      } catch (e) {
        if (isKeywardError(e) && e.code === ErrorCode.DecryptFailed && /no identity matched/.test(e.message)) continue;
        throw e;
      }
    }
  }
  return failure ? { failure } : {};
}

/**
 * The identity files that apply to an artifact: those in `.keyward/identities/` of the
 * nearest enclosing directory that has one (the repo), plus any listed in
 * KEYWARD_SERVICE_IDENTITIES (paths separated by the platform's delimiter), for a serving
 * container that has the identity file but not the repo.
 */
export async function identitiesFor(artifact: string, env: NodeJS.ProcessEnv = process.env): Promise<IdentityFile[]> {
  const out = new Map<string, IdentityFile>();
  for (const f of (env.KEYWARD_SERVICE_IDENTITIES ?? '').split(path.delimiter).filter(Boolean)) {
    const id = await readIdentityFile(path.resolve(f));
    out.set(path.resolve(f), id);
  }
  let dir = path.dirname(path.resolve(artifact));
  for (;;) {
    const found = await listIdentities(dir);
    if (found.size) {
      for (const { file, identity } of found.values()) out.set(file, identity);
      break;
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return [...out.values()];
}

export interface ServiceIdentityOptions {
  audit?: Auditor;
  /** The identity cache (default: the process's, on the shared KMS provider). */
  cache?: IdentityCache;
  /** Identity files to use instead of discovering them from the artifact's path. */
  identities?: readonly IdentityFile[];
  env?: NodeJS.ProcessEnv;
}

/** The process's identity cache, on the shared KMS providers (each identity version opened once a process). */
export function defaultIdentityCache(kms: () => KmsProvider = sharedKms): IdentityCache {
  return processIdentityCache(kms);
}

/**
 * The fallback of daemon/artifacts/unwrap.ts for files none of the keystore's keys opens: the
 * service identities that apply to the file (identitiesFor), or those given. Throws the
 * keystore's error when none applies or matches, and a KMS failure (access denied,
 * unreachable) when that is what stood in the way.
 */
export function serviceIdentities(opts: ServiceIdentityOptions = {}): FileKeyFallback {
  return async (header, artifact, notMine) => {
    const identities = opts.identities ?? (await identitiesFor(artifact, opts.env));
    if (identities.length === 0) throw notMine;
    const r = await unwrapWithServiceIdentities(opts.cache ?? defaultIdentityCache(), identities, header, opts.audit);
    if (r.fileKey) return { fileKey: r.fileKey, ref: r.ref };
    if (r.failure) throw r.failure;
    throw notMine;
  };
}

// ---- rotation ------------------------------------------------------------------------------------
//
// Zero-downtime, in steps a team can deploy between (the identity file is committed each time):
// 1. begin: a new version is made (active) and the current one becomes `retiring`; both are
//    granted, so a sync adds the new recipient to every artifact (header rewrap only), and
//    servers holding either version keep working.
// 2. rollback (only while both are present): the new version is dropped and the old one is
//    active again; a sync removes the new recipient.
// 3. finish: the old version becomes `retired` (no longer granted); a sync removes it from every
//    artifact by rotation. Servers must have the new identity file by then.
// 4. prune: retired versions are deleted from the file.

export type RotationStep = 'begin' | 'finish' | 'rollback' | 'prune';

export async function rotateIdentity(
  kms: Keks,
  file: string,
  step: RotationStep,
  opts: { kms?: string; pq?: boolean } = {},
): Promise<{ identity: IdentityFile; detail: string }> {
  const id = await readIdentityFile(file);
  const retiring = id.versions.filter((v) => v.state === 'retiring');
  const current = currentVersion(id);
  let versions: IdentityVersion[];
  let detail: string;
  switch (step) {
    case 'begin': {
      if (retiring.length) {
        throw new KeywardError(ErrorCode.IllegalState, `a rotation of ${id.name} is in progress (v${retiring[0]!.version} retiring)`, `finish it (--finish) or roll it back (--rollback) first`);
      }
      const next = Math.max(id.lastVersion ?? 0, ...id.versions.map((v) => v.version)) + 1;
      const made = await makeVersion(kms, id.name, next, opts.kms ?? current.kms.keyId, opts.pq ?? current.kind === 'mlkem768x25519');
      versions = [...id.versions.map((v) => (v.version === current.version ? { ...v, state: 'retiring' as const } : v)), made];
      detail = `${id.name}@v${next} added (active), v${current.version} retiring`;
      break;
    }
    case 'rollback': {
      const old = retiring[0];
      if (!old) throw new KeywardError(ErrorCode.IllegalState, `no rotation of ${id.name} to roll back`, 'a rollback is possible only while both versions are present');
      const dropped = id.versions.filter((v) => v.version > old.version && v.state === 'active');
      versions = id.versions.filter((v) => !dropped.includes(v)).map((v) => (v.version === old.version ? { ...v, state: 'active' as const } : v));
      detail = `${id.name}@v${dropped.map((v) => v.version).join(',v')} dropped, v${old.version} active again`;
      break;
    }
    case 'finish': {
      if (!retiring.length) throw new KeywardError(ErrorCode.IllegalState, `no rotation of ${id.name} to finish`, `begin one with keyward team identity rotate ${id.name}`);
      versions = id.versions.map((v) => (v.state === 'retiring' ? { ...v, state: 'retired' as const } : v));
      detail = `${id.name}@v${retiring.map((v) => v.version).join(',v')} retired; v${current.version} active`;
      break;
    }
    case 'prune': {
      const retired = id.versions.filter((v) => v.state === 'retired');
      versions = id.versions.filter((v) => v.state !== 'retired');
      detail = retired.length ? `${id.name}@v${retired.map((v) => v.version).join(',v')} deleted` : 'nothing to prune';
      break;
    }
  }
  const next = { ...id, versions: versions.sort((a, b) => b.version - a.version), lastVersion: Math.max(id.lastVersion ?? 0, ...versions.map((v) => v.version)) };
  await writeIdentityFile(file, next);
  return { identity: next, detail };
}
