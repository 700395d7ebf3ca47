import { randomBytes, scrypt } from 'node:crypto';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';
import { open, seal, NONCE_SIZE } from './aead';
import { decodeRaw, encodeRaw } from './base64';
import { describeTypes, internal, invalidHeader, invalidInput } from './errors';
import { FILE_KEY_SIZE, type ParsedHeader, type Stanza, type Unwrap } from './header';

// The scrypt (passphrase) recipient type, written here rather than taken from age-encryption
// because the library runs scrypt synchronously in JavaScript: at the default work factor
// that blocks the daemon's event loop for seconds. node:crypto's scrypt runs on libuv's
// thread pool. Format (c2sp.org/age): "-> scrypt <salt> <logN>", body = ChaCha20-Poly1305
// under scrypt(passphrase, "age-encryption.org/v1/scrypt" || salt, N = 2^logN, r = 8, p = 1).

export const SCRYPT_TYPE = 'scrypt';
export const DEFAULT_SCRYPT_LOG_N = 18;
/** Decryption refuses more (2^22 needs 4 GiB of memory), as age itself does by default. */
export const MAX_SCRYPT_LOG_N = 22;

const LABEL = Buffer.from('age-encryption.org/v1/scrypt', 'latin1');
const SALT_SIZE = 16;
const R = 8;
const ZERO_NONCE = Buffer.alloc(NONCE_SIZE);

/** The one stanza of a passphrase-encrypted file. Throws InvalidInput for a bad passphrase or logN. */
export async function wrapWithPassphrase(fileKey: Uint8Array, passphrase: string, logN = DEFAULT_SCRYPT_LOG_N): Promise<Stanza> {
  if (fileKey.length !== FILE_KEY_SIZE) throw internal('file key must be 16 bytes');
  checkPassphrase(passphrase);
  if (!Number.isInteger(logN) || logN < 1 || logN > MAX_SCRYPT_LOG_N) {
    throw invalidInput(`scrypt work factor must be between 1 and ${MAX_SCRYPT_LOG_N}`, `the default, ${DEFAULT_SCRYPT_LOG_N}, is right for almost everyone`);
  }
  const salt = randomBytes(SALT_SIZE);
  const key = await deriveKey(passphrase, salt, logN);
  try {
    return { type: SCRYPT_TYPE, args: [encodeRaw(salt), String(logN)], body: seal(key, ZERO_NONCE, fileKey) };
  } finally {
    key.fill(0);
  }
}

/**
 * An Unwrap for passphrase-encrypted files. The returned function throws DecryptFailed for
 * a wrong passphrase, a file that is not passphrase-encrypted, or a work factor above
 * `maxLogN`; Malformed for a bad scrypt stanza or one that is not alone in the header.
 */
export function unwrapWithPassphrase(passphrase: string, opts: { maxLogN?: number } = {}): Unwrap {
  checkPassphrase(passphrase);
  const maxLogN = opts.maxLogN ?? MAX_SCRYPT_LOG_N;
  return (header) => unwrapScrypt(header, passphrase, maxLogN);
}

async function unwrapScrypt(header: ParsedHeader, passphrase: string, maxLogN: number): Promise<Uint8Array> {
  const s = header.stanzas.find((x) => x.type === SCRYPT_TYPE);
  if (s === undefined) {
    throw new KeywardError(
      ErrorCode.DecryptFailed,
      'the file is not encrypted with a passphrase',
      `it is encrypted to keys (${describeTypes(header.stanzas)}): decrypt it with one of them`,
    );
  }
  // The spec's rule, so that a passphrase file cannot silently also open for someone else.
  if (header.stanzas.length !== 1) throw invalidHeader('an scrypt stanza must be the only stanza');
  const [saltText, logNText] = s.args;
  const salt = s.args.length === 2 && saltText !== undefined ? decodeRaw(saltText) : null;
  if (salt === null || salt.length !== SALT_SIZE || logNText === undefined || !/^[1-9][0-9]*$/.test(logNText)) {
    throw invalidHeader('malformed scrypt stanza');
  }
  // Check the body length before any work: the spec's defence against partitioning oracles.
  if (s.body.length !== FILE_KEY_SIZE + 16) throw invalidHeader('malformed scrypt stanza');
  const logN = Number(logNText);
  if (logN > maxLogN) {
    throw new KeywardError(
      ErrorCode.DecryptFailed,
      `scrypt work factor too high: 2^${logNText.length > 4 ? '(huge)' : logN} is over the limit of 2^${maxLogN}`,
      'the file asks for an unusual amount of memory and time to decrypt; if you trust it, decrypt it with age',
    );
  }
  const key = await deriveKey(passphrase, salt, logN);
  const fileKey = open(key, ZERO_NONCE, s.body);
  key.fill(0);
  if (fileKey === null) throw new KeywardError(ErrorCode.DecryptFailed, 'incorrect passphrase', 'check the passphrase and try again');
  return fileKey;
}

function checkPassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string' || passphrase.length === 0) throw invalidInput('passphrase is empty', 'give a passphrase');
}

function deriveKey(passphrase: string, salt: Buffer, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  const memory = 128 * N * R;
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(passphrase, 'utf8'), Buffer.concat([LABEL, salt]), 32, { N, r: R, p: 1, maxmem: memory + 32 * 1024 * 1024 }, (err, key) => {
      if (err) reject(internal(`scrypt failed at work factor 2^${logN}: ${err.message}`, 'the machine may be short of memory'));
      else resolve(key);
    });
  });
}

