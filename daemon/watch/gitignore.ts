import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../protocol';
import { writeFileAtomic } from '../util/atomic';
import { KeywardError, errnoCode, ioError } from '../util/errors';

// Plaintext that the policy keeps for local use must not be committed: it is listed in the
// workspace's `.gitignore`, in a block Keyward owns, one anchored path a line:
//
//     # >>> keyward: plaintext of encrypted files (managed by Keyward)
//     /models/model.safetensors
//     # <<< keyward
//
// Lines outside the block are the user's and are never touched. Adding is idempotent.

export const BLOCK_BEGIN = '# >>> keyward: plaintext of encrypted files (managed by Keyward)';
export const BLOCK_END = '# <<< keyward';

const chains = new Map<string, Promise<unknown>>();

/**
 * Adds `/rel` to the managed block of `root/.gitignore` (creating the file or the block).
 * Returns false when it was already there. Updates of one file are serialised.
 */
export function ensureIgnored(root: string, rel: string): Promise<boolean> {
  const file = path.join(root, '.gitignore');
  const prev = chains.get(file) ?? Promise.resolve();
  const run = prev.then(() => addEntry(file, rel));
  const settled = run.catch(() => undefined);
  chains.set(file, settled);
  void settled.then(() => {
    if (chains.get(file) === settled) chains.delete(file);
  });
  return run;
}

/** The gitignore line that matches exactly this path (relative, POSIX). */
export function gitignoreEntry(rel: string): string {
  if (/[\r\n]/.test(rel)) throw new KeywardError(ErrorCode.InvalidInput, 'a file name with a line break cannot be listed in .gitignore');
  // Anchored with "/", so a leading "#" or "!" is literal; escape glob characters and a trailing space.
  return '/' + rel.replace(/[\\*?[]/g, (c) => '\\' + c).replace(/ $/, '\\ ');
}

async function addEntry(file: string, rel: string): Promise<boolean> {
  const entry = gitignoreEntry(rel);
  let text = '';
  let mode = 0o644;
  try {
    const st = await fsp.lstat(file);
    if (!st.isFile()) throw new KeywardError(ErrorCode.IoFailed, `.gitignore is not a regular file: ${file}`, 'add the plaintext path to it yourself');
    mode = st.mode & 0o777;
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof KeywardError) throw e;
    if (errnoCode(e) !== 'ENOENT') throw ioError(e, 'read', file);
  }
  const lines = text.split('\n');
  const begin = lines.indexOf(BLOCK_BEGIN);
  const end = begin < 0 ? -1 : lines.indexOf(BLOCK_END, begin + 1);
  if (begin >= 0 && end > begin) {
    if (lines.slice(begin + 1, end).some((l) => l.replace(/\r$/, '') === entry)) return false;
    lines.splice(end, 0, entry);
    text = lines.join('\n');
  } else {
    const sep = text === '' || text.endsWith('\n') ? '' : '\n';
    text = `${text}${sep}${text === '' ? '' : '\n'}${BLOCK_BEGIN}\n${entry}\n${BLOCK_END}\n`;
  }
  await writeFileAtomic(file, text, mode);
  return true;
}
