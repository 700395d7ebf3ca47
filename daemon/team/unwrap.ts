// How the daemon opens an age artifact when team service identities are in play: the keystore
// first (a person's own keys, no network), then the service identities that apply to the file,
// wrapped by AWS KMS or Vault / OpenBao transit (see ./identity.ts), each unwrapped at most once
// per process. `unwrapArtifactKey` is the one function every reader calls (decrypt, range reads,
// exec, the Python reader's key release): the provider is chosen from the identity file.
//
// Wiring (service.ts, ageDecrypt): replace `this.keystore.unwrapFileKey(h.raw)` with
// `unwrapArtifactKey(this.keystore, h.raw, p.input, { audit: (e) => this.record(e) })`.
import type { AuditEvent } from '../audit/log';
import { sharedKms, type KmsProvider } from '../kms';
import { ErrorCode } from '../protocol';
import { isKeywardError, type KeywardError } from '../util/errors';
import { identitiesFor, processIdentityCache, unwrapWithServiceIdentities, type IdentityCache, type IdentityFile } from './identity';

export interface UnwrapOptions {
  audit?: (e: AuditEvent) => Promise<void>;
  /** The identity cache (default: the process's, on the shared KMS provider). */
  cache?: IdentityCache;
  /** Identity files to use instead of discovering them from the artifact's path. */
  identities?: readonly IdentityFile[];
  env?: NodeJS.ProcessEnv;
}

/** What of the keystore this needs (Keystore satisfies it). */
export interface KeyUnwrapper {
  unwrapFileKey(header: Uint8Array): Promise<{ fileKey: Uint8Array; ref: string }>;
}

export function defaultIdentityCache(kms: () => KmsProvider = sharedKms): IdentityCache {
  return processIdentityCache(kms);
}

/** Whether a keystore failure means "none of my keys is a recipient" (then try the team's). */
function notMine(e: unknown): e is KeywardError {
  return isKeywardError(e) && e.code === ErrorCode.DecryptFailed && /no identity matched/.test(e.message);
}

/**
 * The file key of an age header: from the keystore, else from a service identity. Throws the
 * keystore's error when no service identity applies or matches, and a KMS failure (access
 * denied, unreachable) when that is what stood in the way.
 */
export async function unwrapArtifactKey(keystore: KeyUnwrapper, header: Uint8Array, artifact: string, opts: UnwrapOptions = {}): Promise<{ fileKey: Uint8Array; ref: string }> {
  try {
    return await keystore.unwrapFileKey(header);
  } catch (e) {
    if (!notMine(e)) throw e;
    const identities = opts.identities ?? (await identitiesFor(artifact, opts.env));
    if (identities.length === 0) throw e;
    const r = await unwrapWithServiceIdentities(opts.cache ?? defaultIdentityCache(), identities, header, opts.audit);
    if (r.fileKey) return { fileKey: r.fileKey, ref: r.ref };
    if (r.failure) throw r.failure;
    throw e;
  }
}
