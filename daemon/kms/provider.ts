// The AWS KMS provider: the four calls Keyward makes (GenerateDataKey, Encrypt, Decrypt,
// ReEncrypt) and DescribeKey to validate a policy, on @aws-sdk/client-kms. Every wrapped key
// is bound to what it protects by an encryption context (KMS refuses to decrypt it with any
// other), every call has a timeout, and failures are KeywardErrors without key material.
//
// What this file never does: log, return or put in an error a plaintext key; it hands them to
// the caller as Buffers, which the caller wipes once used.
import type { KMSClient } from '@aws-sdk/client-kms';
import { ErrorCode } from '../protocol';
import { KeywardError } from '../util/errors';
import { awsError, clientConfig, endpointFor, KMS_ARN, type AwsOptions } from './aws';
import { assumeRole } from './role';

/** An encryption context: string keys and values, as KMS takes them. */
export type EncryptionContext = Record<string, string>;

export interface KmsCallOptions {
  /** An IAM role to assume (STS) before the call, as a sops `kms` entry's `role`. */
  role?: string;
  /** A shared-config profile for this call (a sops entry's `aws_profile`). */
  profile?: string;
}

export interface KmsStats {
  /** KMS API operations made by this provider (retries of one operation count once). */
  calls: number;
  byOp: Record<string, number>;
}

/** The SDK is loaded on first use (see aws-sdk.ts): it is large, and most runs never call KMS. */
type Sdk = typeof import('@aws-sdk/client-kms');
let sdk: Promise<Sdk> | undefined;
const loadSdk = (): Promise<Sdk> => (sdk ??= import('./aws-sdk').then((m) => m.kms));

/** Limits of KMS itself: plaintext up to 4096 bytes; a context of a few KiB. */
const MAX_PLAINTEXT = 4096;
const MAX_CONTEXT_BYTES = 8192;

/**
 * A KMS key reference as Keyward accepts it: a key or alias ARN (sops' form, which names the
 * region), or, for the provider's own calls only, `alias/NAME` or a key id in the default region.
 */
export function checkKeyId(keyId: string): void {
  if (KMS_ARN.test(keyId) || /^alias\/[A-Za-z0-9/_-]{1,250}$/.test(keyId) || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(keyId) || /^mrk-[0-9a-f]{32}$/.test(keyId)) return;
  throw new KeywardError(
    ErrorCode.InvalidInput,
    `not a KMS key ARN or alias: ${keyId.length > 200 ? keyId.slice(0, 200) + '...' : keyId}`,
    'give arn:aws:kms:REGION:ACCOUNT:key/ID or arn:aws:kms:REGION:ACCOUNT:alias/NAME',
  );
}

