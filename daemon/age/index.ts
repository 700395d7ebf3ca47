// The age engine's public surface: standard age v1 files (c2sp.org/age), binary or armored,
// streamed with constant memory. Everything else in daemon/age/ is internal.

export {
  decryptFile,
  decryptToWritable,
  decryptWithPassphrase,
  encryptFile,
  inspect,
  readHeader,
  type DecryptFileOptions,
  type DecryptToWritableOptions,
  type EncryptFileOptions,
  type FileHeader,
  type FileUnwrap,
  type Input,
  type InspectResult,
  type TransferResult,
} from './file';
export {
  encodeHeader,
  FILE_KEY_SIZE,
  MAX_HEADER_BYTES,
  MAX_STANZAS,
  parseHeader,
  verifyHeaderMac,
  type ParsedHeader,
  type Stanza,
  type Unwrap,
} from './header';
export { parseRecipient, parseRecipients, wrapFileKey, type ParsedRecipient, type RecipientType } from './recipients';
export { unwrapWithIdentities } from './identities';
export { DEFAULT_SCRYPT_LOG_N, MAX_SCRYPT_LOG_N, unwrapWithPassphrase, wrapWithPassphrase } from './scrypt';
export { CHUNK_SIZE, openChunk, payloadKey, payloadSize, plaintextSize, sealChunk, type StreamOptions } from './stream';
