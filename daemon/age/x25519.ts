import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto';
import { decodeRaw, encodeRaw } from './base64';
import { decodeBech32 } from './bech32';
import { invalidHeader, invalidInput } from './errors';
import { FILE_KEY_SIZE, type ParsedHeader, type Stanza } from './header';
import { SCRYPT_TYPE } from './scrypt';

// X25519 stanzas (c2sp.org/age) through OpenSSL (node:crypto) rather than age-encryption:
// an ephemeral key pair, the shared secret with the recipient, HKDF-SHA256 (salt: ephemeral
// share || recipient) to a wrap key, and the file key sealed with ChaCha20-Poly1305 under a
// zero nonce. A rewrap or a team sync over thousands of files wraps and unwraps one key per
// file, and the library's WebCrypto round trips cost ~15x more. The interop tests check that
// `age` opens what this wraps and that this opens what `age` wraps.

/** DER SubjectPublicKeyInfo of an X25519 key, up to the 32 key bytes (RFC 8410). */
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
/** DER PKCS #8 of an X25519 private key, up to the 32 key bytes (RFC 8410). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const INFO = 'age-encryption.org/v1/X25519';
const TYPE = 'X25519';
const SHARE_SIZE = 32;
const BODY_SIZE = FILE_KEY_SIZE + 16;
const ZERO_NONCE = Buffer.alloc(12);
/** What a recipient should look like (for errors). */
export const RECIPIENT_HINT = 'expected age1... (X25519) or age1pq1... (post-quantum), as printed by age-keygen or keyward';

function publicKeyOf(bytes: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, bytes]), format: 'der', type: 'spki' });
}

/** HKDF of the shared secret (wiped), or undefined for a low-order point (all-zero secret). */
function wrapKeyOf(privateKey: KeyObject, theirs: KeyObject, share: Uint8Array, recipient: Uint8Array): Buffer | undefined {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: theirs });
  } catch {
    return undefined; // OpenSSL refuses to derive an all-zero secret
  }
  try {
    if (shared.every((b) => b === 0)) return undefined;
    return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([share, recipient]), INFO, 32));
  } finally {
    shared.fill(0);
  }
}

/** Wraps `fileKey` to an X25519 recipient (`age1...`). */
export function wrapX25519(fileKey: Uint8Array, recipient: string): Stanza {
  const decoded = decodeBech32(recipient);
  if (!decoded.ok || decoded.bytes.length !== 32) throw invalidInput(`invalid X25519 recipient: ${recipient}`, RECIPIENT_HINT);
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const share = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  // A low-order recipient point gives an all-zero secret: age refuses it, so do we.
  const wrapKey = wrapKeyOf(privateKey, publicKeyOf(decoded.bytes), share, decoded.bytes);
  if (!wrapKey) throw invalidInput(`the X25519 recipient is a low-order point: ${recipient}`, RECIPIENT_HINT);
  try {
    const c = createCipheriv('chacha20-poly1305', wrapKey, ZERO_NONCE, { authTagLength: 16 });
    const body = Buffer.concat([c.update(fileKey), c.final(), c.getAuthTag()]);
    return { type: TYPE, args: [encodeRaw(share)], body: Uint8Array.from(body) };
  } finally {
    wrapKey.fill(0);
  }
}

/**
 * An X25519 identity (`AGE-SECRET-KEY-1...`), imported once: its private key object and its
 * recipient bytes. `open` finds the file key in the stanzas wrapped to it.
 */
export class X25519Identity {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly recipient: Buffer,
  ) {}

  /** Undefined when `identity` is not an X25519 identity string. */
  static parse(identity: string): X25519Identity | undefined {
    const decoded = decodeBech32(identity);
    if (!decoded.ok || decoded.hrp !== 'age-secret-key-' || decoded.bytes.length !== 32) return undefined;
    const der = Buffer.concat([PKCS8_PREFIX, decoded.bytes]);
    try {
      const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      const recipient = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
      return new X25519Identity(privateKey, Buffer.from(recipient));
    } finally {
      der.fill(0);
      decoded.bytes.fill(0);
    }
  }

  /**
   * The file key from the first X25519 stanza wrapped to this identity, or undefined when none
   * is. Throws Malformed for a malformed X25519 stanza (the spec makes an identity reject one
   * of its own type). The caller checks the header MAC with the key.
   */
  open(header: ParsedHeader): Uint8Array | undefined {
    if (header.stanzas.length > 1 && header.stanzas.some((s) => s.type === SCRYPT_TYPE)) throw invalidHeader('an scrypt stanza must be the only stanza');
    for (const s of header.stanzas) {
      if (s.type !== TYPE) continue;
      const share = s.args.length === 1 && s.args[0] !== undefined ? decodeRaw(s.args[0]) : null;
      if (share === null || share.length !== SHARE_SIZE || s.body.length !== BODY_SIZE) throw invalidHeader(`malformed ${TYPE} stanza`);
      const wrapKey = wrapKeyOf(this.privateKey, publicKeyOf(share), share, this.recipient);
      if (!wrapKey) throw invalidHeader(`malformed ${TYPE} stanza: a low-order share`);
      try {
        const d = createDecipheriv('chacha20-poly1305', wrapKey, ZERO_NONCE, { authTagLength: 16 });
        d.setAuthTag(s.body.subarray(FILE_KEY_SIZE));
        const fileKey = d.update(s.body.subarray(0, FILE_KEY_SIZE));
        try {
          d.final();
        } catch {
          fileKey.fill(0);
          continue; // wrapped to someone else
        }
        return Uint8Array.from(fileKey);
      } finally {
        wrapKey.fill(0);
      }
    }
    return undefined;
  }
}
