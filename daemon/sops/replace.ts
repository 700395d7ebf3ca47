// Replacing one age recipient by another in `.sops.yaml` (after a key rotation: the old version
// decrypts only, new files must go to the new one). Edited with the `yaml` Document API, so that
// comments, anchors, key order and every other rule stay as they were; a recipient inside a
// comma-separated list keeps its place in it. Written atomically, keeping the file's mode.
import { promises as fsp } from 'node:fs';
import { isScalar, parseDocument, visit, type Scalar } from 'yaml';
import { ErrorCode } from '../protocol';
import { writeFileAtomic } from '../util/atomic';
import { ioError, KeywardError } from '../util/errors';

const MAX_BYTES = 1024 * 1024;

/** Replaces each `from` recipient by its `to` in the file; returns how many places changed (0: the file is untouched). */
export async function replaceRecipients(file: string, pairs: readonly { from: string; to: string }[]): Promise<number> {
  let text: string;
  let mode: number;
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) throw new KeywardError(ErrorCode.InvalidInput, `not a file: ${file}`);
    if (st.size > MAX_BYTES) throw new KeywardError(ErrorCode.InvalidInput, `${file} is larger than ${MAX_BYTES / 1024} KiB`, 'a .sops.yaml is small: check that this is the right file');
    mode = st.mode & 0o777;
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof KeywardError) throw e;
    throw ioError(e, 'read', file);
  }
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length) {
    throw new KeywardError(ErrorCode.InvalidInput, `${file}: ${doc.errors[0]!.message.split('\n')[0]}`, 'fix the YAML first; nothing was changed');
  }
  const map = new Map(pairs.map((p) => [p.from, p.to]));
  let changed = 0;
  visit(doc, {
    Scalar(_key, node: Scalar) {
      if (!isScalar(node) || typeof node.value !== 'string' || !node.value.includes('age1')) return;
      const parts = node.value.split(',');
      let hit = false;
      const next = parts.map((part) => {
        const to = map.get(part.trim());
        if (to === undefined) return part;
        hit = true;
        changed++;
        return part.replace(part.trim(), to);
      });
      // A recipient already listed beside its replacement is not written twice.
      if (hit) node.value = dedupe(next).join(',');
    },
  });
  if (changed === 0) return 0;
  // The same in lists: `[age1old, age1new]` becomes `[age1new]`, not the new one twice.
  visit(doc, {
    Seq(_key, seq) {
      const seen = new Set<string>();
      seq.items = seq.items.filter((item) => {
        if (!isScalar(item) || typeof item.value !== 'string' || !item.value.startsWith('age1')) return true;
        if (seen.has(item.value)) return false;
        seen.add(item.value);
        return true;
      });
    },
  });
  await writeFileAtomic(file, doc.toString({ lineWidth: 0 }), mode);
  return changed;
}

function dedupe(parts: string[]): string[] {
  const seen = new Set<string>();
  return parts.filter((p) => {
    const k = p.trim();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
