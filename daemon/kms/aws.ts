// What every AWS client of Keyward shares (KMS, SSM, Secrets Manager): where to connect, with
// which credentials, how long to wait, and how a failure becomes a KeywardError that says what
// to do. Configuration comes from the standard AWS environment (AWS_REGION, AWS_PROFILE,
// AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_KMS, ~/.aws/config, SSO, instance roles), as `sops` and
// the aws CLI read it; the options here only override it (tests point `endpoint` at moto).
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { ErrorCode } from '../protocol';
import { KeywardError } from '../util/errors';

export interface AwsOptions {
  /** An endpoint URL for every service (tests, VPC endpoints). Default: the SDK's own resolution. */
  endpoint?: string;
  /** Region when the key or resource is not an ARN (an ARN's own region always wins, as in sops). */
  region?: string;
  /** A shared-config profile (`aws_profile` of a sops `kms` entry). */
  profile?: string;
  /** Milliseconds allowed to connect and to receive a response, per attempt (default 10 s). */
  timeoutMs?: number;
  /** Attempts per call, the first included (default 3, the SDK's standard retry). */
  maxAttempts?: number;
  /** Credentials to use instead of the default chain (tests, or a role already assumed). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_ATTEMPTS = 3;

/** The service-independent parts of an SDK client's configuration. */
export function clientConfig(opts: AwsOptions, region: string | undefined) {
  quietSdk();
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    ...(region ? { region } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    maxAttempts: opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: timeout, requestTimeout: timeout, throwOnRequestTimeout: true },
  };
}

/**
 * The AWS SDK warns on stderr, once per process, that a future release will need Node 22.
 * Keyward supports Node 20 (package.json engines) and pins the SDK, so the warning is only
 * noise in every CLI run: switch it off unless the user set the variable themselves.
 */
function quietSdk(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/** `arn:aws:kms:REGION:ACCOUNT:key/ID` or `.../alias/NAME`, as sops accepts them. */
export const KMS_ARN = /^arn:aws[\w-]*:kms:([a-z0-9-]+):([0-9]{12}):(key|alias)\/([A-Za-z0-9:/_-]+)$/;

/** The region named by an ARN (any service), or undefined. */
export function regionOfArn(arn: string): string | undefined {
  const m = /^arn:aws[\w-]*:[a-z0-9-]+:([a-z0-9-]+):/.exec(arn);
  return m?.[1] || undefined;
}

/** Where a service is reached, for messages: the override, the environment's, or AWS's own. */
export function endpointFor(service: 'kms' | 'ssm' | 'secretsmanager' | 'sts', opts: AwsOptions, region: string | undefined): string {
  if (opts.endpoint) return opts.endpoint;
  const env = process.env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] ?? process.env.AWS_ENDPOINT_URL;
  if (env) return env;
  return `${service}.${region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? '(no region)'}.amazonaws.com`;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

/** The parts of an SDK or network error that are safe to look at (never its request). */
function describe(e: unknown): { name: string; code: string | undefined; status: number | undefined } {
  const o = (typeof e === 'object' && e !== null ? e : {}) as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown }; cause?: unknown };
  const name = typeof o.name === 'string' ? o.name : 'Error';
  let code = typeof o.code === 'string' ? o.code : undefined;
  if (!code && typeof o.cause === 'object' && o.cause !== null && 'code' in o.cause && typeof o.cause.code === 'string') code = o.cause.code;
  const status = typeof o.$metadata?.httpStatusCode === 'number' ? o.$metadata.httpStatusCode : undefined;
  return { name, code, status };
}

/**
 * Turns a failed AWS call into a KeywardError: unreachable, no credentials, access denied,
 * unknown key or resource, unusable key, rejected ciphertext. Messages name the operation and
 * the key or resource (ARNs are not secret) and never include request or response bodies,
 * where plaintext keys travel.
 */
