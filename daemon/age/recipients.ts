import { ECDH } from 'node:crypto';
import { Encrypter, type Recipient as LibraryRecipient } from 'age-encryption';
import { isKeywardError } from '../util/errors';
import { decodeBech32 } from './bech32';
import { internal, invalidInput } from './errors';
import { FILE_KEY_SIZE, type Stanza } from './header';
import { isPluginName, parsePluginIdentity, wrapWithPlugin, type WrapTarget } from './plugin';
import { RECIPIENT_HINT, wrapX25519 } from './x25519';

// Recipients (public keys) and wrapping a file key to them. Parsing is ours, to say why a
// string is not a recipient; the cryptography (X25519, ML-KEM-768 + X25519 HPKE, the P-256
// tag types) is age-encryption's, the reference TypeScript implementation. Any other
// `age1NAME1...` is an age plugin's recipient, wrapped by `age-plugin-NAME` (plugin.ts); the
// native types come first, as in age 1.3, so `age1tag1...` never needs age-plugin-tag.

export type RecipientType = 'X25519' | 'mlkem768x25519' | 'p256tag' | 'mlkem768p256tag' | 'plugin';

export interface ParsedRecipient {
  /** The recipient, lowercase (bech32 also allows all-uppercase). */
  readonly recipient: string;
  /** The type of stanza it wraps file keys into. */
  readonly type: RecipientType;
  /** Hybrid ML-KEM recipients: they may not be mixed with classic ones in one file. */
  readonly postQuantum: boolean;
  /** A plugin recipient's plugin name (lowercase): `age-plugin-NAME` wraps to it. */
  readonly plugin?: string;
}

/**
 * Wraps a file key to something that is not a recipient string: a plugin identity (`age -e -i`,
 * `-j NAME`) or a keystore key that encrypts through its plugin. Returns the stanzas and their
 * labels (c2sp.org/age-plugin, extension-labels).
 */
export type FileKeyWrapper = (fileKey: Uint8Array) => Promise<{ stanzas: Stanza[]; labels: readonly string[] }>;

/** Human-readable part → what it encodes (c2sp.org/age, "Native recipient types"). */
const KINDS: Readonly<Record<string, { type: RecipientType; bytes: number; postQuantum: boolean }>> = {
  age: { type: 'X25519', bytes: 32, postQuantum: false },
  age1pq: { type: 'mlkem768x25519', bytes: 1216, postQuantum: true },
  age1tag: { type: 'p256tag', bytes: 33, postQuantum: false },
  age1tagpq: { type: 'mlkem768p256tag', bytes: 1249, postQuantum: true },
};

const EXPECTED = RECIPIENT_HINT;

/**
 * Parses an age recipient string. Throws an InvalidInput KeywardError that says what is
 * wrong with it. Messages never repeat the input: a secret key pasted by mistake must not
 * end up in a log.
 */
export function parseRecipient(input: string): ParsedRecipient {
  if (input.length === 0) throw invalidInput('recipient is empty', EXPECTED);
  if (/^AGE-SECRET-KEY-/i.test(input)) {
    throw invalidInput('this is a secret key, not a recipient', 'give its public key (age1...), which `age-keygen -y` prints; and treat the secret key as exposed');
  }
  if (/^(ssh-|ecdsa-)/.test(input)) throw invalidInput('ssh keys are not supported as recipients', EXPECTED);
  if (/\s/.test(input)) throw invalidInput('recipient contains whitespace', 'remove the spaces or line breaks around or inside it');
  if (!/^age1/i.test(input)) throw invalidInput('unknown recipient type', EXPECTED);

  const decoded = decodeBech32(input);
  if (!decoded.ok) throw invalidInput(`invalid recipient: it ${decoded.reason}`, 'copy the recipient again from its source');
  const kind = KINDS[decoded.hrp];
  if (kind === undefined) {
    const plugin = decoded.hrp.slice(4);
    if (!decoded.hrp.startsWith('age1') || !isPluginName(plugin)) throw invalidInput('unknown recipient type', EXPECTED);
    // Plugins read their own data; the string is passed to age-plugin-NAME as it was given.
    return { recipient: input.toLowerCase(), type: 'plugin', postQuantum: false, plugin };
  }
  if (decoded.bytes.length !== kind.bytes) {
    throw invalidInput(`invalid recipient: a ${kind.type} key is ${kind.bytes} bytes, this one is ${decoded.bytes.length}`, 'copy the recipient again from its source');
  }
  const recipient = input.toLowerCase();
  try {
    // The library checks P-256 points only when it wraps; check them now, natively.
    if (kind.type === 'p256tag') ECDH.convertKey(decoded.bytes, 'prime256v1');
    if (kind.type === 'mlkem768p256tag') ECDH.convertKey(decoded.bytes.subarray(1184), 'prime256v1');
    libraryRecipient(recipient);
  } catch (e) {
    if (isKeywardError(e)) throw e;
    // The encoding is fine but the key is not (a P-256 point off the curve, say).
    throw invalidInput(`invalid recipient: not a valid ${kind.type} key`, 'copy the recipient again from its source');
  }
  return { recipient, type: kind.type, postQuantum: kind.postQuantum };
}

