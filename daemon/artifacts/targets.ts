// What an artifact's file key is wrapped to besides recipient strings: plugin identities wrapped
// to directly, as `age -e -i` does: a keystore key made by a symmetric device, which has no
// recipient (trezor-slip11, say), or `-j NAME`. A recipient string can be wrapped to again by
// anyone; such an identity only through it, by its holder. So the file's record (meta.ts) names
// each one (key, fingerprint, stanza hashes, labels): a header rebuilt with the same file key
// keeps their stanzas, and a new file key is wrapped through the identity again, by the keystore
// that holds it.
import { identityFingerprint, identityWrapper, pluginIdentityWithoutData, type FileKeyWrapper, type Stanza } from '../age';
import type { Keystore } from '../keystore/keystore';
import { ErrorCode } from '../protocol';
import { KeywardError } from '../util/errors';
import { stanzaHash, type IdentityTarget } from './meta';

/** An identity to wrap to: its record's key and fingerprint, and the wrapper. */
export interface IdentityWrap {
  key: string;
  id: string;
  wrap: FileKeyWrapper;
}

/** The targets of keystore refs (active keys): recipients, and identities for keys without one. */
export async function targetsOfKeys(ks: Keystore, refs: readonly string[]): Promise<{ recipients: { ref: string; recipient: string }[]; identities: IdentityWrap[] }> {
  const t = ks.encryptTargetsFor(refs);
  const identities: IdentityWrap[] = [];
  for (const w of t.wrappers) identities.push({ key: w.ref, id: (await ks.identityFingerprint(w.ref)) ?? '', wrap: w.wrap });
  return { recipients: t.recipients, identities };
}

/** `-j NAME` as a target: the plugin's identity without data (nothing secret in it). */
export function pluginTarget(name: string): IdentityWrap {
  const identity = pluginIdentityWithoutData(name);
  return { key: `plugin:${name}`, id: identityFingerprint(identity), wrap: identityWrapper(identity) };
}

/**
 * The identities a file's record names, to wrap a new file key to: the keystore's key of the
 * same name and fingerprint, or the plugin of `plugin:NAME`. Throws KeyUnusable for one this
 * keystore does not hold (another machine's key, or another key of that name).
 */
export async function recordedTargets(ks: Keystore, recorded: readonly IdentityTarget[]): Promise<IdentityWrap[]> {
  const out: IdentityWrap[] = [];
  for (const t of recorded) {
    if (t.key.startsWith('plugin:')) {
      const w = pluginTarget(t.key.slice('plugin:'.length));
      if (w.id === t.id) {
        out.push(w);
        continue;
      }
    } else {
      let id: string | undefined;
      try {
        id = await ks.identityFingerprint(t.key);
      } catch {
        id = undefined;
      }
      if (id === t.id) {
        out.push((await targetsOfKeys(ks, [t.key])).identities[0]!);
        continue;
      }
    }
    throw new KeywardError(
      ErrorCode.KeyUnusable,
      `the file key is also wrapped to ${t.key}, a plugin identity this keystore does not hold: a new file key cannot be wrapped to it`,
      `do it where that key is, or drop it first (keyward rewrap --remove-key ${t.key.replace(/^plugin:/, '')})`,
    );
  }
  return out;
}

/** Wraps `fileKey` to each identity: precomputed wrappers (for wrapFileKey, which checks labels) and the records of what was written. */
export async function wrapIdentities(fileKey: Uint8Array, ids: readonly IdentityWrap[]): Promise<{ wrappers: FileKeyWrapper[]; records: IdentityTarget[] }> {
  const wrappers: FileKeyWrapper[] = [];
  const records: IdentityTarget[] = [];
  for (const t of ids) {
    const w = await t.wrap(fileKey);
    wrappers.push(() => Promise.resolve(w));
    records.push({ key: t.key, id: t.id, stanzas: w.stanzas.map(stanzaHash), labels: [...w.labels] });
  }
  return { wrappers, records };
}

/**
 * The stanzas of recorded identities, found in a header by hash, as wrappers (same file key).
 * Throws IllegalState when one is no longer there: the header was changed outside Keyward.
 */
export function keptIdentities(recorded: readonly IdentityTarget[], stanzas: readonly Stanza[]): { wrappers: FileKeyWrapper[]; records: IdentityTarget[] } {
  const byHash = new Map(stanzas.map((s) => [stanzaHash(s), s]));
  const wrappers: FileKeyWrapper[] = [];
  for (const t of recorded) {
    const found = t.stanzas.map((h) => byHash.get(h));
    if (!t.stanzas.length || found.some((s) => s === undefined)) {
      throw new KeywardError(ErrorCode.IllegalState, `the header no longer holds the stanza recorded for ${t.key}: it was changed outside Keyward`, 'give the whole new set of keys (keyward rewrap --set-key ...)');
    }
    wrappers.push(() => Promise.resolve({ stanzas: found as Stanza[], labels: t.labels }));
  }
  return { wrappers, records: [...recorded] };
}
