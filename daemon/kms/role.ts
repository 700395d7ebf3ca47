// Assuming an IAM role before a KMS call, as sops does for a `kms` entry with a `role`
// (kms/keysource.go createSTSConfig): STS AssumeRole with the session name `sops@HOSTNAME`
// (sanitised, at most 64 characters), and the temporary credentials used for the call.
//
// STS comes from @aws-sdk/nested-clients, which the credential providers of
// @aws-sdk/client-kms already install; it is loaded only when a role is used.
import * as os from 'node:os';
import type { AwsCredentialIdentity } from '@smithy/types';
import { ErrorCode } from '../protocol';
import { KeywardError } from '../util/errors';
import { awsError, clientConfig, endpointFor, type AwsOptions } from './aws';

const ROLE_ARN = /^arn:aws[\w-]*:iam::[0-9]{12}:role\/[\w+=,.@/-]{1,512}$/;

/** sops' session name: `sops@` and the hostname without characters STS refuses, cut to 64. */
export function sessionName(hostname = os.hostname()): string {
  return `sops@${hostname.replace(/[^a-zA-Z0-9=,.@_-]+/g, '')}`.slice(0, 64);
}

interface Cached {
  creds: AwsCredentialIdentity;
  expires: number;
}
const cache = new Map<string, Cached>();

/** Temporary credentials for `roleArn`, cached until five minutes before they expire. */
export async function assumeRole(roleArn: string, opts: AwsOptions, region: string | undefined): Promise<AwsCredentialIdentity> {
  if (!ROLE_ARN.test(roleArn)) throw new KeywardError(ErrorCode.InvalidInput, 'not an IAM role ARN', 'give arn:aws:iam::ACCOUNT:role/NAME');
  const key = `${roleArn}|${opts.profile ?? ''}|${opts.endpoint ?? ''}`;
  const hit = cache.get(key);
  if (hit && hit.expires - Date.now() > 5 * 60_000) return hit.creds;
  const { STSClient, AssumeRoleCommand } = (await import('./aws-sdk')).sts;
  const sts = new STSClient(clientConfig(opts, region ?? process.env.AWS_REGION ?? 'us-east-1'));
  try {
    const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName() }));
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new KeywardError(ErrorCode.IoFailed, `AWS STS returned no credentials for ${roleArn}`);
    const creds: AwsCredentialIdentity = {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
      ...(c.Expiration ? { expiration: c.Expiration } : {}),
    };
    cache.set(key, { creds, expires: c.Expiration?.getTime() ?? Date.now() + 15 * 60_000 });
    return creds;
  } catch (e) {
    throw awsError(e, { service: 'sts', op: 'AssumeRole', resource: roleArn, endpoint: endpointFor('sts', opts, region) });
  } finally {
    sts.destroy();
  }
}