/**
 * Parses and de-duplicates recipients for one file. Throws InvalidInput if there are none,
 * one is invalid, or post-quantum and classic recipients are mixed (as age 1.3 refuses to:
 * the file would be only as strong as its classic recipients against a quantum computer).
 */
export function parseRecipients(inputs: readonly string[]): ParsedRecipient[] {
  if (inputs.length === 0) throw invalidInput('no recipients', 'give at least one recipient (age1...) or a passphrase');
  const seen = new Map<string, ParsedRecipient>();
  for (const input of inputs) {
    const r = parseRecipient(input);
    seen.set(r.recipient, r);
  }
  const list = [...seen.values()];
  // Plugin recipients say whether they are post-quantum only when they wrap (their labels).
  const native = list.filter((r) => r.type !== 'plugin');
  const pq = native.filter((r) => r.postQuantum).length;
  if (pq > 0 && pq < native.length) {
    throw invalidInput(
      "can't mix post-quantum and classic recipients",
      'the file would be vulnerable to quantum computers: use only age1pq1... recipients, or only classic ones',
    );
  }
  return list;
}

/**
 * Wraps a known file key to each recipient (and wrapper): one or more stanzas each, in order.
 * This is what a header-only rewrap needs; encryption uses it with a fresh random key. Plugin
 * recipients go to their plugin, one session per plugin. Throws InvalidInput for bad
 * recipients (see parseRecipients) or stanzas that may not share a file (their label sets
 * differ: post-quantum with classic, a passphrase with anything), PluginFailed/NotFound when
 * a plugin fails or is missing.
 */
export async function wrapFileKey(fileKey: Uint8Array, recipients: readonly string[], wrappers: readonly FileKeyWrapper[] = []): Promise<Stanza[]> {
  if (fileKey.length !== FILE_KEY_SIZE) throw internal('file key must be 16 bytes');
  const stanzas: Stanza[] = [];
  const labelSets: { labels: readonly string[]; what: string }[] = [];
  const plugins = new Map<string, WrapTarget[]>();
  for (const r of recipients.length || !wrappers.length ? parseRecipients(recipients) : []) {
    if (r.plugin !== undefined) {
      plugins.set(r.plugin, [...(plugins.get(r.plugin) ?? []), { kind: 'recipient', encoding: r.recipient }]);
      continue;
    }
    // A copy per recipient: the library gets no reference to the caller's key buffer.
    const key = Uint8Array.from(fileKey);
    try {
      if (r.type === 'X25519') stanzas.push(wrapX25519(key, r.recipient));
      else for (const s of await libraryRecipient(r.recipient).wrapFileKey(key)) stanzas.push(fromLibraryStanza(s));
    } finally {
      key.fill(0);
    }
    labelSets.push({ labels: r.postQuantum ? [POSTQUANTUM] : [], what: r.type });
  }
  for (const [name, targets] of plugins) {
    const w = await wrapWithPlugin(name, targets, [fileKey]);
    stanzas.push(...w.stanzas[0]!);
    labelSets.push({ labels: w.labels, what: `the ${name} plugin's` });
  }
  for (const wrap of wrappers) {
    const w = await wrap(fileKey);
    stanzas.push(...w.stanzas);
    labelSets.push({ labels: w.labels, what: stanzas[stanzas.length - 1]?.type ?? 'a plugin' });
  }
  checkLabels(labelSets);
  return stanzas;
}

