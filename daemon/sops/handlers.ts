// The sops RPC handlers: info, decrypt (in memory), diff-stable save/set/unset, encrypt, and
// key updates and rotation over whole trees as jobs. Every write is atomic and verified: the
// new bytes are decrypted again before they replace the file.
import { promises as fsp } from 'node:fs';
import { ErrorCode, type SopsFileInfo, type SopsKeyView, type SopsRevision } from '../protocol';
import { audited } from '../rpc/audited';
import type { Handlers } from '../rpc/context';
import type { Deps } from '../rpc/deps';
import { KeywardError, errnoCode, ioError } from '../util/errors';
import { closeFile, encryptNew, extract, openFile, readInfo, renderPlain, saveText, setValue, unsetValue, type OpenedFile, type SopsInfo } from './engine';
import { requireTrusted, requireTrustedConfigs } from '../trust/sets';
import { expandSopsPaths, formatOf, keyServices, readSopsFile, targetFor, writeSopsFile, type TrustCheck } from './files';
import type { KeyGroup, KeyServices } from './keys';
import type { SopsMetadata } from './metadata';
import type { Keystore } from '../keystore/keystore';
import { planKeys } from './ops';
import { transitUri } from '../kms/vault';
import { lookupConfigFile } from './config';
import { replaceRecipients } from './replace';
import * as path from 'node:path';
import type { SopsFormat } from './store';

