// AWS KMS for Keyward: the provider (GenerateDataKey, Encrypt, Decrypt, ReEncrypt,
// DescribeKey), sops `kms` master keys, and the shared AWS configuration and errors.
export { awsError, clientConfig, endpointFor, KMS_ARN, regionOfArn, DEFAULT_TIMEOUT_MS, type AwsOptions } from './aws';
export { checkContext, checkKeyId, KmsProvider, type EncryptionContext, type KmsCallOptions, type KmsStats } from './provider';
export { AwsSopsKms, sopsContext } from './sops';
export { assumeRole, sessionName } from './role';
export { ciphertextVersion, isTransitUri, parseTransitUri, transitUri, vaultError, VaultTransit, type TransitKey, type TransitKeyInfo } from './vault';
export { awsKek, kekFor, providerKind, vaultKek, type KekInfo, type KekProvider, type KekProviders } from './kek';
export { VaultSops } from './vault-sops';

import { KmsProvider } from './provider';
import { AwsSopsKms } from './sops';
import { VaultTransit } from './vault';
import { VaultSops } from './vault-sops';
import type { KekProviders } from './kek';

let shared: { provider: KmsProvider; env: string } | undefined;

/**
 * The process's KMS provider, configured from the AWS environment. The daemon and the CLI
 * share one, so that its SDK clients (and their connections) are made once; it is made again
 * if the AWS environment variables that pick the endpoint, region or profile change.
 */
export function sharedKms(): KmsProvider {
  const e = process.env;
  const env = [e.AWS_ENDPOINT_URL, e.AWS_ENDPOINT_URL_KMS, e.AWS_REGION, e.AWS_DEFAULT_REGION, e.AWS_PROFILE].join('|');
  if (!shared || shared.env !== env) {
    shared?.provider.destroy();
    shared = { provider: new KmsProvider(), env };
  }
  return shared.provider;
}

/** The `SopsKmsClient` for the sops engine's KeyServices.kms. */
export function sopsKmsClient(): AwsSopsKms {
  return new AwsSopsKms(sharedKms());
}

let sharedV: { vault: VaultTransit; env: string } | undefined;

/**
 * The process's Vault transit client, configured from the Vault environment (./vault.ts). Made
 * again when a variable that picks the token, namespace or TLS changes; a login's token stays in
 * this object's memory only.
 */
export function sharedVault(): VaultTransit {
  const e = process.env;
  const env = [
    e.VAULT_TOKEN, e.VAULT_NAMESPACE, e.VAULT_CACERT, e.VAULT_CAPATH, e.VAULT_SKIP_VERIFY, e.VAULT_ROLE_ID, e.VAULT_SECRET_ID, e.VAULT_SECRET_ID_FILE,
    e.KEYWARD_VAULT_AUTH, e.KEYWARD_VAULT_AUTH_PATH, e.KEYWARD_VAULT_JWT, e.KEYWARD_VAULT_JWT_FILE, e.KEYWARD_VAULT_ROLE, e.HOME,
  ].join('\0');
  if (!sharedV || sharedV.env !== env) {
    sharedV?.vault.destroy();
    sharedV = { vault: new VaultTransit(), env };
  }
  return sharedV.vault;
}

/** The `SopsVaultClient` for the sops engine's KeyServices.vault. */
export function sopsVaultClient(): VaultSops {
  return new VaultSops(sharedVault());
}

/** The process's providers, for kekFor. */
export const sharedProviders: KekProviders = { aws: sharedKms, vault: sharedVault };
