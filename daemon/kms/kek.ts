// The KMS provider interface: what Keyward asks of a key-encryption-key service, whichever it
// is. AWS KMS (./provider.ts) and Vault / OpenBao transit (./vault.ts) implement it side by
// side; the service identities (daemon/team/identity.ts), the team policy's KEKs and the KEK
// rewrap job speak only to this interface, and pick the provider from the key reference.
//
// Adding a provider (GCP Cloud KMS, Azure Key Vault) takes four steps, none touching the callers:
// 1. a client file here (`gcp.ts`: Encrypt/Decrypt on `projects/P/locations/L/keyRings/R/cryptoKeys/K`;
//    `azure.ts`: wrapKey/unwrapKey on `https://NAME.vault.azure.net/keys/K[/VERSION]`), with
//    errors mapped to KeywardErrors as aws.ts and vault.ts do;
// 2. a `KekProvider` over it below, and a branch in `kekFor` recognising its references;
// 3. for sops files, a master key kind in daemon/sops/keys.ts and its entry in keygroups.ts
//    (sops' `gcp_kms` / `azure_kv` entries are already read and kept as they are);
// 4. for the team policy, its references accepted in team.kms (daemon/team/team-policy.ts parseKms).
// Versioned keys (Vault, Azure, GCP all version their keys) implement `versionOf` and
// `rewrapLatest`, and the rewrap-kek job then moves their artifacts too.
import type { KmsProvider } from './provider';
import { KMS_ARN } from './aws';
import { ciphertextVersion, isTransitUri, parseTransitUri, transitUri, type VaultTransit } from './vault';
import { ErrorCode } from '../protocol';
import { KeywardError } from '../util/errors';

/** Binds a wrapped key to what it protects where the provider can (AWS encryption context). */
export type KekContext = Record<string, string>;

export interface KekInfo {
  /** The key's canonical reference (an alias resolved to its key ARN; a transit URI). */
  keyId: string;
  enabled: boolean;
  /** Versioned providers: the newest version, and the lowest that still decrypts. */
  latestVersion?: number;
  minDecryptionVersion?: number;
}

export interface KekProvider {
  /** `aws-kms`, `vault-transit`: for messages and audit records. */
  readonly kind: string;
  /** A new random data key, in plaintext (the caller wipes it) and wrapped. */
  generateDataKey(keyId: string, context: KekContext, bytes: number): Promise<{ plaintext: Buffer; ciphertext: string; keyId: string; version?: number }>;
  /** Wraps up to 4 KiB under `keyId` (newest version), bound to `context` where the provider can. */
  encrypt(keyId: string, plaintext: Uint8Array, context: KekContext): Promise<{ ciphertext: string; keyId: string; version?: number }>;
  /** Unwraps a ciphertext this provider made under `keyId` with `context`. */
  decrypt(keyId: string, ciphertext: string, context: KekContext): Promise<Buffer>;
  /** Moves a ciphertext to another key of the same provider inside it (plaintext never out). */
  reEncrypt(from: { keyId: string; context: KekContext }, to: { keyId: string; context: KekContext }, ciphertext: string): Promise<{ ciphertext: string; keyId: string; version?: number }>;
  /** Checks a key exists and can wrap. */
  describe(keyId: string): Promise<KekInfo>;
  /** The key version a ciphertext names (versioned providers only). */
  versionOf?(ciphertext: string): number | undefined;
  /** Moves ciphertexts to the newest version of their key, in bulk, inside the provider. */
  rewrapLatest?(keyId: string, ciphertexts: readonly string[]): Promise<({ ciphertext: string; version: number } | { error: KeywardError })[]>;
}