export function sopsHandlers(d: Pick<Deps, 'home' | 'keystore' | 'audit' | 'jobs' | 'kms'>): Handlers {
  const services = (): KeyServices => keyServices(d.keystore(), d.kms());
  const locks = new PathLocks();
  const trust: TrustCheck = (source, recipients) => requireTrusted(d.home, d.keystore(), source, recipients);

  const open = async (file: string, format: SopsFormat, client: string, ignoreMac = false): Promise<OpenedFile> => {
    const bytes = await readSopsFile(file);
    return audited(d.audit, { event: 'sops.decrypt', path: file, client }, () => openFile(bytes, format, services(), { ignoreMac }), {
      ok: (opened) => ({ key: opened.usedKeys.join(','), ...(opened.macVerified ? {} : { detail: 'warning: MAC not verified (--ignore-mac)' }) }),
    });
  };

  /** Writes bytes the engine has already read back (decrypted, MAC verified) atomically. */
  const commit = async (file: string, bytes: Buffer, revision: SopsRevision, overwrite: boolean): Promise<SopsRevision> => {
    await writeSopsFile(file, bytes, { overwrite });
    return revision;
  };

  return {
    sopsInfo: async (p) => {
      const format = formatOf(p.path, p.format);
      const info = readInfo(await readSopsFile(p.path), format);
      let canDecrypt = true;
      try {
        closeFile(await openFile(await readSopsFile(p.path), format, services(), { ignoreMac: true }));
      } catch {
        canDecrypt = false;
      }
      return infoView(d.keystore(), p.path, format, info, canDecrypt);
    },

    sopsDecrypt: async (p, call) => {
      const format = formatOf(p.path, p.format);
      const opened = await open(p.path, format, call.client, p.ignoreMac ?? false);
      const bytes = p.extract ? extract(opened, p.extract) : renderPlain(opened);
      closeFile(opened);
      const encoding = format === 'binary' ? 'base64' : 'utf8';
      return { text: bytes.toString(encoding), encoding, format, revision: revisionOf(opened.metadata), macVerified: opened.macVerified, warnings: [...opened.warnings] };
    },

    sopsSave: (p, call) =>
      locks.run(p.path, async () => {
        const format = formatOf(p.path, p.format);
        const opened = await open(p.path, format, call.client);
        const now = revisionOf(opened.metadata);
        if (p.base && (p.base.mac !== now.mac || p.base.lastModified !== now.lastModified)) {
          throw new KeywardError(ErrorCode.IllegalState, `${p.path} changed on disk since it was opened`, 'reopen it to see the new version, then apply your edit again');
        }
        try {
          const r = await saveText(opened, Buffer.from(p.text, p.encoding ?? 'utf8'));
          // Saving what is already there writes nothing: no new MAC, no diff.
          if (r.noop) return { revision: now, changed: 0, unchanged: r.unchanged };
          const revision = await commit(p.path, r.bytes, r.file.revision, true);
          closeFile(r.file);
          await d.audit({ event: 'sops.edit', outcome: 'ok', path: p.path, client: call.client, detail: `${r.changed} value(s) changed` });
          return { revision, changed: r.changed, unchanged: r.unchanged };
        } finally {
          closeFile(opened);
        }
      }),

    sopsEncrypt: async (p, call) => {
      const target = p.inPlace ? p.path : p.output;
      const format = formatOf(target ?? p.path, p.format);
      const plain = p.text !== undefined ? Buffer.from(p.text, p.encoding ?? 'utf8') : await readSopsFile(p.path);
      if (p.text === undefined && isProbablySops(plain)) {
        throw new KeywardError(ErrorCode.IllegalState, `${p.path} is already encrypted with sops`, 'to change its keys use keyward sops updatekeys; to edit it, keyward sops edit');
      }
      // The creation rule is the input's, as sops finds it (not the output's: -o may be anywhere).
      const t = await targetFor(d.keystore(), p.path, p, trust);
      const bytes = await encryptNew(plain, format, t, services());
      const info = infoView(d.keystore(), target ?? p.path, format, readInfo(bytes, format), true);
      if (target === undefined) {
        await d.audit({ event: 'sops.encrypt', outcome: 'ok', path: p.path, client: call.client, detail: 'to stdout' });
        return { text: bytes.toString('utf8'), info };
      }
      await writeSopsFile(target, bytes, { overwrite: p.inPlace === true || p.overwrite === true });
      await d.audit({ event: 'sops.encrypt', outcome: 'ok', path: target, client: call.client, detail: `rules from ${t.from}` });
      return { output: target, info };
    },

    sopsSet: (p, call) =>
      locks.run(p.path, async () => {
        const format = formatOf(p.path, p.format);
        let value: unknown;
        try {
          value = JSON.parse(p.valueJson);
        } catch {
          throw new KeywardError(ErrorCode.InvalidInput, 'the value is not valid JSON', 'strings need quotes: \'"value"\'');
        }
        const exists = await fsp.stat(p.path).then(
          () => true,
          (e: unknown) => {
            if (errnoCode(e) === 'ENOENT') return false;
            throw ioError(e, 'read', p.path);
          },
        );
        if (!exists) {
          if (!p.create) throw new KeywardError(ErrorCode.NotFound, `no such file: ${p.path}`, 'pass create to make it with the .sops.yaml creation rule');
          const t = await targetFor(d.keystore(), p.path, p, trust);
          const empty = await encryptNew(emptyPlain(format), format, t, services());
          const opened = await openFile(empty, format, services(), {});
          const r = await setValue(opened, p.keyPath, value);
          const revision = await commit(p.path, r.bytes, r.file.revision, false);
          closeFile(opened);
          closeFile(r.file);
          await d.audit({ event: 'sops.set', outcome: 'ok', path: p.path, client: call.client, detail: 'created' });
          return { revision, created: true };
        }
        const opened = await open(p.path, format, call.client);
        const r = await setValue(opened, p.keyPath, value).finally(() => closeFile(opened));
        closeFile(r.file);
        if (!r.changed) return { revision: revisionOf(opened.metadata), created: false };
        const revision = await commit(p.path, r.bytes, r.file.revision, true);
        await d.audit({ event: 'sops.set', outcome: 'ok', path: p.path, client: call.client });
        return { revision, created: false };
      }),

    sopsUnset: (p, call) =>
      locks.run(p.path, async () => {
        const format = formatOf(p.path, p.format);
        const opened = await open(p.path, format, call.client);
        const r = await unsetValue(opened, p.keyPath).finally(() => closeFile(opened));
        closeFile(r.file);
        const revision = await commit(p.path, r.bytes, r.file.revision, true);
        await d.audit({ event: 'sops.unset', outcome: 'ok', path: p.path, client: call.client });
        return { revision };
      }),

    // A plan encrypts nothing: it shows what the config files name, agreed to or not (consent is
    // asked when the update starts).
    sopsPlanKeys: async (p) => ({ plan: await planKeys(d.keystore(), await expandSopsPaths(p.paths), () => Promise.resolve()) }),

    sopsUpdateKeys: async (p, call) => {
      const files = await nonEmpty(p.paths);
      // Consent first, for every .sops.yaml the files follow: the job would fail file by file.
      await requireTrustedConfigs(d.home, d.keystore(), files);
      return d.jobs.start('sops-updatekeys', files, {}, call.client);
    },

    sopsRotate: async (p, call) =>
      d.jobs.start('sops-rotate', await nonEmpty(p.paths), { ...(p.addAge ? { addAge: p.addAge } : {}), ...(p.removeAge ? { removeAge: p.removeAge } : {}) }, call.client),

    sopsAddKeys: async (p, call) => d.jobs.start('sops-addkeys', await nonEmpty(p.paths), { addAge: p.addAge }, call.client),

    sopsReplaceRecipients: async (p, call) => {
      const config = (await lookupConfigFile((await isDir(p.path)) ? p.path : path.dirname(p.path))).path;
      if (!config) return { changed: 0 };
      const changed = await replaceRecipients(config, p.replace);
      if (changed) await d.audit({ event: 'sops.config', outcome: 'ok', path: config, client: call.client, detail: `${changed} recipient(s) replaced` });
      return { config, changed };
    },
  };
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function nonEmpty(paths: string[]): Promise<string[]> {
  const files = await expandSopsPaths(paths);
  if (!files.length) throw new KeywardError(ErrorCode.NotFound, 'no sops files under the given paths', 'check the paths; sops files carry a sops metadata entry');
  return files;
}

export function revisionOf(m: SopsMetadata): SopsRevision {
  return { mac: m.mac, lastModified: m.lastModified };
}

function emptyPlain(format: SopsFormat): Buffer {
  switch (format) {
    case 'json':
      return Buffer.from('{}\n');
    default:
      return Buffer.alloc(0);
  }
}

function isProbablySops(b: Buffer): boolean {
  const t = b.subarray(0, 4 * 1024 * 1024).toString('utf8');
  return t.includes('ENC[AES256_GCM,') && /(^|\n)\s*("sops"\s*:|sops:|\[sops\]|sops_version\s*=)/.test(t);
}

function keyViews(keystore: Keystore, groups: readonly KeyGroup[]): SopsKeyView[][] {
  return groups.map((g) =>
    g.keys.map((k): SopsKeyView => {
      switch (k.type) {
        case 'age': {
          const ref = keystore.refsForRecipients([k.recipient])[0];
          return { type: 'age', id: k.recipient, ...(ref ? { ref } : {}) };
        }
        case 'kms':
          return { type: 'kms', id: k.arn };
        case 'hc_vault':
          return { type: 'hc_vault', id: transitUri(k) };
        default:
          return { type: k.type, id: k.fields.fp ?? k.fields.resource_id ?? k.fields.key_id ?? k.fields.vault_url ?? k.type };
      }
    }),
  );
}

function infoView(keystore: Keystore, file: string, format: SopsFormat, m: SopsInfo, canDecrypt: boolean): SopsFileInfo {
  const options = m.options;
  return {
    path: file,
    format,
    keyGroups: keyViews(keystore, m.keyGroups),
    ...(m.shamirThreshold ? { shamirThreshold: m.shamirThreshold } : {}),
    lastModified: m.lastModified,
    version: m.version,
    options,
    canDecrypt,
  };
}

/** One write at a time per file, so that two saves cannot interleave read and write. */
class PathLocks {
  private readonly tails = new Map<string, Promise<unknown>>();
  run<T>(file: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(file) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(file, tail);
    void tail.then(() => {
      if (this.tails.get(file) === tail) this.tails.delete(file);
    });
    return next;
  }
}
