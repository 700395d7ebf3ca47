// The sops files of a team sync, on the sops engine (daemon/sops): reading their master keys
// for the plan, and re-keying them in the job: updatekeys (same data key: every value and the
// MAC stay byte for byte) for additions, rotation (new data key, every value re-encrypted) when
// a key is removed. The target is one key group: the members' age recipients and the team KEKs
// as `kms` entries (a KMS entry that stays keeps its context and enc). The engine reads every
// file it writes back before returning it; the job then commits it by one rename.
import { promises as fsp } from 'node:fs';
import { closeFile, openFile, readInfo, rotate, updateKeys, type KeyServices } from '../sops';
import type { SopsKmsClient } from '../sops/keys';
import { formatFromPath } from '../sops/stores';
import { commitStaged, writeStaged } from '../sops/ops';
import { jobTempPath } from '../jobs/manager';
import type { Keystore } from '../keystore/keystore';
import { KeywardError } from '../util/errors';
import { ErrorCode } from '../protocol';
import type { SopsKeysReader } from './plan';
import { isTransitUri, transitUri } from '../kms/vault';
import { sopsVaultClient } from '../kms';
import type { SopsSyncOps } from './sync';

const MAX_SOPS_BYTES = 64 * 1024 * 1024;
/** Every sops file holds an encrypted MAC; a cheap test before parsing. */
const MARKER = Buffer.from('ENC[AES256_GCM,');

/**
 * The master keys of a sops file, or null when the file is not one. A file that looks like one
 * (it holds `ENC[AES256_GCM,` and `sops`) but does not parse is an error, not "not sops".
 */
export const readSopsKeys: SopsKeysReader = async (file) => {
  const st = await fsp.stat(file);
  if (!st.isFile() || st.size > MAX_SOPS_BYTES || st.size === 0) return null;
  const bytes = await fsp.readFile(file);
  if (!bytes.includes(MARKER) || !bytes.includes('sops')) return null;
  const info = readInfo(bytes, formatFromPath(file));
  return {
    groups: info.keyGroups.map((g) =>
      g.keys.map((k) =>
        k.type === 'age'
          ? { type: 'age', id: k.recipient }
          : k.type === 'kms'
            ? { type: 'kms', id: k.arn, ...(k.role ? { role: k.role } : {}) }
            : k.type === 'hc_vault'
              ? { type: 'hc_vault', id: transitUri(k) }
              : { type: k.type, id: Object.values(k.fields)[0] ?? '' },
      ),
    ),
  };
};

interface Staged {
  temp: string;
  hash: string;
  action: 'updatekeys' | 'rotate';
}

export function sopsSyncOps(kms: () => SopsKmsClient | undefined): SopsSyncOps {
  return {
    async stage(file, action, target, ks: Keystore, jobId) {
      const format = formatFromPath(file);
      const bytes = await fsp.readFile(file);
      const k = kms();
      const services: KeyServices = { unwrapAgeFileKey: (h) => ks.unwrapFileKey(h), ...(k ? { kms: k } : {}), vault: sopsVaultClient() };
      const aws = target.kms.filter((x) => !isTransitUri(x.arn));
      const vault = target.kms.filter((x) => isTransitUri(x.arn)).map((x) => x.arn);
      if (aws.length && !k) throw new KeywardError(ErrorCode.KeyUnusable, 'AWS KMS is not configured in this daemon', 'kms keys cannot be added');
      const opened = await openFile(bytes, format, services);
      let next: Buffer;
      try {
        const spec = { keyGroups: [{ age: target.age, kms: aws, ...(vault.length ? { vault } : {}) }] };
        next = action === 'rotate' ? await rotate(opened, services, spec) : await updateKeys(opened, spec, services);
      } finally {
        closeFile(opened);
      }
      if (next.equals(bytes)) return { skip: 'keys already as planned' };
      const staged = await writeStaged(file, jobId, next);
      return { data: { ...staged, action } satisfies Staged };
    },
    async commit(file, data) {
      const { temp, hash, action } = data as Staged;
      const bytes = await commitStaged(file, temp, hash);
      return { bytes, detail: action === 'rotate' ? 'sops: new data key' : 'sops: keys updated (same data key)' };
    },
    async discard(file, ctx) {
      await fsp.rm(jobTempPath(file, ctx.jobId), { force: true });
    },
  };
}
