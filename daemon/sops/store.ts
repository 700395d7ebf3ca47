// What a sops store (one file format) does: bytes <-> branches, as sops 3.13's stores do
// (stores/{yaml,json,dotenv,ini}/store.go and the binary store in stores/json). Stores know
// nothing of encryption: an encrypted file is a tree whose leaves are `ENC[...]` strings and
// whose first branch holds the `sops` metadata (nested, or flattened as `sops_...` keys).
// Implementations live in ./stores/ (storeFor in ./stores/index.ts).
import type { Branches, Value } from './tree';

export type SopsFormat = 'yaml' | 'json' | 'dotenv' | 'ini' | 'binary';

/** How the metadata sits in the first branch (stores/metadata.go MetadataFlatten). */
export type MetadataFlatten = 'none' | 'belowTop' | 'full';

export interface Store {
  readonly format: SopsFormat;
  /** Where this format keeps the metadata, and whether "\n" in metadata strings is escaped. */
  readonly metadata: { flatten: MetadataFlatten; escapeNewlines: boolean };
  /** A plaintext file to encrypt. Throws KeywardError(Malformed) naming the line on bad input. */
  loadPlain(bytes: Buffer): Branches;
  /** An encrypted file, metadata still inside (the core extracts it). */
  loadEncrypted(bytes: Buffer): Branches;
  /** Writes a plaintext tree (decrypt output). */
  emitPlain(branches: Branches): Buffer;
  /** Writes an encrypted tree whose first branch holds the metadata, in sops' own layout. */
  emitEncrypted(branches: Branches): Buffer;
  /** One value, for `--extract` (a branch or list in this format; a scalar as its text). */
  emitValue(value: Value): Buffer;
}
