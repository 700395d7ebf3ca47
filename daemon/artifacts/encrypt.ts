import { randomBytes } from 'node:crypto';
import { encryptFile, FILE_KEY_SIZE, type EncryptFileOptions, type TransferResult } from '../age';
import { metaStanza } from './meta';

/**
 * Encrypts a model artifact to recipients, recording the recipient set in the header (sealed
 * with the file key, see meta.ts) so that a later rewrap or rotate knows it. Every artifact
 * Keyward writes for recipients goes through here: the CLI, the daemon and the watcher.
 */
export async function encryptArtifact(
  opts: Omit<EncryptFileOptions, 'passphrase' | 'fileKey' | 'extraStanzas' | 'recipients'> & { recipients: string[]; keys?: string[] },
): Promise<TransferResult> {
  const { keys, ...rest } = opts;
  const fileKey = randomBytes(FILE_KEY_SIZE);
  try {
    const meta = metaStanza(fileKey, { recipients: opts.recipients, keys: keys ?? [], at: new Date().toISOString() });
    return await encryptFile({ ...rest, fileKey, extraStanzas: [meta] });
  } finally {
    fileKey.fill(0);
  }
}
