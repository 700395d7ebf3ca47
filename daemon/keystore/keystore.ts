import { Decrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { ErrorCode, type KeyInfo, type KeyKind, type KeyState, type KeyVersionInfo } from '../protocol';
import type { AuditEvent } from '../audit/log';
import { parseHeader, verifyHeaderMac, type ParsedHeader } from '../age/header';
import { identityFingerprint, parsePluginIdentity, unwrapWithPlugin } from '../age/plugin';
import { identityWrapper, parseRecipient, type FileKeyWrapper } from '../age/recipients';
import { isKeywardStanza } from '../age/room';
import { X25519Identity } from '../age/x25519';
import { KeywardError, isKeywardError } from '../util/errors';
import type { SecretBackend } from './backend';
import { canDecrypt, canEncrypt, checkTransition, encryptRefusal } from './lifecycle';
import type { KeyRecord, KeyVersionRecord, Registry } from './registry';

export const DEFAULT_CRYPTOPERIOD_DAYS = 365;
const DUE_SOON_DAYS = 30;
const DAY_MS = 86_400_000;

export type Auditor = (e: AuditEvent) => Promise<void>;

/** A parsed `name` or `name@vN`. */
export interface ParsedRef {
  name: string;
  version?: number;
}

export function parseRef(ref: string): ParsedRef {
  const m = /^([a-z0-9][a-z0-9._-]*)(?:@v([1-9][0-9]*))?$/.exec(ref);
  if (!m || !m[1]) throw new KeywardError(ErrorCode.InvalidInput, `invalid key reference: ${ref}`, 'use NAME or NAME@vN');
  return m[2] ? { name: m[1], version: Number(m[2]) } : { name: m[1] };
}

/**
 * The only place that sees private keys. It keeps them in the secret backend (the OS
 * keychain), their metadata in the registry, and hands out what callers need without the
 * key itself: recipients to encrypt to, and file keys unwrapped from an age header.
 */
export class Keystore {
  /** Imported identities by backend account (see decrypterFor). */
  private readonly decrypters = new Map<string, Decrypter | X25519Identity | PluginIdentity>();

  constructor(
    private readonly registry: Registry,
    private readonly backend: SecretBackend,
    private readonly audit: Auditor,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get backendKind(): SecretBackend['kind'] {
    return this.backend.kind;
  }

  status() {
    return this.backend.status();
  }

  unlock(passphrase: string): Promise<void> {
    if (!this.backend.unlock) {
      return Promise.reject(new KeywardError(ErrorCode.InvalidInput, `the ${this.backend.kind} keystore has no passphrase to unlock`));
    }
    return this.backend.unlock(passphrase);
  }

  list(includeDestroyed = false): KeyInfo[] {
    return this.registry.keys.map((k) => {
      const versions = k.versions.filter((v) => includeDestroyed || v.state !== 'destroyed').map((v) => this.view(k.name, v));
      const cur = current(k);
      return { name: k.name, versions, ...(cur ? { current: this.view(k.name, cur) } : {}) };
    });
  }

  count(): number {
    return this.registry.keys.length;
  }

  async generate(name: string, opts: { pq?: boolean; cryptoperiodDays?: number; preActivation?: boolean } = {}): Promise<KeyVersionInfo> {
    if (this.registry.find(name)) {
      throw new KeywardError(ErrorCode.AlreadyExists, `key ${name} already exists`, `rotate it with keyward keys rotate ${name}, or choose another name`);
    }
    const identity = opts.pq ? await generateHybridIdentity() : await generateX25519Identity();
    const v = await this.addVersion(name, identity, {
      origin: 'generated',
      cryptoperiodDays: opts.cryptoperiodDays ?? DEFAULT_CRYPTOPERIOD_DAYS,
      state: opts.preActivation ? 'pre-activation' : 'active',
    });
    await this.audit({ event: 'key.generate', outcome: 'ok', key: `${name}@v${v.version}`, detail: v.kind });
    return this.view(name, v);
  }

  /**
   * Imports every identity of an age identity file (age-keygen output, sops' keys.txt).
   * The last becomes the active version; earlier ones are kept for decryption only.
   */
  async import(name: string, text: string, opts: { cryptoperiodDays?: number } = {}): Promise<KeyVersionInfo[]> {
    const identities = parseIdentityFile(text);
    const known = new Map<string, string>();
    for (const k of this.registry.keys) for (const v of k.versions) if (v.state !== 'destroyed' && v.recipient) known.set(v.recipient, `${k.name}@v${v.version}`);
    const prepared: { identity: string; recipient: string }[] = [];
    for (const [i, { identity, recipient: commented }] of identities.entries()) {
      let recipient: string;
      try {
        // A plugin identity's recipient cannot be derived: it is the one its file names, if any.
        recipient = parsePluginIdentity(identity) ? (commented ?? '') : await identityToRecipient(identity);
      } catch {
        throw new KeywardError(ErrorCode.InvalidInput, `identity ${i + 1} of the file is not a valid age identity (bad checksum or length)`, 'check that the file was not truncated or edited');
      }
      const dup = recipient ? (known.get(recipient) ?? (prepared.some((p) => p.recipient === recipient) ? 'this file' : undefined)) : undefined;
      if (dup) throw new KeywardError(ErrorCode.AlreadyExists, `identity for ${recipient} is already in the keystore as ${dup}`, 'nothing was imported');
      prepared.push({ identity, recipient });
    }
    const out: KeyVersionInfo[] = [];
    for (const [i, p] of prepared.entries()) {
      const last = i === prepared.length - 1;
      const before = this.registry.find(name);
      const prev = before ? current(before) : undefined;
      const v = await this.addVersion(name, p.identity, {
        recipient: p.recipient,
        origin: 'imported',
        cryptoperiodDays: opts.cryptoperiodDays ?? DEFAULT_CRYPTOPERIOD_DAYS,
        state: last ? 'active' : 'deactivated',
      });
      if (last && prev && prev.state === 'active') await this.setStateInternal(name, prev.version, 'deactivated', 'superseded by import');
      await this.audit({ event: 'key.import', outcome: 'ok', key: `${name}@v${v.version}`, detail: v.kind });
      out.push(this.view(name, v));
    }
    return out;
  }

  /** The recipient of a key, and its secret only when asked for explicitly (audited). */
  async export(ref: string, secret: boolean): Promise<{ ref: string; recipient: string; secret?: string }> {
    const { name, v } = this.resolve(ref);
    const r = `${name}@v${v.version}`;
    if (!secret) return { ref: r, recipient: v.recipient };
    if (v.state === 'destroyed') throw new KeywardError(ErrorCode.KeyUnusable, `${r} is destroyed: its key material is gone`);
    const s = await this.backend.get(this.account(name, v.version));
    if (s === null) throw missingSecret(r);
    await this.audit({ event: 'key.export-secret', outcome: 'ok', key: r });
    return { ref: r, recipient: v.recipient, secret: s };
  }

  /** Makes version N+1 active and the current active version deactivated (decrypt only). */
  async rotate(name: string, opts: { cryptoperiodDays?: number; keepPrevious?: boolean } = {}): Promise<{ key: KeyVersionInfo; previous: KeyVersionInfo }> {
    const k = this.registry.find(name);
    if (!k) throw notFound(name);
    const prev = current(k);
    if (!prev) throw new KeywardError(ErrorCode.IllegalState, `${name} has no version to rotate from`, `generate a new key instead`);
    if (prev.kind === 'plugin') {
      throw new KeywardError(
        ErrorCode.IllegalState,
        `${name} is a ${prev.plugin ?? 'plugin'} plugin identity: Keyward cannot make a new one`,
        `make a new identity with age-plugin-${prev.plugin ?? 'NAME'}, then import it: keyward keys import ${name} FILE (the current version is kept for decryption)`,
      );
    }
    const identity = prev.kind === 'mlkem768x25519' ? await generateHybridIdentity() : await generateX25519Identity();
    const v = await this.addVersion(name, identity, {
      origin: 'generated',
      cryptoperiodDays: opts.cryptoperiodDays ?? prev.cryptoperiodDays,
      state: 'active',
    });
    if (prev.state === 'active' && !opts.keepPrevious) await this.setStateInternal(name, prev.version, 'deactivated', `rotated to v${v.version}`);
    await this.audit({ event: 'key.rotate', outcome: 'ok', key: `${name}@v${v.version}`, detail: `from v${prev.version}` });
    const after = this.registry.find(name)!;
    return { key: this.view(name, v), previous: this.view(name, after.versions.find((x) => x.version === prev.version)!) };
  }

  async setState(ref: string, state: Exclude<KeyState, 'destroyed'>, reason?: string): Promise<KeyVersionInfo> {
    const { name, v } = this.resolve(ref, true);
    const r = `${name}@v${v.version}`;
    try {
      checkTransition(r, v.state, state);
      if (state === 'active') {
        const other = this.registry.find(name)!.versions.find((x) => x.state === 'active' && x.version !== v.version);
        if (other) {
          throw new KeywardError(ErrorCode.IllegalState, `${name}@v${other.version} is already the active version of ${name}`, `deactivate or suspend it first, or rotate`);
        }
      }
    } catch (e) {
      await this.audit({ event: 'key.state', outcome: 'refused', key: r, detail: `${v.state} -> ${state}` });
      throw e;
    }
    await this.setStateInternal(name, v.version, state, reason);
    await this.audit({ event: 'key.state', outcome: 'ok', key: r, detail: `${v.state} -> ${state}` });
    return this.view(name, this.registry.find(name)!.versions.find((x) => x.version === v.version)!);
  }

  /**
   * Crypto-shredding: deletes the key material from the secret backend, then records the
   * version as destroyed. What only this key protected can no longer be decrypted.
   */
  async destroy(ref: string): Promise<KeyVersionInfo> {
    const { name, v } = this.resolve(ref, true);
    const r = `${name}@v${v.version}`;
    try {
      checkTransition(r, v.state, 'destroyed');
    } catch (e) {
      await this.audit({ event: 'key.destroy', outcome: 'refused', key: r, detail: `from ${v.state}` });
      throw e;
    }
    // Delete the secret first: if we stop half-way, the registry still lists the key and a
    // second destroy finishes the job, rather than claiming destruction of a key that lives.
    await this.backend.delete(this.account(name, v.version));
    this.decrypters.delete(this.account(name, v.version));
    await this.setStateInternal(name, v.version, 'destroyed');
    await this.audit({ event: 'key.destroy', outcome: 'ok', key: r, detail: 'key material deleted; data only this key protected is unrecoverable' });
    return this.view(name, this.registry.find(name)!.versions.find((x) => x.version === v.version)!);
  }

  /**
   * Recipients for encryption: each ref must name an active key with a recipient. A plugin
   * identity without one can only encrypt through encryptTargetsFor (KeyUnusable here, saying so).
   */
  recipientsFor(refs: readonly string[]): { ref: string; recipient: string }[] {
    return refs.map((ref) => {
      const { name, v } = this.resolve(ref);
      const r = `${name}@v${v.version}`;
      if (!canEncrypt(v.state)) throw encryptRefusal(r, v.state);
      if (!v.recipient) {
        throw new KeywardError(
          ErrorCode.KeyUnusable,
          `${r} has no recipient: its ${v.plugin ?? 'plugin'} plugin encrypts only to the identity itself`,
          'use it with keyward encrypt -k, or import its identity file with the recipient its plugin printed (a "# recipient: age1..." line)',
        );
      }
      return { ref: r, recipient: v.recipient };
    });
  }

  /**
   * What to encrypt to for `refs` (active keys): recipients, and for plugin identities without
   * one, wrappers that encrypt to the identity through its plugin (as `age -e -i`). The
   * identity stays inside the wrapper.
   */
  encryptTargetsFor(refs: readonly string[]): { recipients: { ref: string; recipient: string }[]; wrappers: { ref: string; wrap: FileKeyWrapper }[] } {
    const recipients: { ref: string; recipient: string }[] = [];
    const wrappers: { ref: string; wrap: FileKeyWrapper }[] = [];
    for (const ref of refs) {
      const { name, v } = this.resolve(ref);
      const r = `${name}@v${v.version}`;
      if (!canEncrypt(v.state)) throw encryptRefusal(r, v.state);
      if (v.recipient) {
        recipients.push({ ref: r, recipient: v.recipient });
        continue;
      }
      const account = this.account(name, v.version);
      wrappers.push({
        ref: r,
        wrap: async (fileKey) => {
          const identity = await this.backend.get(account);
          if (identity === null) throw missingSecret(r);
          return identityWrapper(identity)(fileKey);
        },
      });
    }
    return { recipients, wrappers };
  }

  /**
   * For a key that encrypts to its plugin identity itself (no recipient): the identity's
   * fingerprint (age/plugin.ts identityFingerprint), by which a file's record tells it apart from
   * another keystore's key of the same name. Undefined for keys with a recipient.
   */
  async identityFingerprint(ref: string): Promise<string | undefined> {
    const { name, v } = this.resolve(ref);
    if (v.kind !== 'plugin' || v.recipient) return undefined;
    const r = `${name}@v${v.version}`;
    const identity = await this.backend.get(this.account(name, v.version));
    if (identity === null) throw missingSecret(r);
    return identityFingerprint(identity);
  }

  /** Every live version a ref names: `name` means all its versions, `name@vN` that one. */
  versionsOf(ref: string): { ref: string; recipient: string }[] {
    const p = parseRef(ref);
    const k = this.registry.find(p.name);
    if (!k) throw notFound(p.name);
    const vs = k.versions.filter((v) => v.state !== 'destroyed' && (p.version === undefined || v.version === p.version));
    if (!vs.length) throw new KeywardError(ErrorCode.NotFound, `no live version ${ref}`, 'see the versions with keyward keys list');
    return vs.map((v) => ({ ref: `${k.name}@v${v.version}`, recipient: v.recipient }));
  }

  /** Refs of keys whose recipient is one of `recipients` (for reporting). */
  refsForRecipients(recipients: readonly string[]): string[] {
    const out: string[] = [];
    for (const k of this.registry.keys) for (const v of k.versions) if (recipients.includes(v.recipient)) out.push(`${k.name}@v${v.version}`);
    return out;
  }

  /**
   * Unwraps an age file key from a header (the raw header bytes through the MAC line),
   * trying every key that may decrypt. Returns the file key and which key opened it; throws
   * DecryptFailed when none does. The private keys never leave this method.
   */
  async unwrapFileKey(header: Uint8Array): Promise<{ fileKey: Uint8Array; ref: string }> {
    let opened: { fileKey: Uint8Array; ref: string; state: KeyVersionRecord['state'] } | undefined;
    await this.eachOpener(header, (o) => {
      opened = o;
      return true;
    });
    const { fileKey, ref, state } = opened!;
    if (state === 'compromised') await this.audit({ event: 'key.use', outcome: 'ok', key: ref, detail: 'warning: decrypted with a compromised key' });
    return { fileKey, ref };
  }

  /**
   * Every key version of this keystore that opens a header, newest first, with its state:
   * for reports (`keyward status`), which must show an old version that still opens a file.
   * Each file key is wiped as soon as it is unwrapped (after `peek`, given the first one, has
   * looked at it: for a fingerprint or the recipients Keyward recorded, never to keep). Throws
   * as unwrapFileKey does when none opens it.
   */
  async openers(header: Uint8Array, peek?: (fileKey: Uint8Array) => void): Promise<{ ref: string; state: KeyVersionRecord['state'] }[]> {
    const out: { ref: string; state: KeyVersionRecord['state'] }[] = [];
    // Plugin identities are not tried: a report must not ask for a touch or a PIN.
    await this.eachOpener(
      header,
      ({ fileKey, ref, state }) => {
        try {
          if (out.length === 0) peek?.(fileKey);
        } finally {
          fileKey.fill(0);
        }
        out.push({ ref, state });
        return false;
      },
      { plugins: false },
    );
    return out;
  }

  // ---- internals ---------------------------------------------------------------------------

  /**
   * Tries every version that may decrypt, newest first (the likeliest to match), and hands each
   * one that opens the header to `found` until it returns true. Throws DecryptFailed when none
   * opens it, Malformed when a stanza could not be read, and a header-modified error when the
   * header's MAC does not hold.
   */
  private async eachOpener(
    header: Uint8Array,
    found: (o: { fileKey: Uint8Array; ref: string; state: KeyVersionRecord['state'] }) => boolean,
    opts: { plugins?: boolean } = {},
  ): Promise<void> {
    const candidates: { name: string; v: KeyVersionRecord }[] = [];
    for (const k of this.registry.keys) for (const v of k.versions) if (canDecrypt(v.state)) candidates.push({ name: k.name, v });
    // Newest first; plugin identities last, after every key that opens a file without a process (or a touch).
    candidates.sort((a, b) => Number(a.v.kind === 'plugin') - Number(b.v.kind === 'plugin') || b.v.version - a.v.version);
    let lastMalformed: unknown;
    let pluginFailure: KeywardError | undefined;
    let parsed: ParsedHeader | undefined;
    let any = false;
    for (const { name, v } of candidates) {
      if (v.kind === 'plugin' && opts.plugins === false) continue;
      const d = await this.decrypterFor(name, v.version);
      if (d === null) continue;
      let fileKey: Uint8Array | undefined;
      try {
        if (d instanceof PluginIdentity) {
          fileKey = await d.open((parsed ??= parseHeader(header)));
          if (fileKey && !verifyHeaderMac(parsed, fileKey)) {
            fileKey.fill(0);
            throw headerModified();
          }
        } else {
          fileKey = d instanceof X25519Identity ? d.open((parsed ??= parseHeader(header))) : await d.decryptHeader(header);
        }
      } catch (e) {
        // A plugin that failed (missing, needed a PIN nobody could give): its error is the answer
        // unless another key opens the file.
        if (d instanceof PluginIdentity && isKeywardError(e) && e.code !== ErrorCode.DecryptFailed) {
          pluginFailure ??= e;
          continue;
        }
        const msg = e instanceof Error ? e.message : '';
        if (/no identity matched/.test(msg)) continue;
        if (/HMAC|header authentication failed/.test(msg)) throw headerModified();
        lastMalformed = e;
        continue;
      }
      if (!fileKey) continue;
      // The library checks the header MAC itself; the OpenSSL path leaves it to the caller.
      if (parsed && d instanceof X25519Identity && !verifyHeaderMac(parsed, fileKey)) {
        fileKey.fill(0);
        throw headerModified();
      }
      any = true;
      if (found({ fileKey, ref: `${name}@v${v.version}`, state: v.state })) return;
    }
    if (any) return;
    if (pluginFailure !== undefined) throw pluginFailure;
    if (lastMalformed !== undefined) {
      throw new KeywardError(ErrorCode.Malformed, 'a recipient stanza in the header is malformed', 'the file is corrupted or was tampered with');
    }
    throw new KeywardError(
      ErrorCode.DecryptFailed,
      'no identity matched any of the file\'s recipients',
      'none of this keystore\'s usable keys can open it: import the right identity (keyward keys import) or check for suspended/destroyed keys with keyward keys list',
    );
  }

  /**
   * A ready decrypter for a key version: the identity is read from the backend and imported
   * once (deriving its public key costs a scalar multiplication), not once per file, which
   * matters when a job opens thousands. Only versions the registry lets decrypt are asked for
   * (checked on every call); destroy drops the entry with the key material.
   */
  private async decrypterFor(name: string, version: number): Promise<Decrypter | X25519Identity | PluginIdentity | null> {
    const account = this.account(name, version);
    const cached = this.decrypters.get(account);
    if (cached) return cached;
    const secret = await this.backend.get(account);
    if (secret === null) return null;
    // X25519 through OpenSSL (~15x cheaper per file); post-quantum through age-encryption;
    // plugin identities through their plugin.
    let d: Decrypter | X25519Identity | PluginIdentity | undefined = X25519Identity.parse(secret) ?? PluginIdentity.parse(secret);
    if (!d) {
      d = new Decrypter();
      d.addIdentity(secret);
    }
    this.decrypters.set(account, d);
    return d;
  }

  private account(name: string, version: number): string {
    return `${this.registry.storeId}/${name}@v${version}`;
  }

  private resolve(ref: string, exactForBareName = false): { name: string; v: KeyVersionRecord } {
    const p = parseRef(ref);
    const k = this.registry.find(p.name);
    if (!k) throw notFound(p.name);
    if (p.version !== undefined) {
      const v = k.versions.find((x) => x.version === p.version);
      if (!v) throw new KeywardError(ErrorCode.NotFound, `no version v${p.version} of key ${p.name}`, `see its versions with keyward keys list`);
      return { name: k.name, v };
    }
    if (exactForBareName) {
      throw new KeywardError(ErrorCode.InvalidInput, `name the version: ${p.name}@vN`, `see the versions with keyward keys list`);
    }
    const v = current(k);
    if (!v) throw new KeywardError(ErrorCode.KeyUnusable, `key ${p.name} has no usable version`, `see its versions with keyward keys list`);
    return { name: k.name, v };
  }

  private async addVersion(
    name: string,
    identity: string,
    opts: { origin: 'generated' | 'imported'; cryptoperiodDays: number; state: KeyState; recipient?: string },
  ): Promise<KeyVersionRecord> {
    const plugin = parsePluginIdentity(identity);
    const recipient = plugin ? (opts.recipient ?? '') : await identityToRecipient(identity);
    const kind: KeyKind = plugin ? 'plugin' : identity.startsWith('AGE-SECRET-KEY-PQ-1') ? 'mlkem768x25519' : 'x25519';
    const version = (this.registry.find(name)?.versions.reduce((m, v) => Math.max(m, v.version), 0) ?? 0) + 1;
    const at = this.now().toISOString();
    const rec: KeyVersionRecord = {
      version,
      kind,
      state: opts.state,
      recipient,
      ...(plugin ? { plugin: plugin.name } : {}),
      origin: opts.origin,
      createdAt: at,
      stateChangedAt: at,
      cryptoperiodDays: opts.cryptoperiodDays,
      history: [{ state: opts.state, at }],
      ...(opts.state === 'active' ? { activatedAt: at } : {}),
    };
    // Secret first, registry second: a registry entry always has its key behind it.
    await this.backend.set(this.account(name, version), identity);
    try {
      await this.registry.update((d) => {
        let k = d.keys.find((x) => x.name === name);
        if (!k) d.keys.push((k = { name, versions: [] }));
        k.versions.push(rec);
      });
    } catch (e) {
      await this.backend.delete(this.account(name, version)).catch(() => false);
      throw e;
    }
    return rec;
  }

  private async setStateInternal(name: string, version: number, state: KeyState, reason?: string): Promise<void> {
    const at = this.now().toISOString();
    await this.registry.update((d) => {
      const v = d.keys.find((x) => x.name === name)?.versions.find((x) => x.version === version);
      if (!v) return;
      v.state = state;
      v.stateChangedAt = at;
      if (state === 'active' && !v.activatedAt) v.activatedAt = at;
      v.history.push({ state, at, ...(reason ? { reason } : {}) });
    });
  }

  private view(name: string, v: KeyVersionRecord): KeyVersionInfo {
    const info: KeyVersionInfo = {
      ref: `${name}@v${v.version}`,
      name,
      version: v.version,
      kind: v.kind,
      state: v.state,
      recipient: v.recipient,
      ...(v.plugin ? { plugin: v.plugin } : {}),
      createdAt: v.createdAt,
      stateChangedAt: v.stateChangedAt,
      cryptoperiodDays: v.cryptoperiodDays,
      origin: v.origin,
      ...(v.activatedAt ? { activatedAt: v.activatedAt } : {}),
    };
    if (v.state === 'active' && v.activatedAt) {
      const due = new Date(Date.parse(v.activatedAt) + v.cryptoperiodDays * DAY_MS);
      const left = due.getTime() - this.now().getTime();
      info.rotationDueAt = due.toISOString();
      info.rotation = left <= 0 ? 'due' : left <= DUE_SOON_DAYS * DAY_MS ? 'due-soon' : 'ok';
    }
    return info;
  }
}

/** The version that encrypts for `name`: the active one, else the newest usable one. */
function current(k: KeyRecord): KeyVersionRecord | undefined {
  const active = k.versions.filter((v) => v.state === 'active');
  if (active.length) return active.reduce((a, b) => (a.version > b.version ? a : b));
  const live = k.versions.filter((v) => v.state !== 'destroyed');
  return live.length ? live.reduce((a, b) => (a.version > b.version ? a : b)) : undefined;
}

function notFound(name: string): KeywardError {
  return new KeywardError(ErrorCode.NotFound, `no key named ${name}`, 'see your keys with keyward keys list, or create one with keyward keys generate NAME');
}

function missingSecret(ref: string): KeywardError {
  return new KeywardError(ErrorCode.KeystoreUnavailable, `the key material of ${ref} is missing from the keystore`, 'the OS keychain entry was removed outside Keyward; restore it or destroy the version');
}

/**
 * Reads an age identity file: one identity per line (`AGE-SECRET-KEY-1...`, `-PQ-1...`, or an
 * age plugin's `AGE-PLUGIN-NAME-1...`), `#` comments and blank lines ignored (age-keygen writes
 * "# created: ..." and "# public key: ..."). Anything else is an error, reported by line number
 * without echoing the line (it may be a secret). A plugin identity's recipient cannot be
 * derived from it; plugins print it in the comments above the identity ("# Recipient: age1...",
 * "# public key: age1..."), and the last recipient named there is returned with it.
 */
export function parseIdentityFile(text: string): { identity: string; recipient?: string }[] {
  const out: { identity: string; recipient?: string }[] = [];
  const lines = text.split(/\r?\n/);
  let named: string | undefined;
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      for (const word of line.match(/\bage1[0-9a-z._+-]*1[0-9a-z]+\b/g) ?? []) {
        try {
          named = parseRecipient(word).recipient;
        } catch {
          // not a recipient after all
        }
      }
      continue;
    }
    const plugin = /^AGE-PLUGIN-[A-Z0-9._+-]+-1[0-9A-Z]+$/.test(line) ? parsePluginIdentity(line) : null;
    if (!/^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/.test(line) && plugin === null) {
      throw new KeywardError(
        ErrorCode.InvalidInput,
        `line ${i + 1} of the identity file is not an age identity`,
        'expected AGE-SECRET-KEY-1..., AGE-SECRET-KEY-PQ-1... or AGE-PLUGIN-NAME-1... lines (age-keygen output, sops keys.txt, an age plugin\'s identity file)',
      );
    }
    out.push(plugin && named ? { identity: line, recipient: named } : { identity: line });
    named = undefined;
  }
  if (out.length === 0) throw new KeywardError(ErrorCode.InvalidInput, 'the identity file holds no age identity', 'give a file written by age-keygen or an age plugin');
  return out;
}

/**
 * An age plugin identity, ready to open headers: the file's recipient stanzas (not Keyward's
 * own) go to `age-plugin-NAME` in an identity-v1 session (age/plugin.ts). The identity string
 * stays in here; what the plugin asks goes to the operation's plugin session.
 */
class PluginIdentity {
  private constructor(
    private readonly name: string,
    private readonly identity: string,
  ) {}

  static parse(identity: string): PluginIdentity | undefined {
    const p = parsePluginIdentity(identity);
    return p ? new PluginIdentity(p.name, identity) : undefined;
  }

  /** The file key, or undefined when the plugin found none for this identity. */
  async open(header: ParsedHeader): Promise<Uint8Array | undefined> {
    const [key] = await unwrapWithPlugin(this.name, [this.identity], [header.stanzas.filter((s) => !isKeywardStanza(s))]);
    return key;
  }
}

function headerModified(): KeywardError {
  return new KeywardError(ErrorCode.DecryptFailed, 'header authentication failed: the file was modified', 'restore the file from a good copy');
}
