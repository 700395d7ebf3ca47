import { Decrypter } from 'age-encryption';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';
import { describeTypes, headerAuthFailed, invalidHeader, invalidInput } from './errors';
import { decodeRaw } from './base64';
import type { ParsedHeader, Stanza, Unwrap } from './header';
import { parsePluginIdentity, unwrapWithPlugin } from './plugin';
import { isKeywardStanza } from './room';
import { SCRYPT_TYPE } from './scrypt';

// Unwrapping with identities (secret keys), on top of age-encryption's Decrypter. This is
// what the keystore hands out: it holds the secret keys, callers only get the function.

/** Stanza types Keyward can open at all: anything else needs an age plugin or hardware. */
const IDENTITY_PREFIXES = [
  { prefix: 'AGE-SECRET-KEY-PQ-1', type: 'mlkem768x25519' },
  { prefix: 'AGE-SECRET-KEY-1', type: 'X25519' },
] as const;
const OPENABLE = new Set<string>(['X25519', 'mlkem768x25519', SCRYPT_TYPE]);
/** The one argument of these stanzas: the ephemeral share / encapsulated key, and its size. */
const SHARE_SIZE: Readonly<Record<string, number>> = { X25519: 32, mlkem768x25519: 1120 };
const WRAPPED_KEY_SIZE = 32;

/**
 * An Unwrap trying each identity (`AGE-SECRET-KEY-1...`, `AGE-SECRET-KEY-PQ-1...`).
 * Throws InvalidInput now if one is not a valid identity (without repeating it). The
 * returned function throws DecryptFailed when no identity matches (saying whether the file
 * is simply for other keys or only for recipient types Keyward cannot open), when the file
 * is passphrase-encrypted, or when the header MAC is wrong; Malformed for a bad stanza.
 */
export function unwrapWithIdentities(identities: readonly string[]): Unwrap {
  if (identities.length === 0) throw invalidInput('no identities to decrypt with', 'import or select the key the file was encrypted to');
  const decrypter = new Decrypter();
  const mine = new Set<string>();
  identities.forEach((identity, i) => {
    const kind = IDENTITY_PREFIXES.find((k) => identity.startsWith(k.prefix));
    const bad = () => invalidInput(`identity ${i + 1} is not a valid age secret key`, 'expected AGE-SECRET-KEY-1... or AGE-SECRET-KEY-PQ-1...');
    if (kind === undefined) throw bad();
    try {
      decrypter.addIdentity(identity);
    } catch {
      throw bad();
    }
    mine.add(kind.type);
  });

  return async (header: ParsedHeader) => {
    const stanzas = header.stanzas;
    if (stanzas.some((s) => s.type === SCRYPT_TYPE)) {
      if (stanzas.length !== 1) throw invalidHeader('an scrypt stanza must be the only stanza');
      throw new KeywardError(ErrorCode.DecryptFailed, 'the file is encrypted with a passphrase, not to a key', 'decrypt it with its passphrase');
    }
    if (!stanzas.some((s) => OPENABLE.has(s.type))) {
      throw new KeywardError(
        ErrorCode.DecryptFailed,
        `no identity matched: the file's recipients are of types ${describeTypes(stanzas.filter((s) => !isKeywardStanza(s)))}`,
        'Keyward opens X25519 and post-quantum (mlkem768x25519) recipients; these need an age plugin or a hardware key',
      );
    }
    // The spec makes identities reject malformed stanzas of their own type; doing it here
    // also means the library never sees one.
    for (const s of stanzas) checkStanza(s);
    // Skip the library when no identity is even of a type the file uses.
    if (!stanzas.some((s) => mine.has(s.type))) throw noMatch(header);
    try {
      return await decrypter.decryptHeader(header.raw);
    } catch (e) {
      throw fromLibraryError(e, header);
    }
  };
}

function checkStanza(s: Stanza): void {
  const size = SHARE_SIZE[s.type];
  if (size === undefined) return;
  const share = s.args.length === 1 && s.args[0] !== undefined ? decodeRaw(s.args[0]) : null;
  if (share === null || share.length !== size || s.body.length !== WRAPPED_KEY_SIZE) {
    throw invalidHeader(`malformed ${s.type} stanza`);
  }
}

function noMatch(header: ParsedHeader): KeywardError {
  const counts = new Map<string, number>();
  for (const s of header.stanzas) if (!isKeywardStanza(s)) counts.set(s.type, (counts.get(s.type) ?? 0) + 1);
  const what = [...counts].map(([type, n]) => `${n} ${describeTypes([{ type }])}`).join(', ');
  return new KeywardError(
    ErrorCode.DecryptFailed,
    "no identity matched any of the file's recipients",
    `the file is encrypted to ${what} recipient(s): import or select one of those keys`,
  );
}

/**
 * age-encryption throws plain Errors; these are the ones it documents for a header it
 * could parse. Anything else is not expected and goes up unchanged, as the bug it is.
 */
function fromLibraryError(e: unknown, header: ParsedHeader): unknown {
  const message = e instanceof Error ? e.message : '';
  if (message === "no identity matched any of the file's recipients") return noMatch(header);
  if (message === 'invalid header HMAC') return headerAuthFailed();
  const stanza = /^invalid (\S+ )?stanza$/.exec(message);
  if (stanza) return invalidHeader(`malformed ${stanza[1] ?? ''}stanza`);
  return e;
}

/**
 * An Unwrap through age plugin identities (`AGE-PLUGIN-NAME-1...`; `-j NAME` stands for one with
 * no data): each plugin gets the file's recipient stanzas (not Keyward's own) in an identity-v1
 * session, its identities in the order given. Throws InvalidInput now for a string that is not
 * a plugin identity; the returned function throws DecryptFailed when no plugin found the file
 * key, and what unwrapWithPlugin throws (PluginFailed, NotFound).
 */
export function unwrapWithPluginIdentities(identities: readonly string[]): Unwrap {
  if (identities.length === 0) throw invalidInput('no identities to decrypt with');
  const byPlugin = new Map<string, string[]>();
  identities.forEach((identity, i) => {
    const p = parsePluginIdentity(identity);
    if (p === null) throw invalidInput(`identity ${i + 1} is not a valid age plugin identity`, 'expected AGE-PLUGIN-NAME-1...');
    byPlugin.set(p.name, [...(byPlugin.get(p.name) ?? []), identity]);
  });
  return async (header: ParsedHeader) => {
    const stanzas = header.stanzas.filter((s) => !isKeywardStanza(s));
    for (const [name, ids] of byPlugin) {
      const [key] = await unwrapWithPlugin(name, ids, [stanzas]);
      if (key !== undefined) return key;
    }
    const names = [...byPlugin.keys()].join(', ');
    throw new KeywardError(
      ErrorCode.DecryptFailed,
      `no identity matched: the ${names} plugin found no file key for its identity`,
      `the file is encrypted to ${describeTypes(stanzas)} recipient(s): use the identity it was encrypted to`,
    );
  };
}