/**
 * A wrapper encrypting to a plugin identity (`AGE-PLUGIN-NAME-1...`), as `age -e -i FILE` and
 * `age -e -j NAME` do: the identity goes to its plugin's recipient-v1 as `add-identity`.
 */
export function identityWrapper(identity: string): FileKeyWrapper {
  const p = parsePluginIdentity(identity);
  if (p === null) throw invalidInput('not an age plugin identity', 'expected AGE-PLUGIN-NAME-1...');
  return async (fileKey) => {
    const w = await wrapWithPlugin(p.name, [{ kind: 'identity', encoding: identity }], [fileKey]);
    return { stanzas: w.stanzas[0]!, labels: w.labels };
  };
}

/** The label of post-quantum stanzas (c2sp.org/age-plugin, extension-labels). */
const POSTQUANTUM = 'postquantum';

/**
 * All stanzas wrapping one file key must have the same label set (c2sp.org/age-plugin): a file
 * is only as strong as its weakest recipient, and a passphrase (scrypt) must be alone.
 */
function checkLabels(sets: readonly { labels: readonly string[]; what: string }[]): void {
  const key = (l: readonly string[]) => [...l].sort().join(' ');
  const first = sets[0];
  if (first === undefined) return;
  const odd = sets.find((s) => key(s.labels) !== key(first.labels));
  if (odd === undefined) return;
  const pq = (s: { labels: readonly string[] }) => s.labels.includes(POSTQUANTUM);
  if (pq(first) !== pq(odd)) {
    throw invalidInput(
      "can't mix post-quantum and classic recipients",
      'the file would be vulnerable to quantum computers: use only post-quantum recipients, or only classic ones',
    );
  }
  throw invalidInput(
    `incompatible recipients: ${first.what} and ${odd.what} stanzas may not share a file`,
    'a passphrase (or a recipient that must be alone) cannot be combined with other recipients: encrypt to them separately',
  );
}

/**
 * The one place that reaches into age-encryption's internals. Its Recipient classes
 * (X25519Recipient, HybridRecipient, ...) are not exported, and Encrypter only wraps fresh
 * random file keys, so to wrap a key we already hold we let `addRecipient` parse the string
 * and take the object it pushed onto `recipients` (private in TypeScript, a plain field at
 * runtime). The guard turns a change of that shape in a future version into a clear error
 * instead of a silent misbehaviour; package.json pins the version.
 */
function libraryRecipient(recipient: string): LibraryRecipient {
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  const pushed: unknown = Reflect.get(encrypter, 'recipients');
  if (!Array.isArray(pushed) || pushed.length !== 1 || !isLibraryRecipient(pushed[0])) {
    throw internal(
      'age-encryption no longer exposes its recipients as expected',
      'the installed age-encryption differs from the pinned version: reinstall dependencies (npm ci)',
    );
  }
  return pushed[0];
}

function isLibraryRecipient(x: unknown): x is LibraryRecipient {
  return typeof x === 'object' && x !== null && typeof (x as { wrapFileKey?: unknown }).wrapFileKey === 'function';
}

/** The library's stanza keeps the type as args[0]; ours names it. */
function fromLibraryStanza(s: unknown): Stanza {
  const { args, body } = (s ?? {}) as { args?: unknown; body?: unknown };
  if (!Array.isArray(args) || args.length === 0 || !args.every((a) => typeof a === 'string') || !(body instanceof Uint8Array)) {
    throw internal('age-encryption returned a stanza of an unexpected shape', 'reinstall dependencies (npm ci)');
  }
  const [type, ...rest] = args as [string, ...string[]];
  return { type, args: rest, body: Uint8Array.from(body) };
}
