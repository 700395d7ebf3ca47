// Where each format keeps the sops metadata, and the one shape the core sees (see index.ts):
// after loadEncrypted the first branch ends with a `sops` item holding the metadata as a nested
// Branch; emitEncrypted takes that item (wherever it is in the first branch) and writes it as
// sops does: nested (yaml, json, binary; in every document), flattened with a `sops_` prefix
// (dotenv), or flattened below a `[sops]` section with "\n" escaped (INI).
// Mirrors stores/metadata.go ExtractMetadata and SerializeMetadata.
import { ErrorCode } from '../../protocol/errors';
import { KeywardError } from '../../util/errors';
import type { MetadataFlatten } from '../store';
import { Branch, Comment, type Branches, type Item } from '../tree';
import { unsupported } from './errors';
import { flattenMetadata, unflattenMetadata } from './flatten';

export const SOPS_KEY = 'sops';
const SOPS_PREFIX = 'sops_';

function notEncrypted(format: string): KeywardError {
  return new KeywardError(ErrorCode.Malformed, `${format}: sops metadata not found`, 'this file is not encrypted with sops; encrypt it first');
}

function damaged(format: string, problem: string): KeywardError {
  return new KeywardError(ErrorCode.Malformed, `${format}: ${problem}`, 'the sops metadata of this file is damaged; restore the file from version control');
}

/** Moves the metadata of a freshly loaded encrypted file into its nested place (see above). */
export function extractMetadata(format: string, branches: Branches, flatten: MetadataFlatten, escapeNewlines: boolean): Branches {
  let meta: Branch | undefined;
  let out: Branch[];
  if (flatten !== 'full') {
    out = branches.map((branch, bi) => {
      const kept: Item[] = [];
      for (const item of branch.items) {
        if (item.key !== SOPS_KEY) {
          kept.push(item);
          continue;
        }
        // sops reads the metadata of the first document and drops the copies in the others.
        if (bi !== 0) continue;
        if (meta) throw damaged(format, 'duplicate sops entry');
        if (!(item.value instanceof Branch)) throw damaged(format, 'sops entry is not a mapping');
        meta = item.value;
      }
      return new Branch(kept);
    });
    if (meta && flatten === 'belowTop') meta = unflattenMetadata(meta.items, { escapeNewlines });
  } else {
    const first = branches[0];
    const flat: Item[] = [];
    const kept: Item[] = [];
    for (const item of first?.items ?? []) {
      if (typeof item.key === 'string' && item.key.startsWith(SOPS_PREFIX)) flat.push({ key: item.key.slice(SOPS_PREFIX.length), value: item.value });
      else kept.push(item);
    }
    if (flat.length > 0) meta = unflattenMetadata(flat, { escapeNewlines });
    out = branches.map((b, i) => (i === 0 ? new Branch(kept) : b));
  }
  if (!meta || out.length === 0) throw notEncrypted(format);
  out[0]!.items.push({ key: SOPS_KEY, value: meta });
  return out;
}

/** The tree to write for an encrypted file: the metadata taken out of the first branch and put where sops puts it. */
export function placeMetadata(format: string, branches: Branches, flatten: MetadataFlatten, escapeNewlines: boolean): Branches {
  const first = branches[0];
  const found = first?.items.filter((i) => i.key === SOPS_KEY) ?? [];
  if (found.length !== 1 || !(found[0]!.value instanceof Branch)) {
    throw new KeywardError(ErrorCode.IllegalState, `${format}: no sops metadata to write`, 'the first branch must hold exactly one `sops` mapping');
  }
  const meta = found[0]!.value;
  let md: Item[];
  if (flatten === 'none') md = [{ key: SOPS_KEY, value: meta }];
  else {
    const flat = flattenMetadata(meta, { prefix: flatten === 'full' ? SOPS_PREFIX : '', escapeNewlines });
    md = flatten === 'full' ? flat : [{ key: SOPS_KEY, value: new Branch(flat) }];
  }
  return branches.map((branch, bi) => {
    const items: Item[] = [];
    for (const item of branch.items) {
      if (bi === 0 && item === found[0]) continue;
      const k = item.key;
      if (!(k instanceof Comment)) {
        if (flatten === 'full' ? k.startsWith(SOPS_PREFIX) : k === SOPS_KEY) {
          throw unsupported(format, flatten === 'full' ? 'a key starts with "sops_", which is reserved for the sops metadata' : 'a key named "sops" is reserved for the sops metadata', 'rename that key');
        }
      }
      items.push(item);
    }
    return new Branch([...items, ...md]);
  });
}
