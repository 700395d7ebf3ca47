// The age engine's public surface: standard age v1 files (c2sp.org/age), binary or armored,
// streamed with constant memory, on every core. Everything else in daemon/age/ is internal.

export {
  decryptFile,
  decryptToWritable,
  decryptWithPassphrase,
  digestFile,
  encryptFile,
  inspect,
  readHeader,
  reencryptFile,
  refuseExisting,
  type DecryptFileOptions,
  type DecryptToWritableOptions,
  type EncryptFileOptions,
  type FileHeader,
  type FileUnwrap,
  type Input,
  type InspectResult,
  type ReencryptFileOptions,
  type ReencryptResult,
  type TransferResult,
  unwrapVerified,
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
export { identityWrapper, parseRecipient, parseRecipients, wrapFileKey, type FileKeyWrapper, type ParsedRecipient, type RecipientType } from './recipients';
export { unwrapWithIdentities, unwrapWithPluginIdentities } from './identities';
export { findPlugin, identityFingerprint, parsePluginIdentity, parsePluginRecipient, pluginIdentityWithoutData, unwrapWithPlugin, wrapWithPlugin, type WrapTarget } from './plugin';
export { currentPluginSession, withPluginSession, type PluginSession } from './plugin-context';
export { DEFAULT_SCRYPT_LOG_N, MAX_SCRYPT_LOG_N, unwrapWithPassphrase, wrapWithPassphrase } from './scrypt';
export { CHUNK_SIZE, openChunk, payloadKey, payloadSize, plaintextSize, sealChunk, type StreamOptions } from './stream';
export { type PayloadOptions, type PayloadTuning } from './batch';
export { shutdownPool } from './pool';
export { decryptRange, type DecryptRangeOptions, type DecryptRangeResult } from './range';
export { encodeHeaderWithRoom, fitHeader, headerRoom, HEADER_ROOM_ALIGN, isKeywardStanza, MIN_HEADER_ROOM, PADDING_TYPE } from './room';
export { rewrapByCopy, rewrapHeader, writeHeaderInPlace, type RewrapByCopyOptions } from './rewrap';
