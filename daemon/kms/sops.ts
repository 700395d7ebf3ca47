// sops `kms` master keys on AWS KMS, made and opened exactly as sops 3.13 does
// (kms/keysource.go), so that a file either tool wrote opens with the other:
// - Encrypt with KeyId = the entry's ARN, the data key as plaintext, and the entry's
//   encryption context (null values left out); `enc` is the standard base64 of the blob.
// - Decrypt with the same KeyId and context; `enc` must be standard base64.
// - The region is the ARN's; `role` is assumed through STS first; `aws_profile` selects the
//   shared-config profile. Endpoints and credentials come from the AWS environment.
import { ErrorCode } from '../protocol';
import type { KmsKeyEntry, SopsKmsClient } from '../sops/keys';
import { KeywardError } from '../util/errors';
import { KMS_ARN } from './aws';
import { KmsProvider, type EncryptionContext } from './provider';

/** The context as KMS takes it: sops drops entries whose value is null. */
export function sopsContext(ctx: Record<string, string | null> | undefined): EncryptionContext {
  const out: EncryptionContext = {};
  for (const [k, v] of Object.entries(ctx ?? {})) if (typeof v === 'string') out[k] = v;
  return out;
}

function checkArn(arn: string): void {
  if (!KMS_ARN.test(arn)) {
    throw new KeywardError(ErrorCode.InvalidInput, `not a KMS key ARN: ${arn.slice(0, 200)}`, 'sops kms entries name keys by ARN: arn:aws:kms:REGION:ACCOUNT:key/ID or .../alias/NAME');
  }
}

/** Standard base64 only (Go's base64.StdEncoding), so a file sops would reject is rejected. */
function decodeStd(s: string): Buffer | null {
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return null;
  return Buffer.from(s, 'base64');
}

export class AwsSopsKms implements SopsKmsClient {
  constructor(readonly kms: KmsProvider = new KmsProvider()) {}

  async encrypt(key: { arn: string; role?: string; context?: Record<string, string | null>; awsProfile?: string }, plaintext: Buffer): Promise<string> {
    checkArn(key.arn);
    const r = await this.kms.encrypt(key.arn, plaintext, sopsContext(key.context), {
      ...(key.role ? { role: key.role } : {}),
      ...(key.awsProfile ? { profile: key.awsProfile } : {}),
    });
    return r.ciphertext.toString('base64');
  }

  async decrypt(key: KmsKeyEntry): Promise<Buffer> {
    checkArn(key.arn);
    const blob = decodeStd(key.enc);
    if (!blob) throw new KeywardError(ErrorCode.Malformed, `the kms entry for ${key.arn} holds no valid base64 data key`, 'the file was damaged or edited by hand');
    const r = await this.kms.decrypt(key.arn, blob, sopsContext(key.context), {
      ...(key.role ? { role: key.role } : {}),
      ...(key.awsProfile ? { profile: key.awsProfile } : {}),
    });
    return r.plaintext;
  }
}
