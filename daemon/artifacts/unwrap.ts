// Opening an age artifact's file key, for every reader (age/decrypt and age/decryptRange, the
// decrypt job, exec, the Python reader's key release, a team plan): the keystore first (a
// person's own keys, no network), then, for a file none of them opens, a fallback the caller
// passes in. The daemon's assembly (Service.open) passes the team's service identities,
// wrapped by AWS KMS or Vault / OpenBao transit (serviceIdentities in daemon/team/identity.ts).
import { ErrorCode } from '../protocol/errors';
import { isKeywardError, type KeywardError } from '../util/errors';

/** An opened file key, and the key (`name@vN`, or a service identity's) that opened it. */
export interface OpenedFileKey {
  fileKey: Uint8Array;
  ref: string;
}

/** What of the keystore this needs (Keystore satisfies it). */
export interface KeyUnwrapper {
  unwrapFileKey(header: Uint8Array): Promise<OpenedFileKey>;
}

/**
 * Other identities for a file that none of the keystore's keys opens. `notMine` is the
 * keystore's error: the fallback throws it when nothing of its own applies or matches, and
 * throws its own failure (access denied, unreachable) when that is what stood in the way.
 */
export type FileKeyFallback = (header: Uint8Array, artifact: string, notMine: KeywardError) => Promise<OpenedFileKey>;

/** Opens the file key of an age header read from `artifact` (its path decides which fallback identities apply). */
export type ArtifactUnwrap = (header: Uint8Array, artifact: string) => Promise<OpenedFileKey>;

/** Whether a keystore failure means "none of my keys is a recipient" (then the fallback may try). */
function notMine(e: unknown): e is KeywardError {
  return isKeywardError(e) && e.code === ErrorCode.DecryptFailed && /no identity matched/.test(e.message);
}

/** The file key of an age header: from the keystore, else from `fallback`. */
export async function unwrapArtifactKey(keystore: KeyUnwrapper, header: Uint8Array, artifact: string, fallback?: FileKeyFallback): Promise<OpenedFileKey> {
  try {
    return await keystore.unwrapFileKey(header);
  } catch (e) {
    if (fallback === undefined || !notMine(e)) throw e;
    return fallback(header, artifact, e);
  }
}

/** unwrapArtifactKey bound to a keystore (asked for at each call: it can be replaced) and a fallback. */
export function artifactUnwrap(keystore: () => KeyUnwrapper, fallback?: FileKeyFallback): ArtifactUnwrap {
  return (header, artifact) => unwrapArtifactKey(keystore(), header, artifact, fallback);
}
