// Master keys and key groups of a sops file, as the engine passes them between its parts.
// The data key (32 random bytes) is wrapped once per master key; with several key groups it is
// first split with Shamir's scheme (one share per group, sops' own GF(2^8) split), and every
// key of a group wraps that group's share.
//
// Entries of kinds Keyward cannot use (pgp, gcp_kms, hckms, azure_kv) are kept as
// they were read, so that rewriting a file never drops another team member's key.

/** An age master key: `enc` is an armored age file holding the data key (or share). */
export interface AgeKeyEntry {
  type: 'age';
  recipient: string;
  enc: string;
}

/** An AWS KMS master key, as sops stores it (the team KMS issue implements the provider). */
export interface KmsKeyEntry {
  type: 'kms';
  arn: string;
  role?: string;
  /** The encryption context sops passes to KMS (string values; sops allows null). */
  context?: Record<string, string | null>;
  createdAt: string;
  enc: string;
  awsProfile: string;
}

/** A HashiCorp Vault / OpenBao transit master key (sops `hc_vault`): `enc` is `vault:vN:...`. */
export interface VaultKeyEntry {
  type: 'hc_vault';
  /** `scheme://host:port`, the engine's mount path and the key's name, as sops stores them. */
  address: string;
  enginePath: string;
  keyName: string;
  createdAt: string;
  enc: string;
}

/** A master key of a kind Keyward keeps but does not use: every field, as read. */
export interface OtherKeyEntry {
  type: 'pgp' | 'gcp_kms' | 'hckms' | 'azure_kv';
  fields: Record<string, string>;
}

export type MasterKeyEntry = AgeKeyEntry | KmsKeyEntry | VaultKeyEntry | OtherKeyEntry;

export interface KeyGroup {
  keys: MasterKeyEntry[];
}

/** What to encrypt to: one group's master keys before wrapping. */
export interface KeyGroupSpec {
  /** age recipients (`age1...`, `age1pq1...`). */
  age: string[];
  kms: { arn: string; role?: string; context?: Record<string, string | null>; awsProfile?: string }[];
  /** Vault transit key URIs (`https://vault:8200/v1/transit/keys/NAME`). */
  vault?: string[];
}

/** A KMS client for sops `kms` entries (AWS KMS; implemented with the team KMS issue). */
export interface SopsKmsClient {
  encrypt(key: { arn: string; role?: string; context?: Record<string, string | null>; awsProfile?: string }, plaintext: Buffer): Promise<string>;
  decrypt(key: KmsKeyEntry): Promise<Buffer>;
}

/** A Vault transit client for sops `hc_vault` entries (daemon/kms/vault-sops.ts). */
export interface SopsVaultClient {
  encrypt(key: { address: string; enginePath: string; keyName: string }, plaintext: Buffer): Promise<string>;
  decrypt(key: VaultKeyEntry): Promise<Buffer>;
}

/** What the key code needs from the daemon: the keystore's unwrap, and KMS / Vault when configured. */
export interface KeyServices {
  /** Keystore.unwrapFileKey: opens an age header with any usable identity; throws DecryptFailed. */
  unwrapAgeFileKey(header: Uint8Array): Promise<{ fileKey: Uint8Array; ref: string }>;
  kms?: SopsKmsClient;
  vault?: SopsVaultClient;
}