export function awsError(e: unknown, what: { service: 'kms' | 'ssm' | 'secretsmanager' | 'sts'; op: string; resource: string; endpoint: string }): KeywardError {
  if (e instanceof KeywardError) return e;
  const { name, code, status } = describe(e);
  const { service, op, resource, endpoint } = what;
  const svc = service === 'kms' ? 'AWS KMS' : service === 'ssm' ? 'AWS SSM' : service === 'sts' ? 'AWS STS' : 'AWS Secrets Manager';
  const iam = `${service === 'secretsmanager' ? 'secretsmanager' : service}:${op}`;
  if ((code && NETWORK_CODES.has(code)) || name === 'TimeoutError' || name === 'RequestTimeout' || name === 'AbortError' || /ECONNREFUSED|ENOTFOUND|timed? ?out/i.test(code ?? '')) {
    return new KeywardError(
      ErrorCode.IoFailed,
      `${svc} unreachable at ${endpoint} (${code ?? name})`,
      'check the network and the region; AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_KMS override the endpoint',
    );
  }
  if (name === 'CredentialsProviderError' || name === 'ProviderError' || name === 'TokenProviderError') {
    return new KeywardError(
      ErrorCode.KeyUnusable,
      `no AWS credentials to call ${svc}`,
      'set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), run aws sso login, or run where a role is attached',
    );
  }
  switch (name) {
    case 'NotFoundException':
    case 'ResourceNotFoundException':
    case 'ParameterNotFound':
    case 'ParameterVersionNotFound':
      return new KeywardError(
        ErrorCode.NotFound,
        service === 'kms' ? `unknown KMS key ${resource}` : `${svc}: no ${service === 'ssm' ? 'parameter' : 'secret'} ${resource}`,
        service === 'kms' ? 'check the key ARN or alias and its region (the ARN names it)' : 'check its name and region',
      );
    case 'AccessDeniedException':
    case 'AccessDenied':
    case 'UnrecognizedClientException':
    case 'InvalidSignatureException':
    case 'ExpiredTokenException':
    case 'InvalidClientTokenId':
    case 'SignatureDoesNotMatch':
      return new KeywardError(
        ErrorCode.KeyUnusable,
        `${svc} denied ${op} on ${resource} (${name})`,
        name === 'AccessDeniedException' || name === 'AccessDenied'
          ? `the caller's role needs ${iam} on it (see the IAM split in the README)`
          : 'the AWS credentials are invalid or expired: refresh them',
      );
    case 'InvalidCiphertextException':
    case 'IncorrectKeyException':
      return new KeywardError(
        ErrorCode.DecryptFailed,
        `${svc} refused to decrypt with ${resource}: wrong key, or the encryption context does not match`,
        'the wrapped key belongs to another artifact or another KMS key; it was not changed',
      );
    case 'DisabledException':
    case 'KMSInvalidStateException':
    case 'KeyUnavailableException':
      return new KeywardError(ErrorCode.KeyUnusable, `KMS key ${resource} is disabled, pending deletion or unavailable`, 'enable the key, or use another one');
    case 'InvalidKeyUsageException':
      return new KeywardError(ErrorCode.KeyUnusable, `KMS key ${resource} cannot ${op}`, 'use a symmetric ENCRYPT_DECRYPT key');
    case 'ThrottlingException':
    case 'LimitExceededException':
    case 'TooManyRequestsException':
      return new KeywardError(ErrorCode.Busy, `${svc} throttled ${op}`, 'try again in a moment');
    case 'ValidationException':
    case 'ValidationError':
    case 'InvalidParameterException':
    case 'InvalidRequestException':
      return new KeywardError(ErrorCode.InvalidInput, `${svc} rejected ${op} on ${resource} as invalid (${name})`, 'check the key ARN or resource name');
    default:
      return new KeywardError(ErrorCode.IoFailed, `${svc} ${op} failed on ${resource} (${name}${status ? `, HTTP ${status}` : ''})`);
  }
}
