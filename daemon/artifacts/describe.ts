// artifacts/describe: what one encrypted file is encrypted to and whether you can open it, for the
// editor's views. Headers only: an age payload or a sops value is never decrypted. The data key is
// unwrapped (with your keys only, never a KMS: a view does not reach the network) just long enough
// to derive its fingerprint and read the recipient set Keyward recorded; it is wiped at once, and
// nothing is audited, as for `keyward status` (no data was decrypted).
import { hkdfSync } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { inspect, parseRecipient, readHeader } from '../age';
import { ErrorCode, type ArtifactDescription, type KeyState, type RecipientView } from '../protocol';
import type { Keystore } from '../keystore/keystore';
import { KeywardError, ioError } from '../util/errors';
import { readInfo } from '../sops/engine';
import { formatOf, keyServices, readSopsFile } from '../sops/files';
import { unwrapDataKey } from '../sops/keygroups';
import { transitUri } from '../kms/vault';
import { readMeta } from './meta';
import { recipientNames } from './names';

const FINGERPRINT_INFO = 'keyward data key fingerprint';

/**
 * 12 hex digits of HKDF-SHA-256(data key, info "keyward data key fingerprint"): a name for a
 * data key that changes exactly when the key does. 48 bits of a one-way function of a 128- or
 * 256-bit key tell nothing useful about it.
 */
export function dataKeyFingerprint(key: Uint8Array): string {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), FINGERPRINT_INFO, 6)).toString('hex');
}

export async function describeArtifact(file: string, keystore: Keystore): Promise<ArtifactDescription> {
  let size: number;
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) throw new KeywardError(ErrorCode.InvalidInput, `not a file: ${file}`);
    size = st.size;
  } catch (e) {
    if (e instanceof KeywardError) throw e;
    throw ioError(e, 'read', file);
  }
  return (await isAge(file)) ? describeAge(file, size, keystore) : describeSops(file, size, keystore);
}

async function isAge(file: string): Promise<boolean> {
  const h = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await h.read(buf, 0, 64, 0);
    const head = buf.subarray(0, bytesRead).toString('latin1').trimStart();
    return head.startsWith('age-encryption.org/v1') || head.startsWith('-----BEGIN AGE ENCRYPTED FILE-----');
  } finally {
    await h.close();
  }
}

async function describeAge(file: string, size: number, keystore: Keystore): Promise<ArtifactDescription> {
  const info = await inspect(file);
  const header = await readHeader(file);
  let openedBy: { ref: string; state: KeyState }[] = [];
  let dataKeyId: string | undefined;
  let meta: ReturnType<typeof readMeta> = null;
  try {
    openedBy = await keystore.openers(header.raw, (fileKey) => {
      dataKeyId = dataKeyFingerprint(fileKey);
      meta = readMeta(fileKey, header.stanzas);
    });
  } catch (e) {
    // None of your keys opens it (or a stanza is malformed): the rest is still worth showing.
    if (!(e instanceof KeywardError) || (e.code !== ErrorCode.DecryptFailed && e.code !== ErrorCode.Malformed)) throw e;
  }
  const keys = keystore.list(true);
  const stanzaCount = info.stanzas.length;
  const known: string[] = (meta as ReturnType<typeof readMeta>)?.recipients ?? openedBy.map((o) => versionRecipient(keys, o.ref)).filter((r): r is string => !!r);
  const names = await recipientNames(file, keys);
  const recipients = known.map((r) => view(r, ageType(r), names));
  const recordedAt = (meta as ReturnType<typeof readMeta>)?.at;
  return {
    path: file,
    kind: 'age',
    size,
    plaintextSize: info.plaintextSize,
    armored: info.armored,
    stanzas: countTypes(info.stanzas.map((s) => s.type)),
    recipients,
    unaccounted: Math.max(0, stanzaCount - recipients.length),
    openedBy,
    ...(dataKeyId ? { dataKeyId } : {}),
    ...(recordedAt ? { recordedAt } : {}),
  };
}

async function describeSops(file: string, size: number, keystore: Keystore): Promise<ArtifactDescription> {
  const bytes = await readSopsFile(file);
  const sops = readInfo(bytes, formatOf(file));
  const keys = keystore.list(true);
  const names = await recipientNames(file, keys);
  const recipients: RecipientView[] = [];
  for (const g of sops.keyGroups) {
    for (const k of g.keys) {
      if (k.type === 'age') recipients.push(view(k.recipient, ageType(k.recipient), names));
      else if (k.type === 'kms') recipients.push(view(k.arn, 'kms', names));
      else if (k.type === 'hc_vault') recipients.push(view(transitUri(k), 'hc_vault', names));
      else recipients.push(view(Object.values(k.fields)[0] ?? k.type, k.type, names));
    }
  }
  const openedBy: { ref: string; state: KeyState }[] = [];
  for (const r of recipients) for (const n of r.names) if (n.source === 'keystore' && n.state && ['active', 'deactivated', 'compromised'].includes(n.state)) openedBy.push({ ref: n.name, state: n.state });
  let dataKeyId: string | undefined;
  if (openedBy.length) {
    try {
      const { dataKey } = await unwrapDataKey(sops.keyGroups, sops.shamirThreshold, keyServices(keystore));
      try {
        dataKeyId = dataKeyFingerprint(dataKey);
      } finally {
        dataKey.fill(0);
      }
    } catch {
      // a Shamir file your keys alone do not open: no fingerprint
    }
  }
  return {
    path: file,
    kind: 'sops',
    size,
    stanzas: countTypes(recipients.map((r) => r.type)),
    recipients,
    unaccounted: 0,
    openedBy,
    ...(dataKeyId ? { dataKeyId } : {}),
  };
}

function view(recipient: string, type: string, names: Map<string, RecipientView['names']>): RecipientView {
  const n = names.get(recipient) ?? [];
  return { recipient, type, names: n, yours: n.some((x) => x.source === 'keystore') };
}

/** The stanza type a recipient wraps to; `plugin` for recipients of age plugins (age1NAME1...). */
function ageType(r: string): string {
  try {
    return parseRecipient(r).type;
  } catch {
    return 'plugin';
  }
}

function versionRecipient(keys: ReturnType<Keystore['list']>, ref: string): string | undefined {
  for (const k of keys) for (const v of k.versions) if (v.ref === ref) return v.recipient;
  return undefined;
}

function countTypes(types: string[]): { type: string; count: number }[] {
  const m = new Map<string, number>();
  for (const t of types) m.set(t, (m.get(t) ?? 0) + 1);
  return [...m].map(([type, count]) => ({ type, count }));
}
