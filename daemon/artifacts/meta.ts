import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { Stanza } from '../age';
import { open, seal } from '../age/aead';

/**
 * Keyward's metadata stanza: who a file was encrypted to, readable only with the file key.
 *
 * age hides recipients (an X25519 stanza does not say whose it is), yet removing a recipient
 * or rotating a file's key needs the recipient set. So Keyward writes it into the header as a
 * stanza of its own type, sealed with a key derived from the file key (HKDF label
 * `keyward.dev/meta`, separate from age's `header` and `payload` labels). The reference tools
 * skip stanza types they do not know (the interop tests prove it); outsiders learn nothing;
 * anyone who can open the file can read who else can. The header MAC covers it.
 */
export const META_TYPE = 'keyward-meta';
const META_VERSION = 'v1';
const MAX_META_BYTES = 256 * 1024;

export interface ArtifactMeta {
  /** Recipient strings the file key is wrapped to. */
  recipients: string[];
  /** Keystore key versions among them, by ref (informational). */
  keys: string[];
  /** When this recipient set was written. */
  at: string;
  /**
   * Plugin identities the file key is wrapped to directly, having no recipient (a key made by a
   * symmetric device, `-j NAME`): age cannot wrap to them from a string, so a rebuilt header
   * keeps their stanzas (recognised by hash) and a new file key goes through the identity again.
   */
  identities?: IdentityTarget[];
}

export interface IdentityTarget {
  /** The keystore key (`name@vN`) of the writer, or `plugin:NAME` for `-j NAME`. */
  key: string;
  /** identityFingerprint of the identity (age/plugin.ts): tells another keystore's key of the same name apart. */
  id: string;
  /** stanzaHash of each stanza its plugin wrote. */
  stanzas: string[];
  /** The label set of those stanzas (c2sp.org/age-plugin): checked again when they are kept. */
  labels: string[];
}

/** A stanza's hash, to find it again in a header. */
export function stanzaHash(s: Stanza): string {
  return createHash('sha256').update(`${[s.type, ...s.args].join(' ')}\n`).update(s.body).digest('hex');
}


function metaKey(fileKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'keyward.dev/meta', 32));
}

export function metaStanza(fileKey: Uint8Array, meta: ArtifactMeta): Stanza {
  const nonce = randomBytes(12);
  const i = meta.identities?.length ? { i: meta.identities.map((t) => ({ k: t.key, f: t.id, s: t.stanzas, l: t.labels })) } : {};
  const body = Buffer.concat([nonce, seal(metaKey(fileKey), nonce, Buffer.from(JSON.stringify({ r: meta.recipients, k: meta.keys, at: meta.at, ...i })))]);
  return { type: META_TYPE, args: [META_VERSION], body };
}

/**
 * The metadata of a header's stanzas: null when there is none (files written by age or other
 * tools) or it does not open with this file key (then it was not written with this key: ignore
 * it rather than trust it).
 */
export function readMeta(fileKey: Uint8Array, stanzas: readonly Stanza[]): ArtifactMeta | null {
  const s = stanzas.find((x) => x.type === META_TYPE && x.args[0] === META_VERSION);
  if (!s || s.body.length < 12 + 16 || s.body.length > MAX_META_BYTES) return null;
  const body = Buffer.from(s.body);
  const plain = open(metaKey(fileKey), body.subarray(0, 12), body.subarray(12));
  if (!plain) return null;
  try {
    const v = JSON.parse(plain.toString('utf8')) as { r?: unknown; k?: unknown; at?: unknown; i?: unknown };
    if (!Array.isArray(v.r) || !v.r.every((x) => typeof x === 'string')) return null;
    const keys = Array.isArray(v.k) ? v.k.filter((x): x is string => typeof x === 'string') : [];
    const identities = Array.isArray(v.i) ? v.i.map(identityTarget).filter((t): t is IdentityTarget => t !== null) : [];
    return { recipients: v.r, keys, at: typeof v.at === 'string' ? v.at : '', ...(identities.length ? { identities } : {}) };
  } catch {
    return null;
  }
}

function identityTarget(x: unknown): IdentityTarget | null {
  const o = x as { k?: unknown; f?: unknown; s?: unknown; l?: unknown } | null;
  const strings = (a: unknown): a is string[] => Array.isArray(a) && a.every((y) => typeof y === 'string');
  if (typeof o?.k !== 'string' || typeof o.f !== 'string' || !strings(o.s) || !strings(o.l ?? [])) return null;
  return { key: o.k, id: o.f, stanzas: o.s, labels: (o.l as string[] | undefined) ?? [] };
}
