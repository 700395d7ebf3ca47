// AWS KMS for Keyward: the provider (GenerateDataKey, Encrypt, Decrypt, ReEncrypt,
// DescribeKey), sops `kms` master keys, and the shared AWS configuration and errors.
export { awsError, clientConfig, endpointFor, KMS_ARN, regionOfArn, DEFAULT_TIMEOUT_MS, type AwsOptions } from './aws';
export { checkContext, checkKeyId, KmsProvider, type EncryptionContext, type KmsCallOptions, type KmsStats } from './provider';
export { AwsSopsKms, sopsContext } from './sops';
export { assumeRole, sessionName } from './role';

import { KmsProvider } from './provider';
import { AwsSopsKms } from './sops';

let shared: KmsProvider | undefined;

/**
 * The process's KMS provider, configured from the AWS environment. The daemon and the CLI
 * share one, so that its SDK clients (and their connections) are made once.
 */
export function sharedKms(): KmsProvider {
  return (shared ??= new KmsProvider());
}

/** The `SopsKmsClient` for the sops engine's KeyServices.kms. */
export function sopsKmsClient(): AwsSopsKms {
  return new AwsSopsKms(sharedKms());
}
