import { randomBytes } from 'node:crypto';
import { armor } from 'age-encryption';
import {
  CHUNK_SIZE,
  encodeHeader,
  FILE_KEY_SIZE,
  openChunk,
  parseHeader,
  parseRecipient,
  payloadKey,
  sealChunk,
  verifyHeaderMac,
  wrapFileKey,
  type ParsedRecipient,
} from '../age';
import { ErrorCode } from '../protocol/errors';
import { isKeywardError, KeywardError } from '../util/errors';
import type { KeyServices } from './keys';

// sops' age master key (age/keysource.go): the `enc` of an age entry is an ASCII-armored age
// v1 file to that one recipient whose payload is the raw data key (32 bytes), or, with several
// key groups, the raw Shamir share (33 bytes). sops 3.13 encrypts to X25519 (`age1...`) and
// hybrid post-quantum (`age1pq1...`) recipients natively; any other `age1...1...` string is a
// plugin recipient there (including age1tag1/age1tagpq1, which need age-plugin-tag), and
// `ssh-...` keys go through agessh. Keyward writes the two native kinds itself and plugin
// recipients (`age1yubikey1...`) through their plugin, as sops does, so that every file it
// makes opens with sops and the same plugins; the tagged kinds stay refused, since sops would
// need age-plugin-tag to add a recipient to such a file.
//
// The armor is age-encryption's (the reference TypeScript implementation, strict like Go's
// reader); header, stanzas and payload are Keyward's own age engine.

const PAYLOAD_NONCE_SIZE = 16;
const TAG_SIZE = 16;
/** An `enc` is a few hundred bytes (a PQ one ~2.5 KB); anything far bigger is not one. */
const MAX_ENC_CHARS = 64 * 1024;

const RECIPIENT_HINT = 'sops and keyward both need an age1... (X25519), age1pq1... (post-quantum) or age plugin (age1NAME1...) recipient';

/**
 * Checks that sops would parse `recipient` as a native age recipient (X25519 or age1pq1
 * hybrid) or a plugin recipient, and returns it parsed. Throws InvalidInput otherwise; the message never repeats
 * the input.
 */
export function parseSopsAgeRecipient(recipient: string): ParsedRecipient {
  if (/^ssh-/.test(recipient)) {
    throw new KeywardError(ErrorCode.InvalidInput, 'ssh recipients are not supported', RECIPIENT_HINT);
  }
  // sops dispatches on the exact prefix, so upper case (valid bech32) is not a recipient there.
  if (/^age1/i.test(recipient) && !recipient.startsWith('age1')) {
    throw new KeywardError(ErrorCode.InvalidInput, 'age recipient must be lower case', 'sops does not accept upper-case recipients; write it in lower case');
  }
  const parsed = parseRecipient(recipient);
  if (parsed.type !== 'X25519' && parsed.type !== 'mlkem768x25519' && parsed.type !== 'plugin') {
    throw new KeywardError(ErrorCode.InvalidInput, `${parsed.type} recipients are not supported`, RECIPIENT_HINT);
  }
  return parsed;
}

/**
 * Wraps a data key (or Shamir share) to one age recipient, as sops does: an armored age file
 * whose payload is the key's raw bytes. Throws InvalidInput for a recipient sops cannot use.
 */
export async function encryptDataKeyAge(recipient: string, dataKey: Uint8Array): Promise<string> {
  parseSopsAgeRecipient(recipient);
  if (dataKey.length === 0 || dataKey.length > CHUNK_SIZE) {
    throw new KeywardError(ErrorCode.InternalError, 'a data key must be 1 to 65536 bytes');
  }
  const fileKey = randomBytes(FILE_KEY_SIZE);
  const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
  const key = payloadKey(fileKey, nonce);
  try {
    const header = encodeHeader(await wrapFileKey(fileKey, [recipient]), fileKey);
    const sealed = sealChunk(key, 0, true, dataKey);
    return armor.encode(Buffer.concat([header, nonce, sealed]));
  } finally {
    fileKey.fill(0);
    key.fill(0);
  }
}

/**
 * Opens an age `enc` with the keystore: its header goes to `services.unwrapAgeFileKey`, and
 * the payload is opened here. Returns the data key (or share) and the ref of the key that
 * opened it. Throws Malformed when `enc` is not an armored age file of one chunk, and
 * DecryptFailed when no key opens it (the keystore's error) or it does not authenticate.
 */
export async function decryptDataKeyAge(
  enc: string,
  services: Pick<KeyServices, 'unwrapAgeFileKey'>,
): Promise<{ dataKey: Buffer; ref: string }> {
  const bytes = dearmor(enc);
  let header;
  try {
    header = parseHeader(bytes);
  } catch (e) {
    if (isKeywardError(e)) throw new KeywardError(e.code, `encrypted data key: ${e.message}`, e.hint);
    throw e;
  }

  const payload = bytes.subarray(header.size);
  const sealedLength = payload.length - PAYLOAD_NONCE_SIZE;
  if (sealedLength < TAG_SIZE) throw malformed('encrypted data key: file is truncated');
  if (sealedLength > CHUNK_SIZE + TAG_SIZE) throw malformed('encrypted data key: payload is larger than a data key can be');

  const { fileKey, ref } = await services.unwrapAgeFileKey(header.raw);
  let key: Buffer | undefined;
  try {
    // The keystore checks the MAC too; checking here means no unwrapper needs to be trusted.
    if (fileKey.length !== FILE_KEY_SIZE || !verifyHeaderMac(header, fileKey)) {
      throw new KeywardError(ErrorCode.DecryptFailed, 'encrypted data key: header authentication failed', 'the file was modified; restore it from a good copy');
    }
    key = payloadKey(fileKey, payload.subarray(0, PAYLOAD_NONCE_SIZE));
    const dataKey = openChunk(key, 0, true, payload.subarray(PAYLOAD_NONCE_SIZE));
    if (dataKey === null) {
      throw new KeywardError(ErrorCode.DecryptFailed, 'encrypted data key: payload authentication failed', 'the file was modified; restore it from a good copy');
    }
    return { dataKey, ref };
  } finally {
    fileKey.fill(0);
    key?.fill(0);
  }
}

/** The binary age file inside an `enc`; Malformed if it is not strict age armor. */
function dearmor(enc: string): Buffer {
  if (typeof enc !== 'string' || enc.length === 0) throw malformed('encrypted data key is empty');
  if (enc.length > MAX_ENC_CHARS) throw malformed('encrypted data key is too large');
  try {
    return Buffer.from(armor.decode(enc));
  } catch {
    // The library's messages ("invalid footer", ...) name only the armor rule broken.
    throw malformed('encrypted data key: invalid age armor');
  }
}

function malformed(message: string): KeywardError {
  return new KeywardError(ErrorCode.Malformed, message, 'the file\'s sops metadata is damaged or was edited; restore it from a good copy');
}
