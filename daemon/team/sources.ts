// Where a team's member list may come from besides the repo: an SSM parameter (String or
// SecureString) or a Secrets Manager secret, holding YAML or JSON of the form
//
//     members:
//       alice: age1...
//       bob: [age1pq1..., age1...]
//
// The text is fetched, then validated like the repo's own list (daemon/team/team-policy.ts) before
// anything uses it. Needs ssm:GetParameter (and kms:Decrypt for a SecureString) or
// secretsmanager:GetSecretValue.
import { awsError, clientConfig, endpointFor, regionOfArn, type AwsOptions } from '../kms';
import { ErrorCode } from '../protocol';
import { KeywardError } from '../util/errors';

export type MemberSource = { kind: 'ssm'; id: string; region?: string } | { kind: 'secretsmanager'; id: string; region?: string };

const MAX_SOURCE_BYTES = 256 * 1024;

export function describeSource(s: MemberSource): string {
  return s.kind === 'ssm' ? `SSM parameter ${s.id}` : `Secrets Manager secret ${s.id}`;
}

/** The text of the source (the caller parses and validates it). */
export async function fetchMemberSource(src: MemberSource, opts: AwsOptions = {}): Promise<string> {
  const region = regionOfArn(src.id) ?? src.region ?? opts.region;
  const signal = AbortSignal.timeout((opts.timeoutMs ?? 10_000) * (opts.maxAttempts ?? 3) + 2_000);
  let text: string | undefined;
  if (src.kind === 'ssm') {
    // Loaded on first use: most runs never read a team source.
    const { SSMClient, GetParameterCommand } = (await import('../kms/aws-sdk')).ssm;
    const c = new SSMClient(clientConfig(opts, region));
    try {
      const out = await c.send(new GetParameterCommand({ Name: src.id, WithDecryption: true }), { abortSignal: signal });
      text = out.Parameter?.Value;
    } catch (e) {
      throw awsError(e, { service: 'ssm', op: 'GetParameter', resource: src.id, endpoint: endpointFor('ssm', opts, region) });
    } finally {
      c.destroy();
    }
  } else {
    const { SecretsManagerClient, GetSecretValueCommand } = (await import('../kms/aws-sdk')).secretsManager;
    const c = new SecretsManagerClient(clientConfig(opts, region));
    try {
      const out = await c.send(new GetSecretValueCommand({ SecretId: src.id }), { abortSignal: signal });
      text = out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : undefined);
    } catch (e) {
      throw awsError(e, { service: 'secretsmanager', op: 'GetSecretValue', resource: src.id, endpoint: endpointFor('secretsmanager', opts, region) });
    } finally {
      c.destroy();
    }
  }
  if (text === undefined || text.trim() === '') throw new KeywardError(ErrorCode.InvalidInput, `${describeSource(src)} is empty`, 'store the member list (members: NAME: age1...) in it');
  if (Buffer.byteLength(text) > MAX_SOURCE_BYTES) throw new KeywardError(ErrorCode.InvalidInput, `${describeSource(src)} is larger than ${MAX_SOURCE_BYTES / 1024} KiB`);
  return text;
}