/** AWS KMS as a KekProvider: ciphertexts are the standard base64 of KMS blobs. */
export function awsKek(kms: KmsProvider): KekProvider {
  return {
    kind: 'aws-kms',
    async generateDataKey(keyId, context, bytes) {
      const g = await kms.generateDataKey(keyId, context, bytes);
      return { plaintext: g.plaintext, ciphertext: g.ciphertext.toString('base64'), keyId: g.keyArn };
    },
    async encrypt(keyId, plaintext, context) {
      const r = await kms.encrypt(keyId, plaintext, context);
      return { ciphertext: r.ciphertext.toString('base64'), keyId: r.keyArn };
    },
    async decrypt(keyId, ciphertext, context) {
      return (await kms.decrypt(keyId, Buffer.from(ciphertext, 'base64'), context)).plaintext;
    },
    async reEncrypt(from, to, ciphertext) {
      const r = await kms.reEncrypt(from, to, Buffer.from(ciphertext, 'base64'));
      return { ciphertext: r.ciphertext.toString('base64'), keyId: r.keyArn };
    },
    async describe(keyId) {
      const d = await kms.describeKey(keyId);
      return { keyId: d.keyArn, enabled: d.enabled && (d.usage === undefined || d.usage === 'ENCRYPT_DECRYPT') };
    },
  };
}

/**
 * Vault transit as a KekProvider. Transit has no encryption context for ordinary keys (only
 * derived keys take one, and `rewrap` cannot carry associated data), so the binding of a
 * wrapped key to its use is checked by the caller after unwrapping (a service identity must
 * give its recorded recipient).
 */
export function vaultKek(vault: VaultTransit): KekProvider {
  return {
    kind: 'vault-transit',
    async generateDataKey(keyId, _context, bytes) {
      const k = parseTransitUri(keyId);
      const g = await vault.dataKey(k, bytes);
      return { plaintext: g.plaintext, ciphertext: g.ciphertext, keyId: transitUri(k), version: g.version };
    },
    async encrypt(keyId, plaintext) {
      const k = parseTransitUri(keyId);
      const r = await vault.encrypt(k, plaintext);
      return { ciphertext: r.ciphertext, keyId: transitUri(k), version: r.version };
    },
    decrypt(keyId, ciphertext) {
      return vault.decrypt(parseTransitUri(keyId), ciphertext);
    },
    async reEncrypt(from, to, ciphertext) {
      const a = parseTransitUri(from.keyId);
      const b = parseTransitUri(to.keyId);
      if (transitUri(a) === transitUri(b)) {
        const [r] = await vault.rewrap(a, [ciphertext]);
        if (!r || 'error' in r) throw r?.error ?? new KeywardError(ErrorCode.IoFailed, 'Vault rewrap returned nothing');
        return { ciphertext: r.ciphertext, keyId: transitUri(a), version: r.version };
      }
      // Two transit keys: Vault has no cross-key rewrap, so the plaintext passes through this
      // process's memory once (never disk), as `vault` users do it by hand.
      const plain = await vault.decrypt(a, ciphertext);
      try {
        const r = await vault.encrypt(b, plain);
        return { ciphertext: r.ciphertext, keyId: transitUri(b), version: r.version };
      } finally {
        plain.fill(0);
      }
    },
    async describe(keyId) {
      const k = parseTransitUri(keyId);
      const i = await vault.keyInfo(k);
      return { keyId: transitUri(k), enabled: i.supportsEncryption, latestVersion: i.latestVersion, minDecryptionVersion: i.minDecryptionVersion };
    },
    versionOf: ciphertextVersion,
    rewrapLatest(keyId, ciphertexts) {
      return vault.rewrap(parseTransitUri(keyId), ciphertexts);
    },
  };
}

/** Which provider a key reference belongs to; throws InvalidInput for neither. */
export function providerKind(keyId: string): 'aws-kms' | 'vault-transit' {
  if (isTransitUri(keyId)) return 'vault-transit';
  if (KMS_ARN.test(keyId)) return 'aws-kms';
  throw new KeywardError(
    ErrorCode.InvalidInput,
    `not a KMS key reference: ${keyId.length > 200 ? `${keyId.slice(0, 200)}...` : keyId}`,
    'give an AWS KMS key or alias ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) or a Vault transit key URI (https://vault:8200/v1/transit/keys/NAME)',
  );
}

/** The providers of a process, made on first use. */
export interface KekProviders {
  aws(): KmsProvider;
  vault(): VaultTransit;
}

/** The provider for a key reference (an AWS ARN, or a Vault transit URI). */
export function kekFor(keyId: string, providers: KekProviders): KekProvider {
  return providerKind(keyId) === 'vault-transit' ? vaultKek(providers.vault()) : awsKek(providers.aws());
}
