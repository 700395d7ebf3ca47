// AWS KMS for Keyward: the provider (GenerateDataKey, Encrypt, Decrypt, ReEncrypt,
// DescribeKey), sops `kms` master keys, and the shared AWS configuration and errors.
export { awsError, clientConfig, endpointFor, KMS_ARN, regionOfArn, DEFAULT_TIMEOUT_MS, type AwsOptions } from './aws';
export { checkContext, checkKeyId, KmsProvider, type EncryptionContext, type KmsCallOptions, type KmsStats } from './provider';
export { AwsSopsKms, sopsContext } from './sops';
export { assumeRole, sessionName } from './role';

import { KmsProvider } from './provider';
import { AwsSopsKms } from './sops';

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