export function checkContext(ctx: EncryptionContext): void {
  let size = 0;
  for (const [k, v] of Object.entries(ctx)) {
    if (typeof v !== 'string' || k.length === 0) throw new KeywardError(ErrorCode.InvalidInput, 'an encryption context holds non-empty string keys and string values');
    size += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (size > MAX_CONTEXT_BYTES) throw new KeywardError(ErrorCode.InvalidInput, 'the encryption context is too large for KMS');
}

/**
 * AWS KMS, configured from the standard AWS environment (see ./aws.ts). One SDK client per
 * region, profile and role, created on first use. A key ARN's region is used for calls on that
 * key, as sops does; other key ids use the configured region.
 */
export class KmsProvider {
  private readonly clients = new Map<string, KMSClient>();
  private readonly stats_: KmsStats = { calls: 0, byOp: {} };

  constructor(readonly options: AwsOptions = {}) {}

  /** What this provider has asked KMS so far (tests and `--json` output count calls). */
  get stats(): Readonly<KmsStats> {
    return { calls: this.stats_.calls, byOp: { ...this.stats_.byOp } };
  }

  /**
   * A new random data key from KMS, in plaintext and wrapped under `keyId` with `context`.
   * The caller wipes `plaintext` once used.
   */
  async generateDataKey(keyId: string, context: EncryptionContext, bytes = 32, call: KmsCallOptions = {}): Promise<{ plaintext: Buffer; ciphertext: Buffer; keyArn: string }> {
    checkKeyId(keyId);
    checkContext(context);
    const out = await this.send('GenerateDataKey', keyId, call, (c, signal, k) =>
      c.send(new k.GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: bytes, EncryptionContext: context }), { abortSignal: signal }),
    );
    if (!out.Plaintext || !out.CiphertextBlob || out.Plaintext.length !== bytes) throw malformedReply('GenerateDataKey', keyId);
    return { plaintext: Buffer.from(out.Plaintext), ciphertext: Buffer.from(out.CiphertextBlob), keyArn: out.KeyId ?? keyId };
  }

  /** Wraps up to 4 KiB (a data key, an identity) under `keyId`, bound to `context`. */
  async encrypt(keyId: string, plaintext: Uint8Array, context: EncryptionContext, call: KmsCallOptions = {}): Promise<{ ciphertext: Buffer; keyArn: string }> {
    checkKeyId(keyId);
    checkContext(context);
    if (plaintext.length === 0 || plaintext.length > MAX_PLAINTEXT) throw new KeywardError(ErrorCode.InvalidInput, `KMS encrypts 1 to ${MAX_PLAINTEXT} bytes`);
    const out = await this.send('Encrypt', keyId, call, (c, signal, k) =>
      c.send(new k.EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: context }), { abortSignal: signal }),
    );
    if (!out.CiphertextBlob) throw malformedReply('Encrypt', keyId);
    return { ciphertext: Buffer.from(out.CiphertextBlob), keyArn: out.KeyId ?? keyId };
  }

  /**
   * Unwraps a ciphertext made by `keyId` under `context`. KMS refuses (DecryptFailed here) when
   * the context differs in any key or value, or the ciphertext is of another key. Passing the
   * key id makes KMS check it too, and lets the caller's IAM policy name the key.
   */
  async decrypt(keyId: string, ciphertext: Uint8Array, context: EncryptionContext, call: KmsCallOptions = {}): Promise<{ plaintext: Buffer; keyArn: string }> {
    checkKeyId(keyId);
    checkContext(context);
    const out = await this.send('Decrypt', keyId, call, (c, signal, k) =>
      c.send(new k.DecryptCommand({ KeyId: keyId, CiphertextBlob: ciphertext, EncryptionContext: context }), { abortSignal: signal }),
    );
    if (!out.Plaintext) throw malformedReply('Decrypt', keyId);
    return { plaintext: Buffer.from(out.Plaintext), keyArn: out.KeyId ?? keyId };
  }

  /**
   * Moves a wrapped key from one KMS key (or context) to another inside KMS: the plaintext
   * never leaves it. Used to move a service identity to a new team KEK.
   */
  async reEncrypt(
    from: { keyId: string; context: EncryptionContext },
    to: { keyId: string; context: EncryptionContext },
    ciphertext: Uint8Array,
    call: KmsCallOptions = {},
  ): Promise<{ ciphertext: Buffer; keyArn: string }> {
    checkKeyId(from.keyId);
    checkKeyId(to.keyId);
    checkContext(from.context);
    checkContext(to.context);
    const out = await this.send('ReEncrypt', to.keyId, call, (c, signal, k) =>
      c.send(
        new k.ReEncryptCommand({
          CiphertextBlob: ciphertext,
          SourceKeyId: from.keyId,
          SourceEncryptionContext: from.context,
          DestinationKeyId: to.keyId,
          DestinationEncryptionContext: to.context,
        }),
        { abortSignal: signal },
      ),
    );
    if (!out.CiphertextBlob) throw malformedReply('ReEncrypt', to.keyId);
    return { ciphertext: Buffer.from(out.CiphertextBlob), keyArn: out.KeyId ?? to.keyId };
  }

  /** Checks that a key exists and can encrypt; returns its key ARN (an alias resolved). */
  async describeKey(keyId: string, call: KmsCallOptions = {}): Promise<{ keyArn: string; enabled: boolean; usage: string | undefined }> {
    checkKeyId(keyId);
    const out = await this.send('DescribeKey', keyId, call, (c, signal, k) => c.send(new k.DescribeKeyCommand({ KeyId: keyId }), { abortSignal: signal }));
    const m = out.KeyMetadata;
    if (!m?.Arn) throw malformedReply('DescribeKey', keyId);
    return { keyArn: m.Arn, enabled: m.Enabled !== false && (m.KeyState === undefined || m.KeyState === 'Enabled'), usage: m.KeyUsage };
  }

  /** Drops the SDK clients (their sockets); the provider can still be used afterwards. */
  destroy(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }

  // ---- internals ---------------------------------------------------------------------------

  private regionFor(keyId: string): string | undefined {
    return KMS_ARN.exec(keyId)?.[1] ?? this.options.region;
  }

  private client(k: Sdk, keyId: string, call: KmsCallOptions): KMSClient {
    const region = this.regionFor(keyId);
    const profile = call.profile || this.options.profile;
    const id = `${region ?? ''}|${profile ?? ''}|${call.role ?? ''}`;
    let c = this.clients.get(id);
    if (!c) {
      const base = { ...this.options, ...(profile ? { profile } : {}) };
      const role = call.role;
      // A provider, not fixed credentials: the SDK asks again when the temporary ones expire.
      const credentials = role ? () => assumeRole(role, base, region) : undefined;
      c = new k.KMSClient(clientConfig({ ...base, ...(credentials ? { credentials } : {}) }, region));
      this.clients.set(id, c);
    }
    return c;
  }

  private async send<T>(op: string, keyId: string, call: KmsCallOptions, f: (c: KMSClient, signal: AbortSignal, k: Sdk) => Promise<T>): Promise<T> {
    const region = this.regionFor(keyId);
    const endpoint = endpointFor('kms', this.options, region);
    // One deadline over all attempts, on top of the per-attempt timeouts: a call never hangs.
    const attempts = this.options.maxAttempts ?? 3;
    const deadline = AbortSignal.timeout((this.options.timeoutMs ?? 10_000) * attempts + 2_000);
    this.stats_.calls++;
    this.stats_.byOp[op] = (this.stats_.byOp[op] ?? 0) + 1;
    try {
      const k = await loadSdk();
      const c = this.client(k, keyId, call);
      return await f(c, deadline, k);
    } catch (e) {
      throw awsError(e, { service: 'kms', op, resource: keyId, endpoint });
    }
  }
}

function malformedReply(op: string, keyId: string): KeywardError {
  return new KeywardError(ErrorCode.IoFailed, `AWS KMS ${op} on ${keyId} returned an incomplete answer`);
}
