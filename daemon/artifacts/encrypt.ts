import { randomBytes } from 'node:crypto';
import { encryptFile, FILE_KEY_SIZE, type EncryptFileOptions, type TransferResult } from '../age';
import { metaStanza } from './meta';
import { wrapIdentities, type IdentityWrap } from './targets';

/**
 * Encrypts a model artifact to recipients, recording the recipient set in the header (sealed
 * with the file key, see meta.ts) so that a later rewrap or rotate knows it. Every artifact
 * Keyward writes for recipients goes through here: the CLI, the daemon and the watcher.
 */
export async function encryptArtifact(
  opts: Omit<EncryptFileOptions, 'passphrase' | 'fileKey' | 'extraStanzas' | 'recipients'> & { recipients: string[]; keys?: string[]; identities?: readonly IdentityWrap[] },
): Promise<TransferResult> {
  const { keys, identities, ...rest } = opts;
  const fileKey = randomBytes(FILE_KEY_SIZE);
  try {
    // Plugin identities wrapped to directly are recorded (targets.ts): a later rewrap keeps them.
    const wrapped = await wrapIdentities(fileKey, identities ?? []);
    const records = wrapped.records;
    const meta = metaStanza(fileKey, { recipients: opts.recipients, keys: [...(keys ?? []), ...records.map((t) => t.key)], at: new Date().toISOString(), ...(records.length ? { identities: records } : {}) });
    const wrappers = [...(rest.wrappers ?? []), ...wrapped.wrappers];
    return await encryptFile({ ...rest, ...(wrappers.length ? { wrappers } : {}), fileKey, extraStanzas: [meta] });
  } finally {
    fileKey.fill(0);
  }
}
